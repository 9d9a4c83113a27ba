// The journey definition language: JSON documents validated by one zod schema. A definition is data; a running
// journey keeps the exact document it started with (it travels in the workflow's input).
import { z } from 'zod';
import { checkDuration, DEFAULT_DURATION_LIMITS, type DurationKind, type DurationLimits, HARD_MAX_DURATION, isDuration } from './duration.js';
import { parseExpr } from './expr.js';
import { isTimeZone } from './tz.js';
import { CHANNEL_NAMES, type ChannelName } from './channels.js';
import { childLists, durationParamKinds, durationProblems, durationRefs, walkSteps } from './steps.js';

export { childLists, walkSteps };

/** What the schema refuses whatever the configuration: durations past the hard maximum, waits under the minimum.
 * The configured (smaller) maximum is checked by `validateDefinition` and at start by `resolveParams`. */
const SCHEMA_LIMITS: DurationLimits = { max: HARD_MAX_DURATION, minWait: DEFAULT_DURATION_LIMITS.minWait };

const key = z.string().regex(/^[a-z][a-z0-9_.-]{0,63}$/, 'lower-case letters, digits, "_", "." or "-"');
const eventType = z.string().regex(/^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/, 'an event type like "loan.approved"');
const fieldPath = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/, 'a field path like "a.b"');
const paramName = z.string().regex(/^[a-zA-Z][a-zA-Z0-9]*$/, 'a parameter name like comparisonNudgeAfter');
const durationText = z.string().refine(isDuration, { message: 'an ISO-8601 duration such as P3D or PT24H' });

/** A duration written in place, or taken from a journey parameter (which a start request may override). */
export const DurationRef = z.union([durationText, z.object({ param: paramName }).strict()]);
export type DurationRef = z.infer<typeof DurationRef>;

/** Equality filter on event data fields (dot paths). */
const Where = z.record(fieldPath, z.union([z.string(), z.number(), z.boolean(), z.null()]));

/** How the contact policy treats a message: `service` messages (a repayment reminder) are not counted by the
 * marketing caps; `priority` 0–9 decides who gets a cap's last slot; a message not sent within `expiresAfter` (quiet
 * hours, a cap) is dropped rather than sent stale. */
export type Delivery = { class?: 'marketing' | 'service'; priority?: number; expiresAfter?: DurationRef };

/** Steps that may carry an `id`, the target of a `goto`. */
type Base = { id?: string };
type Steps = Step[];
export type Channel = ChannelName;

export type Step = Base &
  (
    | { type: 'stage'; stage?: string; stageFromEvent?: string; forwardOnly?: boolean }
    | ({ type: 'send'; channel: Channel; template: string } & Delivery)
    | {
        type: 'task';
        key: string;
        title: string;
        description?: string;
        due: DurationRef;
        /** When the task is still open at its due time, it is handed to this assignee as well. */
        escalateTo?: string;
        /** The flow waits for the RM's outcome and continues in the matching branch (`default` for any other). */
        outcomes?: Record<string, Steps>;
      }
    | {
        type: 'wait';
        for: { event: string; where?: Record<string, string | number | boolean | null>; then?: Steps }[];
        timeout: DurationRef;
        onTimeout?: Steps;
      }
    | { type: 'delay'; duration: DurationRef }
    | {
        type: 'delayUntil';
        /** The anchor timestamp: a field of the event that started the flow, or of the customer's profile. */
        eventField?: string;
        profileField?: string;
        before?: DurationRef;
        after?: DurationRef;
        /** When the computed instant has passed: run now, skip the rest of the flow, or run now only while the
         * anchor itself is still ahead (a reminder before a due date that has not come yet). */
        ifPast?: 'run' | 'skip' | 'runIfAnchorAhead';
      }
    | { type: 'delayUntilLocalTime'; time: string; timeZone?: string }
    | { type: 'branch'; cases: { when: string; steps?: Steps }[]; otherwise?: Steps }
    | { type: 'split'; key: string; variants: { name: string; weight: number; steps?: Steps }[] }
    | ({
        type: 'feedback';
        survey: 'csat' | 'nps' | 'ces';
        channel: Channel;
        template: string;
        timeout: DurationRef;
        onAnswer?: Steps;
        onTimeout?: Steps;
      } & Delivery)
    | { type: 'goal'; key: string }
    | { type: 'startJourney'; journeyKey: string; params?: Record<string, string | number> }
    | { type: 'signalJourney'; journeyKey: string; event: string; passEventData?: boolean }
    | { type: 'stopJourneys'; journeyKey?: string; tag?: string; reason: string }
    | { type: 'goto'; target: string }
    /** Stops running flows by name; with `instanceFromEvent`, only the instance the event names (when it names one). */
    | { type: 'cancel'; flow: string; instanceFromEvent?: string }
    | { type: 'exit'; reason: string }
    | { type: 'complete'; reason?: string }
  );

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
const obj = <T extends z.ZodRawShape>(type: string, shape: T) => z.object({ type: z.literal(type), id: stepId, ...shape }).strict();

