// `cancel`: stops running flows by name; with `instanceFromEvent`, only the instance the event names (when it names one).
import type { Flow } from '../engine.js';
import { readField } from '../runtime.js';
import { slotRef } from './branch.js';
import { type Base, type KindEntry, never, none, noUses } from './kind.js';

export type CancelStep = Base & { type: 'cancel'; flow: string; instanceFromEvent?: string };

export const cancel: KindEntry<CancelStep> = {
  arms: none,
  run(s, cx) {
    const f = cx.flow;
    const v = s.instanceFromEvent ? readField(cx.data, s.instanceFromEvent) : undefined;
    const only = v === undefined || v === null ? undefined : String(v);
    const kept = (x: Flow) => x === f || x.name !== s.flow || (only !== undefined && x.instance !== only);
    cx.skipped(
      cx.state.flows.filter((x) => !kept(x)),
      { reason: 'flow_cancelled', by: { flow: f.name, ...slotRef(cx.slot) } },
    );
    cx.state.flows = cx.state.flows.filter(kept);
  },
  resume: null,
  resumedBy: none,
  durations: none,
  uses: noUses,
  ends: false,
  wait: null,
  alwaysWaits: never,
  conditions: null,
  map: { drawn: false },
};
