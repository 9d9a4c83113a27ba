// The journey definition language: JSON documents validated by one zod schema. A definition is data; a running
// journey keeps the exact document it started with (it travels in the workflow's input) until a migration moves it to
// another version (engine/migrate.ts).
import { z } from 'zod';
import { DEFAULT_DURATION_LIMITS, type DurationLimits, HARD_MAX_DURATION } from './duration.js';
import { kindOf } from './kinds/index.js';
import { durationText, eventType, fieldPath, key, paramName, Step, Where } from './kinds/schemas.js';
import { childLists, durationProblems, durationRefs, walkSteps } from './steps.js';

export { childLists, walkSteps };

/** What the schema refuses whatever the configuration: durations past the hard maximum, waits under the minimum.
 * The configured (smaller) maximum is checked by `validateDefinition` and at start by `resolveParams`. */
const SCHEMA_LIMITS: DurationLimits = { max: HARD_MAX_DURATION, minWait: DEFAULT_DURATION_LIMITS.minWait };

export type { Channel, Delivery } from './kinds/index.js';
/** The step schema and type: one module per node kind (engine/kinds/), the schemas in engine/kinds/schemas.ts, each
 * checked against its kind's declared type. */
export { DurationRef, Step } from './kinds/schemas.js';

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
      const enters = kindOf(s).uses(s).enters;
      if (typeof enters === 'string' && !stages.has(enters)) ctx.addIssue({ code: 'custom', path: [...here, 'stage'], message: `unknown stage "${enters}"` });
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

export type { ParamValues } from './params.js';
/** Parameters are resolved without zod (engine/params.ts): the engine resolves them when it moves a journey. */
export { ParamsError, resolveParams } from './params.js';
