// The journey interpreter: a pure, deterministic function of (definition, state, input, now). It imports nothing
// from Temporal and does no I/O; the workflow feeds it inputs and runs the commands it returns. The same function,
// driven by a virtual clock, is a simulator.
import type { Channel, JourneyDefinition, ParamValues, Step } from './definition.js';
import { childLists, formatPath } from './steps.js';
import { EngineError, type FailedStep } from './errors.js';
import { slotRef } from './kinds/branch.js';
import { kindOf, type Slot } from './kinds/index.js';
import type { ResumeContext, StepContext } from './kinds/kind.js';
import { matches, MAX_RECORDED_ITEMS, readField, TASK_COMPLETED_EVENT } from './runtime.js';

// ---- state, inputs, commands -------------------------------------------------------------------------------------

export { assertUnreachable, EngineError, type EngineErrorCode, type FailedStep } from './errors.js';
export { FEEDBACK_EVENT, MAX_RECORDED_ITEMS, matches, readField, stableHash, TASK_COMPLETED_EVENT } from './runtime.js';

/** `failed`: the engine could not go on (an EngineError: a poison definition, params or event); the journey ended. */
export type JourneyStatus = 'running' | 'completed' | 'exited' | 'failed';

export interface JourneyEvent {
  eventId: string;
  type: string;
  occurredAt: string;
  data: Record<string, unknown>;
}

export type Waiting =
  | { kind: 'timer'; until: string }
  /** `until` absent: no timeout. `taskRef`: waiting for the outcome of that RM task. */
  | { kind: 'event'; events: string[]; until?: string; taskRef?: string };

export interface Flow {
  id: number;
  name: string;
  scope: 'journey' | 'stage';
  /** The stage the flow started in (a stage-scoped flow ends when the journey leaves it). */
  stage: string;
  instance?: string;
  /** Index of the step to run next in the compiled program. */
  pc: number;
  waiting?: Waiting;
  /** The event that started or last resumed the flow: steps read fields from it. */
  event?: JourneyEvent;
}

export interface StageEntry {
  stage: string;
  enteredAt: string;
  cause: string;
}

/** What the engine may know of the customer: no name, address or number (those stay in Postgres). */
export interface Profile {
  segment?: string | null;
  timeZone?: string;
  locale?: string;
  attributes?: Record<string, unknown>;
}

/** Which cohort a journey runs in, and the holdout that decided it (the API decides at start; see service/holdouts.ts).
 * `control`: the journey runs as designed — the same waits, stages and goals — but issues no sends and no RM tasks,
 * so its conversions measure what the customer does without the journey's touches. */
export interface Holdout {
  cohort: 'treated' | 'control';
  source: 'global' | 'journey';
  percent: number;
}

export interface OpenTask {
  ref: string;
  escalateAt: string;
  escalateTo: string;
}

export interface JourneyState {
  instanceId: string;
  journeyKey: string;
  version: number;
  customerId: string;
  businessKey?: string;
  params: ParamValues;
  status: JourneyStatus;
  endReason?: string;
  endedAt?: string;
  stage: string;
  stageEnteredAt: string;
  stageHistory: StageEntry[];
  flows: Flow[];
  /** Counters that make ids and idempotency keys stable across replays and continue-as-new. */
  nextFlowId: number;
  nextCommandSeq: number;
  /** Recent event ids, to ignore a redelivered event. */
  recentEventIds: string[];
  eventsSeen: number;
  profile?: Profile;
  /** Goals reached, in order. */
  goals?: string[];
  /** A/B/n assignments, by split key. */
  variants?: Record<string, string>;
  /** Tasks to escalate when still open at their due time. */
  openTasks?: OpenTask[];
  /** Set when a holdout applied at start; absent means treated (journeys started before holdouts existed). */
  cohort?: Holdout['cohort'];
}

export type Input =
  | { type: 'event'; event: JourneyEvent }
  | { type: 'timer' }
  | { type: 'exit'; reason: string }
  | { type: 'taskCompleted'; taskId: string; taskKey: string; outcome: string; taskRef?: string }
  | { type: 'profile'; profile: Profile };

