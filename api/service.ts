// What the API does, apart from HTTP: starting journeys, delivering events, reading journeys and tasks.
import { type Client, WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/client';
import type { z } from 'zod';
import { ParamsError, resolveParams } from '../engine/definition.js';
import { start as startEngine, type JourneyEvent } from '../engine/engine.js';
import type { JourneyCatalog } from '../journeys/index.js';
import { Prisma, type Db } from '../db/client.js';
import type { journeyWorkflow, JourneyWorkflowInput } from '../workflows/journey.js';
import {
  CustomerIdAttr,
  exitJourneySignal,
  journeyEventSignal,
  journeyQuery,
  JourneyKeyAttr,
  JourneyStageAttr,
  type JourneyView,
  journeyWorkflowId,
  taskCompletedSignal,
} from '../workflows/messages.js';
import { ApiError, conflict, notFound } from './errors.js';
import type { CompleteTaskBody, CustomerBody, EventBody, StartJourneyBody, TaskQuery } from './schemas.js';

export interface ServiceDeps {
  db: Db;
  temporal: Client;
  taskQueue: string;
  journeys: JourneyCatalog;
}

const isUniqueViolation = (err: unknown) => err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002';

export class JourneyService {
  constructor(private readonly deps: ServiceDeps) {}

  private get db() {
    return this.deps.db;
  }

  async upsertCustomer(customerId: string, body: z.infer<typeof CustomerBody>) {
    const { consents, ...fields } = body;
    const existing = await this.db.customer.findUnique({ where: { id: customerId } });
    const mergedConsents = { ...((existing?.consents ?? {}) as Record<string, boolean>), ...(consents ?? {}) };
    const customer = await this.db.customer.upsert({
      where: { id: customerId },
      create: { id: customerId, ...fields, consents: mergedConsents },
      update: { ...fields, consents: mergedConsents },
    });
    return { created: existing === null, customer };
  }

  async getCustomer(customerId: string) {
    const customer = await this.db.customer.findUnique({ where: { id: customerId } });
    if (!customer) throw notFound('customer', customerId);
    return customer;
  }

  /** Starts the journey once per (journey, customer, business key); the same request again answers the same journey. */
  async startJourney(body: z.infer<typeof StartJourneyBody>) {
    const definition = this.deps.journeys.get(body.journeyKey);
    if (!definition) throw notFound('journey', body.journeyKey);
    let params;
    try {
      params = resolveParams(definition, body.params ?? {});
    } catch (err) {
      if (err instanceof ParamsError)
        throw new ApiError(400, 'invalid_params', err.message, err.problems.map((p) => ({ path: `body.params.${p.param}`, message: p.message })));
      throw err;
    }
    await this.getCustomer(body.customerId);
    const workflowId = journeyWorkflowId(definition.key, body.customerId, body.businessKey);

    const existing = await this.db.journey.findUnique({ where: { workflowId } });
    if (existing) return { created: false, journey: this.summary(existing) };

    const initial = startEngine(definition, { instanceId: workflowId, customerId: body.customerId, params }, new Date()).state;
    const input: JourneyWorkflowInput = {
      definition,
      customerId: body.customerId,
      ...(body.businessKey !== undefined ? { businessKey: body.businessKey } : {}),
      params,
    };
    let created = true;
    try {
      await this.deps.temporal.workflow.start<typeof journeyWorkflow>('journeyWorkflow', {
        taskQueue: this.deps.taskQueue,
        workflowId,
        args: [input],
        typedSearchAttributes: [
          { key: CustomerIdAttr, value: body.customerId },
          { key: JourneyKeyAttr, value: definition.key },
          { key: JourneyStageAttr, value: initial.stage },
        ],
      });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      created = false; // a concurrent identical request won the start
    }
    // The workflow's first activity writes the same row; whichever comes second leaves it as it is.
    await this.db.journey.createMany({
      data: [{
        workflowId,
        customerId: body.customerId,
        journeyKey: definition.key,
        version: definition.version,
        businessKey: body.businessKey ?? null,
        params,
        status: 'running',
        stage: initial.stage,
        stageEnteredAt: new Date(initial.stageEnteredAt),
      }],
      skipDuplicates: true,
    });
    const row = await this.db.journey.findUniqueOrThrow({ where: { workflowId } });
    return { created, journey: this.summary(row) };
  }

  private summary(row: { workflowId: string; journeyKey: string; version: number; customerId: string; businessKey: string | null; stage: string; status: string }) {
    return {
      workflowId: row.workflowId,
      journeyKey: row.journeyKey,
      version: row.version,
      customerId: row.customerId,
      ...(row.businessKey !== null ? { businessKey: row.businessKey } : {}),
      stage: row.stage,
      status: row.status,
    };
  }

  /**
   * Records the event once (its eventId is unique) and delivers it to the customer's running journeys, or to one.
   * A repeated eventId is reported as a duplicate; if its first delivery did not finish, it is delivered again (the
   * workflow ignores an event id it has seen), so a client's retry never loses an event and never applies it twice.
   */
  async receiveEvent(customerId: string, body: z.infer<typeof EventBody>, workflowId?: string) {
    const occurredAt = body.occurredAt ? new Date(body.occurredAt) : new Date();
    const data = body.data ?? {};
    let duplicate = false;
    let row;
    try {
      row = await this.db.$transaction(async (tx) => {
        const created = await tx.inboundEvent.create({
          data: { eventId: body.eventId, customerId, workflowId: workflowId ?? null, type: body.type, occurredAt, data: data as Prisma.InputJsonValue },
        });
        // A channel opt-out withdraws consent for that channel across all journeys.
        const channel = body.type === 'customer.opted_out' ? data.channel : undefined;
        if (typeof channel === 'string') {
          const c = await tx.customer.findUniqueOrThrow({ where: { id: customerId } });
          await tx.customer.update({ where: { id: customerId }, data: { consents: { ...(c.consents as object), [channel]: false } } });
        }
        return created;
      });
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      duplicate = true;
      row = await this.db.inboundEvent.findUniqueOrThrow({ where: { eventId: body.eventId } });
      if (row.customerId !== customerId || row.type !== body.type || row.workflowId !== (workflowId ?? null))
        throw conflict('event_id_reused', `eventId "${body.eventId}" was already used for a different event`);
      if (row.deliveredAt) return { eventId: row.eventId, duplicate, deliveredTo: row.deliveredTo };
    }

    const targets = workflowId
      ? [workflowId]
      : (await this.db.journey.findMany({ where: { customerId, status: 'running' }, select: { workflowId: true }, orderBy: { startedAt: 'asc' } })).map((j) => j.workflowId);
    const event: JourneyEvent = { eventId: row.eventId, type: row.type, occurredAt: row.occurredAt.toISOString(), data: row.data as Record<string, unknown> };
    const deliveredTo: string[] = [];
    for (const target of targets) {
      try {
        await this.deps.temporal.workflow.getHandle(target).signal(journeyEventSignal, event);
        deliveredTo.push(target);
      } catch (err) {
        if (!(err instanceof WorkflowNotFoundError)) throw err; // ended meanwhile: nothing to deliver to
      }
    }
    await this.db.inboundEvent.update({ where: { eventId: row.eventId }, data: { deliveredTo, deliveredAt: new Date() } });
    return { eventId: row.eventId, duplicate, deliveredTo };
  }

  async receiveJourneyEvent(workflowId: string, body: z.infer<typeof EventBody>) {
    const journey = await this.db.journey.findUnique({ where: { workflowId } });
    if (!journey) throw notFound('journey', workflowId);
    const seen = await this.db.inboundEvent.findUnique({ where: { eventId: body.eventId } });
    if (journey.status !== 'running' && !seen) throw conflict('journey_ended', `journey "${workflowId}" has ended (${journey.status})`);
    return this.receiveEvent(journey.customerId, body, workflowId);
  }

  /** Live from the workflow while it runs; from the read model once it has ended. */
  async getJourney(workflowId: string): Promise<JourneyView> {
    const row = await this.db.journey.findUnique({
      where: { workflowId },
      include: { transitions: { orderBy: { seq: 'asc' } } },
    });
    if (!row) throw notFound('journey', workflowId);
    if (row.status === 'running') {
      try {
        return await this.deps.temporal.workflow.getHandle(workflowId).query(journeyQuery);
      } catch (err) {
        if (!(err instanceof WorkflowNotFoundError)) throw err;
      }
    }
    return {
      workflowId: row.workflowId,
      journeyKey: row.journeyKey,
      version: row.version,
      customerId: row.customerId,
      ...(row.businessKey !== null ? { businessKey: row.businessKey } : {}),
      status: row.status as JourneyView['status'],
      ...(row.exitReason !== null ? { endReason: row.exitReason } : {}),
      stage: row.stage,
      stageEnteredAt: row.stageEnteredAt.toISOString(),
      stageHistory: row.transitions.map((t) => ({ stage: t.toStage, enteredAt: t.enteredAt.toISOString(), cause: t.cause ?? '' })),
      waitingFor: [],
    };
  }

  async listCustomerJourneys(customerId: string) {
    await this.getCustomer(customerId);
    const rows = await this.db.journey.findMany({ where: { customerId }, orderBy: { startedAt: 'desc' } });
    return rows.map((r) => ({ ...this.summary(r), stageEnteredAt: r.stageEnteredAt, startedAt: r.startedAt, endedAt: r.endedAt, endReason: r.exitReason }));
  }

  async listCustomerMessages(customerId: string, limit: number) {
    await this.getCustomer(customerId);
    return this.db.message.findMany({ where: { customerId }, orderBy: [{ createdAt: 'desc' }, { id: 'asc' }], take: limit });
  }

  async exitJourney(workflowId: string, reason: string) {
    const row = await this.db.journey.findUnique({ where: { workflowId } });
    if (!row) throw notFound('journey', workflowId);
    if (row.status !== 'running') throw conflict('journey_ended', `journey "${workflowId}" has ended (${row.status})`);
    try {
      await this.deps.temporal.workflow.getHandle(workflowId).signal(exitJourneySignal, { reason });
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw conflict('journey_ended', `journey "${workflowId}" has ended`);
      throw err;
    }
    return { workflowId, status: 'exiting', reason };
  }

  async listTasks(q: z.infer<typeof TaskQuery>) {
    return this.db.task.findMany({
      where: { ...(q.rmId ? { rmId: q.rmId } : {}), ...(q.customerId ? { customerId: q.customerId } : {}), ...(q.status ? { status: q.status } : {}) },
      orderBy: [{ dueAt: 'asc' }, { id: 'asc' }],
      take: 500,
    });
  }

  /** The outcome goes to the journey first (it ignores a repeat), then the task is closed: a failure in between
   * leaves the task open to complete again, never an outcome the journey did not get. */
  async completeTask(taskId: string, body: z.infer<typeof CompleteTaskBody>) {
    const task = await this.db.task.findUnique({ where: { id: taskId } });
    if (!task) throw notFound('task', taskId);
    if (task.status !== 'open') throw conflict('task_closed', `task "${taskId}" is already ${task.status}`);
    try {
      await this.deps.temporal.workflow
        .getHandle(task.workflowId)
        .signal(taskCompletedSignal, { taskId, taskKey: task.taskKey, outcome: body.outcome });
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err; // the journey has ended; the task can still be closed
    }
    const closed = await this.db.task.updateMany({
      where: { id: taskId, status: 'open' },
      data: { status: 'done', outcome: body.outcome, note: body.note ?? null, completedAt: new Date() },
    });
    if (closed.count === 0) throw conflict('task_closed', `task "${taskId}" was completed meanwhile`);
    return this.db.task.findUniqueOrThrow({ where: { id: taskId } });
  }
}
