// `goto`: goes on at the step with the given id (a loop; validate.ts refuses one that cannot wait).
import { EngineError } from '../errors.js';
import { type Base, type KindEntry, never, none } from './kind.js';

export type GotoStep = Base & { type: 'goto'; target: string };

export const goto: KindEntry<GotoStep> = {
  arms: none,
  run(s, cx) {
    const target = cx.ids.get(s.target);
    if (target === undefined) throw new EngineError('unknown_goto_target', `goto target "${s.target}" does not exist`);
    return { next: target };
  },
  resume: null,
  resumedBy: none,
  durations: none,
  uses: (s) => ({ target: s.target }),
  ends: true,
  wait: null,
  alwaysWaits: never,
  conditions: null,
  map: { drawn: false },
};
