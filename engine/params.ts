// A journey's parameters: a definition's defaults overlaid with the values a start (or a migration) carries, checked
// against the declared types and the duration limits. No zod here: the engine resolves parameters when it moves a
// running journey to another version (engine/migrate.ts), inside the workflow sandbox.
import type { JourneyDefinition } from './definition.js';
import { checkDuration, DEFAULT_DURATION_LIMITS, type DurationKind, type DurationLimits, isDuration } from './duration.js';
import { durationParamKinds } from './steps.js';

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
