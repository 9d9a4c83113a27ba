// `delayUntilLocalTime`: waits until the next time of day in the step's or the customer's time zone.
import { nextLocalTime } from '../tz.js';
import { validZone } from '../runtime.js';
import { type Base, type KindEntry, none, noUses, timerMoves } from './kind.js';

export type DelayUntilLocalTimeStep = Base & { type: 'delayUntilLocalTime'; time: string; timeZone?: string };

export const delayUntilLocalTime: KindEntry<DelayUntilLocalTimeStep> = {
  arms: none,
  run(s, cx) {
    const tz = s.timeZone ?? cx.state.profile?.timeZone ?? 'UTC';
    return { wait: { kind: 'timer', until: nextLocalTime(cx.now, s.time, validZone(tz)).toISOString() } };
  },
  resume: null,
  resumedBy: none,
  durations: none,
  uses: noUses,
  ends: false,
  wait: timerMoves,
  alwaysWaits: () => true,
  conditions: null,
  map: { drawn: false },
};
