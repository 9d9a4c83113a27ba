// `goal`: records a goal reached (once); the journey goes on.
import { type Base, type KindEntry, never, none } from './kind.js';

export type GoalStep = Base & { type: 'goal'; key: string };

export const goal: KindEntry<GoalStep> = {
  arms: none,
  run: (s, cx) => cx.reachGoal(s.key),
  resume: null,
  resumedBy: none,
  durations: none,
  uses: () => ({ goal: true }),
  ends: false,
  wait: null,
  alwaysWaits: never,
  conditions: null,
  map: { drawn: true },
};
