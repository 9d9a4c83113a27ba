// Erasure end to end on the real stack: DELETE /v1/customers/:id ends the customer's running journeys (exited, reason
// erased), removes every trace of their personal data from Postgres, keeps the facts analytics count under the same
// id, and leaves a customer no route shows and no send reaches.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JourneyWorkflowInput } from '../workflows/journey.js';
import { CHANNEL_NAMES } from '../engine/channels.js';
import { api, createStackApp, eventually, startStack, type Stack } from './support/stack.js';

let stack: Stack;
let app: ReturnType<typeof createStackApp>;
let worker: { stop(): Promise<void> };

beforeAll(async () => {
  stack = await startStack();
  worker = await stack.startWorker();
  app = createStackApp(stack);
  const probe = {
    key: 'erasure-probe',
    version: 1,
    name: 'Erasure probe',
    initialStage: 'welcome',
    stages: [
      {
        key: 'welcome',
        label: 'Welcome',
        onEnter: [
          { type: 'send', channel: 'sms', template: 'erasure-note' },
          { type: 'stage', stage: 'waiting' },
        ],
      },
      {
        key: 'waiting',
        label: 'Waiting',
        onEnter: [
          { type: 'delay', duration: 'P30D' },
          { type: 'send', channel: 'sms', template: 'erasure-note' },
        ],
      },
    ],
  };
  await api(app, 'designer').put('/v1/templates/erasure-note/sms/en').send({ text: 'Dear {{ customer.name }}, your note.' }).expect(201);
  await api(app, 'ops').post('/v1/templates/erasure-note/sms/en/versions/1/publish').expect(200);
  const d = await api(app, 'designer').post('/v1/journey-definitions').send(probe).expect(201);
  await api(app, 'ops').post(`/v1/journey-definitions/erasure-probe/versions/${d.body.version}/publish`).expect(200);
});
afterAll(async () => {
  await worker?.stop();
  await stack?.stop();
});

