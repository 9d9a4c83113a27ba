// Who may call what: every route × every role of the README's matrix (allowed: authenticated and authorised, whatever
// the route then answers; refused: 403 forbidden), an RM scoped to its own customers on every route that bears one
// (another RM's reads exactly as a missing one), 401 for every way of not saying who is calling, API keys made, listed
// and revoked through the API, and the per-principal rate limit.
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROLES, type Role } from '../service/principal.js';
import { TWILIO_STATUS_PATH } from '../channels/sms.js';
import { api, createStackApp, RM_ID, startStack, type Stack } from './support/stack.js';

const OTHER_RM = 'rm-999';
let stack: Stack;
let app: ReturnType<typeof createStackApp>;
/** Ids made in beforeAll: the RM's own customer, journey, message and tasks, and another RM's. */
const f = {
  ownJourney: '',
  otherJourney: '',
  exitJourney: '',
  ownMessage: '',
  otherMessage: '',
  ownTask: '',
  escalatedTask: '',
  escalatedJourney: '',
  escalatedMessage: '',
  otherTask: '',
  matrixTask: '',
  enrolment: '',
};

const probe = (key: string) => ({ key, version: 1, name: 'Matrix probe', stages: [{ key: 'only', label: 'Only', onEnter: [] }], initialStage: 'only' });

async function task(id: string, customerId: string, workflowId: string, rmId: string, escalatedTo?: string) {
  await stack.testDb.db.task.create({
    data: {
      id,
      idempotencyKey: `matrix-${id}`,
      workflowId,
      customerId,
      taskKey: 'call',
      rmId,
      title: 'Call',
      dueAt: new Date(Date.now() + 86_400_000),
      escalatedTo: escalatedTo ?? null,
    },
  });
  return id;
}
async function message(customerId: string, workflowId: string) {
  const row = await stack.testDb.db.message.create({
    data: { idempotencyKey: `matrix-msg-${randomUUID()}`, workflowId, customerId, channel: 'email', template: 'lifecycle-welcome' },
  });
  return row.id;
}

beforeAll(async () => {
  stack = await startStack();
  await stack.startWorker();
  app = createStackApp(stack);
  const admin = api(app);
  await admin.put('/v1/customers/m-own').send({ name: 'Own', rmId: RM_ID }).expect(201);
  await admin.put('/v1/customers/m-other').send({ name: 'Other', rmId: OTHER_RM }).expect(201);
  await admin.put('/v1/customers/m-exit').send({ name: 'Exit', rmId: RM_ID }).expect(201);
  await admin.put('/v1/customers/m-escalated').send({ name: 'Escalated', rmId: OTHER_RM }).expect(201);
  f.ownJourney = (await admin.post('/v1/journeys').send({ journeyKey: 'lifecycle', customerId: 'm-own' }).expect(201)).body.workflowId;
  f.otherJourney = (await admin.post('/v1/journeys').send({ journeyKey: 'lifecycle', customerId: 'm-other' }).expect(201)).body.workflowId;
  f.exitJourney = (await admin.post('/v1/journeys').send({ journeyKey: 'lifecycle', customerId: 'm-exit' }).expect(201)).body.workflowId;
  f.ownMessage = await message('m-own', f.ownJourney);
  f.otherMessage = await message('m-other', f.otherJourney);
  f.ownTask = await task(randomUUID(), 'm-own', f.ownJourney, RM_ID);
  f.escalatedJourney = (await admin.post('/v1/journeys').send({ journeyKey: 'lifecycle', customerId: 'm-escalated' }).expect(201)).body.workflowId;
  f.escalatedMessage = await message('m-escalated', f.escalatedJourney);
  f.escalatedTask = await task(randomUUID(), 'm-escalated', f.escalatedJourney, OTHER_RM, RM_ID);
  f.otherTask = await task(randomUUID(), 'm-other', f.otherJourney, OTHER_RM);
  f.matrixTask = await task(randomUUID(), 'm-own', 'journey:none:m-own', RM_ID);
  // A draft by the designer, for ops (a different principal) to publish and retire.
  await api(app, 'designer').post('/v1/journey-definitions').send(probe('matrix-probe')).expect(201);
  f.enrolment = (
    await admin
      .post('/v1/enrolments')
      .send({ journeyKey: 'lifecycle', customers: ['m-own'], start: false })
      .expect(202)
  ).body.id;
}, 120_000);
afterAll(async () => {
  await stack?.stop();
});

