import twilio from 'twilio';
import { type Channel, type Delivery, type OutboundMessage, PermanentChannelError } from './channel.js';
import { scrubbedError } from './scrub.js';
import { twilioHttpClient } from './twilio-http.js';

/** Where the API takes Twilio's delivery callbacks (api/twilio-status.ts). */
export const TWILIO_STATUS_PATH = '/v1/channels/twilio/status';

/** The status callback URL to give Twilio for an API reachable at publicBaseUrl. */
export function twilioStatusCallbackUrl(publicBaseUrl: string): string {
  return `${publicBaseUrl.replace(/\/+$/, '')}${TWILIO_STATUS_PATH}`;
}

export interface SmsOptions {
  accountSid: string;
  authToken: string;
  from: string;
  /** A Twilio-compatible server to talk to instead of Twilio itself. */
  apiBaseUrl?: string;
  /** Where Twilio POSTs delivery status callbacks for each message (signed for this exact URL); unset → none. */
  statusCallbackUrl?: string;
  /** How long one request to Twilio may take (the library's default: 30 s). */
  timeoutMs?: number;
}

/** How far our clock and Twilio's may disagree: a message of ours created up to this long before our row's time
 * still counts as created after it. */
const CLOCK_SKEW_MS = 5 * 60_000;
/** Twilio statuses of a message that never left Twilio: not a send to reconcile with. */
const NEVER_SENT = new Set(['failed', 'canceled']);

/** A 4xx other than 429 (too many requests) means Twilio refused this message for good; 5xx, 429 and network errors
 * are transient. */
export function isPermanentTwilioError(err: unknown): boolean {
  const status = (err as { status?: unknown } | null | undefined)?.status;
  return typeof status === 'number' && status >= 400 && status < 500 && status !== 429;
}

export function createSmsChannel(opts: SmsOptions): Channel {
  // The client's own retries stay off (its default): retries belong to the activity's retry policy, with backoff
  // and durable across worker restarts.
  const timeout = opts.timeoutMs !== undefined ? { timeout: opts.timeoutMs } : {};
  const client = twilio(opts.accountSid, opts.authToken, opts.apiBaseUrl ? { httpClient: twilioHttpClient(opts.apiBaseUrl, timeout) } : timeout);
  return {
    name: 'sms',
    async send(m: OutboundMessage): Promise<Delivery> {
      try {
        const msg = await client.messages.create({
          to: m.to,
          from: opts.from,
          body: m.text,
          ...(opts.statusCallbackUrl ? { statusCallback: m.messageId ? `${opts.statusCallbackUrl}?m=${encodeURIComponent(m.messageId)}` : opts.statusCallbackUrl } : {}),
        });
        return { providerId: msg.sid };
      } catch (err) {
        const e = err as { status?: number; code?: number; message: string };
        // Twilio's messages quote the number: scrubbed (channels/scrub.ts).
        if (isPermanentTwilioError(err)) throw scrubbedError(new PermanentChannelError(`Twilio ${e.status}/${e.code ?? '-'}: ${e.message}`, e.code ?? e.status), [m.to]);
        throw scrubbedError(err, [m.to]);
      }
    },

    // Reconciliation of a send in doubt. Twilio has no idempotency key and its list results do not return the
    // StatusCallback URL (which names our message), so a Twilio message is taken for ours when it matches all of:
    // outbound, to this number, from our number, exactly this body, and created no earlier than our row (less the
    // clock skew). The activity then takes the oldest such message that no other message row has claimed. Residual
    // risk: another sender on the same account and number sending the same text to the same customer in that
    // window would be taken for ours (our message would then be missing, never doubled); a body Twilio rewrote (Smart
    // Encoding) or a list lagging behind the create does not match, and that SMS is resent.
    async findSent(m: OutboundMessage, since: Date): Promise<Delivery[]> {
      const after = new Date(since.getTime() - CLOCK_SKEW_MS);
      // Twilio filters DateSent by day (on or after midnight of the date), so the exact bound is applied here. A
      // message still queued at Twilio has no date_sent yet: the newest page to the number, unfiltered, covers it.
      const [sent, newest] = await Promise.all([
        client.messages.list({ to: m.to, from: opts.from, dateSentAfter: after, pageSize: 100, limit: 100 }),
        client.messages.list({ to: m.to, from: opts.from, pageSize: 20, limit: 20 }),
      ]).catch((err: unknown) => {
        throw scrubbedError(err, [m.to]);
      });
      const bySid = new Map([...sent, ...newest].map((x) => [x.sid, x]));
      return [...bySid.values()]
        .filter((x) => x.direction.startsWith('outbound') && x.to === m.to && x.from === opts.from && x.body === m.text)
        .filter((x) => !NEVER_SENT.has(x.status) && x.dateCreated instanceof Date && x.dateCreated.getTime() >= after.getTime())
        .sort((a, b) => a.dateCreated.getTime() - b.dateCreated.getTime())
        .map((x) => ({ providerId: x.sid }));
    },
  };
}
