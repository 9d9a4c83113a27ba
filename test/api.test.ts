// Every endpoint's bad input: the documented 4xx, a clear message, and nothing written.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tableCounts } from './support/db.js';
import { api, createStackApp, eventually, startStack, type Stack } from './support/stack.js';

let stack: Stack;
let app: ReturnType<typeof createStackApp>;
let endedJourney: string;
let doneTask: string;

beforeAll(async () => {
  stack = await startStack();
  await stack.startWorker();
  app = createStackApp(stack);
  await api(app).put('/v1/customers/c-ok').send({ name: 'Ok', email: 'ok@example.com', phone: '+8613800138000' }).expect(201);
  // A journey that has ended, and a task that is done, for the 409 cases.
  const started = await api(app)
    .post('/v1/journeys')
    .send({ journeyKey: 'bank-loan', customerId: 'c-ok', businessKey: 'ended', params: { applicationAssistAfter: 'PT1S' } })
    .expect(201);
  endedJourney = started.body.workflowId;
  await api(app).post(`/v1/journeys/${endedJourney}/events`).send({ eventId: 'ended-1', type: 'loan.application_started' }).expect(202);
  const task = await eventually(
    () => stack.testDb.db.task.findFirst({ where: { workflowId: endedJourney } }),
    (t) => t !== null,
  );
  doneTask = task!.id;
  await api(app).post(`/v1/tasks/${doneTask}/complete`).send({ outcome: 'closed' }).expect(200);
  await api(app).post(`/v1/journeys/${endedJourney}/exit`).send({ reason: 'test' }).expect(202);
  await eventually(
    () => stack.testDb.db.journey.findUniqueOrThrow({ where: { workflowId: endedJourney } }),
    (j) => j.status === 'exited',
  );
  await api(app).post('/v1/customers/c-ok/events').send({ eventId: 'used-1', type: 'loan.drawdown' }).expect(202);
});
afterAll(async () => stack?.stop());

type Case = [name: string, method: 'get' | 'put' | 'post', path: () => string, body: unknown, status: number, code: string, message?: string];

