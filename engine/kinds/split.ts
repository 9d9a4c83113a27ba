// `split`: an A/B/n test: a variant by weight, the same for a customer every time (a stable hash), remembered.
import { stableHash } from '../runtime.js';
import type { Step } from './index.js';
import { type Base, type KindEntry, never, none, noUses } from './kind.js';

export type SplitStep = Base & { type: 'split'; key: string; variants: { name: string; weight: number; steps?: Step[] }[] };

export const split: KindEntry<SplitStep> = {
  arms: (s) => s.variants.map((v, j) => ({ path: ['variants', j, 'steps'], steps: v.steps })),
  run(s, cx) {
    const st = cx.state;
    const variants = (st.variants ??= {});
    let name = Object.hasOwn(variants, s.key) ? variants[s.key] : undefined;
    if (name === undefined || !s.variants.some((v) => v.name === name)) {
      const total = s.variants.reduce((a, v) => a + v.weight, 0);
      let point = (stableHash(`${st.customerId}|${st.journeyKey}|${s.key}`) / 0x1_0000_0000) * total;
      name = s.variants.find((v) => (point -= v.weight) < 0)?.name ?? s.variants[s.variants.length - 1]!.name;
      variants[s.key] = name;
      cx.record('split', { split: s.key, variant: name });
    }
    return { next: cx.slot.arms[s.variants.findIndex((v) => v.name === name)]! };
  },
  resume: null,
  resumedBy: none,
  durations: none,
  uses: noUses,
  ends: false,
  wait: null,
  alwaysWaits: never,
  conditions: null,
  map: { drawn: true },
};
