// Activities: the journey workflow's only way to touch the world. Built by a factory from their dependencies so
// tests swap adapters, not modules. Every effect is idempotent under retry: messages and tasks are keyed by an
// idempotency key the workflow makes, stage transitions by (workflowId, seq).
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Command, JourneyEvent, JourneyState } from '../engine/engine.js';
import { createSendActivity, type SendDeps } from './send.js';
import { Prisma } from '../db/client.js';
import { isUniqueViolation } from '../db/unique.js';
import { DomainError } from '../service/errors.js';
import { activityDuration, journeysEnded } from '../service/metrics.js';

/** What the chorus activities need from the journey service (kept to an interface: activities know no HTTP). */
export interface ChorusPort {
  chorusStart(customerId: string, journeyKey: string, params?: Record<string, unknown>): Promise<string | undefined>;
  chorusSignal(customerId: string, journeyKey: string, event: JourneyEvent): Promise<string[]>;
  chorusStop(customerId: string, by: { journeyKey?: string; tag?: string }, reason: string, except: string): Promise<string[]>;
}

export interface ActivityDeps extends SendDeps {
  chorus: ChorusPort;
}

export interface ProgressInput {
  /** The read-model fields of the journey's state. */
  journey: Pick<JourneyState, 'customerId' | 'journeyKey' | 'version' | 'businessKey' | 'params' | 'status' | 'endReason' | 'endedAt' | 'stage' | 'stageEnteredAt'> & {
    workflowId: string;
  };
  transitions: Extract<Command, { type: 'stageChanged' }>[];
  /** The steps the journey waits at now (`stepRef`s) and the workflow's time of this write; absent from older
   * workflow code. `waiting_since` moves only when the set changes. */
  waiting?: { steps: string[]; at: string };
}

export type { SendInput, SendResult } from './send.js';
export { PERMANENT_DELIVERY_ERROR } from './send.js';

/** The failure type of an activity refused for good (a `DomainError` that is not transient: bad params, a rule). The
 * workflow lists it as non-retryable; the failure is also marked non-retryable itself, so no policy can loop on it. */
export const PERMANENT_ERROR = 'PermanentError';

/** A permanent domain error as a non-retryable activity failure; anything else (transient, unknown) as it is. */
export function classifyFailure(err: unknown): unknown {
  if (err instanceof DomainError && !err.transient) return ApplicationFailure.nonRetryable(err.message, PERMANENT_ERROR, { code: err.code });
  return err;
}

/** Runs an activity's work, its permanent domain errors turned into non-retryable failures (`classifyFailure`). */
export async function permanent<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw classifyFailure(err);
  }
}

export type TaskInput = Omit<Extract<Command, { type: 'createTask' }>, 'type'> & {
  workflowId: string;
  customerId: string;
};

type Journey = { workflowId: string; customerId: string; journeyKey: string };
export type LogInput = Journey & { entries: Omit<Extract<Command, { type: 'record' }>, 'type'>[] };
export type ChorusInput = Journey & { command: Extract<Command, { type: 'startJourney' | 'signalJourney' | 'stopJourneys' }> };

