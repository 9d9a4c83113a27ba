// `stage`: moves the journey to a stage, named in the step or read from the event (a business system's status).
import { readField } from '../runtime.js';
import { type Base, type KindEntry, never, none } from './kind.js';

export type StageStep = Base & { type: 'stage'; stage?: string; stageFromEvent?: string; forwardOnly?: boolean };

export const stage: KindEntry<StageStep> = {
  arms: none,
  run(s, cx) {
    const target = s.stage ?? readField(cx.data, s.stageFromEvent!);
    const idx = typeof target === 'string' ? cx.stageIndex.get(target) : undefined;
    // An unknown stage from a business system is ignored; so is a step back for an implied stage.
    if (idx !== undefined && !(s.forwardOnly && idx < cx.stageIndex.get(cx.state.stage)!)) cx.enterStage(target as string, cx.flow.event?.type ?? cx.flow.name);
  },
  resume: null,
  resumedBy: none,
  durations: none,
  uses: (s) => ({ enters: s.stage ?? { fromEvent: true } }),
  ends: false,
  wait: null,
  alwaysWaits: never,
  conditions: null,
  map: { drawn: false },
};