let n = 0;
const eventBody = () => ({ eventId: `matrix-${++n}`, type: 'matrix.ping' });

/** The matrix as the README states it: the roles besides admin that may call each route (admin may call every one). */
const MATRIX: [route: string, method: 'get' | 'post' | 'put' | 'delete', path: () => string, body: (() => object) | undefined, allowed: Role[]][] = [
  ['PUT /v1/customers/:id', 'put', () => '/v1/customers/m-put', () => ({ name: 'Put', rmId: RM_ID }), ['system']],
  ['GET /v1/customers/:id', 'get', () => '/v1/customers/m-own', undefined, ['system', 'rm', 'ops']],
  ['POST /v1/customers/:id/events', 'post', () => '/v1/customers/m-own/events', eventBody, ['system']],
  ['GET /v1/customers/:id/journeys', 'get', () => '/v1/customers/m-own/journeys', undefined, ['rm', 'ops']],
  ['GET /v1/customers/:id/messages', 'get', () => '/v1/customers/m-own/messages', undefined, ['rm', 'ops']],
  ['GET /v1/customers/:id/timeline', 'get', () => '/v1/customers/m-own/timeline', undefined, ['rm', 'ops']],
  ['POST /v1/journeys', 'post', () => '/v1/journeys', () => ({ journeyKey: 'lifecycle', customerId: 'm-own' }), ['system']],
  ['GET /v1/journeys/:id', 'get', () => `/v1/journeys/${f.ownJourney}`, undefined, ['rm', 'ops']],
  ['POST /v1/journeys/:id/events', 'post', () => `/v1/journeys/${f.ownJourney}/events`, eventBody, ['system']],
  ['POST /v1/journeys/:id/exit', 'post', () => `/v1/journeys/${f.exitJourney}/exit`, () => ({ reason: 'matrix' }), ['system', 'ops']],
  ['GET /v1/tasks', 'get', () => '/v1/tasks', undefined, ['rm', 'ops']],
  ['GET /v1/tasks/:id', 'get', () => `/v1/tasks/${f.ownTask}`, undefined, ['rm', 'ops']],
  ['GET /v1/customers', 'get', () => '/v1/customers', undefined, ['rm', 'ops']],
  ['GET /v1/me', 'get', () => '/v1/me', undefined, ['system', 'rm', 'designer', 'ops']],
  ['GET /v1/messages', 'get', () => '/v1/messages?status=deferred', undefined, ['ops']],
  ['POST /v1/tasks/:id/complete', 'post', () => `/v1/tasks/${f.matrixTask}/complete`, () => ({ outcome: 'done' }), ['rm', 'ops']],
  ['GET /v1/journey-definitions/schema', 'get', () => '/v1/journey-definitions/schema', undefined, ['designer', 'ops']],
  ['POST /v1/journey-definitions/validate', 'post', () => '/v1/journey-definitions/validate', () => probe('matrix-validate'), ['designer']],
  [
    'POST /v1/journey-definitions/simulate',
    'post',
    () => '/v1/journey-definitions/simulate',
    () => ({ definition: probe('matrix-sim'), start: '2026-01-01T00:00:00Z', until: '2026-01-02T00:00:00Z' }),
    ['designer'],
  ],
  ['GET /v1/journey-definitions', 'get', () => '/v1/journey-definitions', undefined, ['designer', 'ops']],
  ['POST /v1/journey-definitions', 'post', () => '/v1/journey-definitions', () => probe('matrix-draft'), ['designer']],
  ['GET /v1/journey-definitions/:key/versions/:v', 'get', () => '/v1/journey-definitions/bank-loan/versions/1', undefined, ['designer', 'ops']],
  ['POST /v1/journey-definitions/:key/versions/:v/publish', 'post', () => '/v1/journey-definitions/matrix-probe/versions/1/publish', undefined, ['ops']],
  ['POST /v1/journey-definitions/:key/versions/:v/retire', 'post', () => '/v1/journey-definitions/matrix-probe/versions/1/retire', undefined, ['ops']],
  ['GET /v1/templates', 'get', () => '/v1/templates', undefined, ['designer', 'ops']],
  ['PUT /v1/templates/:key/:channel/:locale', 'put', () => '/v1/templates/matrix-probe/email/en', () => ({ subject: 'Hi', text: 'Hello {{ customer.name }}' }), ['designer']],
  ['GET /v1/templates/:key/:channel/:locale/versions', 'get', () => '/v1/templates/lifecycle-ces/sms/en/versions', undefined, ['designer', 'ops']],
  ['POST /v1/templates/:key/:channel/:locale/versions/:v/publish', 'post', () => '/v1/templates/matrix-probe/email/en/versions/1/publish', undefined, ['ops']],
  ['POST /v1/templates/preview', 'post', () => '/v1/templates/preview', () => ({ subject: 'Hi', text: 'Hello {{ customer.name }}' }), ['designer']],
  ['GET /v1/messages/:id', 'get', () => `/v1/messages/${f.ownMessage}`, undefined, ['rm', 'ops']],
  ['GET /v1/audit', 'get', () => '/v1/audit?limit=5', undefined, ['ops']],
  ['GET /v1/journeys', 'get', () => '/v1/journeys?journeyKey=lifecycle', undefined, ['rm', 'ops']],
  ...(['funnel', 'time-in-stage', 'breakpoints', 'feedback', 'messages', 'lift', 'map'] as const).map((figure): (typeof MATRIX)[number] => [
    `GET /v1/analytics/journeys/:key/${figure}`,
    'get',
    () => `/v1/analytics/journeys/lifecycle/${figure}`,
    undefined,
    ['ops'],
  ]),
  ['DELETE /v1/customers/:id', 'delete', () => '/v1/customers/m-erase-none', undefined, []],
  ['POST /v1/api-keys', 'post', () => '/v1/api-keys', () => ({ role: 'system', name: 'matrix' }), []],
  ['GET /v1/api-keys', 'get', () => '/v1/api-keys', undefined, []],
  ['DELETE /v1/api-keys/:id', 'delete', () => `/v1/api-keys/${randomUUID()}`, undefined, []],
  ['GET /metrics', 'get', () => '/metrics', undefined, ['ops']],
  // Bulk enrolment: privileged like publishing. An enrolment made with `start: false` for the routes on one.
  ['POST /v1/enrolments', 'post', () => '/v1/enrolments', () => ({ journeyKey: 'lifecycle', customers: ['m-own'], start: false }), ['ops']],
  ['GET /v1/enrolments', 'get', () => '/v1/enrolments', undefined, ['ops']],
  ['GET /v1/enrolments/:id', 'get', () => `/v1/enrolments/${f.enrolment}`, undefined, ['ops']],
  ['POST /v1/enrolments/:id/customers', 'post', () => `/v1/enrolments/${f.enrolment}/customers`, () => ({ customers: ['m-other'] }), ['ops']],
  ...(['start', 'pause', 'resume', 'cancel'] as const).map((action): (typeof MATRIX)[number] => [
    `POST /v1/enrolments/:id/${action}`,
    'post',
    () => `/v1/enrolments/${f.enrolment}/${action}`,
    undefined,
    ['ops'],
  ]),
];

