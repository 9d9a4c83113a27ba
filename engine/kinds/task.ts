// `task`: an RM task (the workflow's `createTask`), escalated when still open at its due time; with `outcomes` the
// flow waits for the RM's answer and goes on in the matching branch (`default` for any other).
import { addDuration } from '../duration.js';
import { durationOf, TASK_COMPLETED_EVENT } from '../runtime.js';
import type { Step } from './index.js';
import { type Base, type DurationRef, type KindEntry, nameList, sameSet } from './kind.js';

export type TaskStep = Base & {
  type: 'task';
  key: string;
  title: string;
  description?: string;
  due: DurationRef;
  /** When the task is still open at its due time, it is handed to this assignee as well. */
  escalateTo?: string;
  /** The flow waits for the RM's outcome and continues in the matching branch (`default` for any other). */
  outcomes?: Record<string, Step[]>;
};

export const task: KindEntry<TaskStep> = {
  arms: (s) => Object.entries(s.outcomes ?? {}).map(([o, l]) => ({ path: ['outcomes', o], steps: l, event: TASK_COMPLETED_EVENT })),
  run(s, cx) {
    const dueAt = addDuration(cx.now, durationOf(s.due, cx.state.params)).toISOString();
    if (cx.control) {
      // Nobody is asked: the flow goes on as if the task had fallen due with no outcome — after the due time
      // when the journey would have waited for an outcome, by the step after the task (no outcome branch, not
      // even `default`, which stands for an answer the RM gave).
      cx.record('held_out', { action: 'task', taskKey: s.key, flow: cx.flow.name, step: cx.slot.step.id ?? cx.slot.path, dueAt });
      if (s.outcomes !== undefined) return { wait: { kind: 'timer', until: dueAt } };
      return;
    }
    const idempotencyKey = cx.key();
    cx.push({
      type: 'createTask',
      idempotencyKey,
      taskKey: s.key,
      title: s.title,
      ...(s.description !== undefined ? { description: s.description } : {}),
      dueAt,
      flow: cx.flow.name,
    });
    if (s.escalateTo !== undefined) (cx.state.openTasks ??= []).push({ ref: idempotencyKey, escalateAt: dueAt, escalateTo: s.escalateTo });
    if (s.outcomes !== undefined) return { wait: { kind: 'event', events: [TASK_COMPLETED_EVENT], taskRef: idempotencyKey } };
  },
  resume(s, cx, event) {
    const w = cx.flow.waiting;
    if (event.type !== TASK_COMPLETED_EVENT || w?.kind !== 'event' || event.data.taskRef !== w.taskRef) return undefined;
    const outcome = String(event.data.outcome);
    cx.record('task_outcome', { taskKey: s.key, outcome });
    const names = Object.keys(s.outcomes ?? {});
    const i = names.indexOf(outcome) >= 0 ? names.indexOf(outcome) : names.indexOf('default');
    return i >= 0 ? cx.slot.arms[i]! : cx.slot.next;
  },
  resumedBy: (s) => (s.outcomes ? [TASK_COMPLETED_EVENT] : []),
  durations: (s) => [{ ref: s.due, kind: 'due', at: 'due' }],
  uses: (s) => ({ touch: { action: 'task', taskKey: s.key } }),
  ends: false,
  wait: {
    movesTo(from, to) {
      const a = Object.keys(from.outcomes ?? {});
      const b = Object.keys(to.outcomes ?? {});
      if ((from.outcomes === undefined) !== (to.outcomes === undefined) || !sameSet(a, b)) return `the task's outcomes ${nameList(a)} differ from the new task's ${nameList(b)}`;
      return undefined;
    },
  },
  alwaysWaits: (s) => s.outcomes !== undefined,
  conditions: null,
  map: { drawn: true },
};
