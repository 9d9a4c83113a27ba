// The contact policy: the rules every send passes before it leaves. The rules that need no database (quiet hours,
// expiry, time-zone fallback) are pure functions here; consent and the frequency caps are checked in the send
// activity, the caps inside one Postgres transaction per customer (see activities/send.ts).
import { z } from 'zod';
import { addDuration, isDuration } from '../engine/duration.js';
import { isTimeZone, localClock, nextLocalTime } from '../engine/tz.js';
import { CHANNELS, CHANNEL_NAMES, type ChannelName } from '../engine/channels.js';

export type Channel = ChannelName;
export type MessageClass = 'marketing' | 'service';

const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a local time like 21:00');
const duration = z.string().refine(isDuration, 'an ISO-8601 duration');
const window = z.object({ start: hhmm, end: hhmm }).strict();
const cap = z.object({ limit: z.number().int().min(0), window: duration }).strict();
const perChannel = <T extends z.ZodType>(t: T) => z.object(Object.fromEntries(CHANNEL_NAMES.map((c) => [c, t.optional()])) as Record<Channel, z.ZodOptional<T>>).strict();
/** A setting per channel, the channels that have one (engine/channels.ts holds the defaults). */
const defaults = <T>(pick: (c: (typeof CHANNELS)[Channel]) => T | undefined): Partial<Record<Channel, T>> =>
  Object.fromEntries(CHANNEL_NAMES.flatMap((c) => (pick(CHANNELS[c]) !== undefined ? [[c, pick(CHANNELS[c])]] : [])));

export const ContactPolicy = z
  .object({
    /** Used when a customer's time zone is missing or unknown (and reported on the message). */
    defaultTimeZone: z.string().refine(isTimeZone, 'an IANA time zone').default('Asia/Shanghai'),
    /** Local hours in which a channel stays silent; a send that falls inside waits for the end of the window. */
    quietHours: perChannel(window).default(defaults((c) => ('quietHours' in c ? { ...c.quietHours } : undefined))),
    /** Frequency caps across all journeys of a customer, per message class and channel. */
    caps: z
      .object({ marketing: perChannel(z.array(cap)).default({}), service: perChannel(z.array(cap)).default({}) })
      .strict()
      .default({ marketing: defaults((c) => c.marketingCaps.map((cap) => ({ ...cap }))), service: {} }),
    /** What happens to a send over a cap: wait for a slot, or give up (and record it). */
    onCap: z
      .object({ marketing: z.enum(['defer', 'drop']), service: z.enum(['defer', 'drop']) })
      .strict()
      .default({ marketing: 'drop', service: 'defer' }),
  })
  .strict();
export type ContactPolicy = z.infer<typeof ContactPolicy>;

export function loadPolicy(json?: string): ContactPolicy {
  const raw: unknown = json === undefined || json.trim() === '' ? {} : JSON.parse(json);
  const r = ContactPolicy.safeParse(raw);
  if (!r.success) throw new Error(`CONTACT_POLICY is invalid: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return r.data;
}

/** The customer's zone, or the policy's default when it is missing or unknown (`fellBack` says so). */
export function effectiveTimeZone(tz: string | null | undefined, policy: ContactPolicy): { timeZone: string; fellBack: boolean } {
  if (tz && isTimeZone(tz)) return { timeZone: tz, fellBack: false };
  return { timeZone: policy.defaultTimeZone, fellBack: true };
}

const minutes = (t: string) => Number(t.slice(0, 2)) * 60 + Number(t.slice(3, 5));

/** When `now` falls in the channel's quiet hours in `timeZone`, the instant they end; otherwise undefined. */
export function quietUntil(channel: Channel, now: Date, timeZone: string, policy: ContactPolicy): Date | undefined {
  const w = policy.quietHours[channel];
  if (!w) return undefined;
  const { hour, minute } = localClock(now, timeZone);
  const m = hour * 60 + minute;
  const [s, e] = [minutes(w.start), minutes(w.end)];
  const inside = s <= e ? m >= s && m < e : m >= s || m < e; // a window may run over midnight
  return inside ? nextLocalTime(now, w.end, timeZone) : undefined;
}

/** The caps that apply to a message of this class on this channel. */
export function capsFor(policy: ContactPolicy, cls: MessageClass, channel: Channel): { limit: number; window: string }[] {
  return policy.caps[cls][channel] ?? [];
}

/** The start of a cap's window counted back from now. */
export function windowStart(now: Date, window: string): Date {
  return addDuration(now, window, -1);
}