export type Command =
  | {
      type: 'send';
      idempotencyKey: string;
      channel: Channel;
      template: string;
      flow: string;
      vars: { event: Record<string, unknown>; params: ParamValues };
      class?: 'marketing' | 'service';
      priority?: number;
      /** An ISO-8601 duration (params resolved). */
      expiresAfter?: string;
    }
  | {
      type: 'createTask';
      idempotencyKey: string;
      taskKey: string;
      title: string;
      description?: string;
      dueAt: string;
      flow: string;
    }
  | { type: 'escalateTask'; taskRef: string; to: string; at: string }
  | { type: 'record'; idempotencyKey: string; kind: RecordKind; data: Record<string, unknown>; at: string }
  | { type: 'startJourney'; idempotencyKey: string; journeyKey: string; params?: Record<string, string | number> }
  | { type: 'signalJourney'; idempotencyKey: string; journeyKey: string; event: { type: string; data: Record<string, unknown> } }
  | { type: 'stopJourneys'; idempotencyKey: string; journeyKey?: string; tag?: string; reason: string }
  | { type: 'stageChanged'; seq: number; from: string | null; to: string; at: string; cause: string }
  | { type: 'ended'; status: Exclude<JourneyStatus, 'running'>; reason: string; at: string };

/** What the journey log records. `holdout`: the cohort the journey started in; `held_out`: a send or a task a control
 * journey did not issue. `branch`: which case a branch took and why (the conditions it checked, the values
 * they read). `send_skipped`: the sends and tasks a flow still had ahead of it when it was cancelled, its stage was
 * left or the journey ended — so "why didn't this customer get that message" has an answer outside Temporal.
 * `migration` / `migration_refused`: the journey moved to another version of its definition, or stayed (engine/migrate.ts). */
export type RecordKind = 'goal' | 'split' | 'feedback' | 'task_outcome' | 'failure' | 'holdout' | 'held_out' | 'branch' | 'send_skipped' | 'migration' | 'migration_refused';

export interface Result {
  state: JourneyState;
  commands: Command[];
}

/** Steps one input may run: a definition that keeps itself busy without ever waiting is stopped here. */
export const STEP_BUDGET = 10_000;

export interface EngineOptions {
  /** Steps one `start` or `advance` may run before it fails with `step_budget` (default STEP_BUDGET). */
  stepBudget?: number;
  /** Record branch decisions and skipped sends in the journey log (`branch`, `send_skipped`). Off by default: the
   * records take command sequence numbers, so a workflow whose history was written without them must replay
   * without them (the workflow turns this on behind its `engine-records-decisions` patch). */
  recordDecisions?: boolean;
}
const RECENT_EVENT_IDS = 256;
// ---- compiled program --------------------------------------------------------------------------------------------

interface Compiled {
  steps: Slot[];
  stageEntry: Map<string, number>;
  triggerEntry: number[];
  stageIndex: Map<string, number>;
  ids: Map<string, number>;
}

const compiledCache = new WeakMap<JourneyDefinition, Compiled>();

/** Flattens the step trees into one array with `next` pointers; a branch's last step continues after the step that
 * holds it. The layout is part of the journey's durable state (flows keep indices into it), so it depends only on
 * the definition. */
export function compile(def: JourneyDefinition): Compiled {
  const cached = compiledCache.get(def);
  if (cached) return cached;
  const steps: Slot[] = [];
  const ids = new Map<string, number>();
  const emit = (list: Step[] | undefined, after: number, path: (string | number)[]): number => {
    if (!list || list.length === 0) return after;
    const first = steps.length;
    for (let i = 0; i < list.length; i++) steps.push({ step: list[i]!, path: formatPath([...path, i]), next: -1, arms: [] });
    for (let i = 0; i < list.length; i++) {
      const slot = steps[first + i]!;
      slot.next = i + 1 < list.length ? first + i + 1 : after;
      if (slot.step.id !== undefined) ids.set(slot.step.id, first + i);
      slot.arms = childLists(slot.step).map(([sub, l]) => emit(l, slot.next, [...path, i, ...sub]));
      const conditions = kindOf(slot.step).conditions;
      if (conditions) slot.conditions = conditions(slot.step);
    }
    return first;
  };
  const stageEntry = new Map<string, number>();
  def.stages.forEach((s, i) => {
    if (s.onEnter?.length) stageEntry.set(s.key, emit(s.onEnter, -1, ['stages', i, 'onEnter']));
  });
  const triggerEntry = def.triggers.map((t, i) => emit(t.steps, -1, ['triggers', i, 'steps']));
  const stageIndex = new Map(def.stages.map((s, i) => [s.key, i]));
  const c = { steps, stageEntry, triggerEntry, stageIndex, ids };
  compiledCache.set(def, c);
  return c;
}

