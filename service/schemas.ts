// The service's input shapes (zod): what a customer, an event, a task outcome, a simulation and the list filters the
// service takes look like, and the rules for strings and instants every layer shares. The API validates requests with
// them (an `Invalid` for bad input comes from these); shapes only the REST API has are api/schemas.ts.
import { z } from 'zod';
import { isTimeZone } from '../engine/tz.js';
import { CHANNEL_NAMES, CONSENT_KEYS, type ConsentKey } from '../engine/channels.js';
import { ADDRESS_COLUMNS, type AddressColumn } from '../channels/registry.js';

export { marketingConsentKey } from '../engine/channels.js';

// eslint-disable-next-line no-control-regex -- NUL is what it looks for
const UNCLEAN = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
/** A string Postgres can store and every peer can read: no NUL and no unpaired UTF-16 surrogate. */
export const isCleanString = (s: string) => !UNCLEAN.test(s);

/** A journey's workflow id as the API takes it: in a path, or inside a list cursor (where the request's string check
 * cannot see it, hence the clean-string rule here too). */
export const WorkflowId = z.string().min(1).max(512).refine(isCleanString, 'must not contain NUL (\\u0000) or an unpaired surrogate');

/** An instant Postgres can hold and compare (year 0000 is valid ISO but not a Postgres date): query filters. */
const MIN_TIME = Date.parse('1900-01-01T00:00:00Z');
const MAX_TIME = Date.parse('9999-12-31T23:59:59Z');
export const inStoredRange = (text: string) => Date.parse(text) >= MIN_TIME && Date.parse(text) <= MAX_TIME;
export const StoredInstant = z.iso.datetime({ offset: true }).refine(inStoredRange, 'an instant between the years 1900 and 9999');

export const id = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9_.:@-]+$/, 'letters, digits and _ . : @ - only');

export const CustomerBody = z
  .object({
    name: z.string().min(1).max(200).nullable().optional(),
    /** The customer's address on each channel that keeps one in a column (channels/registry.ts: `email`, `phone`…). */
    ...(Object.fromEntries(ADDRESS_COLUMNS.map((a) => [a.column, a.schema.nullable().optional()])) as Record<AddressColumn, z.ZodOptional<z.ZodNullable<z.ZodType<string>>>>),
    /** Absent (or null) is stored as missing: the contact policy then uses its default zone and records the fallback. */
    timeZone: z.string().refine(isTimeZone, 'an IANA time zone like Asia/Shanghai').nullable().optional(),
    locale: z
      .string()
      .regex(/^[a-z]{2,3}(-[A-Z]{2})?$/, 'a locale like en or zh-CN')
      .optional(),
    segment: z.string().min(1).max(64).nullable().optional(),
    rmId: id.nullable().optional(),
    /** Per channel, and per channel for marketing alone (`email_marketing`: false stops marketing emails, not service
     * ones; the one-click unsubscribe and the preference page set these). */
    consents: z
      .object(Object.fromEntries(CONSENT_KEYS.map((k) => [k, z.boolean()])) as Record<ConsentKey, z.ZodBoolean>)
      .partial()
      .strict()
      .optional(),
    /** Business attributes journeys branch on (no contact data: journeys see these). */
    attributes: z
      .record(z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,63}$/, 'an attribute name like netWorth'), z.union([z.string().max(500), z.number(), z.boolean(), z.null()]))
      .refine((a) => Object.keys(a).length <= 50, 'at most 50 attributes')
      .optional(),
  })
  .strict();

/** The channels a customer consents to (or not): every channel. (`marketingConsentKey` names the key of a channel's
 * marketing consent alone: `email_marketing`.) */
export const ConsentChannel = z.enum(CHANNEL_NAMES);
export type ConsentChannel = z.infer<typeof ConsentChannel>;
/** An opt-out may withdraw only the marketing on its channel (`class: "marketing"`), or the whole channel. */
export const OptOutClass = z.enum(['marketing']);

export const EventBody = z
  .object({
    eventId: id,
    type: z.string().regex(/^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/, 'an event type like "loan.approved"'),
    occurredAt: z.iso.datetime({ offset: true }).optional(),
    data: z.record(z.string(), z.unknown()).optional(),
  })
  .strict()
  .refine((e) => JSON.stringify(e.data ?? {}).length <= 16_384, { message: 'data is larger than 16 KiB', path: ['data'] })
  // An opt-out names one consent channel, or none (null or absent: it leaves the journeys listening for it, no channel).
  .refine((e) => e.type !== 'customer.opted_out' || e.data?.channel == null || ConsentChannel.safeParse(e.data.channel).success, {
    message: `an opt-out's channel is one of ${ConsentChannel.options.join(', ')}, or null to leave journeys only`,
    path: ['data', 'channel'],
  })
  .refine((e) => e.type !== 'customer.opted_out' || e.data?.class == null || (OptOutClass.safeParse(e.data.class).success && e.data.channel != null), {
    message: 'an opt-out\'s class is "marketing" (withdraws marketing on its channel, not service messages), with a channel',
    path: ['data', 'class'],
  });

export const CompleteTaskBody = z
  .object({
    outcome: z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'an outcome like interested, not_now or closed'),
    note: z.string().max(2000).optional(),
  })
  .strict();

export const TaskQuery = z.object({ rmId: id.optional(), customerId: id.optional(), status: z.enum(['open', 'done']).optional() }).strict();

export const MessageQuery = z
  .object({
    status: z.enum(['pending', 'deferred', 'sent', 'delivered', 'failed', 'suppressed', 'dropped']).default('deferred'),
    limit: z.coerce.number().int().min(1).max(500).default(100),
  })
  .strict();

const isoTime = z.iso.datetime({ offset: true });

export const SimulateBody = z
  .object({
    /** A definition document to try (a draft not stored yet), or the key (and version) of a stored one. */
    definition: z.unknown().optional(),
    key: z.string().min(1).max(64).optional(),
    version: z.number().int().min(1).optional(),
    customer: z
      .object({
        id: id.optional(),
        segment: z.string().max(64).nullable().optional(),
        timeZone: z.string().refine(isTimeZone, 'an IANA time zone like Asia/Shanghai').optional(),
        locale: z.string().optional(),
        attributes: z.record(z.string(), z.unknown()).optional(),
      })
      .strict()
      .default({}),
    params: z.record(z.string(), z.unknown()).optional(),
    start: isoTime.optional(),
    events: z
      .array(
        z
          .object({
            at: isoTime,
            type: z.string().regex(/^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/, 'an event type like "loan.approved"'),
            data: z.record(z.string(), z.unknown()).optional(),
            eventId: id.optional(),
          })
          .strict(),
      )
      .max(10_000)
      .default([]),
    until: isoTime,
    /** Preview the journey as a customer of this cohort sees it (`control`: no sends, no tasks, each one logged held out). */
    cohort: z.enum(['treated', 'control']).optional(),
  })
  .strict()
  .refine((b) => (b.definition === undefined) !== (b.key === undefined), { message: 'give either "definition" or "key"' })
  .refine((b) => b.version === undefined || b.key !== undefined, { message: '"version" goes with "key"', path: ['version'] })
  .refine((b) => Date.parse(b.until) > Date.parse(b.start ?? new Date().toISOString()) || b.start === undefined, { message: '"until" must be after "start"', path: ['until'] })
  // The horizon counts from "start", or from now when the simulation starts now.
  .refine((b) => Date.parse(b.until) - (b.start === undefined ? Date.now() : Date.parse(b.start)) <= 10 * 366 * 86_400_000, {
    message: 'at most ten years of virtual time',
    path: ['until'],
  });
