// Walking the step tree of a definition. No zod here: the workflow bundle imports this through the engine, and the
// schema library has no place in every workflow's sandbox (the bench's profile found it initialised per workflow).
import type { JourneyDefinition } from './definition.js';
import { checkDuration, type DurationKind, type DurationLimits } from './duration.js';
import { type DurationUse, kindOf, type Step, WAITING_KINDS } from './kinds/index.js';

/** Kinds a flow can wait at, from the registry (analytics counts journeys waiting at such steps). */
export { WAITING_KINDS };

/** Every step list a step holds, with its path, for walking the step tree (its kind's `arms`). */
export function childLists(s: Step): [(string | number)[], Step[] | undefined][] {
  return kindOf(s)
    .arms(s)
    .map((a) => [a.path, a.steps]);
}

/** Calls `visit` on every step of the definition with its path. */
export function walkSteps(d: Pick<JourneyDefinition, 'stages' | 'triggers'>, visit: (s: Step, path: (string | number)[]) => void): void {
  const walk = (list: Step[] | undefined, path: (string | number)[]) =>
    list?.forEach((s, i) => {
      visit(s, [...path, i]);
      for (const [sub, l] of childLists(s)) walk(l, [...path, i, ...sub]);
    });
  d.stages.forEach((s, i) => walk(s.onEnter, ['stages', i, 'onEnter']));
  d.triggers.forEach((t, i) => walk(t.steps, ['triggers', i, 'steps']));
}

export function formatPath(path: (string | number)[]): string {
  return path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '');
}

/** The durations a step uses, each with what it is used for and where it sits in the step. */
export function durationRefs(s: Step): DurationUse[] {
  return kindOf(s).durations(s);
}

/** What each duration parameter is used for (a parameter used as a delay must be a valid delay). */
export function durationParamKinds(d: Pick<JourneyDefinition, 'stages' | 'triggers'>): Map<string, Set<DurationKind>> {
  const kinds = new Map<string, Set<DurationKind>>();
  walkSteps(d, (s) => {
    for (const { ref, kind } of durationRefs(s))
      if (typeof ref === 'object') {
        const set = kinds.get(ref.param) ?? new Set<DurationKind>();
        set.add(kind);
        kinds.set(ref.param, set);
      }
  });
  return kinds;
}

/** Durations of the definition outside the limits: written in steps, parameter defaults (for every use), cooldown. */
export function durationProblems(
  d: Pick<JourneyDefinition, 'stages' | 'triggers' | 'params'> & { entry?: { reentry?: { cooldown?: string | undefined } } },
  limits: DurationLimits,
): { path: (string | number)[]; message: string }[] {
  const problems: { path: (string | number)[]; message: string }[] = [];
  walkSteps(d, (s, here) => {
    for (const { ref, kind, at } of durationRefs(s))
      if (typeof ref === 'string') {
        const problem = checkDuration(ref, limits, kind);
        if (problem) problems.push({ path: [...here, at], message: problem });
      }
  });
  const kinds = durationParamKinds(d);
  for (const [name, p] of Object.entries(d.params)) {
    if (p.type !== 'duration') continue;
    for (const kind of kinds.get(name) ?? new Set<DurationKind>(['any'])) {
      const problem = checkDuration(p.default, limits, kind);
      if (problem) {
        problems.push({ path: ['params', name, 'default'], message: problem });
        break;
      }
    }
  }
  const cooldown = d.entry?.reentry?.cooldown;
  if (cooldown !== undefined) {
    const problem = checkDuration(cooldown, limits, 'any');
    if (problem) problems.push({ path: ['entry', 'reentry', 'cooldown'], message: problem });
  }
  return problems;
}