const CELLS = MATRIX.flatMap(([route, method, path, body, allowed]) =>
  ROLES.map((role) => ({ route, method, path, body, role, allowed: role === 'admin' || allowed.includes(role) })),
);

describe('the role matrix, every cell', () => {
  it.each(CELLS.map((c) => [`${c.route} as ${c.role}: ${c.allowed ? 'allowed' : 'refused 403'}`, c] as const))('%s', async (_name, c) => {
    let req = api(app, c.role)[c.method](c.path());
    if (c.body) req = req.send(c.body());
    const res = await req;
    if (c.allowed) {
      expect(res.status, JSON.stringify(res.body)).not.toBe(401);
      expect(res.body?.error?.code, JSON.stringify(res.body)).not.toBe('forbidden');
      expect(res.status, JSON.stringify(res.body)).toBeLessThan(500);
    } else {
      expect(res.status).toBe(403);
      expect(res.body.error).toEqual({ code: 'forbidden', message: `the ${c.role} role may not do this` });
    }
  });

  it('the allowed cells did what they say: a customer put by system, a draft by designer, a publish and retire by ops', async () => {
    const admin = api(app);
    expect((await admin.get('/v1/customers/m-put').expect(200)).body.rmId).toBe(RM_ID);
    expect((await admin.get('/v1/journey-definitions/matrix-probe/versions/1').expect(200)).body.status).toBe('retired');
    expect((await admin.get('/v1/journey-definitions/matrix-draft/versions/1').expect(200)).body.status).toBe('draft');
    expect((await admin.get('/v1/templates/matrix-probe/email/en/versions').expect(200)).body.versions.find((v: { version: number }) => v.version === 1).status).toBe('published');
  });
});

