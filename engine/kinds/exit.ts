// `exit`: ends the journey as exited.
import { type Base, type KindEntry, never, none, noUses } from './kind.js';

export type ExitStep = Base & { type: 'exit'; reason: string };

export const exit: KindEntry<ExitStep> = {
  arms: none,
  run(s, cx) {
    cx.end('exited', s.reason);
    return 'stopped';
  },
  resume: null,
  resumedBy: none,
  durations: none,
  uses: noUses,
  ends: true,
  wait: null,
  alwaysWaits: never,
  conditions: null,
  map: { drawn: true },
};
