// `signalJourney` (chorus): sends an event to the customer's running journeys of a key.
import { type Base, type KindEntry, never, none } from './kind.js';

export type SignalJourneyStep = Base & { type: 'signalJourney'; journeyKey: string; event: string; passEventData?: boolean };

export const signalJourney: KindEntry<SignalJourneyStep> = {
  arms: none,
  run: (s, cx) => cx.push({ type: 'signalJourney', idempotencyKey: cx.key(), journeyKey: s.journeyKey, event: { type: s.event, data: s.passEventData ? cx.data : {} } }),
  resume: null,
  resumedBy: none,
  durations: none,
  uses: (s) => ({ journey: s.journeyKey, sends: s.event }),
  ends: false,
  wait: null,
  alwaysWaits: never,
  conditions: null,
  map: { drawn: false },
};
