// The journey definition language: JSON documents validated by one zod schema. A definition is data; a running
// journey keeps the exact document it started with (it travels in the workflow's input).
import { z } from 'zod';
import { isDuration } from './duration.js';

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

export type Step =
  | { type: 'stage'; stage?: string; stageFromEvent?: string; forwardOnly?: boolean }
  | { type: 'send'; channel: 'email' | 'sms'; template: string }
  | { type: 'task'; key: string; title: string; description?: string; due: DurationRef }
  | {
      type: 'wait';
      for: { event: string; where?: Record<string, string | number | boolean | null>; then?: Step[] }[];
      timeout: DurationRef;
      onTimeout?: Step[];
    }
  | { type: 'delay'; duration: DurationRef }
  | {
      type: 'delayUntil';
      eventField: string;
      before?: DurationRef;
      after?: DurationRef;
      /** When the computed instant has passed: run now, skip the rest of the flow, or run now only while the
       * event's own timestamp is still ahead (a reminder before a due date that has not come yet). */
      ifPast?: 'run' | 'skip' | 'runIfAnchorAhead';
    }
  /** Stops running flows by name; with `instanceFromEvent`, only the instance the event names (when it names one). */
  | { type: 'cancel'; flow: string; instanceFromEvent?: string }
  | { type: 'exit'; reason: string }
  | { type: 'complete'; reason?: string };

export const Step: z.ZodType<Step> = z.lazy(() =>
  z.discriminatedUnion('type', [
    z
      .object({
        type: z.literal('stage'),
        stage: key.optional(),
        stageFromEvent: fieldPath.optional(),
        forwardOnly: z.boolean().optional(),
      })
      .strict()
      .refine((s) => (s.stage === undefined) !== (s.stageFromEvent === undefined), {
        message: 'a stage step names either "stage" or "stageFromEvent"',
      }),
    z.object({ type: z.literal('send'), channel: z.enum(['email', 'sms']), template: key }).strict(),
    z
      .object({
        type: z.literal('task'),
        key,
        title: z.string().min(1).max(200),
        description: z.string().max(2000).optional(),
        due: DurationRef,
      })
      .strict(),
    z
      .object({
        type: z.literal('wait'),
        for: z
          .array(z.object({ event: eventType, where: Where.optional(), then: z.array(Step).optional() }).strict())
          .min(1),
        timeout: DurationRef,
        onTimeout: z.array(Step).optional(),
      })
      .strict(),
    z.object({ type: z.literal('delay'), duration: DurationRef }).strict(),
    z
      .object({
        type: z.literal('delayUntil'),
        eventField: fieldPath,
        before: DurationRef.optional(),
        after: DurationRef.optional(),
        ifPast: z.enum(['run', 'skip', 'runIfAnchorAhead']).optional(),
      })
      .strict()
      .refine((s) => !(s.before && s.after), { message: 'use "before" or "after", not both' }),
    z.object({ type: z.literal('cancel'), flow: key, instanceFromEvent: fieldPath.optional() }).strict(),
    z.object({ type: z.literal('exit'), reason: key }).strict(),
    z.object({ type: z.literal('complete'), reason: key.optional() }).strict(),
  ]),
);

const Param = z.discriminatedUnion('type', [
  z.object({ type: z.literal('duration'), default: durationText, description: z.string().optional() }).strict(),
  z.object({ type: z.literal('string'), default: z.string(), description: z.string().optional() }).strict(),
  z.object({ type: z.literal('number'), default: z.number(), description: z.string().optional() }).strict(),
]);
export type Param = z.infer<typeof Param>;

const Stage = z
  .object({ key, label: z.string().min(1), onEnter: z.array(Step).optional() })
  .strict();

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

export const JourneyDefinition = z
  .object({
    key,
    version: z.number().int().min(1),
    name: z.string().min(1),
    description: z.string().optional(),
    params: z.record(paramName, Param).default({}),
    stages: z.array(Stage).min(1),
    initialStage: key,
    /** Evaluated first on every event, wherever the journey is. */
    exits: z.array(Exit).default([]),
    /** Reaching one of these events ends the journey as completed (the journey's goal). */
    goals: z.array(z.object({ event: eventType, where: Where.optional(), reason: key }).strict()).default([]),
    triggers: z.array(Trigger).default([]),
  })
  .strict()
  .superRefine((d, ctx) => {
    const stages = new Set(d.stages.map((s) => s.key));
    if (stages.size !== d.stages.length) ctx.addIssue({ code: 'custom', path: ['stages'], message: 'stage keys repeat' });
    if (!stages.has(d.initialStage))
      ctx.addIssue({ code: 'custom', path: ['initialStage'], message: `unknown stage "${d.initialStage}"` });
    const checkSteps = (steps: Step[] | undefined, path: (string | number)[]) =>
      steps?.forEach((s, i) => {
        const here = [...path, i];
        if (s.type === 'stage' && s.stage !== undefined && !stages.has(s.stage))
          ctx.addIssue({ code: 'custom', path: [...here, 'stage'], message: `unknown stage "${s.stage}"` });
        const refs = [s.type === 'task' ? s.due : undefined, s.type === 'wait' ? s.timeout : undefined,
          s.type === 'delay' ? s.duration : undefined, s.type === 'delayUntil' ? (s.before ?? s.after) : undefined];
        for (const r of refs)
          if (r && typeof r === 'object') {
            const p = d.params[r.param];
            if (!p || p.type !== 'duration')
              ctx.addIssue({ code: 'custom', path: here, message: `"${r.param}" is not a duration parameter` });
          }
        if (s.type === 'wait') {
          s.for.forEach((o, j) => checkSteps(o.then, [...here, 'for', j, 'then']));
          checkSteps(s.onTimeout, [...here, 'onTimeout']);
        }
      });
    d.stages.forEach((s, i) => checkSteps(s.onEnter, ['stages', i, 'onEnter']));
    d.triggers.forEach((t, i) => checkSteps(t.steps, ['triggers', i, 'steps']));
  });

export type JourneyDefinition = z.infer<typeof JourneyDefinition>;
export type JourneyDefinitionInput = z.input<typeof JourneyDefinition>;

export type ParamValues = Record<string, string | number>;

export class ParamsError extends Error {
  constructor(readonly problems: { param: string; message: string }[]) {
    super(problems.map((p) => `${p.param}: ${p.message}`).join('; '));
  }
}

/** The definition's defaults overlaid with a start request's overrides; unknown names and wrong types are refused. */
export function resolveParams(def: JourneyDefinition, overrides: Record<string, unknown> = {}): ParamValues {
  const problems: { param: string; message: string }[] = [];
  const out: ParamValues = {};
  for (const [name, p] of Object.entries(def.params)) out[name] = p.default;
  for (const [name, value] of Object.entries(overrides)) {
    const p = def.params[name];
    if (!p) problems.push({ param: name, message: `unknown parameter for journey "${def.key}"` });
    else if (p.type === 'number' && typeof value !== 'number') problems.push({ param: name, message: 'must be a number' });
    else if (p.type === 'string' && typeof value !== 'string') problems.push({ param: name, message: 'must be a string' });
    else if (p.type === 'duration' && (typeof value !== 'string' || !isDuration(value)))
      problems.push({ param: name, message: 'must be an ISO-8601 duration such as P3D or PT24H' });
    else out[name] = value as string | number;
  }
  if (problems.length) throw new ParamsError(problems);
  return out;
}
