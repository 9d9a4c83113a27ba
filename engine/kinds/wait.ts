// `wait`: waits for one of several events (each with its own branch) or the timeout (its own branch).
import { addDuration } from '../duration.js';
import { durationOf, matches } from '../runtime.js';
import type { Step } from './index.js';
import { type Arm, type Base, type DurationRef, type KindEntry, none, type Where, nameList, sameSet } from './kind.js';

export type WaitStep = Base & {
  type: 'wait';
  for: { event: string; where?: Where; then?: Step[] }[];
  timeout: DurationRef;
  onTimeout?: Step[];
};

export const wait: KindEntry<WaitStep> = {
  arms: (s) => [...s.for.map((o, j): Arm => ({ path: ['for', j, 'then'], steps: o.then, event: o.event })), { path: ['onTimeout'], steps: s.onTimeout }],
  run: (s, cx) => ({
    wait: { kind: 'event', events: s.for.map((o) => o.event), until: addDuration(cx.now, durationOf(s.timeout, cx.state.params)).toISOString() },
  }),
  resume(s, cx, event) {
    const i = s.for.findIndex((o) => o.event === event.type && matches(o.where, event.data));
    return i < 0 ? undefined : cx.slot.arms[i]!;
  },
  resumedBy: none,
  durations: (s) => [{ ref: s.timeout, kind: 'wait', at: 'timeout' }],
  uses: (s) => ({ listens: s.for.map((o, j) => ({ event: o.event, at: ['for', j, 'event'] })) }),
  ends: false,
  wait: {
    movesTo(from, to) {
      const a = from.for.map((o) => o.event);
      const b = to.for.map((o) => o.event);
      return sameSet(a, b) ? undefined : `it waits for ${nameList(a)}, the new step for ${nameList(b)}`;
    },
  },
  alwaysWaits: (s, positive) => positive(s.timeout),
  conditions: null,
  map: { drawn: true },
};