export function createActivities(deps: ActivityDeps) {
  const { db } = deps;

  return timed({
    /**
     * Writes what the workflow owns on the journey's read-model row (status, end, stage) and appends its new stage
     * transitions. The row itself is the API's: it is written, tags included, before the workflow starts. A row can
     * still be missing — a workflow started outside the API (tests, an operator), or a start the API gave up on while
     * Temporal had in fact taken it — and dropping the update would leave the journey invisible, so then the row is
     * created from the workflow's own data, with the tags of the stored definition version it runs (versions never
     * change once published; a definition that is not stored has no tags to address it by).
     */
    async recordProgress({ journey: j, transitions, waiting }: ProgressInput): Promise<void> {
      // One transaction: a reader never sees the row in its new stage without the transition that took it there.
      const ending = await db.$transaction(async (tx) => {
        // An end is counted once: when this write moves the row out of running.
        const ending = j.status !== 'running' && (await tx.journey.count({ where: { workflowId: j.workflowId, status: 'running' } })) > 0;
        const owned = {
          // A migration moves a running journey to another version of its definition (engine/migrate.ts).
          version: j.version,
          status: j.status,
          exitReason: j.endReason ?? null,
          endedAt: j.endedAt ? new Date(j.endedAt) : null,
          stage: j.stage,
          stageEnteredAt: new Date(j.stageEnteredAt),
        };
        const updated = await tx.journey.updateMany({ where: { workflowId: j.workflowId }, data: owned });
        if (updated.count === 0) {
          const stored = await tx.journeyDefinitionVersion.findUnique({ where: { key_version: { key: j.journeyKey, version: j.version } }, select: { document: true } });
          const tags = (stored?.document as { tags?: unknown } | undefined)?.tags;
          await tx.journey.upsert({
            where: { workflowId: j.workflowId },
            create: {
              workflowId: j.workflowId,
              customerId: j.customerId,
              journeyKey: j.journeyKey,
              businessKey: j.businessKey ?? null,
              params: j.params,
              tags: Array.isArray(tags) ? tags.filter((t): t is string => typeof t === 'string') : [],
              ...owned,
            },
            // Created meanwhile by the API: its tags stay, the workflow's fields are written.
            update: owned,
          });
        }
        if (waiting) {
          // A retried write with the same steps keeps the first write's instant (the set did not change in between).
          await tx.$executeRaw`UPDATE journeys SET waiting_since = CASE WHEN waiting IS DISTINCT FROM ${waiting.steps}::text[] THEN (${waiting.at}::timestamptz AT TIME ZONE 'UTC') ELSE waiting_since END,
          waiting = ${waiting.steps}::text[] WHERE workflow_id = ${j.workflowId}`;
        }
        await tx.stageTransition.createMany({
          data: transitions.map((t) => ({
            workflowId: j.workflowId,
            seq: t.seq,
            fromStage: t.from,
            toStage: t.to,
            cause: t.cause,
            enteredAt: new Date(t.at),
          })),
          skipDuplicates: true,
        });
        return ending;
      });
      if (ending) journeysEnded.inc({ journey: j.journeyKey, status: j.status });
    },

    sendMessage: createSendActivity(deps),

    /** Marks sends that were waiting (quiet hours, a cap) as dropped when their journey ends first. */
    async dropDeferred(input: { idempotencyKeys: string[]; reason: string }): Promise<number> {
      const rows = await db.message.findMany({ where: { idempotencyKey: { in: input.idempotencyKeys }, status: 'deferred' }, select: { id: true } });
      const ids = rows.map((r) => r.id);
      if (ids.length)
        await db.$transaction([
          db.message.updateMany({ where: { id: { in: ids }, status: 'deferred' }, data: { status: 'dropped', statusReason: input.reason, deferredUntil: null } }),
          db.messageEvent.createMany({ data: ids.map((messageId) => ({ messageId, type: 'dropped', detail: { reason: input.reason } })) }),
        ]);
      return ids.length;
    },

    /** Creates the RM task once per idempotency key, assigned to the customer's relationship manager. */
    async createTask(input: TaskInput): Promise<{ taskId: string }> {
      const customer = await db.customer.findUnique({ where: { id: input.customerId }, select: { rmId: true } });
      try {
        const task = await db.task.create({
          data: {
            idempotencyKey: input.idempotencyKey,
            workflowId: input.workflowId,
            customerId: input.customerId,
            taskKey: input.taskKey,
            rmId: customer?.rmId ?? null,
            title: input.title,
            description: input.description ?? null,
            dueAt: new Date(input.dueAt),
          },
        });
        return { taskId: task.id };
      } catch (err) {
        if (isUniqueViolation(err)) {
          const existing = await db.task.findUniqueOrThrow({ where: { idempotencyKey: input.idempotencyKey } });
          return { taskId: existing.id };
        }
        throw err;
      }
    },

    /** A task still open at its due time is handed to a second assignee as well. */
    async escalateTask(input: { taskRef: string; to: string }): Promise<{ escalated: boolean }> {
      const r = await db.task.updateMany({
        where: { idempotencyKey: input.taskRef, status: 'open', escalatedTo: null },
        data: { escalatedTo: input.to, escalatedAt: new Date() },
      });
      return { escalated: r.count > 0 };
    },

    /** Goals, A/B/n assignments, feedback answers and task outcomes, once each; goals also on the journey row. */
    async recordLog(input: LogInput): Promise<void> {
      await db.journeyLogEntry.createMany({
        data: input.entries.map((e) => ({
          idempotencyKey: e.idempotencyKey,
          workflowId: input.workflowId,
          customerId: input.customerId,
          journeyKey: input.journeyKey,
          kind: e.kind,
          data: e.data as Prisma.InputJsonValue,
          at: new Date(e.at),
        })),
        skipDuplicates: true,
      });
      const goals = input.entries.filter((e) => e.kind === 'goal').map((e) => String(e.data.goal));
      if (goals.length) {
        const row = await db.journey.findUnique({ where: { workflowId: input.workflowId }, select: { goals: true } });
        if (row) {
          const merged = [...row.goals, ...goals.filter((g) => !row.goals.includes(g))];
          if (merged.length !== row.goals.length) await db.journey.update({ where: { workflowId: input.workflowId }, data: { goals: merged } });
        }
      }
    },

    /** The journey chorus: start, signal or stop the customer's other journeys. Idempotent: a start is keyed by
     * the target's workflow id, a signal by its event id (the command's idempotency key), a stop is an exit. */
    async chorus(input: ChorusInput): Promise<{ affected: string[] }> {
      const c = input.command;
      const log = Context.current().log;
      let affected: string[];
      try {
        if (c.type === 'startJourney') {
          const id = await deps.chorus.chorusStart(input.customerId, c.journeyKey, c.params);
          affected = id ? [id] : [];
        } else if (c.type === 'signalJourney') {
          affected = await deps.chorus.chorusSignal(input.customerId, c.journeyKey, {
            eventId: `chorus:${c.idempotencyKey}`,
            type: c.event.type,
            occurredAt: new Date().toISOString(),
            data: c.event.data,
          });
        } else {
          affected = await deps.chorus.chorusStop(
            input.customerId,
            { ...(c.journeyKey ? { journeyKey: c.journeyKey } : {}), ...(c.tag ? { tag: c.tag } : {}) },
            c.reason,
            input.workflowId,
          );
        }
      } catch (err) {
        const failure = classifyFailure(err);
        if (failure !== err && err instanceof DomainError) {
          // Refused for good (e.g. params the target journey does not take): recorded in the journey's log once, then
          // reported as non-retryable so the journey decides what comes next instead of retrying for ever.
          await db.journeyLogEntry.createMany({
            data: [
              {
                idempotencyKey: `${c.idempotencyKey}:failed`,
                workflowId: input.workflowId,
                customerId: input.customerId,
                journeyKey: input.journeyKey,
                kind: 'command_failed',
                data: { command: c.type, ...(c.journeyKey ? { journeyKey: c.journeyKey } : {}), code: err.code, message: err.message },
                at: new Date(),
              },
            ],
            skipDuplicates: true,
          });
          log.warn('chorus refused', { action: c.type, from: input.workflowId, code: err.code });
        }
        throw failure;
      }
      log.info('chorus', { action: c.type, from: input.workflowId, affected });
      return { affected };
    },
  });
}

/** Each activity, timed per attempt (`journeys_activity_duration_seconds`): wrapping the factory's output times every
 * activity a worker runs, in production and in tests, without a second list of names. */
export function timed<A extends Record<string, (...args: never[]) => Promise<unknown>>>(activities: A): A {
  return Object.fromEntries(
    Object.entries(activities).map(([name, fn]) => [
      name,
      async (...args: never[]) => {
        const end = activityDuration.startTimer({ activity: name });
        try {
          const result = await fn(...args);
          end({ outcome: 'ok' });
          return result;
        } catch (err) {
          end({ outcome: 'error' });
          throw err;
        }
      },
    ]),
  ) as A;
}

export type JourneyActivities = ReturnType<typeof createActivities>;
