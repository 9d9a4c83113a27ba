// Activities: the journey workflow's only way to touch the world. Built by a factory from their dependencies so
// tests swap adapters, not modules. Every effect is idempotent under retry: messages and tasks are keyed by an
// idempotency key the workflow makes, stage transitions by (workflowId, seq).
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Command, JourneyStatus } from '../engine/engine.js';
import type { ParamValues } from '../engine/definition.js';
import { type Channel, PermanentChannelError } from '../channels/channel.js';
import { type TemplateStore, TemplateError } from '../channels/templates.js';
import { Prisma, type Db } from '../db/client.js';

export interface ActivityDeps {
  db: Db;
  channels: Record<'email' | 'sms', Channel>;
  templates: TemplateStore;
}

export interface ProgressInput {
  journey: {
    workflowId: string;
    customerId: string;
    journeyKey: string;
    version: number;
    businessKey?: string;
    params: ParamValues;
    status: JourneyStatus;
    endReason?: string;
    endedAt?: string;
    stage: string;
    stageEnteredAt: string;
  };
  transitions: Extract<Command, { type: 'stageChanged' }>[];
}

export type SendInput = Omit<Extract<Command, { type: 'send' }>, 'type'> & {
  workflowId: string;
  customerId: string;
};
export type SendResult = { messageId: string; status: 'sent' | 'suppressed' | 'failed'; reason?: string };

export type TaskInput = Omit<Extract<Command, { type: 'createTask' }>, 'type'> & {
  workflowId: string;
  customerId: string;
};

/** Errors of this type end an activity without retries; the workflow records them and goes on. */
export const PERMANENT_DELIVERY_ERROR = 'PermanentDeliveryError';

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

    /** Outbox discipline: the message row exists (keyed by the idempotency key) before the provider is called and is
     * marked after; a retry that finds it sent, suppressed or failed does not send again. */
    async sendMessage(input: SendInput): Promise<SendResult> {
      const log = Context.current().log;
      const customer = await db.customer.findUnique({ where: { id: input.customerId } });
      if (!customer) throw ApplicationFailure.nonRetryable(`customer ${input.customerId} not found`, PERMANENT_DELIVERY_ERROR);

      const message = await db.message.upsert({
        where: { idempotencyKey: input.idempotencyKey },
        create: {
          idempotencyKey: input.idempotencyKey,
          workflowId: input.workflowId,
          customerId: input.customerId,
          channel: input.channel,
          template: input.template,
        },
        update: {},
      });
      if (message.status === 'sent' || message.status === 'suppressed' || message.status === 'failed')
        return { messageId: message.id, status: message.status, ...(message.statusReason ? { reason: message.statusReason } : {}) };

      const finish = async (status: 'suppressed' | 'failed', reason: string, error?: string): Promise<SendResult> => {
        await db.message.update({ where: { id: message.id }, data: { status, statusReason: reason, error: error ?? null } });
        log.info('message not sent', { messageId: message.id, status, reason });
        return { messageId: message.id, status, reason };
      };

      const consents = (customer.consents ?? {}) as Record<string, unknown>;
      if (consents[input.channel] === false) return finish('suppressed', 'no_consent');
      const to = input.channel === 'email' ? customer.email : customer.phone;
      if (!to) return finish('suppressed', 'no_address');

      let content;
      try {
        content = deps.templates.render(input.template, input.channel, customer.locale, {
          customer: { id: customer.id, name: customer.name ?? '', locale: customer.locale, segment: customer.segment },
          event: input.vars.event,
          params: input.vars.params,
        });
      } catch (err) {
        if (err instanceof TemplateError) {
          await finish('failed', 'template', err.message);
          throw ApplicationFailure.nonRetryable(err.message, PERMANENT_DELIVERY_ERROR);
        }
        throw err;
      }

      await db.message.update({
        where: { id: message.id },
        data: { recipient: to, subject: content.subject ?? null, body: content.text, attempts: { increment: 1 } },
      });
      try {
        const delivery = await deps.channels[input.channel].send({ to, ...content, idempotencyKey: input.idempotencyKey });
        await db.message.update({
          where: { id: message.id },
          data: { status: 'sent', providerId: delivery.providerId, sentAt: new Date(), error: null },
        });
        return { messageId: message.id, status: 'sent' };
      } catch (err) {
        const text = err instanceof Error ? err.message : String(err);
        if (err instanceof PermanentChannelError) {
          await finish('failed', 'rejected_by_provider', text);
          throw ApplicationFailure.nonRetryable(text, PERMANENT_DELIVERY_ERROR);
        }
        await db.message.update({ where: { id: message.id }, data: { error: text } });
        throw err; // transient: the activity's retry policy tries again
      }
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
  };
}

export type JourneyActivities = ReturnType<typeof createActivities>;
