// `branch`: the first case whose condition holds, else `otherwise`, else on; with decisions on, the journey log says
// which case it took and why (the conditions checked, the values they read).
import { evaluate, type Expr, parseExpr, truthy } from '../expr.js';
import { MAX_RECORDED_ITEMS, readField } from '../runtime.js';
import type { Flow } from '../engine.js';
import type { Step } from './index.js';
import { type Arm, type Base, type KindEntry, never, none, noUses, type Slot } from './kind.js';

export type BranchStep = Base & { type: 'branch'; cases: { when: string; steps?: Step[] }[]; otherwise?: Step[] };

export const branch: KindEntry<BranchStep> = {
  arms: (s) => [...s.cases.map((c, j): Arm => ({ path: ['cases', j, 'steps'], steps: c.steps })), { path: ['otherwise'], steps: s.otherwise }],
  run(s, cx) {
    const scope = cx.scope();
    const i = cx.slot.conditions!.findIndex((c) => truthy(evaluate(c, scope)));
    const next = i >= 0 ? cx.slot.arms[i]! : s.otherwise ? cx.slot.arms[s.cases.length]! : cx.slot.next;
    if (cx.decisions) cx.record('branch', branchDecision(cx.flow, cx.slot, s, i, scope));
    return { next };
  },
  resume: null,
  resumedBy: none,
  durations: none,
  uses: noUses,
  ends: false,
  wait: null,
  alwaysWaits: never,
  conditions: (s) => s.cases.map((c) => parseExpr(c.when)),
  map: { drawn: true },
};

/** Names a step in the log: its id when it has one, and always its place in the definition. */
export function slotRef(slot: Slot): { step?: string; path: string } {
  return { ...(slot.step.id !== undefined ? { step: slot.step.id } : {}), path: slot.path };
}

/** Which case a branch took and why: each condition it checked in order, with its result, and the values they read. */
function branchDecision(f: Flow, slot: Slot, step: BranchStep, taken: number, scope: Record<string, unknown>): Record<string, unknown> {
  const checked = taken >= 0 ? taken + 1 : step.cases.length;
  const read: Record<string, unknown> = {};
  for (const e of slot.conditions!.slice(0, checked))
    for (const p of exprPaths(e)) {
      const key = p.join('.');
      if (Object.hasOwn(read, key) || Object.keys(read).length >= MAX_RECORDED_ITEMS) continue;
      read[key] = loggable(key, readField(scope, key));
    }
  return {
    flow: f.name,
    ...slotRef(slot),
    taken: taken >= 0 ? 'case' : step.otherwise ? 'otherwise' : 'none',
    ...(taken >= 0 ? { case: taken, when: step.cases[taken]!.when } : {}),
    // Bounded like everything driven by a definition: the taken case is named above whatever its index.
    checked: step.cases.slice(0, Math.min(checked, MAX_RECORDED_ITEMS)).map((c, j) => ({ case: j, when: c.when, result: j === taken })),
    ...(checked > MAX_RECORDED_ITEMS ? { checkedMore: checked - MAX_RECORDED_ITEMS } : {}),
    read,
  };
}

function exprPaths(e: Expr): string[][] {
  switch (e.k) {
    case 'lit':
      return [];
    case 'path':
    case 'exists':
      return [e.p];
    case 'list':
      return e.items.flatMap(exprPaths);
    case 'not':
    case 'neg':
      return exprPaths(e.e);
    case 'bin':
      return [...exprPaths(e.l), ...exprPaths(e.r)];
  }
}

/** Field names that would hold contact data if a business system put it in an event: their values are not logged. */
const CONTACT_FIELD = /e-?mail|phone|mobile|address|recipient|^name$|full_?name|id_?(card|number)/i;
const MAX_LOGGED_STRING = 120;

/** A value a condition read, as the log keeps it: scalars (long strings cut), short lists of scalars, else its shape. */
function loggable(path: string, v: unknown): unknown {
  if (CONTACT_FIELD.test(path.split('.').pop()!)) return v === undefined || v === null ? null : '[redacted]';
  if (v === undefined || v === null || typeof v === 'number' || typeof v === 'boolean') return v ?? null;
  if (typeof v === 'string') return v.length > MAX_LOGGED_STRING ? `${v.slice(0, MAX_LOGGED_STRING)}…` : v;
  if (Array.isArray(v))
    return v.length <= 10 && v.every((x) => x === null || ['string', 'number', 'boolean'].includes(typeof x)) ? v.map((x) => loggable('', x)) : `[list of ${v.length}]`;
  return '[object]';
}