describe('an rm sees only its own customers', () => {
  const missing = (what: string, id: string) => ({ error: { code: 'not_found', message: `${what} "${id}" not found` } });

  it.each([
    ['the customer', (c: string) => `/v1/customers/${c}`],
    ["the customer's journeys", (c: string) => `/v1/customers/${c}/journeys`],
    ["the customer's messages", (c: string) => `/v1/customers/${c}/messages`],
    ["the customer's timeline", (c: string) => `/v1/customers/${c}/timeline`],
  ])("%s: its own answers 200; another RM's answers 404 exactly as a missing one; ops reads both", async (_name, path) => {
    const rm = api(app, 'rm');
    await rm.get(path('m-own')).expect(200);
    const other = await rm.get(path('m-other')).expect(404);
    const none = await rm.get(path('m-none')).expect(404);
    expect(other.body).toEqual(missing('customer', 'm-other'));
    expect(none.body).toEqual(missing('customer', 'm-none'));
    await api(app, 'ops').get(path('m-other')).expect(200);
  });

  it("a journey: its own answers 200; another RM's answers 404 exactly as a missing one; ops reads both", async () => {
    const rm = api(app, 'rm');
    expect((await rm.get(`/v1/journeys/${f.ownJourney}`).expect(200)).body.customerId).toBe('m-own');
    expect((await rm.get(`/v1/journeys/${f.otherJourney}`).expect(404)).body).toEqual(missing('journey', f.otherJourney));
    expect((await rm.get('/v1/journeys/journey:lifecycle:m-none').expect(404)).body).toEqual(missing('journey', 'journey:lifecycle:m-none'));
    await api(app, 'ops').get(`/v1/journeys/${f.otherJourney}`).expect(200);
  });

  it("a message: its own answers 200; another RM's answers 404 exactly as a missing one; ops reads both", async () => {
    const rm = api(app, 'rm');
    expect((await rm.get(`/v1/messages/${f.ownMessage}`).expect(200)).body.id).toBe(f.ownMessage);
    expect((await rm.get(`/v1/messages/${f.otherMessage}`).expect(404)).body).toEqual(missing('message', f.otherMessage));
    const none = randomUUID();
    expect((await rm.get(`/v1/messages/${none}`).expect(404)).body).toEqual(missing('message', none));
    await api(app, 'ops').get(`/v1/messages/${f.otherMessage}`).expect(200);
  });

  it('the task list holds its own and escalated-to-it tasks only, whatever the query asks; ops lists every RM', async () => {
    const rm = api(app, 'rm');
    const ids = (res: request.Response) => (res.body.tasks as { id: string }[]).map((t) => t.id).sort();
    expect(ids(await rm.get('/v1/tasks?status=open').expect(200))).toEqual([f.ownTask, f.escalatedTask].sort());
    expect(ids(await rm.get(`/v1/tasks?rmId=${RM_ID}&status=open`).expect(200))).toEqual([f.ownTask, f.escalatedTask].sort());
    expect(ids(await rm.get('/v1/tasks?customerId=m-escalated').expect(200))).toEqual([f.escalatedTask]);
    expect(ids(await rm.get('/v1/tasks?customerId=m-other').expect(200))).toEqual([]);
    expect(ids(await rm.get(`/v1/tasks?rmId=${OTHER_RM}`).expect(200))).toEqual([]);
    expect(ids(await api(app, 'ops').get(`/v1/tasks?rmId=${OTHER_RM}&status=open`).expect(200))).toEqual([f.escalatedTask, f.otherTask].sort());
  });

  it.each([
    ['the customer', '/v1/customers/m-escalated'],
    ["the customer's journeys", '/v1/customers/m-escalated/journeys'],
    ["the customer's messages", '/v1/customers/m-escalated/messages'],
    ["the customer's timeline", '/v1/customers/m-escalated/timeline'],
  ])("%s of another RM's customer reads while a task of theirs escalated to the rm is open", async (_name, path) => {
    await api(app, 'rm').get(path).expect(200);
  });

  it("that customer's journey and message read too while the escalated task is open", async () => {
    const rm = api(app, 'rm');
    expect((await rm.get(`/v1/journeys/${f.escalatedJourney}`).expect(200)).body.customerId).toBe('m-escalated');
    expect((await rm.get(`/v1/messages/${f.escalatedMessage}`).expect(200)).body.id).toBe(f.escalatedMessage);
  });

  it("completing: another RM's task answers 404 exactly as a missing one and stays open; its own and an escalated one complete, which ends the escalated customer's hand-over", async () => {
    const rm = api(app, 'rm');
    expect((await rm.post(`/v1/tasks/${f.otherTask}/complete`).send({ outcome: 'done' }).expect(404)).body).toEqual(missing('task', f.otherTask));
    const none = randomUUID();
    expect((await rm.post(`/v1/tasks/${none}/complete`).send({ outcome: 'done' }).expect(404)).body).toEqual(missing('task', none));
    expect((await stack.testDb.db.task.findUniqueOrThrow({ where: { id: f.otherTask } })).status).toBe('open');
    expect((await rm.post(`/v1/tasks/${f.ownTask}/complete`).send({ outcome: 'done' }).expect(200)).body.status).toBe('done');
    expect((await rm.post(`/v1/tasks/${f.escalatedTask}/complete`).send({ outcome: 'done' }).expect(200)).body.status).toBe('done');
    expect((await rm.get('/v1/customers/m-escalated').expect(404)).body).toEqual(missing('customer', 'm-escalated'));
    expect((await rm.get(`/v1/journeys/${f.escalatedJourney}`).expect(404)).body).toEqual(missing('journey', f.escalatedJourney));
    expect((await rm.get(`/v1/messages/${f.escalatedMessage}`).expect(404)).body).toEqual(missing('message', f.escalatedMessage));
  });

  it("reading one task: another RM's answers 404 exactly as a missing one; its own and an escalated one answer", async () => {
    const rm = api(app, 'rm');
    expect((await rm.get(`/v1/tasks/${f.otherTask}`).expect(404)).body).toEqual(missing('task', f.otherTask));
    expect((await rm.get(`/v1/tasks/${f.escalatedTask}`).expect(200)).body).toMatchObject({ id: f.escalatedTask, customerName: 'Escalated' });
    expect((await rm.get(`/v1/tasks/${f.ownTask}`).expect(200)).body).toMatchObject({ id: f.ownTask, customerName: 'Own', journeyKey: 'lifecycle' });
  });

  it("the customer list is the RM's own book; ops lists every RM's customers; /v1/me names the caller's role and RM", async () => {
    const ids = (res: request.Response) => (res.body.customers as { id: string }[]).map((c) => c.id);
    const own = ids(await api(app, 'rm').get('/v1/customers').expect(200));
    expect(own).toEqual(expect.arrayContaining(['m-exit', 'm-own']));
    expect(own).not.toContain('m-other');
    expect(ids(await api(app, 'ops').get('/v1/customers').expect(200))).toEqual(expect.arrayContaining(['m-exit', 'm-other', 'm-own']));
    expect((await api(app, 'rm').get('/v1/me').expect(200)).body).toMatchObject({ role: 'rm', rmId: RM_ID, via: 'api_key' });
    expect((await api(app, 'ops').get('/v1/me').expect(200)).body).not.toHaveProperty('rmId');
  });

  it('an rm key for another RM sees that RM’s customer and not this one', async () => {
    const other = api(app, { token: await stack.keyFor('rm', OTHER_RM) });
    await other.get('/v1/customers/m-other').expect(200);
    expect((await other.get('/v1/customers/m-own').expect(404)).body).toEqual(missing('customer', 'm-own'));
  });
});

