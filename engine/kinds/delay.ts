// `delay`: waits a fixed time.
import { addDuration } from '../duration.js';
import { durationOf } from '../runtime.js';
import { type Base, type DurationRef, type KindEntry, none, noUses, timerMoves } from './kind.js';

export type DelayStep = Base & { type: 'delay'; duration: DurationRef };

export const delay: KindEntry<DelayStep> = {
  arms: none,
  run: (s, cx) => ({ wait: { kind: 'timer', until: addDuration(cx.now, durationOf(s.duration, cx.state.params)).toISOString() } }),
  resume: null,
  resumedBy: none,
  durations: (s) => [{ ref: s.duration, kind: 'wait', at: 'duration' }],
  uses: noUses,
  ends: false,
  wait: timerMoves,
  alwaysWaits: (s, positive) => positive(s.duration),
  conditions: null,
  map: { drawn: true },
};