export const Step: z.ZodType<Step> = z.lazy(() =>
  z.discriminatedUnion('type', [
    obj('stage', { stage: key.optional(), stageFromEvent: fieldPath.optional(), forwardOnly: z.boolean().optional() }).refine(
      (s) => (s.stage === undefined) !== (s.stageFromEvent === undefined),
      { message: 'a stage step names either "stage" or "stageFromEvent"' },
    ),
    obj('send', { channel, template: key, ...delivery }),
    obj('task', {
      key,
      title: z.string().min(1).max(200),
      description: z.string().max(2000).optional(),
      due: DurationRef,
      escalateTo: z.string().min(1).max(128).optional(),
      outcomes: z.record(z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'an outcome like interested'), z.array(Step)).optional(),
    }),
    obj('wait', {
      for: z.array(z.object({ event: eventType, where: where(), then: steps() }).strict()).min(1),
      timeout: DurationRef,
      onTimeout: steps(),
    }),
    obj('delay', { duration: DurationRef }),
    obj('delayUntil', {
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
    obj('delayUntilLocalTime', { time: timeOfDay, timeZone: timeZone.optional() }),
    obj('branch', { cases: z.array(z.object({ when: expression, steps: steps() }).strict()).min(1), otherwise: steps() }),
    obj('split', {
      key,
      variants: z.array(z.object({ name: key, weight: z.number().positive(), steps: steps() }).strict()).min(2),
    }),
    obj('feedback', {
      survey: z.enum(['csat', 'nps', 'ces']),
      channel,
      template: key,
      timeout: DurationRef,
      onAnswer: steps(),
      onTimeout: steps(),
      ...delivery,
    }),
    obj('goal', { key }),
    obj('startJourney', { journeyKey: key, params: z.record(z.string(), z.union([z.string(), z.number()])).optional() }),
    obj('signalJourney', { journeyKey: key, event: eventType, passEventData: z.boolean().optional() }),
    obj('stopJourneys', { journeyKey: key.optional(), tag: key.optional(), reason: key }).refine((s) => s.journeyKey !== undefined || s.tag !== undefined, {
      message: 'a stopJourneys step names a "journeyKey" or a "tag"',
    }),
    obj('goto', { target: z.string().min(1) }),
    obj('cancel', { flow: key, instanceFromEvent: fieldPath.optional() }),
    obj('exit', { reason: key }),
    obj('complete', { reason: key.optional() }),
  ]),
) as z.ZodType<Step>;

const Param = z.discriminatedUnion('type', [
  z.object({ type: z.literal('duration'), default: durationText, description: z.string().optional() }).strict(),
  z.object({ type: z.literal('string'), default: z.string(), description: z.string().optional() }).strict(),
  z.object({ type: z.literal('number'), default: z.number(), description: z.string().optional() }).strict(),
]);
export type Param = z.infer<typeof Param>;

const Stage = z.object({ key, label: z.string().min(1), onEnter: z.array(Step).optional() }).strict();

const Trigger = z
  .object({
    event: eventType,
    where: Where.optional(),
    /** Name of the flow the steps run in; `cancel` steps and re-triggers address flows by this name. */
    flow: key.optional(),
    /** `stage`: the flow stops when the journey leaves the stage it started in. `journey`: it runs to its end. */
    scope: z.enum(['journey', 'stage']).default('journey'),
    /** A triggered flow already running under the same name (and instance field value) is replaced. */
    replace: z.boolean().default(false),
    /** Event field that tells concurrent instances of the flow apart (e.g. one reminder per due date). */
    instanceField: fieldPath.optional(),
    steps: z.array(Step).min(1),
  })
  .strict();

const Exit = z.object({ event: eventType, where: Where.optional(), reason: key }).strict();

const Goal = z
  .object({
    key: key.optional(),
    label: z.string().optional(),
    /** An event that reaches the goal and ends the journey as completed. Goals without one are reached by `goal`
     * steps and do not end the journey. */
    event: eventType.optional(),
    where: Where.optional(),
    reason: key.optional(),
  })
  .strict()
  .refine((g) => g.key !== undefined || g.event !== undefined, { message: 'a goal has a "key" or an "event"' });

const Entry = z
  .object({
    /** Whether POST /v1/journeys may start it. */
    api: z.boolean().default(true),
    /** Events that start the journey for the customer they are sent for (the event is then its first input). */
    events: z.array(z.object({ event: eventType, where: Where.optional() }).strict()).default([]),
    /** once: one journey per customer, ever. cooldown: again once the last one ended at least `cooldown` ago.
     * concurrent: one per business key, read from `businessKeyField` of the starting event (or given by the API). */
    reentry: z
      .object({
        mode: z.enum(['once', 'cooldown', 'concurrent']).default('once'),
        cooldown: durationText.optional(),
        businessKeyField: fieldPath.optional(),
      })
      .strict()
      .refine((r) => r.mode !== 'cooldown' || r.cooldown !== undefined, { message: 'cooldown re-entry needs "cooldown"' })
      .default({ mode: 'once' }),
  })
  .strict();

export const JourneyDefinition = z
  .object({
    key,
    version: z.number().int().min(1),
    name: z.string().min(1),
    description: z.string().optional(),
    /** Labels other journeys address in chorus steps, e.g. "marketing". */
    tags: z.array(key).default([]),
    /** A share of customers (per cent, deterministic per customer and journey) runs the journey as `control`: the same
     * waits, stages and goals, no sends and no tasks, so the journey's lift can be measured against them. */
    holdout: z
      .object({ percent: z.number().gt(0).max(50) })
      .strict()
      .optional(),
    entry: Entry.default({ api: true, events: [], reentry: { mode: 'once' } }),
    params: z.record(paramName, Param).default({}),
    stages: z.array(Stage).min(1),
    initialStage: key,
    /** Evaluated first on every event, wherever the journey is. */
    exits: z.array(Exit).default([]),
    goals: z.array(Goal).default([]),
    triggers: z.array(Trigger).default([]),
  })
  .strict()
  .superRefine((d, ctx) => {
    const stages = new Set(d.stages.map((s) => s.key));
    if (stages.size !== d.stages.length) ctx.addIssue({ code: 'custom', path: ['stages'], message: 'stage keys repeat' });
    if (!stages.has(d.initialStage)) ctx.addIssue({ code: 'custom', path: ['initialStage'], message: `unknown stage "${d.initialStage}"` });
    walkSteps(d as JourneyDefinition, (s, here) => {
      if (s.type === 'stage' && s.stage !== undefined && !stages.has(s.stage)) ctx.addIssue({ code: 'custom', path: [...here, 'stage'], message: `unknown stage "${s.stage}"` });
      for (const { ref: r } of durationRefs(s))
        if (typeof r === 'object') {
          const p = Object.hasOwn(d.params, r.param) ? d.params[r.param] : undefined;
          if (!p || p.type !== 'duration') ctx.addIssue({ code: 'custom', path: here, message: `"${r.param}" is not a duration parameter` });
        }
    });
    for (const p of durationProblems(d, SCHEMA_LIMITS)) ctx.addIssue({ code: 'custom', path: p.path, message: p.message });
  });

export type JourneyDefinition = z.infer<typeof JourneyDefinition>;
export type JourneyDefinitionInput = z.input<typeof JourneyDefinition>;

export type ParamValues = Record<string, string | number>;

export class ParamsError extends Error {
  constructor(readonly problems: { param: string; message: string }[]) {
    super(problems.map((p) => `${p.param}: ${p.message}`).join('; '));
  }
}

/** The definition's defaults overlaid with a start request's overrides; unknown names (own properties only: never
 * `constructor` or `__proto__`), wrong types and durations outside the limits (for every use of the parameter: one
 * used as a delay must be at least the minimum wait) are refused. */
export function resolveParams(def: JourneyDefinition, overrides: Record<string, unknown> = {}, limits: DurationLimits = DEFAULT_DURATION_LIMITS): ParamValues {
  const problems: { param: string; message: string }[] = [];
  const out: ParamValues = {};
  for (const [name, p] of Object.entries(def.params)) out[name] = p.default;
  let kinds: Map<string, Set<DurationKind>> | undefined;
  const durationProblem = (name: string, value: string): string | undefined => {
    kinds ??= durationParamKinds(def);
    for (const kind of kinds.get(name) ?? new Set<DurationKind>(['any'])) {
      const problem = checkDuration(value, limits, kind);
      if (problem) return problem;
    }
    return undefined;
  };
  for (const [name, value] of Object.entries(overrides)) {
    const p = Object.hasOwn(def.params, name) ? def.params[name] : undefined;
    if (!p) problems.push({ param: name, message: `unknown parameter for journey "${def.key}"` });
    else if (p.type === 'number' && (typeof value !== 'number' || !Number.isFinite(value))) problems.push({ param: name, message: 'must be a number' });
    else if (p.type === 'string' && typeof value !== 'string') problems.push({ param: name, message: 'must be a string' });
    else if (p.type === 'duration' && (typeof value !== 'string' || !isDuration(value)))
      problems.push({ param: name, message: 'must be an ISO-8601 duration such as P3D or PT24H' });
    else if (p.type === 'duration' && durationProblem(name, value as string) !== undefined) problems.push({ param: name, message: durationProblem(name, value as string)! });
    else out[name] = value as string | number;
  }
  if (problems.length) throw new ParamsError(problems);
  return out;
}
