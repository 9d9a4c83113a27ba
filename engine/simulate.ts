// Runs the engine in virtual time: a scripted customer's events in order, with every timer fired at its instant.
// No Temporal, no sends. The same function the workflow drives, so what it shows is what the workflow does.
import type { JourneyDefinition, ParamValues } from './definition.js';
import {
  advance,
  type Command,
  EngineError,
  type EngineOptions,
  type Holdout,
  type Input,
  type JourneyState,
  nextInput,
  type Profile,
  type QueuedInput,
  type RecordKind,
  start,
  TASK_COMPLETED_EVENT,
} from './engine.js';

/** Inputs (events and timers) one simulation may apply: a journey that wakes every second for ten years is stopped. */
export const SIMULATION_MAX_INPUTS = 100_000;

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
  opts: {
    instanceId?: string;
    customerId: string;
    params: ParamValues;
    profile?: Profile;
    /** Run the journey in a cohort, e.g. to preview what a control customer goes through. */
    holdout?: Holdout;
    start: string;
    until: string;
    inputs: ScriptedInput[];
    /** Inputs the simulation may apply before it fails with `step_budget` (default SIMULATION_MAX_INPUTS). */
    maxInputs?: number;
    /** Passed to every engine call (e.g. a smaller step budget per input). */
    engine?: EngineOptions;
  },
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
  const maxInputs = opts.maxInputs ?? SIMULATION_MAX_INPUTS;
  const first = start(
    def,
    {
      instanceId: opts.instanceId ?? `sim:${def.key}:${opts.customerId}`,
      customerId: opts.customerId,
      params: opts.params,
      ...(opts.profile ? { profile: opts.profile } : {}),
      ...(opts.holdout ? { holdout: opts.holdout } : {}),
    },
    new Date(opts.start),
    opts.engine,
  );
  let state = first.state;
  record(first, opts.start);
  // The script's inputs arrive at their instants; which comes next, a due timer or an input, is the engine's rule.
  const queue: QueuedInput[] = opts.inputs.map((x) => ({ input: x.input, arrivedAt: x.at })).sort((a, b) => Date.parse(a.arrivedAt) - Date.parse(b.arrivedAt));
  const until = Date.parse(opts.until);
  while (state.status === 'running') {
    // The queue is in arrival order (sorted once, stably; only its head is ever taken), so its head is the input the
    // engine's rule would pick from all of it: asked of the head alone, not of the whole queue on every input.
    const next = nextInput(state, queue.slice(0, 1));
    if (next === undefined) break;
    const at = next.kind === 'timer' ? Date.parse(next.at) : Date.parse(queue[next.index]!.arrivedAt);
    if (at > until) break;
    if (steps > maxInputs) throw new EngineError('step_budget', `the simulation applied ${maxInputs} inputs before ${opts.until}`);
    const now = new Date(at);
    let input: Input = next.kind === 'timer' ? { type: 'timer' } : queue.splice(next.index, 1)[0]!.input;
    // A scripted RM outcome names the task by its key; the engine knows it by the task's idempotency key.
    if (input.type === 'event' && input.event.type === TASK_COMPLETED_EVENT && input.event.data.taskRef === undefined) {
      const ref = openTasks.get(String(input.event.data.taskKey));
      if (ref) input = { type: 'event', event: { ...input.event, data: { ...input.event.data, taskRef: ref } } };
    }
    const r = advance(def, state, input, now, opts.engine);
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
  | { kind: RecordKind; data: Record<string, unknown> }
  | { kind: 'chorus'; action: 'startJourney' | 'signalJourney' | 'stopJourneys'; journeyKey?: string; tag?: string; event?: string }
  | { kind: 'end'; status: string; reason: string }
);

export function describe(command: Command, at: string): TimelineEntry {
  switch (command.type) {
    case 'stageChanged':
      return { at, kind: 'stage', stage: command.to, from: command.from, cause: command.cause };
    case 'send':
      return { at, kind: 'send', channel: command.channel, template: command.template };
    case 'createTask':
      return { at, kind: 'task', taskKey: command.taskKey, title: command.title, dueAt: command.dueAt };
    case 'escalateTask':
      return { at, kind: 'escalation', to: command.to };
    case 'record':
      return { at, kind: command.kind, data: command.data };
    case 'startJourney':
      return { at, kind: 'chorus', action: 'startJourney', journeyKey: command.journeyKey };
    case 'signalJourney':
      return { at, kind: 'chorus', action: 'signalJourney', journeyKey: command.journeyKey, event: command.event.type };
    case 'stopJourneys':
      return { at, kind: 'chorus', action: 'stopJourneys', ...(command.journeyKey ? { journeyKey: command.journeyKey } : {}), ...(command.tag ? { tag: command.tag } : {}) };
    case 'ended':
      return { at, kind: 'end', status: command.status, reason: command.reason };
  }
}