const cases: Case[] = [
  ['customer: bad email', 'put', () => '/v1/customers/c-new', { email: 'not-an-email' }, 400, 'invalid_request', 'body.email'],
  ['customer: bad phone', 'put', () => '/v1/customers/c-new', { phone: '13800138000' }, 400, 'invalid_request', 'E.164'],
  ['customer: bad time zone', 'put', () => '/v1/customers/c-new', { timeZone: 'Mars/Olympus' }, 400, 'invalid_request', 'IANA time zone'],
  ['customer: bad locale', 'put', () => '/v1/customers/c-new', { locale: 'english' }, 400, 'invalid_request', 'body.locale'],
  ['customer: unknown field', 'put', () => '/v1/customers/c-new', { shoeSize: 42 }, 400, 'invalid_request', 'shoeSize'],
  ['customer: bad consent', 'put', () => '/v1/customers/c-new', { consents: { sms: 'yes' } }, 400, 'invalid_request', 'body.consents.sms'],
  ['customer: bad id', 'put', () => '/v1/customers/a%20b', { name: 'x' }, 400, 'invalid_request', 'params'],
  ['customer: body is an array', 'put', () => '/v1/customers/c-new', [1, 2], 400, 'invalid_request'],
  ['customer: unknown', 'get', () => '/v1/customers/nobody', undefined, 404, 'not_found', 'customer "nobody" not found'],
  ['start: missing journeyKey', 'post', () => '/v1/journeys', { customerId: 'c-ok' }, 400, 'invalid_request', 'body.journeyKey'],
  ['start: unknown journey', 'post', () => '/v1/journeys', { journeyKey: 'space-loan', customerId: 'c-ok' }, 404, 'not_found', 'journey "space-loan" not found'],
  ['start: unknown customer', 'post', () => '/v1/journeys', { journeyKey: 'bank-loan', customerId: 'nobody' }, 404, 'not_found', 'customer "nobody" not found'],
  [
    'start: bad param value',
    'post',
    () => '/v1/journeys',
    { journeyKey: 'bank-loan', customerId: 'c-ok', params: { comparisonNudgeAfter: 'soon' } },
    400,
    'invalid_params',
    'comparisonNudgeAfter',
  ],
  ['start: unknown param', 'post', () => '/v1/journeys', { journeyKey: 'bank-loan', customerId: 'c-ok', params: { colour: 'red' } }, 400, 'invalid_params', 'colour'],
  ['start: bad businessKey', 'post', () => '/v1/journeys', { journeyKey: 'bank-loan', customerId: 'c-ok', businessKey: 'a b' }, 400, 'invalid_request', 'body.businessKey'],
  ['event: unknown customer', 'post', () => '/v1/customers/nobody/events', { eventId: 'x1', type: 'loan.drawdown' }, 404, 'not_found'],
  ['event: missing eventId', 'post', () => '/v1/customers/c-ok/events', { type: 'loan.drawdown' }, 400, 'invalid_request', 'body.eventId'],
  ['event: bad type', 'post', () => '/v1/customers/c-ok/events', { eventId: 'x2', type: 'Drawdown!' }, 400, 'invalid_request', 'event type'],
  [
    'event: bad occurredAt',
    'post',
    () => '/v1/customers/c-ok/events',
    { eventId: 'x3', type: 'loan.drawdown', occurredAt: 'yesterday' },
    400,
    'invalid_request',
    'body.occurredAt',
  ],
  ['event: data not an object', 'post', () => '/v1/customers/c-ok/events', { eventId: 'x4', type: 'loan.drawdown', data: [1] }, 400, 'invalid_request', 'body.data'],
  ['event: eventId reused for another event', 'post', () => '/v1/customers/c-ok/events', { eventId: 'used-1', type: 'loan.repaid' }, 409, 'event_id_reused'],
  ['journey event: unknown journey', 'post', () => '/v1/journeys/journey:bank-loan:nobody/events', { eventId: 'x5', type: 'loan.drawdown' }, 404, 'not_found'],
  ['journey event: journey ended', 'post', () => `/v1/journeys/${endedJourney}/events`, { eventId: 'x6', type: 'loan.drawdown' }, 409, 'journey_ended'],
  ['journey: unknown', 'get', () => '/v1/journeys/journey:bank-loan:nobody', undefined, 404, 'not_found'],
  ['customer journeys: unknown customer', 'get', () => '/v1/customers/nobody/journeys', undefined, 404, 'not_found'],
  ['customer messages: unknown customer', 'get', () => '/v1/customers/nobody/messages', undefined, 404, 'not_found'],
  ['customer messages: bad limit', 'get', () => '/v1/customers/c-ok/messages?limit=0', undefined, 400, 'invalid_request', 'query.limit'],
  ['exit: missing reason', 'post', () => `/v1/journeys/${endedJourney}/exit`, {}, 400, 'invalid_request', 'body.reason'],
  ['exit: unknown journey', 'post', () => '/v1/journeys/journey:bank-loan:nobody/exit', { reason: 'x' }, 404, 'not_found'],
  ['exit: journey ended', 'post', () => `/v1/journeys/${endedJourney}/exit`, { reason: 'again' }, 409, 'journey_ended'],
  ['tasks: bad status', 'get', () => '/v1/tasks?status=maybe', undefined, 400, 'invalid_request', 'query.status'],
  ['tasks: unknown filter', 'get', () => '/v1/tasks?colour=red', undefined, 400, 'invalid_request', 'colour'],
  ['complete: unknown task', 'post', () => '/v1/tasks/00000000-0000-0000-0000-000000000000/complete', { outcome: 'closed' }, 404, 'not_found'],
  ['complete: bad outcome', 'post', () => `/v1/tasks/${doneTask}/complete`, { outcome: 'Not Now!' }, 400, 'invalid_request', 'body.outcome'],
  ['complete: already done', 'post', () => `/v1/tasks/${doneTask}/complete`, { outcome: 'interested' }, 409, 'task_closed'],
  ['unknown route', 'get', () => '/v1/nothing-here', undefined, 404, 'not_found'],
];

