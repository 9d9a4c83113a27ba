// The zod schemas of the node kinds, one per kind, for engine/definition.ts (the API side: never in the workflow
// bundle, which the lint fence keeps zod out of). The types are declared once, in the kinds' own modules; every schema
// here is checked against its kind's type — same fields, mutually assignable — so a field added to one and not the
// other, or a kind without a schema, does not compile.
import { z } from 'zod';
import { CHANNEL_NAMES } from '../channels.js';
import { isDuration } from '../duration.js';
import { parseExpr } from '../expr.js';
import { isTimeZone } from '../tz.js';
import type { DurationRef as DurationRefType } from './kind.js';
import type { Kind, Step as StepType, StepOf } from './index.js';

export const key = z.string().regex(/^[a-z][a-z0-9_.-]{0,63}$/, 'lower-case letters, digits, "_", "." or "-"');
export const eventType = z.string().regex(/^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/, 'an event type like "loan.approved"');
export const fieldPath = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/, 'a field path like "a.b"');
export const paramName = z.string().regex(/^[a-zA-Z][a-zA-Z0-9]*$/, 'a parameter name like comparisonNudgeAfter');
export const durationText = z.string().refine(isDuration, { message: 'an ISO-8601 duration such as P3D or PT24H' });

/** A duration written in place, or taken from a journey parameter (which a start request may override). */
export type DurationRef = DurationRefType;
export const DurationRef = z.union([durationText, z.object({ param: paramName }).strict()]);

/** Equality filter on event data fields (dot paths). */
export const Where = z.record(fieldPath, z.union([z.string(), z.number(), z.boolean(), z.null()]));

const where = () => Where.optional();
const steps = () => z.array(Step).optional();
const expression = z
  .string()
  .min(1)
  .superRefine((src, ctx) => {
    try {
      parseExpr(src);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `bad expression: ${(err as Error).message}` });
    }
  });
const timeOfDay = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a local time like 10:00');
const timeZone = z.string().refine(isTimeZone, { message: 'an IANA time zone like Asia/Shanghai' });
const channel = z.enum(CHANNEL_NAMES);
const stepId = z
  .string()
  .regex(/^[a-z][a-z0-9_-]{0,63}$/, 'a step id like "companion-loop"')
  .optional();
const delivery = {
  class: z.enum(['marketing', 'service']).optional(),
  priority: z.number().int().min(0).max(9).optional(),
  expiresAfter: DurationRef.optional(),
};
const obj = <K extends Kind, T extends z.ZodRawShape>(type: K, shape: T) => z.object({ type: z.literal(type), id: stepId, ...shape }).strict();

/** Built inside `Step`'s lazy body: the schemas of steps that hold steps refer to `Step` itself. */
const kindSchemas = () => ({
  stage: obj('stage', { stage: key.optional(), stageFromEvent: fieldPath.optional(), forwardOnly: z.boolean().optional() }).refine(
    (s) => (s.stage === undefined) !== (s.stageFromEvent === undefined),
    { message: 'a stage step names either "stage" or "stageFromEvent"' },
  ),
  send: obj('send', { channel, template: key, ...delivery }),
  task: obj('task', {
    key,
    title: z.string().min(1).max(200),
    description: z.string().max(2000).optional(),
    due: DurationRef,
    escalateTo: z.string().min(1).max(128).optional(),
    outcomes: z.record(z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'an outcome like interested'), z.array(Step)).optional(),
  }),
  wait: obj('wait', {
    for: z.array(z.object({ event: eventType, where: where(), then: steps() }).strict()).min(1),
    timeout: DurationRef,
    onTimeout: steps(),
  }),
  delay: obj('delay', { duration: DurationRef }),
  delayUntil: obj('delayUntil', {
    eventField: fieldPath.optional(),
    profileField: fieldPath.optional(),
    before: DurationRef.optional(),
    after: DurationRef.optional(),
    ifPast: z.enum(['run', 'skip', 'runIfAnchorAhead']).optional(),
  })
    .refine((s) => !(s.before && s.after), { message: 'use "before" or "after", not both' })
    .refine((s) => (s.eventField === undefined) !== (s.profileField === undefined), {
      message: 'a delayUntil step names either "eventField" or "profileField"',
    }),
  delayUntilLocalTime: obj('delayUntilLocalTime', { time: timeOfDay, timeZone: timeZone.optional() }),
  branch: obj('branch', { cases: z.array(z.object({ when: expression, steps: steps() }).strict()).min(1), otherwise: steps() }),
  split: obj('split', {
    key,
    variants: z.array(z.object({ name: key, weight: z.number().positive(), steps: steps() }).strict()).min(2),
  }),
  feedback: obj('feedback', {
    survey: z.enum(['csat', 'nps', 'ces']),
    channel,
    template: key,
    timeout: DurationRef,
    onAnswer: steps(),
    onTimeout: steps(),
    ...delivery,
  }),
  goal: obj('goal', { key }),
  startJourney: obj('startJourney', { journeyKey: key, params: z.record(z.string(), z.union([z.string(), z.number()])).optional() }),
  signalJourney: obj('signalJourney', { journeyKey: key, event: eventType, passEventData: z.boolean().optional() }),
  stopJourneys: obj('stopJourneys', { journeyKey: key.optional(), tag: key.optional(), reason: key }).refine((s) => s.journeyKey !== undefined || s.tag !== undefined, {
    message: 'a stopJourneys step names a "journeyKey" or a "tag"',
  }),
  goto: obj('goto', { target: z.string().min(1) }),
  cancel: obj('cancel', { flow: key, instanceFromEvent: fieldPath.optional() }),
  exit: obj('exit', { reason: key }),
  complete: obj('complete', { reason: key.optional() }),
});

type Schemas = ReturnType<typeof kindSchemas>;

// ---- the schemas and the declared types cannot drift -------------------------------------------------------------

/** Mutually assignable and the same property names: a field the type has and the schema lacks (optional or not) is
 * caught, and so is a field of another type or a missing `?`. */
export type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? ([keyof A] extends [keyof B] ? ([keyof B] extends [keyof A] ? true : false) : false) : false) : false;
/** The kinds whose schema does not produce exactly their declared step (never, when all agree). */
export type Drifting<S extends Record<Kind, z.ZodType>> = { [K in Kind]: Same<z.output<S[K]>, StepOf<K>> extends true ? never : K }[Kind];
/** Every kind has a schema, and nothing else does. */
export type Missing<S> = Exclude<Kind, keyof S> | Exclude<keyof S, Kind>;

const schemasAgree: [Drifting<Schemas>, Missing<Schemas>] extends [never, never] ? true : { drifting: Drifting<Schemas>; missing: Missing<Schemas> } = true;
const durationRefAgrees: Same<z.output<typeof DurationRef>, DurationRefType> = true;
void [schemasAgree, durationRefAgrees];

export type Step = StepType;
export const Step: z.ZodType<StepType> = z.lazy(() => {
  const s = kindSchemas();
  // In the order written above, the registry's.
  return z.discriminatedUnion('type', Object.values(s) as [Schemas[Kind], ...Schemas[Kind][]]);
}) as z.ZodType<StepType>;
