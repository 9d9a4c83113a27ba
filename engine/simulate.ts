// Runs the engine in virtual time: a scripted customer's events in order, with every timer fired at its instant.
// No Temporal, no sends. The same function the workflow drives, so what it shows is what the workflow does.
import type { JourneyDefinition, ParamValues } from './definition.js';
import { advance, type Command, type Input, type JourneyState, nextWakeAt, type Profile, start, TASK_COMPLETED_EVENT } from './engine.js';

export interface ScriptedInput {
  at: string;
  input: Input;
}

export interface SimulationResult {
  state: JourneyState;
  timeline: { at: string; command: Command }[];
  /** Every timer a flow set: when it was set, which flow, when it fires. */
  timers: { at: string; flow: string; until: string }[];
  steps: number;
}

export function simulate(
  def: JourneyDefinition,
  opts: { instanceId?: string; customerId: string; params: ParamValues; profile?: Profile; start: string; until: string; inputs: ScriptedInput[] },
): SimulationResult {
  const timeline: SimulationResult['timeline'] = [];
  const timers: SimulationResult['timers'] = [];
  const seenTimers = new Set<string>();
  const openTasks = new Map<string, string>(); // taskKey → idempotency key of its latest task
  let steps = 0;
  const record = (r: { state: JourneyState; commands: Command[] }, at: string) => {
    steps++;
    for (const command of r.commands) {
      timeline.push({ at, command });
      if (command.type === 'createTask') openTasks.set(command.taskKey, command.idempotencyKey);
    }
    for (const f of r.state.flows) {
      const until = f.waiting?.until;
      const id = `${f.id}@${until}`;
      if (until !== undefined && !seenTimers.has(id)) {
        seenTimers.add(id);
        timers.push({ at, flow: f.name, until });
      }
    }
  };
  const first = start(def, { instanceId: opts.instanceId ?? `sim:${def.key}:${opts.customerId}`, customerId: opts.customerId, params: opts.params, ...(opts.profile ? { profile: opts.profile } : {}) }, new Date(opts.start));
  let state = first.state;
  record(first, opts.start);
  const inputs = [...opts.inputs].sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  const until = Date.parse(opts.until);
  let i = 0;
  for (;;) {
    const wake = nextWakeAt(state);
    const nextInput = inputs[i];
    const wakeMs = wake === undefined ? Infinity : Date.parse(wake);
    const inputMs = nextInput === undefined ? Infinity : Date.parse(nextInput.at);
    const at = Math.min(wakeMs, inputMs);
    if (at === Infinity || at > until || state.status !== 'running') break;
    const now = new Date(at);
    // A timer due at the same instant as an input fires first, as a workflow timer would.
    let input: Input = wakeMs <= inputMs ? { type: 'timer' } : (i++, nextInput!.input);
    // A scripted RM outcome names the task by its key; the engine knows it by the task's idempotency key.
    if (input.type === 'event' && input.event.type === TASK_COMPLETED_EVENT && input.event.data.taskRef === undefined) {
      const ref = openTasks.get(String(input.event.data.taskKey));
      if (ref) input = { type: 'event', event: { ...input.event, data: { ...input.event.data, taskRef: ref } } };
    }
    const r = advance(def, state, input, now);
    state = r.state;
    record(r, now.toISOString());
  }
  return { state, timeline, timers, steps };
}

/** A timeline people read: one entry per thing that happened, in order. */
export type TimelineEntry = { at: string } & (
  | { kind: 'stage'; stage: string; from: string | null; cause: string }
  | { kind: 'send'; channel: string; template: string }
  | { kind: 'task'; taskKey: string; title: string; dueAt: string }
  | { kind: 'escalation'; to: string }
  | { kind: 'goal' | 'split' | 'feedback' | 'task_outcome'; data: Record<string, unknown> }
  | { kind: 'chorus'; action: 'startJourney' | 'signalJourney' | 'stopJourneys'; journeyKey?: string; tag?: string; event?: string }
  | { kind: 'end'; status: string; reason: string }
);

export function describe(command: Command, at: string): TimelineEntry {
  switch (command.type) {
    case 'stageChanged': return { at, kind: 'stage', stage: command.to, from: command.from, cause: command.cause };
    case 'send': return { at, kind: 'send', channel: command.channel, template: command.template };
    case 'createTask': return { at, kind: 'task', taskKey: command.taskKey, title: command.title, dueAt: command.dueAt };
    case 'escalateTask': return { at, kind: 'escalation', to: command.to };
    case 'record': return { at, kind: command.kind, data: command.data };
    case 'startJourney': return { at, kind: 'chorus', action: 'startJourney', journeyKey: command.journeyKey };
    case 'signalJourney': return { at, kind: 'chorus', action: 'signalJourney', journeyKey: command.journeyKey, event: command.event.type };
    case 'stopJourneys': return { at, kind: 'chorus', action: 'stopJourneys', ...(command.journeyKey ? { journeyKey: command.journeyKey } : {}), ...(command.tag ? { tag: command.tag } : {}) };
    case 'ended': return { at, kind: 'end', status: command.status, reason: command.reason };
  }
}
