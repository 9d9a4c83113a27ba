// The thin Temporal shell around the journey engine: it feeds the engine signals and timers, runs the commands it
// returns through activities, keeps the search attributes current, and continues as new when Temporal suggests it.
import {
  ActivityFailure,
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { JourneyActivities, ProgressInput } from '../activities/index.js';
import type { JourneyDefinition, ParamValues } from '../engine/definition.js';
import {
  advance,
  asEngineError,
  assertUnreachable,
  type Command,
  fail,
  type Holdout,
  initialState,
  type Input,
  type JourneyState,
  nextInput,
  nextWakeAt,
  type Profile,
  type QueuedInput,
  start,
  type StartOptions,
  waitingFor,
  waitingSteps,
} from '../engine/engine.js';
import { migrateState } from '../engine/migrate.js';
import {
  CustomerIdAttr,
  exitJourneySignal,
  journeyEventSignal,
  journeyQuery,
  JourneyKeyAttr,
  JourneyStageAttr,
  JourneyStatusAttr,
  type MigrateJourney,
  migrateJourneySignal,
  migrationLogKey,
  profileSignal,
  stageQuery,
  stateQuery,
  taskCompletedSignal,
} from './messages.js';

export interface JourneyWorkflowInput {
  definition: JourneyDefinition;
  customerId: string;
  businessKey?: string;
  params: ParamValues;
  /** The part of the customer's profile journeys may see (no contact data). */
  profile?: Profile;
  /** Carried across continue-as-new: the engine state and the inputs not yet applied (with the instant each arrived;
   * a run of the code before `engine-orders-inputs` carried bare inputs). */
  state?: JourneyState;
  pending?: (QueuedInput | Input)[];
  /** Sends the contact policy deferred (quiet hours, a cap), each tried again at its instant. */
  deferred?: DeferredSend[];
  /** The cohort the API assigned at start, when a holdout applies (`control`: no sends, no tasks). */
  holdout?: Holdout;
  /** The instant the API started the engine at, when it wrote the journey's row, its first stage's transitions and
   * waiting steps from that start (service/journeys.ts): the workflow starts the engine at the same instant. */
  startedAt?: string;
}

type SendCommand = Extract<Command, { type: 'send' }>;
interface DeferredSend {
  command: SendCommand;
  until: string;
}

export interface JourneyWorkflowResult {
  status: JourneyState['status'];
  reason?: string;
  stage: string;
}

// A provider or database outage is waited out, never given up on: nothing is lost. Permanent failures are typed and
// stop at once.
const retry = {
  initialInterval: '1 second',
  backoffCoefficient: 2,
  maximumInterval: '5 minutes',
  nonRetryableErrorTypes: ['PermanentDeliveryError', 'PermanentError'],
};
const remote = proxyActivities<JourneyActivities>({ startToCloseTimeout: '30 seconds', retry });
const { sendMessage, createTask, escalateTask, chorus, dropDeferred } = remote;
/** The read model's and the journey log's writes as local activities (patch `local-writes`): run by the worker that
 * runs the workflow task, inside it, with no task queue round trip; both are idempotent by their keys, so a retry or
 * a repeat after a lost workflow task writes nothing twice. A longer outage is retried on durable timers. */
const local = proxyLocalActivities<JourneyActivities>({ startToCloseTimeout: '10 seconds', localRetryThreshold: '10 seconds', retry });

/** Patch: the engine decides whether a due timer or a queued input goes first (`nextInput`); the API's start is the
 * only writer of CustomerId/JourneyKey; the workflow writes JourneyStatus when the journey ends. */
const ENGINE_ORDERS_INPUTS = 'engine-orders-inputs';
/** Patch: a start with a holdout runs in its cohort (a `holdout` log entry first; in control, sends and tasks are not
 * issued). The marker also keeps an older worker from replaying a control journey as a treated one, sends included. */
const HOLDOUT_COHORT = 'holdout-cohort';

/** Patch: the engine records branch decisions and the sends and tasks cancelled flows never made (journey log kinds
 * `branch`, `send_skipped`). Those records take command sequence numbers, so a history written without them replays
 * without them. */
const ENGINE_RECORDS_DECISIONS = 'engine-records-decisions';

/** Patch: the read model's `waiting` (the steps the journey waits at, for the journey map and the breakpoints) is written
 * whenever it changes, not only with a new stage or the end: one more `recordProgress` after such inputs. */
const PROGRESS_RECORDS_WAITING = 'progress-records-waiting';

/** Patch: the journey takes a migration to a new definition version (engine/migrate.ts) at its next safe point. Asked
 * when a migration signal arrives, not at start: journeys already running can be migrated, journeys never migrated
 * keep histories without the marker, and a history in which an older worker left the signal unhandled replays as it
 * ran. */
const JOURNEY_MIGRATION = 'journey-migration';

/** Patch: a journey the API started with `startedAt` starts its engine at that instant and makes no progress write for
 * its start (the API wrote the same row, transitions and waiting steps): one activity less per new journey. A start
 * that ends the journey at once still writes its end. */
const START_WRITTEN_BY_API = 'start-written-by-api';

/** Patch: recordProgress and recordLog run as local activities (markers in the history instead of activity tasks). */
const LOCAL_WRITES = 'local-writes';

/** Patch: consecutive sends of one engine step (and the deferred sends falling due together) run at once: one
 * provider's outage no longer holds back the journey's other channels. Scheduled in command order. */
const CONCURRENT_SENDS = 'concurrent-sends';

const queued = (p: QueuedInput | Input, arrivedAt: string): QueuedInput => ('input' in p && 'arrivedAt' in p ? p : { input: p as Input, arrivedAt });

export async function journeyWorkflow(input: JourneyWorkflowInput): Promise<JourneyWorkflowResult> {
  // The definition the journey runs: the one it started with, until a migration moves it to another version.
  let def = input.definition;
  const workflowId = workflowInfo().workflowId;
  // Old histories (before the patch) replay on the old path: the first input in the queue, then a due timer.
  const engineOrders = patched(ENGINE_ORDERS_INPUTS);
  const engineOptions = { recordDecisions: patched(ENGINE_RECORDS_DECISIONS) };
  const recordsWaiting = patched(PROGRESS_RECORDS_WAITING);
  const { recordProgress, recordLog } = patched(LOCAL_WRITES) ? local : remote;
  const concurrentSends = patched(CONCURRENT_SENDS);
  /** The waiting steps last written to the read model (unknown at the start of a run: the first advance writes them). */
  let waitingWritten: string | undefined;
  const runStartedAt = new Date().toISOString();
  const queue: QueuedInput[] = (input.pending ?? []).map((p) => queued(p, runStartedAt));
  let deferred: DeferredSend[] = [...(input.deferred ?? [])];
  let state: JourneyState;

  /** An input with the workflow's time of its arrival: the engine compares it with due timers. */
  const enqueue = (i: Input) => void queue.push({ input: i, arrivedAt: new Date().toISOString() });
  setHandler(journeyEventSignal, (event) => enqueue({ type: 'event', event }));
  setHandler(exitJourneySignal, ({ reason }) => enqueue({ type: 'exit', reason }));
  setHandler(taskCompletedSignal, (t) => enqueue({ type: 'taskCompleted', ...t }));
  setHandler(profileSignal, (profile) => enqueue({ type: 'profile', profile }));
  const migrations: MigrateJourney[] = [];
  setHandler(migrateJourneySignal, (m) => {
    if (patched(JOURNEY_MIGRATION)) migrations.push(m);
  });
  setHandler(stageQuery, () => ({ stage: state.stage, status: state.status, stageEnteredAt: state.stageEnteredAt }));
  setHandler(stateQuery, () => state);
  setHandler(journeyQuery, () => {
    const next = nextWakeAt(state);
    return {
      workflowId,
      journeyKey: state.journeyKey,
      version: state.version,
      customerId: state.customerId,
      ...(state.businessKey !== undefined ? { businessKey: state.businessKey } : {}),
      status: state.status,
      ...(state.endReason !== undefined ? { endReason: state.endReason } : {}),
      stage: state.stage,
      stageEnteredAt: state.stageEnteredAt,
      stageHistory: state.stageHistory,
      goals: state.goals ?? [],
      cohort: state.cohort ?? 'treated',
      waitingFor: waitingFor(state),
      ...(next !== undefined ? { nextTimerAt: next } : {}),
    };
  });

  /** Through the contact policy; a deferred send waits on a durable timer of its own, the journey goes on. */
  const send = async (c: SendCommand) => {
    const { type: _, ...rest } = c;
    const r = await sendMessage({ ...rest, workflowId, customerId: state.customerId, at: new Date().toISOString() });
    if (r.status === 'deferred') deferred.push({ command: c, until: r.until });
  };

  /** Runs one command's activity. A command refused for good (a message recorded as failed in the message log) must
   * not stop the journey; anything else is retried by its activity's policy and surfaces only if it gives up. */
  const run = async (c: Command) => {
    try {
      switch (c.type) {
        case 'send':
          await send(c);
          break;
        case 'createTask': {
          const { type: _, ...rest } = c;
          await createTask({ ...rest, workflowId, customerId: state.customerId });
          break;
        }
        case 'escalateTask':
          await escalateTask({ taskRef: c.taskRef, to: c.to });
          break;
        case 'startJourney':
        case 'signalJourney':
        case 'stopJourneys':
          await chorus({ workflowId, customerId: state.customerId, journeyKey: state.journeyKey, command: c });
          break;
        // Written by `execute` before and after the activities: the journey log, the read model's stage and status.
        case 'record':
        case 'stageChanged':
        case 'ended':
          break;
        default:
          assertUnreachable(c, 'command');
      }
    } catch (err) {
      if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.nonRetryable) {
        log.warn('command failed permanently', { command: c.type, key: 'idempotencyKey' in c ? c.idempotencyKey : undefined, error: err.cause.message });
        return;
      }
      throw err;
    }
  };

  /** `written`: the read model already holds what these commands' stage changes would write (the API's start). */
  /** Runs commands in order; with the patch, each run of consecutive sends together (scheduled in their order). */
  const runAll = async (commands: Command[]) => {
    for (let i = 0; i < commands.length;) {
      let j = i + 1;
      if (concurrentSends) while (j < commands.length && commands[i]!.type === 'send' && commands[j]!.type === 'send') j++;
      await Promise.all(commands.slice(i, j).map(run));
      i = j;
    }
  };

  const execute = async (commands: Command[], written = false) => {
    // The log first: once the read model shows a journey ended, what it recorded on the way is there too.
    const entries = commands.flatMap((c) => (c.type === 'record' ? [{ idempotencyKey: c.idempotencyKey, kind: c.kind, data: c.data, at: c.at }] : []));
    if (entries.length) await recordLog({ workflowId, customerId: state.customerId, journeyKey: state.journeyKey, entries });
    const transitions = commands.filter((c) => c.type === 'stageChanged');
    const ended = commands.some((c) => c.type === 'ended');
    // Every progress write carries the waiting steps (data in the activity's input, on every code path); only the
    // patched code writes them when nothing else changed.
    const recordWaiting = async (t: ProgressInput['transitions']) => {
      const steps = waitingSteps(def, state);
      waitingWritten = steps.join(' ');
      await recordProgress(progress(state, workflowId, t, { steps, at: new Date().toISOString() }));
    };
    const writeProgress = async () => {
      // A failed journey writes its status on every code path: before the patch such a workflow could only retry.
      const status = ended && (engineOrders || state.status === 'failed') ? [{ key: JourneyStatusAttr, value: state.status }] : [];
      upsertSearchAttributes([{ key: JourneyStageAttr, value: state.stage }, ...status]);
      await recordWaiting(transitions);
    };
    // A new stage shows before the sends it causes; an end shows after the journey's last actions.
    if (written) waitingWritten = waitingSteps(def, state).join(' ');
    else if (transitions.length && !ended) await writeProgress();
    await runAll(commands);
    if (ended) await writeProgress();
    else if (recordsWaiting && waitingSteps(def, state).join(' ') !== waitingWritten) await recordWaiting([]);
  };

  /** An engine error is deterministic (the same definition, state and input fail again on every retry): the journey
   * ends as failed, visibly, instead of retrying its workflow task for ever. */
  const failed = (err: unknown, from: JourneyState) => {
    const e = asEngineError(err);
    log.error('journey failed in the engine', { code: e.code, message: e.message, step: e.step });
    return fail(from, e, new Date());
  };

  /** Moves the journey to the migration's version, or records why it stays: between inputs, never while commands run.
   * The state keeps its timers and counters (engine/migrate.ts), so nothing already sent is sent again. */
  const migrate = async (m: MigrateJourney) => {
    const at = new Date().toISOString();
    const r =
      m.fromVersion === state.version
        ? migrateState(def, m.definition, state, m.map, { now: new Date(at), ...(m.limits !== undefined ? { limits: m.limits } : {}) })
        : { ok: false as const, error: { code: 'migration_mismatch', message: `the journey runs version ${state.version}, not ${m.fromVersion}` } };
    const about = { migrationId: m.migrationId, fromVersion: m.fromVersion, toVersion: m.definition.version };
    const entry = r.ok ? { kind: 'migration' as const, data: { ...about, ...r.move } } : { kind: 'migration_refused' as const, data: { ...about, ...r.error } };
    if (r.ok) {
      def = m.definition;
      state = r.state;
    }
    await recordLog({
      workflowId,
      customerId: state.customerId,
      journeyKey: state.journeyKey,
      entries: [{ idempotencyKey: migrationLogKey(workflowId, m.migrationId), ...entry, at }],
    });
    if (!r.ok) return;
    upsertSearchAttributes([{ key: JourneyStageAttr, value: state.stage }]);
    const steps = waitingSteps(def, state);
    waitingWritten = steps.join(' ');
    // A map that moves the journey's stage to another key is a stage transition for the read model (cause `migration`).
    await recordProgress(progress(state, workflowId, r.transition ? [r.transition] : [], { steps, at }));
  };

  if (input.state) {
    state = input.state;
  } else {
    const opts: StartOptions = {
      instanceId: workflowId,
      customerId: input.customerId,
      ...(input.businessKey !== undefined ? { businessKey: input.businessKey } : {}),
      params: input.params,
      ...(input.profile ? { profile: input.profile } : {}),
      // Asked only when the start carries a cohort: histories of starts without one have no marker to meet.
      ...(input.holdout !== undefined && patched(HOLDOUT_COHORT) ? { holdout: input.holdout } : {}),
    };
    // Asked only when the API wrote the start: histories of other starts have no marker to meet.
    const writtenByApi = input.startedAt !== undefined && patched(START_WRITTEN_BY_API);
    const startAt = writtenByApi ? new Date(input.startedAt!) : new Date();
    let r;
    try {
      r = start(def, opts, startAt, engineOptions);
    } catch (err) {
      r = failed(err, initialState(def, opts, startAt));
    }
    state = r.state;
    // The start (service/journeys.ts) sets CustomerId and JourneyKey; before the patch the workflow wrote them too.
    if (!engineOrders)
      upsertSearchAttributes([
        { key: CustomerIdAttr, value: input.customerId },
        { key: JourneyKeyAttr, value: def.key },
      ]);
    await execute(r.commands, writtenByApi && r.state.status === 'running');
  }

  while (state.status === 'running') {
    const engineWake = nextWakeAt(state);
    const sendWake = deferred.reduce<string | undefined>((m, d) => (m === undefined || d.until < m ? d.until : m), undefined);
    const wake = engineWake === undefined ? sendWake : sendWake === undefined || engineWake <= sendWake ? engineWake : sendWake;
    if (queue.length === 0) {
      const ms = wake === undefined ? undefined : Date.parse(wake) - Date.now();
      if (ms === undefined) await condition(() => queue.length > 0 || migrations.length > 0);
      else if (ms > 0) await condition(() => queue.length > 0 || migrations.length > 0, ms);
    }
    while (migrations.length) await migrate(migrations.shift()!);
    const due = deferred.filter((d) => Date.parse(d.until) <= Date.now());
    if (due.length) {
      deferred = deferred.filter((d) => !due.includes(d));
      await runAll(due.map((d) => d.command));
    }
    let next: Input;
    if (engineOrders) {
      const pick = nextInput(state, queue, new Date());
      if (pick === undefined) continue;
      next = pick.kind === 'timer' ? { type: 'timer' } : queue.splice(pick.index, 1)[0]!.input;
    } else {
      if (queue.length === 0 && (engineWake === undefined || Date.parse(engineWake) > Date.now())) continue;
      next = queue.shift()?.input ?? { type: 'timer' };
    }
    let r;
    try {
      r = advance(def, state, next, new Date(), engineOptions);
    } catch (err) {
      r = failed(err, state);
    }
    state = r.state;
    await execute(r.commands);

    if (state.status === 'running' && migrations.length === 0 && workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      log.info('continuing as new', { historyLength: workflowInfo().historyLength, pending: queue.length });
      await continueAsNew<typeof journeyWorkflow>({ ...input, definition: def, state, pending: engineOrders ? queue : queue.map((q) => q.input), deferred });
    }
  }
  // Sends still waiting for quiet hours or a cap do not outlive their journey (an opt-out must not be followed by one).
  if (deferred.length) await dropDeferred({ idempotencyKeys: deferred.map((d) => d.command.idempotencyKey), reason: 'journey_ended' });
  return { status: state.status, ...(state.endReason !== undefined ? { reason: state.endReason } : {}), stage: state.stage };
}

function progress(state: JourneyState, workflowId: string, transitions: ProgressInput['transitions'], waiting: ProgressInput['waiting']): ProgressInput {
  return {
    ...(waiting !== undefined ? { waiting } : {}),
    journey: {
      workflowId,
      customerId: state.customerId,
      journeyKey: state.journeyKey,
      version: state.version,
      ...(state.businessKey !== undefined ? { businessKey: state.businessKey } : {}),
      params: state.params,
      status: state.status,
      ...(state.endReason !== undefined ? { endReason: state.endReason } : {}),
      ...(state.endedAt !== undefined ? { endedAt: state.endedAt } : {}),
      stage: state.stage,
      stageEnteredAt: state.stageEnteredAt,
    },
    transitions,
  };
}