describe('401 unauthenticated', () => {
  const unauthenticated = (res: request.Response) => {
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('unauthenticated');
    expect(typeof res.body.error.message).toBe('string');
    expect(res.headers['www-authenticate']).toBe('Bearer');
  };

  it.each([
    ['no Authorization header', undefined],
    ['a Basic header', 'Basic YWRtaW46YWRtaW4='],
    ['Bearer with no token', 'Bearer '],
    ['an unknown key', 'Bearer jk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'],
    ['a short token', 'Bearer abc'],
    ['a key with a character changed', () => `Bearer ${stack.keys.admin.slice(0, -1)}${stack.keys.admin.endsWith('A') ? 'B' : 'A'}`],
  ])('%s: every route answers 401, and a write changes nothing', async (_name, header) => {
    const h = typeof header === 'function' ? header() : header;
    for (const [, method, path, body] of MATRIX) {
      let req = request(app)[method](path());
      if (h !== undefined) req = req.set('authorization', h);
      if (body) req = req.send(body());
      unauthenticated(await req);
    }
    unauthenticated(await request(app).put('/v1/customers/m-anon').send({ name: 'Anon' }));
    await api(app).get('/v1/customers/m-anon').expect(404);
    // An unknown route too: no hint which routes exist.
    unauthenticated(await request(app).get('/v1/nothing-here'));
  });

  it("the health checks, the Twilio callback and the customers' email links (each checks its own signature) answer without a key", async () => {
    await request(app).get('/healthz').expect(200);
    await request(app).get('/readyz').expect(200);
    const twilio = await request(app).post(TWILIO_STATUS_PATH).type('form').send({ MessageSid: 'SM1', MessageStatus: 'delivered' });
    expect(twilio.status).toBe(403);
    expect(twilio.body.error.code).toBe('invalid_signature');
    // The one-click unsubscribe and the preference page: a link that is not signed by the service is refused (their
    // working cases are test/preferences.test.ts).
    const unsubscribe = await request(app).post('/u/not-a-signed-link').type('form').send('List-Unsubscribe=One-Click');
    expect(unsubscribe.status).toBe(403);
    expect(unsubscribe.body.error.code).toBe('invalid_link');
    await request(app).get('/p/not-a-signed-link').expect(403);
    await request(app).post('/p/not-a-signed-link').type('form').send({ choice: 'fewer_messages' }).expect(403);
  });
});

