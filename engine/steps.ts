// Walking the step tree of a definition. No zod here: the workflow bundle imports this through the engine, and the
// schema library has no place in every workflow's sandbox (the bench's profile found it initialised per workflow).
import type { JourneyDefinition, Step } from './definition.js';

/** Every step list a step holds, with its path, for walking the step tree. */
export function childLists(s: Step): [(string | number)[], Step[] | undefined][] {
  switch (s.type) {
    case 'wait': return [...s.for.map((o, j): [(string | number)[], Step[] | undefined] => [['for', j, 'then'], o.then]), [['onTimeout'], s.onTimeout]];
    case 'branch': return [...s.cases.map((c, j): [(string | number)[], Step[] | undefined] => [['cases', j, 'steps'], c.steps]), [['otherwise'], s.otherwise]];
    case 'split': return s.variants.map((v, j) => [['variants', j, 'steps'], v.steps]);
    case 'feedback': return [[['onAnswer'], s.onAnswer], [['onTimeout'], s.onTimeout]];
    case 'task': return Object.entries(s.outcomes ?? {}).map(([o, l]) => [['outcomes', o], l]);
    case 'send': case 'delay': case 'delayUntil': case 'delayUntilLocalTime': case 'stage': case 'goal': case 'goto': case 'exit': case 'complete': case 'cancel':
    case 'startJourney': case 'stopJourneys': case 'signalJourney':
      return [];
  }
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