// ---- helpers -----------------------------------------------------------------------------------------------------

/** State is plain JSON (it crosses Temporal's payload converter), so a JSON round trip is an exact copy; it also works
 * inside the workflow sandbox, where structuredClone is not guaranteed. */
const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;
/** `clone` for a state, on every input: its recent event ids (up to 256 strings) are copied as an array rather than
 * through JSON, which was most of the copy's cost (same keys, same order). */
const cloneState = (s: JourneyState): JourneyState => {
  if (!Array.isArray(s.recentEventIds)) return clone(s);
  const copy = clone<JourneyState>({ ...s, recentEventIds: [] });
  copy.recentEventIds = s.recentEventIds.slice();
  return copy;
};

// ---- the interpreter ---------------------------------------------------------------------------------------------

export interface StartOptions {
  instanceId: string;
  customerId: string;
  businessKey?: string;
  params: ParamValues;
  profile?: Profile;
  /** The cohort the API assigned; absent when no holdout applies to the journey. */
  holdout?: Holdout;
}

/** The state of a journey before its first step: what `start` begins from, and what `fail` ends when `start` fails. */
export function initialState(def: JourneyDefinition, opts: StartOptions, now: Date): JourneyState {
  const at = now.toISOString();
  return {
    instanceId: opts.instanceId,
    journeyKey: def.key,
    version: def.version,
    customerId: opts.customerId,
    ...(opts.businessKey !== undefined ? { businessKey: opts.businessKey } : {}),
    params: opts.params,
    status: 'running',
    stage: def.initialStage,
    stageEnteredAt: at,
    stageHistory: [],
    flows: [],
    nextFlowId: 1,
    nextCommandSeq: 1,
    recentEventIds: [],
    eventsSeen: 0,
    ...(opts.profile ? { profile: opts.profile } : {}),
    ...(opts.holdout ? { cohort: opts.holdout.cohort } : {}),
  };
}

/** A new journey: enters the initial stage (running its entry steps). Throws only EngineError. */
export function start(def: JourneyDefinition, opts: StartOptions, now: Date, options: EngineOptions = {}): Result {
  return guarded(
    def,
    now,
    options,
    (run) => {
      if (opts.holdout) run.recordHoldout(opts.holdout);
      run.enterStage(def.initialStage, 'start', true);
    },
    () => initialState(def, opts, now),
  );
}

/** Applies one input at time `now`. Never mutates its arguments. Throws only EngineError: whatever the definition,
 * its params or the input make go wrong (a loop over budget, a time past the calendar's end, a missing goto target)
 * is reported with a code and the step that failed. The journey's state is then unchanged: see `fail`. */
export function advance(def: JourneyDefinition, state: JourneyState, input: Input, now: Date, options: EngineOptions = {}): Result {
  if (state.status !== 'running') return { state: clone(state), commands: [] }; // after the end nothing changes
  return guarded(
    def,
    now,
    options,
    (run) => apply(run, input, now),
    () => state,
  );
}

function guarded(def: JourneyDefinition, now: Date, options: EngineOptions, body: (run: Run) => void, state: () => JourneyState): Result {
  let run: Run | undefined;
  try {
    if (Number.isNaN(now.getTime())) throw new EngineError('bad_time', 'the engine was given an invalid time');
    run = new Run(def, cloneState(state()), now, options.stepBudget ?? STEP_BUDGET, options.recordDecisions ?? false);
    body(run);
    run.drain();
    return run.result();
  } catch (err) {
    throw asEngineError(err).at(run?.location());
  }
}