describe('API keys through the API', () => {
  it('an admin makes a key (shown once), it authenticates with its role, the list never shows it or its hash, and a revoked key is 401', async () => {
    const admin = api(app);
    const made = await admin.post('/v1/api-keys').send({ role: 'rm', rmId: OTHER_RM, name: 'Other RM laptop' }).expect(201);
    expect(made.body.key).toMatch(/^jk_[A-Za-z0-9_-]{43}$/);
    expect(made.body).toMatchObject({ role: 'rm', rmId: OTHER_RM, name: 'Other RM laptop', prefix: made.body.key.slice(0, 9), revokedAt: null });
    const mine = api(app, { token: made.body.key });
    await mine.get('/v1/customers/m-other').expect(200);
    await mine.put('/v1/customers/m-other').send({ name: 'x' }).expect(403);

    const list = (await admin.get('/v1/api-keys').expect(200)).body.keys as Record<string, unknown>[];
    const listed = list.find((k) => k.id === made.body.id)!;
    expect(listed).toMatchObject({ role: 'rm', rmId: OTHER_RM, prefix: made.body.key.slice(0, 9), createdBy: expect.any(String) });
    expect(JSON.stringify(list)).not.toContain(made.body.key);
    expect(list.every((k) => !('key' in k) && !('keyHash' in k))).toBe(true);

    const revoked = await admin.delete(`/v1/api-keys/${made.body.id}`).expect(200);
    expect(revoked.body.revokedAt).toEqual(expect.any(String));
    expect((await mine.get('/v1/customers/m-other').expect(401)).body.error.code).toBe('unauthenticated');
  });

  it.each([
    ['an rm key without an rmId', { role: 'rm' }],
    ['an rmId on a non-rm key', { role: 'ops', rmId: 'rm-1' }],
    ['an unknown role', { role: 'root' }],
    ['an unknown field', { role: 'ops', key: 'chosen-by-me-0123456789abcdef' }],
  ])('%s is refused 400 and makes no key', async (_name, body) => {
    const before = await stack.testDb.db.apiKey.count();
    expect((await api(app).post('/v1/api-keys').send(body).expect(400)).body.error.code).toBe('invalid_request');
    expect(await stack.testDb.db.apiKey.count()).toBe(before);
  });

  it('revoking an unknown key answers 404', async () => {
    await api(app).delete(`/v1/api-keys/${randomUUID()}`).expect(404);
    await api(app).delete('/v1/api-keys/not-a-uuid').expect(404);
  });

  it('a key is stored as its SHA-256 hash, never in clear', async () => {
    const rows = await stack.testDb.db.apiKey.findMany();
    const all = JSON.stringify(rows);
    for (const key of Object.values(stack.keys)) expect(all).not.toContain(key);
    expect(rows.every((r) => /^[0-9a-f]{64}$/.test(r.keyHash))).toBe(true);
  });
});

describe('rate limits per principal', () => {
  it('past the limit a principal gets 429 rate_limited with Retry-After; another principal is not held up', async () => {
    const limited = createStackApp(stack, { rateLimitPerMinute: 3 });
    for (let i = 0; i < 3; i++) await api(limited, 'ops').get('/v1/templates').expect(200);
    const res = await api(limited, 'ops').get('/v1/templates').expect(429);
    expect(res.body.error.code).toBe('rate_limited');
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(res.headers['retry-after'])).toBeLessThanOrEqual(60);
    await api(limited, 'designer').get('/v1/templates').expect(200);
    // Unauthenticated requests never reach the limiter (nor count against anyone).
    await request(limited).get('/v1/templates').expect(401);
  });
});
