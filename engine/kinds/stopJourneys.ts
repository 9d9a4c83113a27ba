// `stopJourneys` (chorus): stops the customer's running journeys of a key or a tag.
import { type Base, type KindEntry, never, none } from './kind.js';

export type StopJourneysStep = Base & { type: 'stopJourneys'; journeyKey?: string; tag?: string; reason: string };

export const stopJourneys: KindEntry<StopJourneysStep> = {
  arms: none,
  run: (s, cx) =>
    cx.push({
      type: 'stopJourneys',
      idempotencyKey: cx.key(),
      ...(s.journeyKey !== undefined ? { journeyKey: s.journeyKey } : {}),
      ...(s.tag !== undefined ? { tag: s.tag } : {}),
      reason: s.reason,
    }),
  resume: null,
  resumedBy: none,
  durations: none,
  uses: (s) => (s.journeyKey ? { journey: s.journeyKey } : {}),
  ends: false,
  wait: null,
  alwaysWaits: never,
  conditions: null,
  map: { drawn: false },
};
