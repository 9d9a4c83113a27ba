// A poison journey on the real stack: an error the engine throws inside the workflow ends the journey as `failed`,
// visibly (read model, journey log, JourneyStatus search attribute), without a single workflow-task retry, and events
// to it are no longer reported as delivered. Params that would overflow at run time are refused at the start.
import proto from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, collect, createStackApp, eventually, startStack, type Stack } from './support/stack.js';

let stack: Stack;
let app: ReturnType<typeof createStackApp>;

/** A definition whose flow jumps to a step id that does not exist. Publishing validates it away, so it is stored as an
 * older release with weaker checks would have stored it: straight into the store, published, never validated. */
const poison = {
  key: 'poison-goto',
  version: 1,
  name: 'Poison: a goto to nowhere',
  stages: [
    { key: 'one', label: 'One' },
    { key: 'two', label: 'Two' },
  ],
  initialStage: 'one',
  triggers: [
    {
      event: 'product.viewed',
      flow: 'f',
      steps: [
        { type: 'stage', stage: 'two' },
        { type: 'goto', target: 'nowhere' },
      ],
    },
  ],
};

beforeAll(async () => {
  stack = await startStack();
  await stack.startWorker();
  await stack.testDb.db.journeyDefinitionVersion.create({ data: { key: poison.key, version: 1, status: 'published', document: poison, publishedAt: new Date() } });
  app = createStackApp(stack);
});
afterAll(async () => stack?.stop());

let n = 0;
async function customer() {
  const id = `poison-${++n}`;
  await api(app)
    .put(`/v1/customers/${id}`)
    .send({ name: `Poison ${n}`, email: `${id}@example.com`, phone: `+1555777${String(n).padStart(4, '0')}` })
    .expect(201);
  return id;
}
const event = (customerId: string, type: string) =>
  api(app)
    .post(`/v1/customers/${customerId}/events`)
    .send({ eventId: `${customerId}-${++n}`, type })
    .expect(202)
    .then((r) => r.body as { deliveredTo: string[] });

describe('a poison journey', () => {
  it('ends as failed with the reason and the step in the read model, the log and JourneyStatus, never retrying, and takes no more events', async () => {
    const customerId = await customer();
    const { body: started } = await api(app).post('/v1/journeys').send({ journeyKey: poison.key, customerId }).expect(201);
    const workflowId = started.workflowId as string;
    const handle = stack.client.workflow.getHandle(workflowId);

    expect((await event(customerId, 'product.viewed')).deliveredTo).toEqual([workflowId]);
    const reason = 'unknown_goto_target: goto target "nowhere" does not exist (at triggers[0].steps[1])';
    // The failed input changes nothing: the stage step before the goto is not applied.
    expect(await handle.result()).toEqual({ status: 'failed', reason, stage: 'one' });

    const row = await stack.testDb.db.journey.findUniqueOrThrow({ where: { workflowId } });
    expect([row.status, row.exitReason, row.endedAt !== null]).toEqual(['failed', reason, true]);
    const { body: view } = await api(app)
      .get(`/v1/journeys/${encodeURIComponent(workflowId)}`)
      .expect(200);
    expect(view).toMatchObject({ status: 'failed', endReason: reason });

    const failures = await stack.testDb.db.journeyLogEntry.findMany({ where: { workflowId, kind: 'failure' } });
    expect(failures.map((f) => f.data)).toEqual([
      { code: 'unknown_goto_target', message: 'goto target "nowhere" does not exist (at triggers[0].steps[1])', step: { flow: 'f', pc: 1, path: 'triggers[0].steps[1]' } },
    ]);

    const found = await eventually(
      () => collect(stack.client.workflow.list({ query: `JourneyStatus="failed" AND CustomerId="${customerId}"` })),
      (l) => l.length === 1,
    );
    expect(found.map((w) => w.workflowId)).toEqual([workflowId]);

    // Deterministic, so never retried: no workflow task failed on the way.
    const history = await handle.fetchHistory();
    const failedTasks = (history.events ?? []).filter((e) => e.eventType === proto.temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED);
    expect(failedTasks).toEqual([]);

    // The journey has ended: an event for the customer reaches no journey, one addressed to it is refused.
    expect((await event(customerId, 'product.viewed')).deliveredTo).toEqual([]);
    const { body: refused } = await api(app)
      .post(`/v1/journeys/${encodeURIComponent(workflowId)}/events`)
      .send({ eventId: `${customerId}-late`, type: 'product.viewed' })
      .expect(409);
    expect(refused.error.code).toBe('journey_ended');
  });

  it('refuses at the start a duration param that would overflow at run time (P999999999Y), starting nothing', async () => {
    const customerId = await customer();
    const { body } = await api(app)
      .post('/v1/journeys')
      .send({ journeyKey: 'bank-loan', customerId, params: { applicationAssistAfter: 'P999999999Y' } })
      .expect(400);
    expect(body.error).toMatchObject({
      code: 'invalid_params',
      message: 'invalid params: body.params.applicationAssistAfter: P999999999Y is longer than the maximum duration P10Y',
    });
    expect(await stack.testDb.db.journey.count({ where: { customerId } })).toBe(0);
  });

  it('refuses at the start a param the journey has only through the prototype ("constructor")', async () => {
    const customerId = await customer();
    const { body } = await api(app)
      .post('/v1/journeys')
      .send({ journeyKey: 'bank-loan', customerId, params: { constructor: 1 } })
      .expect(400);
    expect(body.error).toMatchObject({ code: 'invalid_params', message: 'invalid params: body.params.constructor: unknown parameter for journey "bank-loan"' });
    expect(await stack.testDb.db.journey.count({ where: { customerId } })).toBe(0);
  });
});