/** Every row of every table of the service's database whose text contains `needle` (case-insensitive). */
async function rowsContaining(needle: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: stack.testDb.url });
  await client.connect();
  try {
    const tables = await client.query<{ table_name: string }>(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`);
    const hits: string[] = [];
    for (const { table_name } of tables.rows) {
      const r = await client.query<{ n: string }>(`SELECT count(*) AS n FROM "${table_name}" t WHERE t::text ILIKE $1`, [`%${needle}%`]);
      if (Number(r.rows[0]!.n) > 0) hits.push(`${table_name}: ${r.rows[0]!.n}`);
    }
    return hits;
  } finally {
    await client.end();
  }
}

describe('erasure', () => {
  const id = 'er-1';
  const marker = 'Qzmarker';
  const phone = '+8613977700011';
  let workflowId: string;

  it('ends the running journey (exited, reason erased), removes the personal data and keeps the facts', async () => {
    const system = api(app, 'system');
    await system
      .put(`/v1/customers/${id}`)
      .send({ name: `Ann ${marker}`, email: `ann.${marker}@example.com`, phone, segment: 'retail', rmId: 'rm-9', attributes: { tier: marker }, consents: { sms: true } })
      .expect(201);
    workflowId = (await system.post('/v1/journeys').send({ journeyKey: 'erasure-probe', customerId: id }).expect(201)).body.workflowId;
    expect((await stack.sms.waitFor((m) => m.to === phone)).body).toBe(`Dear Ann ${marker}, your note.`);
    await system
      .post(`/v1/customers/${id}/events`)
      .send({ eventId: 'er-1-e1', type: 'probe.noted', data: { caseId: 'K1', note: `called by ${marker}` } })
      .expect(202);
    await eventually(
      () => stack.testDb.db.journey.findUniqueOrThrow({ where: { workflowId } }),
      (j) => j.stage === 'waiting',
    );
    await eventually(
      () => stack.testDb.db.message.findFirst({ where: { customerId: id } }),
      (m) => m?.status === 'sent',
    );
    const transitionsBefore = await stack.testDb.db.stageTransition.findMany({ where: { workflowId }, orderBy: { seq: 'asc' } });
    expect(transitionsBefore.map((t) => t.toStage)).toEqual(['welcome', 'waiting']);
    expect(await rowsContaining(marker)).not.toEqual([]);

    expect((await api(app, 'ops').delete(`/v1/customers/${id}`).expect(403)).body.error.code).toBe('forbidden');
    const erased = await api(app, 'admin').delete(`/v1/customers/${id}`).expect(202);
    expect(erased.body).toMatchObject({ customerId: id, journeysExited: [workflowId] });

    const journey = await eventually(
      () => stack.testDb.db.journey.findUniqueOrThrow({ where: { workflowId } }),
      (j) => j.status === 'exited',
    );
    expect(journey).toMatchObject({ exitReason: 'erased', customerId: id, journeyKey: 'erasure-probe', stage: 'waiting', params: {} });
    expect(await rowsContaining(marker)).toEqual([]);
    expect(await rowsContaining(phone.slice(1))).toEqual([]);

    const customer = await stack.testDb.db.customer.findUniqueOrThrow({ where: { id } });
    expect(customer).toMatchObject({ name: null, email: null, phone: null, segment: null, rmId: null, attributes: {}, erasedAt: expect.any(Date) });
    const messages = await stack.testDb.db.message.findMany({ where: { customerId: id }, include: { events: true } });
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({ status: 'sent', channel: 'sms', template: 'erasure-note', recipient: null, subject: null, body: null });
    expect(messages[0]!.events.map((e) => e.type)).toEqual(expect.arrayContaining(['created', 'sent']));
    const inbound = await stack.testDb.db.inboundEvent.findUniqueOrThrow({ where: { eventId: 'er-1-e1' } });
    expect(inbound).toMatchObject({ customerId: id, type: 'probe.noted', data: {} });
    // Consents are withdrawn with their provenance; the history of what the customer had agreed to stays.
    const consentChanges = await stack.testDb.db.consentChange.findMany({ where: { customerId: id }, orderBy: { id: 'asc' } });
    // Every channel's consent is withdrawn (the customer had given SMS only).
    expect(consentChanges.map((c) => [c.channel, c.from, c.to, c.source])).toEqual([
      ['sms', null, true, 'principal'],
      ...CHANNEL_NAMES.map((c) => [c, c === 'sms' ? true : null, false, 'erasure']),
    ]);
    expect(consentChanges.filter((c) => c.source === 'erasure').every((c) => c.principalId !== null && c.requestId !== null)).toBe(true);
    expect(customer.consents).toEqual(Object.fromEntries(CHANNEL_NAMES.map((c) => [c, false])));
    const transitionsAfter = await stack.testDb.db.stageTransition.findMany({ where: { workflowId }, orderBy: { seq: 'asc' } });
    expect(transitionsAfter.map((t) => [t.toStage, t.enteredAt])).toEqual(transitionsBefore.map((t) => [t.toStage, t.enteredAt]));
  });

  it('afterwards the customer reads as 404, its id cannot be put again (409 customer_erased) and events for it are 404', async () => {
    const system = api(app, 'system');
    expect((await system.get(`/v1/customers/${id}`).expect(404)).body.error.code).toBe('not_found');
    expect((await api(app, 'ops').get(`/v1/customers/${id}/messages`).expect(404)).body.error.code).toBe('not_found');
    expect((await api(app, 'ops').get(`/v1/customers/${id}/journeys`).expect(404)).body.error.code).toBe('not_found');
    const put = await system.put(`/v1/customers/${id}`).send({ name: 'Someone else' }).expect(409);
    expect(put.body.error.code).toBe('customer_erased');
    expect((await stack.testDb.db.customer.findUniqueOrThrow({ where: { id } })).name).toBeNull();
    expect((await system.post(`/v1/customers/${id}/events`).send({ eventId: 'er-1-e2', type: 'probe.noted', data: {} }).expect(404)).body.error.code).toBe('not_found');
    expect(
      (
        await system
          .post(`/v1/journeys/${encodeURIComponent(workflowId)}/events`)
          .send({ eventId: 'er-1-e3', type: 'probe.noted' })
          .expect(404)
      ).body.error.code,
    ).toBe('not_found');
    expect((await system.post('/v1/journeys').send({ journeyKey: 'lifecycle', customerId: id }).expect(404)).body.error.code).toBe('not_found');
    expect(await stack.testDb.db.inboundEvent.count({ where: { customerId: id } })).toBe(1);
  });

  it('asking again answers 202 with nothing left to end; an unknown customer is 404', async () => {
    expect((await api(app, 'admin').delete(`/v1/customers/${id}`).expect(202)).body).toMatchObject({ customerId: id, journeysExited: [] });
    expect((await api(app, 'admin').delete('/v1/customers/nobody-here').expect(404)).body.error.code).toBe('not_found');
  });

  it('a journey that still runs for an erased customer cannot send: the send is suppressed with reason erased', async () => {
    // A journey started outside the API (an operator, a start that raced the erasure) reaches the send activity.
    const definition = (await stack.definitions.latestPublished('erasure-probe'))!.definition;
    const input: JourneyWorkflowInput = { definition, customerId: id, params: {}, profile: { segment: null, locale: 'en', attributes: {} } };
    const wf = 'erasure-probe-late';
    await stack.env.client.workflow.start('journeyWorkflow', { taskQueue: stack.taskQueue, workflowId: wf, args: [input] });
    const message = await eventually(
      () => stack.testDb.db.message.findFirst({ where: { workflowId: wf } }),
      (m) => m?.status === 'suppressed',
    );
    expect(message).toMatchObject({ statusReason: 'erased', recipient: null, body: null });
    expect(stack.sms.messages().filter((m) => m.to === phone)).toHaveLength(1);
  });

  it('is recorded in the audit log: who asked, with what outcome, newest first', async () => {
    const entries = await eventually(
      () =>
        api(app, 'ops')
          .get(`/v1/audit?action=customer.erase&target=${id}`)
          .then((r) => r.body.entries as { role: string; status: number; outcome: string }[]),
      (e) => e.length === 3,
    );
    expect(entries.map((e) => [e.role, e.status, e.outcome])).toEqual([
      ['admin', 202, 'ok'],
      ['admin', 202, 'ok'],
      ['ops', 403, 'refused'],
    ]);
  });
});
