// Which outcomes a journey accepts for one of its RM tasks, read from the definition the journey runs. A task step
// that declares `outcomes` accepts those names (and any word when it declares `default`, where the rest go); a task
// step without them does not wait, so the journey takes what a wait for `task.completed` with that task key names
// (`where.outcome`), and when nothing names one, any outcome (it is recorded, nothing branches on it).
import { TASK_COMPLETED_EVENT } from '../engine/engine.js';
import { walkSteps, type JourneyDefinition } from '../engine/definition.js';

export interface AcceptedOutcomes {
  /** The outcomes the journey knows, in the definition's order: one button each in the console. */
  outcomes: string[];
  /** Whether another well-formed word is accepted too (a `default` branch, or nothing waits on the outcome). */
  acceptsOther: boolean;
}

export function acceptedOutcomes(def: Pick<JourneyDefinition, 'stages' | 'triggers'>, taskKey: string): AcceptedOutcomes {
  const declared: string[] = [];
  let declares = false;
  let withDefault = false;
  const waitedFor: string[] = [];
  const named = (where: Record<string, unknown> | undefined) => {
    if (!where || (where.taskKey !== undefined && where.taskKey !== taskKey)) return;
    if (typeof where.outcome === 'string' && !waitedFor.includes(where.outcome)) waitedFor.push(where.outcome);
  };
  walkSteps(def, (s) => {
    if (s.type === 'task' && s.key === taskKey && s.outcomes !== undefined) {
      declares = true;
      for (const name of Object.keys(s.outcomes)) {
        if (name === 'default') withDefault = true;
        else if (!declared.includes(name)) declared.push(name);
      }
    }
    if (s.type === 'wait') for (const o of s.for) if (o.event === TASK_COMPLETED_EVENT) named(o.where);
  });
  for (const t of def.triggers) if (t.event === TASK_COMPLETED_EVENT) named(t.where);
  if (declares) return { outcomes: declared, acceptsOther: withDefault };
  return { outcomes: waitedFor, acceptsOther: waitedFor.length === 0 };
}
