// `startJourney` (chorus): starts another journey for the same customer.
import { type Base, type KindEntry, never, none } from './kind.js';

export type StartJourneyStep = Base & { type: 'startJourney'; journeyKey: string; params?: Record<string, string | number> };

export const startJourney: KindEntry<StartJourneyStep> = {
  arms: none,
  run: (s, cx) => cx.push({ type: 'startJourney', idempotencyKey: cx.key(), journeyKey: s.journeyKey, ...(s.params ? { params: s.params } : {}) }),
  resume: null,
  resumedBy: none,
  durations: none,
  uses: (s) => ({ journey: s.journeyKey }),
  ends: false,
  wait: null,
  alwaysWaits: never,
  conditions: null,
  map: { drawn: true },
};
