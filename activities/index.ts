// Activities: the journey workflow's only way to touch the world. Built by a factory from their dependencies so
// tests swap adapters, not modules. Every effect is idempotent under retry: messages and tasks are keyed by an
// idempotency key the workflow makes, stage transitions by (workflowId, seq).
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Command, JourneyEvent, JourneyState } from '../engine/engine.js';
import { createSendActivity, type SendDeps } from './send.js';
import { Prisma, type Db } from '../db/client.js';

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
  journey: Pick<JourneyState, 'customerId' | 'journeyKey' | 'version' | 'businessKey' | 'params' | 'status' | 'endReason' | 'endedAt' | 'stage' | 'stageEnteredAt'> & { workflowId: string };
  transitions: Extract<Command, { type: 'stageChanged' }>[];
}

export type { SendInput, SendResult } from './send.js';
export { PERMANENT_DELIVERY_ERROR } from './send.js';

export type TaskInput = Omit<Extract<Command, { type: 'createTask' }>, 'type'> & {
  workflowId: string;
  customerId: string;
};

type Journey = { workflowId: string; customerId: string; journeyKey: string };
export type LogInput = Journey & { entries: Omit<Extract<Command, { type: 'record' }>, 'type'>[] };
export type ChorusInput = Journey & { command: Extract<Command, { type: 'startJourney' | 'signalJourney' | 'stopJourneys' }> };


export function createActivities(deps: ActivityDeps) {
  const { db } = deps;

  return {
    /** Upserts the journey's read-model row and appends its new stage transitions. */
    async recordProgress({ journey: j, transitions }: ProgressInput): Promise<void> {
      const row = {
        status: j.status,
        exitReason: j.endReason ?? null,
        endedAt: j.endedAt ? new Date(j.endedAt) : null,
        stage: j.stage,
        stageEnteredAt: new Date(j.stageEnteredAt),
      };
      await db.$transaction([
        db.journey.upsert({
          where: { workflowId: j.workflowId },
          create: {
            workflowId: j.workflowId,
            customerId: j.customerId,
            journeyKey: j.journeyKey,
            version: j.version,
            businessKey: j.businessKey ?? null,
            params: j.params,
            ...row,
          },
          update: row,
        }),
        db.stageTransition.createMany({
          data: transitions.map((t) => ({
            workflowId: j.workflowId,
            seq: t.seq,
            fromStage: t.from,
            toStage: t.to,
            cause: t.cause,
            enteredAt: new Date(t.at),
          })),
          skipDuplicates: true,
        }),
      ]);
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
        if (err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002') {
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
      log.info('chorus', { action: c.type, from: input.workflowId, affected });
      return { affected };
    },
  };
}

export type JourneyActivities = ReturnType<typeof createActivities>;