/** Any error from inside the engine as an EngineError (those it throws itself keep their code). */
export function asEngineError(err: unknown): EngineError {
  if (err instanceof EngineError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const e = new EngineError('internal', `the engine failed: ${message}`);
  if (err instanceof Error && err.stack !== undefined) e.stack = err.stack;
  return e;
}

/** Ends a journey the engine could not go on with: status `failed`, the reason, and a `failure` log entry naming the
 * error's code and step. The caller (the workflow) runs the commands like any others. */
export function fail(state: JourneyState, error: EngineError, now: Date): Result {
  const s = clone(state);
  const at = Number.isNaN(now.getTime()) ? s.stageEnteredAt : now.toISOString();
  if (s.status !== 'running') return { state: s, commands: [] };
  const reason = `${error.code}: ${error.message}`;
  s.status = 'failed';
  s.endReason = reason;
  s.endedAt = at;
  s.flows = [];
  s.openTasks = [];
  const data = { code: error.code, message: error.message, ...(error.step !== undefined ? { step: error.step } : {}) };
  return {
    state: s,
    commands: [
      { type: 'record', idempotencyKey: `${s.instanceId}/${s.nextCommandSeq++}`, kind: 'failure', data, at },
      { type: 'ended', status: 'failed', reason, at },
    ],
  };
}

function apply(run: Run, input: Input, now: Date): void {
  switch (input.type) {
    case 'event':
      run.onEvent(input.event);
      break;
    case 'taskCompleted':
      run.onEvent({
        eventId: `task:${input.taskId}:completed`,
        type: TASK_COMPLETED_EVENT,
        occurredAt: now.toISOString(),
        data: { taskId: input.taskId, taskKey: input.taskKey, outcome: input.outcome, ...(input.taskRef ? { taskRef: input.taskRef } : {}) },
      });
      break;
    case 'timer':
      run.onTimer();
      break;
    case 'exit':
      run.end('exited', input.reason);
      break;
    case 'profile':
      run.state.profile = input.profile;
      break;
  }
}

/** An input waiting for the engine, with the instant it arrived (the workflow's clock when its signal was handled,
 * or the scripted instant in a simulation). */
export interface QueuedInput {
  input: Input;
  arrivedAt: string;
}

export type NextInput = { kind: 'timer'; at: string } | { kind: 'queued'; index: number };

/**
 * What the engine takes next, given the inputs waiting for it: the earliest-arrived queued input — unless a timer is
 * due at or before that arrival, then the timer fires first (a timer that fell due while a worker was down, or while
 * an activity was retried, fires before an event that came after it). With `now`, a timer not yet due is not taken
 * and, the queue being empty, nothing is. The workflow and the simulator both ask this, so they cannot disagree.
 */
export function nextInput(state: JourneyState, queue: readonly QueuedInput[], now?: Date | string): NextInput | undefined {
  // The earliest arrival, the first of equals; each instant parsed once (a long queue is read on every input).
  let index = -1;
  let earliest = Infinity;
  for (let i = 0; i < queue.length; i++) {
    const t = Date.parse(queue[i]!.arrivedAt);
    if (index < 0 || t < earliest) {
      index = i;
      earliest = t;
    }
  }
  const wake = nextWakeAt(state);
  const nowMs = now === undefined ? Infinity : typeof now === 'string' ? Date.parse(now) : now.getTime();
  if (wake !== undefined && Date.parse(wake) <= nowMs && (index < 0 || Date.parse(wake) <= earliest)) return { kind: 'timer', at: wake };
  return index < 0 ? undefined : { kind: 'queued', index };
}

/** The earliest instant at which a `timer` input has work to do, if any. */
export function nextWakeAt(state: JourneyState): string | undefined {
  if (state.status !== 'running') return undefined;
  let min: string | undefined;
  const consider = (t: string | undefined) => {
    if (t !== undefined && (min === undefined || t < min)) min = t;
  };
  for (const f of state.flows) consider(f.waiting?.until);
  for (const t of state.openTasks ?? []) consider(t.escalateAt);
  return min;
}

/** The event types some flow is waiting for right now. */
export function waitingFor(state: JourneyState): string[] {
  const types = new Set<string>();
  for (const f of state.flows) if (f.waiting?.kind === 'event') f.waiting.events.forEach((e) => types.add(e));
  return [...types].sort();
}

/** How analytics and the journey map name a step: its `id` when it has one, else its place in the definition (e.g.
 * `triggers[2].steps[0]`, as `walkSteps` + `formatPath` give it). Stable within a definition version. */
export const stepRef = (step: Step, path: string): string => step.id ?? path;

/** The steps the journey's flows wait at now (timers, waits, surveys, tasks), each once, sorted. */
export function waitingSteps(def: JourneyDefinition, state: JourneyState): string[] {
  if (state.status !== 'running') return [];
  const { steps } = compile(def);
  const refs = new Set<string>();
  for (const f of state.flows) {
    const slot = f.waiting !== undefined && f.pc >= 0 ? steps[f.pc] : undefined;
    if (slot) refs.add(stepRef(slot.step, slot.path));
  }
  return [...refs].sort();
}

class Run {
  readonly commands: Command[] = [];
  /** Flows ready to run steps now, in order. */
  private ready: Flow[] = [];
  private budget: number;
  private readonly program: Compiled;
  private readonly at: string;
  /** The flow whose step is running, for error reports. */
  private current: Flow | undefined;

  constructor(
    private readonly def: JourneyDefinition,
    readonly state: JourneyState,
    private readonly now: Date,
    private readonly stepBudget: number,
    private readonly decisions: boolean,
  ) {
    this.program = compile(def);
    this.at = now.toISOString();
    this.budget = stepBudget;
  }

  /** The step that was running, if any. */
  location(): FailedStep | undefined {
    const f = this.current;
    if (f === undefined) return undefined;
    const slot = f.pc >= 0 ? this.program.steps[f.pc] : undefined;
    return { flow: f.name, pc: f.pc, ...(slot ? { path: slot.path } : {}), ...(slot?.step.id !== undefined ? { id: slot.step.id } : {}) };
  }

  result(): Result {
    return { state: this.state, commands: this.commands };
  }

  onEvent(event: JourneyEvent): void {
    const s = this.state;
    if (s.recentEventIds.includes(event.eventId)) return; // redelivered: already applied
    s.recentEventIds.push(event.eventId);
    if (s.recentEventIds.length > RECENT_EVENT_IDS) s.recentEventIds.splice(0, s.recentEventIds.length - RECENT_EVENT_IDS);
    s.eventsSeen++;
    if (event.type === TASK_COMPLETED_EVENT && typeof event.data.taskRef === 'string') {
      const ref = event.data.taskRef;
      s.openTasks = (s.openTasks ?? []).filter((t) => t.ref !== ref);
    }

    const exit = this.def.exits.find((e) => e.event === event.type && matches(e.where, event.data));
    if (exit) return this.end('exited', exit.reason);
    const goal = this.def.goals.find((g) => g.event !== undefined && g.event === event.type && matches(g.where, event.data));
    if (goal) {
      if (goal.key !== undefined) this.reachGoal(goal.key);
      return this.end('completed', goal.reason ?? goal.key ?? 'completed');
    }

    // Flows already waiting for this event resume first, then the triggers start new flows.
    for (const f of s.flows) {
      if (f.waiting?.kind !== 'event') continue;
      const slot = this.program.steps[f.pc]!;
      const arm = this.resumeArm(slot, f, event);
      if (arm === undefined) continue;
      delete f.waiting;
      f.event = event;
      f.pc = arm;
      this.ready.push(f);
    }
    this.drain();

    this.def.triggers.forEach((t, i) => {
      if (this.state.status !== 'running') return;
      if (t.event !== event.type || !matches(t.where, event.data)) return;
      const name = t.flow ?? `trigger-${i}`;
      const instanceValue = t.instanceField ? readField(event.data, t.instanceField) : undefined;
      const instance = instanceValue === undefined ? undefined : String(instanceValue);
      const same = (f: Flow) => f.name === name && f.instance === instance;
      if (this.state.flows.some(same)) {
        if (!t.replace) return; // already running: the event does not start it twice
        this.skipped(this.state.flows.filter(same), { reason: 'flow_replaced', event: event.type });
        this.state.flows = this.state.flows.filter((f) => !same(f));
      }
      this.startFlow(name, t.scope, this.program.triggerEntry[i]!, event, instance);
      this.drain();
    });
  }

  /** Where a flow waiting at `slot` continues when `event` arrives, or undefined when the event is not for it. */
  private resumeArm(slot: Slot, f: Flow, event: JourneyEvent): number | undefined {
    const resume = kindOf(slot.step).resume;
    const cx: ResumeContext = { flow: f, slot, record: (kind, data) => this.record(kind, data) };
    return resume ? resume(slot.step, cx, event) : undefined;
  }

  onTimer(): void {
    const s = this.state;
    for (const t of (s.openTasks ?? []).filter((t) => t.escalateAt <= this.at)) {
      this.commands.push({ type: 'escalateTask', taskRef: t.ref, to: t.escalateTo, at: this.at });
      s.openTasks = s.openTasks!.filter((x) => x !== t);
    }
    const due = s.flows
      .filter((f) => f.waiting?.until !== undefined && f.waiting.until <= this.at)
      .sort((a, b) => (a.waiting!.until! < b.waiting!.until! ? -1 : a.waiting!.until! > b.waiting!.until! ? 1 : a.id - b.id));
    for (const f of due) {
      const w = f.waiting!;
      delete f.waiting;
      const slot = this.program.steps[f.pc]!;
      // A timer step continues; a wait or a survey takes its timeout branch (the last arm).
      f.pc = w.kind === 'timer' ? slot.next : slot.arms[slot.arms.length - 1]!;
      this.ready.push(f);
    }
  }

  end(status: 'completed' | 'exited', reason: string): void {
    const s = this.state;
    if (s.status !== 'running') return;
    s.status = status;
    s.endReason = reason;
    s.endedAt = this.at;
    // The flow that ran the exit or complete step has nothing after it; every other flow is cut short.
    this.skipped(
      s.flows.filter((f) => f !== this.current),
      { reason: 'journey_ended', status, endReason: reason },
    );
    s.flows = [];
    s.openTasks = [];
    this.ready = [];
    this.commands.push({ type: 'ended', status, reason, at: this.at });
  }

  enterStage(stage: string, cause: string, initial = false): void {
    const s = this.state;
    if (!initial && stage === s.stage) return;
    const from = initial ? null : s.stage;
    s.stage = stage;
    s.stageEnteredAt = this.at;
    s.stageHistory.push({ stage, enteredAt: this.at, cause });
    // Flows that belong to the stage being left stop here.
    const leaving = (f: Flow) => f.scope === 'stage' && f.stage !== stage;
    if (from !== null) this.skipped(s.flows.filter(leaving), { reason: 'stage_left', stage: from, to: stage });
    s.flows = s.flows.filter((f) => !leaving(f));
    this.ready = this.ready.filter((f) => !leaving(f));
    this.commands.push({ type: 'stageChanged', seq: s.stageHistory.length, from, to: stage, at: this.at, cause });
    const entry = this.program.stageEntry.get(stage);
    if (entry !== undefined) this.startFlow(`stage:${stage}`, 'stage', entry, undefined);
  }

  private startFlow(name: string, scope: 'journey' | 'stage', pc: number, event: JourneyEvent | undefined, instance?: string) {
    const f: Flow = { id: this.state.nextFlowId++, name, scope, stage: this.state.stage, pc };
    if (instance !== undefined) f.instance = instance;
    if (event) f.event = event;
    this.state.flows.push(f);
    this.ready.push(f);
  }

  private key(): string {
    return `${this.state.instanceId}/${this.state.nextCommandSeq++}`;
  }

  /** Records, per flow cut short, the sends and tasks it still had ahead of it (none: nothing is recorded). */
  private skipped(flows: Flow[], cause: Record<string, unknown>) {
    if (!this.decisions) return;
    for (const f of flows) {
      const ahead = pendingActions(this.program, f);
      if (ahead.length === 0) continue;
      const at = this.program.steps[f.pc];
      this.record('send_skipped', {
        flow: f.name,
        ...(f.instance !== undefined ? { instance: f.instance } : {}),
        ...(f.waiting !== undefined && at ? { waitingAt: slotRef(at) } : {}),
        ...cause,
        skipped: ahead,
      });
    }
  }

  private record(kind: RecordKind, data: Record<string, unknown>) {
    this.commands.push({ type: 'record', idempotencyKey: this.key(), kind, data, at: this.at });
  }

  /** The journey log says which cohort the journey runs in, first of all its entries. */
  recordHoldout(h: Holdout): void {
    this.record('holdout', { cohort: h.cohort, source: h.source, percent: h.percent });
  }

  private get control(): boolean {
    return this.state.cohort === 'control';
  }

  private reachGoal(key: string) {
    const goals = (this.state.goals ??= []);
    if (goals.includes(key)) return;
    goals.push(key);
    this.record('goal', { goal: key });
  }

  private finish(f: Flow) {
    this.state.flows = this.state.flows.filter((x) => x !== f);
  }

  private scope(f: Flow): Record<string, unknown> {
    const s = this.state;
    return {
      event: f.event?.data ?? {},
      profile: { ...(s.profile?.attributes ?? {}), segment: s.profile?.segment ?? null, timeZone: s.profile?.timeZone ?? null, locale: s.profile?.locale ?? null },
      params: s.params,
      journey: { key: s.journeyKey, version: s.version, stage: s.stage, goals: s.goals ?? [], variants: s.variants ?? {}, eventsSeen: s.eventsSeen },
    };
  }

  drain(): void {
    while (this.ready.length && this.state.status === 'running') {
      const f = this.ready.shift()!;
      if (!this.state.flows.includes(f)) continue; // cancelled meanwhile
      this.current = f;
      this.runFlow(f);
      this.current = undefined;
    }
  }

  /** Runs one flow's steps until it waits or ends: each step by its kind (engine/kinds/). */
  private runFlow(f: Flow): void {
    const s = this.state;
    while (f.pc >= 0) {
      if (--this.budget < 0) throw new EngineError('step_budget', `journey "${this.def.key}" ran ${this.stepBudget} steps without waiting`);
      if (s.status !== 'running' || !s.flows.includes(f)) return;
      const slot = this.program.steps[f.pc]!;
      const out = kindOf(slot.step).run(slot.step, this.context(f, slot));
      if (out === 'stopped') return;
      if (out === 'finished') return this.finish(f);
      if (out !== undefined && 'wait' in out) {
        f.waiting = out.wait;
        return;
      }
      f.pc = out === undefined ? slot.next : out.next;
    }
    this.finish(f);
  }

  /** What a step of flow `f` may see and do while it runs. */
  private context(f: Flow, slot: Slot): StepContext {
    return {
      state: this.state,
      flow: f,
      slot,
      data: f.event?.data ?? {},
      now: this.now,
      control: this.control,
      decisions: this.decisions,
      stageIndex: this.program.stageIndex,
      ids: this.program.ids,
      key: () => this.key(),
      push: (c) => void this.commands.push(c),
      record: (kind, data) => this.record(kind, data),
      scope: () => this.scope(f),
      enterStage: (stage, cause) => this.enterStage(stage, cause),
      reachGoal: (key) => this.reachGoal(key),
      end: (status, reason) => this.end(status, reason),
      skipped: (flows, cause) => this.skipped(flows, cause),
    };
  }
}

/** The sends and tasks a flow still had ahead of it: every one reachable from where it would have gone on (each way
 * out of the step it waits at, or the step it was about to run), in step order, at most MAX_RECORDED_ITEMS. What a
 * branch would have chosen is not guessed: each arm's sends are listed. */
function pendingActions(program: Compiled, f: Flow): Record<string, unknown>[] {
  const here = program.steps[f.pc];
  if (here === undefined) return [];
  const starts = f.waiting !== undefined ? (f.waiting.kind === 'timer' ? [here.next] : [...here.arms, here.next]) : [f.pc];
  const seen = new Set<number>();
  const stack = starts.filter((pc) => pc >= 0).reverse();
  const out: Record<string, unknown>[] = [];
  while (stack.length && out.length < MAX_RECORDED_ITEMS) {
    const pc = stack.pop()!;
    if (pc < 0 || seen.has(pc)) continue;
    seen.add(pc);
    const slot = program.steps[pc]!;
    const kind = kindOf(slot.step);
    const { touch, target } = kind.uses(slot.step);
    if (touch?.action === 'send') out.push({ action: 'send', ...slotRef(slot), channel: touch.channel, template: touch.template });
    else if (touch?.action === 'task') out.push({ action: 'task', ...slotRef(slot), taskKey: touch.taskKey });
    if (kind.ends && target === undefined) continue;
    const goto = target !== undefined ? program.ids.get(target) : undefined;
    const nexts = target !== undefined ? (goto !== undefined ? [goto] : []) : [...slot.arms, slot.next];
    for (const n of nexts.reverse()) stack.push(n);
  }
  return out;
}
