// `complete`: ends the journey as completed.
import { type Base, type KindEntry, never, none, noUses } from './kind.js';

export type CompleteStep = Base & { type: 'complete'; reason?: string };

export const complete: KindEntry<CompleteStep> = {
  arms: none,
  run(s, cx) {
    cx.end('completed', s.reason ?? 'completed');
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