describe('bad input gets a 4xx and changes nothing', () => {
  it.each(cases)('%s', async (_name, method, path, body, status, code, message) => {
    const before = await tableCounts(stack.testDb.db);
    const res = await (body === undefined
      ? api(app)[method](path())
      : api(app)
          [method](path())
          .send(body as object));
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(code);
    expect(typeof res.body.error.message).toBe('string');
    if (message) expect(res.body.error.message).toContain(message);
    expect(await tableCounts(stack.testDb.db)).toEqual(before);
  });

  it('answers malformed JSON with 400 invalid_json', async () => {
    const res = await api(app).post('/v1/journeys').set('content-type', 'application/json').send('{"journeyKey": ');
    expect(res.status).toBe(400);
    expect(res.body.error).toEqual({ code: 'invalid_json', message: 'request body is not valid JSON' });
  });
});

describe('idempotency', () => {
  it('starting the same journey twice answers the same workflow, 201 then 200', async () => {
    await api(app).put('/v1/customers/c-twice').send({ name: 'Twice' }).expect(201);
    const body = { journeyKey: 'bank-loan', customerId: 'c-twice' };
    const first = await api(app).post('/v1/journeys').send(body).expect(201);
    const again = await api(app).post('/v1/journeys').send(body).expect(200);
    expect(first.body).toEqual({
      workflowId: 'journey:bank-loan:c-twice',
      journeyKey: 'bank-loan',
      version: 1,
      customerId: 'c-twice',
      stage: 'awareness',
      status: 'running',
      cohort: 'treated',
    });
    expect(again.body.workflowId).toBe(first.body.workflowId);
    expect(await stack.testDb.db.journey.count({ where: { customerId: 'c-twice' } })).toBe(1);
  });

  it('concurrent identical starts make one workflow', async () => {
    await api(app).put('/v1/customers/c-race').send({ name: 'Race' }).expect(201);
    const body = { journeyKey: 'bank-loan', customerId: 'c-race' };
    const answers = await Promise.all([1, 2, 3, 4].map(() => api(app).post('/v1/journeys').send(body)));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 201]);
    expect(new Set(answers.map((a) => a.body.workflowId)).size).toBe(1);
  });

  it('the same eventId again is a duplicate with no second effect', async () => {
    await api(app).put('/v1/customers/c-dup').send({ name: 'Dup', email: 'dup@example.com' }).expect(201);
    const { body: j } = await api(app).post('/v1/journeys').send({ journeyKey: 'bank-loan', customerId: 'c-dup' }).expect(201);
    const event = { eventId: 'dup-1', type: 'loan.stage_changed', data: { stage: 'interest' } };
    const first = await api(app).post('/v1/customers/c-dup/events').send(event).expect(202);
    const again = await api(app).post('/v1/customers/c-dup/events').send(event).expect(202);
    expect(first.body).toEqual({ eventId: 'dup-1', duplicate: false, deliveredTo: [j.workflowId] });
    expect(again.body).toEqual({ eventId: 'dup-1', duplicate: true, deliveredTo: [j.workflowId] });
    await stack.smtp.waitFor((m) => m.to.includes('dup@example.com'));
    const view = await eventually(
      () =>
        api(app)
          .get(`/v1/journeys/${j.workflowId}`)
          .then((r) => r.body),
      (v) => v.stage === 'interest',
    );
    expect(view.stageHistory.map((h: { stage: string }) => h.stage)).toEqual(['awareness', 'interest']);
    expect(await stack.testDb.db.message.count({ where: { customerId: 'c-dup' } })).toBe(1);
  });

  it("a channel opt-out event withdraws that channel's consent without ending the journey", async () => {
    await api(app)
      .put('/v1/customers/c-sms')
      .send({ name: 'Sms', consents: { email: true } })
      .expect(201);
    await api(app)
      .post('/v1/customers/c-sms/events')
      .send({ eventId: 'sms-out', type: 'customer.opted_out', data: { channel: 'sms' } })
      .expect(202);
    const c = await api(app).get('/v1/customers/c-sms').expect(200);
    expect(c.body.consents).toEqual({ email: true, sms: false });
  });
});
