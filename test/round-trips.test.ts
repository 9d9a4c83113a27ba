// Fewer round trips per start and per event (issue 12), on the real stack: the API writes a new journey's first stage
// so the workflow makes no write for its start, an entry event starts its journey in the start's own call, and the
// sends of one step do not wait for one another.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JourneyWorkflowInput } from '../workflows/journey.js';
import { journeyEventSignal, journeyQuery, journeyWorkflowId, stateQuery } from '../workflows/messages.js';
import { api, createStackApp, eventually, startStack, type Stack } from './support/stack.js';

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

describe('an entry event', () => {
  it('starts its journey in one call that carries the event, which the journey applies once, also when delivered again', async () => {
    const c = await customer();
    const definition = {
      key: 'rt-entry',
      version: 1,
      name: 'Entered by an event',
      stages: [{ key: 'open', label: 'Open' }],
      initialStage: 'open',
      tags: [],
      params: {},
      exits: [],
      goals: [],
      entry: { api: false, events: [{ event: 'service.case_opened' }], reentry: { mode: 'once' as const } },
      triggers: [{ event: 'service.case_opened', steps: [{ type: 'send' as const, channel: 'sms' as const, template: 'lifecycle-consideration', class: 'service' as const }] }],
    };
    const draft = await stack.definitions.createDraft(definition, 'test-designer');
    expect(draft.problems).toEqual([]);
    await stack.definitions.publish(definition.key, draft.version, 'test-ops');
    const app = createStackApp(stack);
    const workflowId = journeyWorkflowId(definition.key, c.id);

    // No worker yet: the history shows what the API's calls did. One signal-with-start puts the event before the
    // first workflow task; a start and then a signal would have scheduled that task before the signal.
    const res = await api(app)
      .post(`/v1/customers/${c.id}/events`)
      .send({ eventId: `${c.id}-entry`, type: 'service.case_opened' })
      .expect(202);
    expect(res.body.deliveredTo).toEqual([workflowId]);
    const history = await stack.client.workflow.getHandle(workflowId).fetchHistory();
    expect((history.events ?? []).slice(0, 3).map((e) => Object.keys(e).find((k) => k.endsWith('EventAttributes')))).toEqual([
      'workflowExecutionStartedEventAttributes',
      'workflowExecutionSignaledEventAttributes',
      'workflowTaskScheduledEventAttributes',
    ]);
    expect((await stack.testDb.db.inboundEvent.findUniqueOrThrow({ where: { eventId: `${c.id}-entry` } })).deliveredAt).not.toBeNull();

    const worker = await stack.startWorker();
    try {
      await stack.sms.waitFor((m) => m.to === c.phone);
      // Delivered again, as the sweeper does for an event whose delivery was not recorded: the journey is running, so
      // it is signalled, and ignores the id it has seen. A later event, applied after it, says it was handled.
      await stack.testDb.db.inboundEvent.update({ where: { eventId: `${c.id}-entry` }, data: { deliveredAt: null } });
      expect(await stack.service.deliverRecorded(`${c.id}-entry`)).toEqual([workflowId]);
      await api(app)
        .post(`/v1/customers/${c.id}/events`)
        .send({ eventId: `${c.id}-later`, type: 'product.viewed' })
        .expect(202);
      const state = await eventually(
        () => stack.client.workflow.getHandle(workflowId).query(stateQuery),
        (s) => s.recentEventIds.includes(`${c.id}-later`),
      );
      expect(state.eventsSeen).toBe(2);
      expect(state.recentEventIds.filter((id) => id === `${c.id}-entry`)).toHaveLength(1);
      expect(await stack.testDb.db.message.count({ where: { customerId: c.id } })).toBe(1);
      expect(await stack.testDb.db.journey.count({ where: { customerId: c.id } })).toBe(1);
    } finally {
      await worker.stop();
    }
  });
});
