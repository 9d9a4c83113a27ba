// Fewer round trips per start and per event (issue 12), on the real stack: the API writes a new journey's first stage
// so the workflow makes no write for its start, and the sends of one step do not wait for one another.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JourneyWorkflowInput } from '../workflows/journey.js';
import { journeyEventSignal, journeyQuery, journeyWorkflowId } from '../workflows/messages.js';
import { eventually, startStack, type Stack } from './support/stack.js';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => stack?.stop());

let n = 0;
async function customer() {
  const id = `rt-${++n}`;
  const c = { id, name: `Round Trip ${n}`, email: `${id}@example.com`, phone: `+1555010${String(n).padStart(4, '0')}` };
  await stack.testDb.db.customer.create({ data: c });
  return c;
}

/** The activities a workflow's history scheduled (local activities are markers, by their activity type). */
async function activitiesOf(workflowId: string): Promise<string[]> {
  const history = await stack.client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).flatMap((e) => {
    const scheduled = e.activityTaskScheduledEventAttributes?.activityType?.name;
    if (scheduled) return [scheduled];
    return e.markerRecordedEventAttributes?.markerName === 'core_local_activity' ? ['local'] : [];
  });
}

describe('a journey started through the API', () => {
  it('has its first transition row and waiting steps before any worker runs it, and the workflow writes nothing for its start', async () => {
    const c = await customer();
    const started = await stack.service.startJourney({ journeyKey: 'bank-loan', customerId: c.id, via: 'api' });
    const workflowId = started.journey.workflowId;
    // No worker yet: what the read model holds, the API wrote.
    const [transition] = await stack.testDb.db.stageTransition.findMany({ where: { workflowId } });
    expect(transition).toMatchObject({ seq: 1, fromStage: null, toStage: 'awareness', cause: 'start' });
    const row = await stack.testDb.db.journey.findUniqueOrThrow({ where: { workflowId } });
    expect(row.stageEnteredAt).toEqual(transition!.enteredAt);

    const worker = await stack.startWorker();
    try {
      // Answered once the worker has run the start.
      const j = (await eventually(
        () =>
          stack.client.workflow
            .getHandle(workflowId)
            .query(journeyQuery)
            .catch(() => undefined),
        (x) => x !== undefined,
      ))!;
      // Exact: the workflow's engine started at the instant the API wrote.
      expect(j.stageHistory).toEqual([{ stage: 'awareness', enteredAt: transition!.enteredAt.toISOString(), cause: 'start' }]);
      expect(j.stageEnteredAt).toBe(row.stageEnteredAt.toISOString());
      expect(await activitiesOf(workflowId)).toEqual([]);
      expect((await stack.testDb.db.journey.findUniqueOrThrow({ where: { workflowId } })).waiting).toEqual(row.waiting);
    } finally {
      await worker.stop();
    }
  });
});

describe('the sends of one step', () => {
  it("deliver the SMS while the same step's email is held by the SMTP server", async () => {
    const c = await customer();
    const definition = {
      key: 'email-and-sms',
      version: 1,
      name: 'Email and SMS',
      stages: [{ key: 'open', label: 'Open' }],
      initialStage: 'open',
      tags: [],
      params: {},
      exits: [],
      goals: [],
      entry: { api: true, events: [], reentry: { mode: 'once' as const } },
      triggers: [
        {
          event: 'product.viewed',
          scope: 'journey' as const,
          replace: false,
          steps: [
            { type: 'send' as const, channel: 'email' as const, template: 'lifecycle-consideration', class: 'service' as const },
            { type: 'send' as const, channel: 'sms' as const, template: 'lifecycle-consideration', class: 'service' as const },
            { type: 'complete' as const, reason: 'sent' },
          ],
        },
      ],
    } satisfies JourneyWorkflowInput['definition'];
    const worker = await stack.startWorker();
    stack.smtp.hold();
    try {
      const handle = await stack.client.workflow.start('journeyWorkflow', {
        taskQueue: stack.taskQueue,
        workflowId: journeyWorkflowId(definition.key, c.id),
        args: [{ definition, customerId: c.id, params: {} } satisfies JourneyWorkflowInput],
      });
      await handle.signal(journeyEventSignal, { eventId: `${c.id}-1`, type: 'product.viewed', occurredAt: new Date().toISOString(), data: {} });
      await stack.smtp.waitForHeld(1, 20_000);
      // The email is still in the SMTP server's hands, and the SMS of the same step has arrived.
      await stack.sms.waitFor((m) => m.to === c.phone);
      expect(stack.smtp.held()).toBe(1);
      expect(await stack.testDb.db.message.findFirst({ where: { customerId: c.id, channel: 'email' }, select: { status: true } })).not.toMatchObject({ status: 'sent' });
      stack.smtp.release();
      expect(await handle.result()).toEqual({ status: 'completed', reason: 'sent', stage: 'open' });
      await eventually(
        () => stack.testDb.db.message.count({ where: { customerId: c.id, status: 'sent' } }),
        (k) => k === 2,
      );
    } finally {
      stack.smtp.release();
      await worker.stop();
    }
  });
});
