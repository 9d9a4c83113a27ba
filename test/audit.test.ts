// The audit log on the real stack: every kind of change and every read of a customer's personal data leaves one entry
// (principal, role, action, target, outcome, request id), ids only; refusals are recorded too; the database itself
// refuses to change or remove an entry; consent changes keep where they came from.
import type { Response } from 'supertest';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUDITED_ROUTES } from '../api/audit.js';
import type { Role } from '../service/principal.js';
import { api, createStackApp, eventually, RM_ID, startStack, type Stack } from './support/stack.js';

let stack: Stack;
let app: ReturnType<typeof createStackApp>;
let worker: { stop(): Promise<void> };
const principal = {} as Record<Role, string>;

beforeAll(async () => {
  stack = await startStack();
  worker = await stack.startWorker();
  app = createStackApp(stack);
  for (const [role, key] of Object.entries(stack.keys) as [Role, string][]) principal[role] = (await stack.keyStore.authenticate(key))!.id;
});
afterAll(async () => {
  await worker?.stop();
  await stack?.stop();
});

type Entry = {
  id: string;
  principalId: string;
  role: string;
  action: string;
  targetType: string | null;
  targetId: string | null;
  outcome: string;
  status: number;
  requestId: string;
  detail: Record<string, unknown>;
};

/** The entry the request of `res` left (written once the response finished: polled for). */
async function entryOf(res: Response, action: string): Promise<Entry> {
  const requestId = res.headers['x-request-id'] as string;
  expect(requestId).toMatch(/^[A-Za-z0-9._:-]+$/);
  const entries = await eventually(
    () =>
      api(app, 'ops')
        .get(`/v1/audit?action=${action}`)
        .then((r) => r.body.entries as Entry[]),
    (e) => e.some((x) => x.requestId === requestId),
  );
  return entries.find((x) => x.requestId === requestId)!;
}

const MARKER = 'Wvmarker';

describe('audit entries', () => {
  it('records each kind of change with who, what, on what, how it ended and the request, and nothing personal', async () => {
    const system = api(app, 'system');
    const designer = api(app, 'designer');
    const ops = api(app, 'ops');
    const admin = api(app, 'admin');
    const expected: [Response, string, Partial<Entry>][] = [];
    const did = (res: Response, action: string, entry: Partial<Entry>) => expected.push([res, action, entry]);

    did(
      await system
        .put('/v1/customers/au-1')
        .send({ name: `Ann ${MARKER}`, phone: '+8613900001111', rmId: RM_ID, consents: { sms: true } })
        .expect(201),
      'customer.put',
      { principalId: principal.system, role: 'system', targetType: 'customer', targetId: 'au-1', outcome: 'ok', status: 201 },
    );
    did(
      await system
        .post('/v1/customers/au-1/events')
        .send({ eventId: 'au-e1', type: 'probe.noted', data: { note: MARKER } })
        .expect(202),
      'event.receive',
      {
        targetType: 'customer',
        targetId: 'au-1',
        detail: { eventId: 'au-e1', type: 'probe.noted' },
      },
    );

    const taskProbe = {
      key: 'audit-probe',
      version: 1,
      name: 'Audit probe',
      initialStage: 'one',
      stages: [{ key: 'one', label: 'One', onEnter: [{ type: 'task', key: 'call', title: 'Call', due: 'P1D', outcomes: { done: [] } }] }],
    };
    const draft = await designer.post('/v1/journey-definitions').send(taskProbe).expect(201);
    did(draft, 'definition.draft', { principalId: principal.designer, role: 'designer', targetType: 'definition', targetId: `audit-probe@${draft.body.version}` });
    did(await ops.post(`/v1/journey-definitions/audit-probe/versions/${draft.body.version}/publish`).expect(200), 'definition.publish', {
      principalId: principal.ops,
      targetId: `audit-probe@${draft.body.version}`,
      detail: { previousVersion: null, changes: expect.any(Number) },
    });
    const started = await system.post('/v1/journeys').send({ journeyKey: 'audit-probe', customerId: 'au-1' }).expect(201);
    did(started, 'journey.start', { targetType: 'journey', targetId: started.body.workflowId, detail: { journeyKey: 'audit-probe', customerId: 'au-1', created: true } });
    const wf = encodeURIComponent(started.body.workflowId);
    did(await system.post(`/v1/journeys/${wf}/events`).send({ eventId: 'au-e2', type: 'probe.noted' }).expect(202), 'journey.event', { targetId: started.body.workflowId });
    const task = await eventually(
      () => stack.testDb.db.task.findFirst({ where: { customerId: 'au-1' } }),
      (t) => t !== null,
    );
    did(await api(app, 'rm').post(`/v1/tasks/${task!.id}/complete`).send({ outcome: 'done', note: MARKER }).expect(200), 'task.complete', {
      principalId: principal.rm,
      role: 'rm',
      targetType: 'task',
      targetId: task!.id,
      detail: { outcome: 'done' },
    });
    const second = await system.post('/v1/journeys').send({ journeyKey: 'lifecycle', customerId: 'au-1' }).expect(201);
    did(
      await ops
        .post(`/v1/journeys/${encodeURIComponent(second.body.workflowId)}/exit`)
        .send({ reason: 'audit' })
        .expect(202),
      'journey.exit',
      {
        role: 'ops',
        targetType: 'journey',
        targetId: second.body.workflowId,
      },
    );
    did(await ops.post(`/v1/journey-definitions/audit-probe/versions/${draft.body.version}/retire`).expect(200), 'definition.retire', {
      targetId: `audit-probe@${draft.body.version}`,
    });

    did(await designer.put('/v1/templates/audit-note/sms/en').send({ text: `Hi {{ customer.name }}` }).expect(201), 'template.draft', {
      targetType: 'template',
      targetId: 'audit-note/sms/en@1',
    });
    did(await ops.post('/v1/templates/audit-note/sms/en/versions/1/publish').expect(200), 'template.publish', { targetId: 'audit-note/sms/en@1' });

    const key = await admin.post('/v1/api-keys').send({ role: 'ops', name: 'audit probe' }).expect(201);
    did(key, 'api_key.create', { role: 'admin', targetType: 'api_key', targetId: key.body.id });
    did(await admin.delete(`/v1/api-keys/${key.body.id}`).expect(200), 'api_key.revoke', { targetType: 'api_key', targetId: key.body.id });

    // Refusals are recorded with their code: a role that may not, bad input.
    did(await designer.post('/v1/templates/audit-note/sms/en/versions/1/publish').expect(403), 'template.publish', {
      principalId: principal.designer,
      role: 'designer',
      outcome: 'refused',
      status: 403,
      detail: { error: 'forbidden' },
    });
    did(await system.put('/v1/customers/au-1').send({ phone: 'not a number' }).expect(400), 'customer.put', {
      targetId: 'au-1',
      outcome: 'refused',
      status: 400,
      detail: { error: 'invalid_request' },
    });

    for (const [res, action, entry] of expected) expect(await entryOf(res, action)).toMatchObject({ action, ...entry });
    const client = new pg.Client({ connectionString: stack.testDb.url });
    await client.connect();
    const leaked = await client.query(`SELECT count(*)::int AS n FROM audit_log a WHERE a::text ILIKE $1 OR a::text LIKE '%8613900001111%'`, [`%${MARKER}%`]);
    await client.end();
    expect(leaked.rows[0].n).toBe(0);
  });

  it("records each read of a customer's personal data, and not other reads", async () => {
    const ops = api(app, 'ops');
    await api(app, 'designer').put('/v1/templates/audit-send/sms/en').send({ text: 'Hello {{ customer.name }}' }).expect(201);
    await ops.post('/v1/templates/audit-send/sms/en/versions/1/publish').expect(200);
    const sender = {
      key: 'audit-send',
      version: 1,
      name: 'Audit send',
      initialStage: 'one',
      stages: [{ key: 'one', label: 'One', onEnter: [{ type: 'send', channel: 'sms', template: 'audit-send' }] }],
    };
    const d = await api(app, 'designer').post('/v1/journey-definitions').send(sender).expect(201);
    await ops.post(`/v1/journey-definitions/audit-send/versions/${d.body.version}/publish`).expect(200);
    await api(app, 'system').put('/v1/customers/au-2').send({ name: 'Bo', phone: '+8613900002222', rmId: RM_ID }).expect(201);
    const started = await api(app, 'system').post('/v1/journeys').send({ journeyKey: 'audit-send', customerId: 'au-2' }).expect(201);
    const message = await eventually(
      () => stack.testDb.db.message.findFirst({ where: { customerId: 'au-2' } }),
      (m) => m !== null,
    );
    const reads: [Response, string, string | undefined][] = [
      [await ops.get('/v1/customers/au-2').expect(200), 'customer.read', 'au-2'],
      [await ops.get('/v1/customers/au-2/messages').expect(200), 'customer.messages.read', 'au-2'],
      [await ops.get('/v1/customers/au-2/journeys').expect(200), 'customer.journeys.read', 'au-2'],
      [await ops.get(`/v1/messages/${message!.id}`).expect(200), 'message.read', message!.id],
      [await ops.get(`/v1/journeys/${encodeURIComponent(started.body.workflowId)}`).expect(200), 'journey.read', started.body.workflowId],
      [await api(app, 'rm').get('/v1/tasks').expect(200), 'task.list', undefined],
    ];
    for (const [res, action, targetId] of reads) expect(await entryOf(res, action)).toMatchObject({ action, outcome: 'ok', ...(targetId ? { targetId } : {}) });
    const before = await stack.testDb.db.auditLog.count();
    const plain = await ops.get('/v1/journey-definitions').expect(200);
    await ops.get('/v1/templates').expect(200);
    // An entry written after these would already be there once a later recorded request's entry is.
    await entryOf(await ops.get('/v1/customers/au-2').expect(200), 'customer.read');
    expect(await stack.testDb.db.auditLog.count()).toBe(before + 1);
    expect(await stack.testDb.db.auditLog.count({ where: { requestId: plain.headers['x-request-id'] as string } })).toBe(0);
  });

  it('names the action of every state-changing route of the API', () => {
    const routes = (app.router as unknown as { stack: { route?: { path: string; methods: Record<string, boolean> } }[] }).stack.flatMap((l) =>
      l.route ? Object.keys(l.route.methods).map((m) => `${m.toUpperCase()} ${l.route!.path}`) : [],
    );
    const changing = routes.filter((r) => !r.startsWith('GET ') && !r.startsWith('HEAD '));
    expect(changing.length).toBeGreaterThan(10);
    expect(changing.filter((r) => !(r in AUDITED_ROUTES))).toEqual([]);
  });
});

describe('request ids', () => {
  it('echoes a sane incoming x-request-id and replaces one that is not (spaces, too long)', async () => {
    const ops = api(app, 'ops');
    expect((await ops.get('/v1/templates').set('x-request-id', 'req-123.abc').expect(200)).headers['x-request-id']).toBe('req-123.abc');
    for (const bad of ['has spaces', 'x'.repeat(200), 'semi;colon']) {
      const echoed = (await ops.get('/v1/templates').set('x-request-id', bad).expect(200)).headers['x-request-id'];
      expect(echoed).toMatch(/^[0-9a-f-]{36}$/);
    }
    expect((await api(app, { token: 'not-a-key-at-all-but-long-enough' }).get('/v1/templates').expect(401)).headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('GET /v1/audit', () => {
  it('filters by principal, target, action (or an action prefix) and time, newest first, to ops and admin only', async () => {
    const system = api(app, 'system');
    const from = new Date().toISOString();
    await system.put('/v1/customers/au-3').send({ name: 'Cy' }).expect(201);
    await system.put('/v1/customers/au-3').send({ name: 'Cy' }).expect(200);
    await api(app, 'ops').get('/v1/customers/au-3').expect(200);
    const q = (query: string) =>
      eventually(
        () =>
          api(app, 'admin')
            .get(`/v1/audit?${query}`)
            .expect(200)
            .then((r) => r.body.entries as Entry[]),
        (e) => e.length >= 1,
      );
    const byTarget = await eventually(
      () =>
        api(app, 'ops')
          .get('/v1/audit?target=au-3')
          .then((r) => r.body.entries as Entry[]),
      (e) => e.length === 3,
    );
    expect(byTarget.map((e) => [e.action, e.status])).toEqual([
      ['customer.read', 200],
      ['customer.put', 200],
      ['customer.put', 201],
    ]);
    expect(Number(byTarget[0]!.id)).toBeGreaterThan(Number(byTarget[1]!.id));
    expect((await q(`target=au-3&principal=${principal.system}`)).map((e) => e.action)).toEqual(['customer.put', 'customer.put']);
    expect((await q('target=au-3&action=customer.*')).length).toBe(3);
    expect((await q(`target=au-3&action=customer.put&from=${encodeURIComponent(from)}&limit=1`)).map((e) => e.status)).toEqual([200]);
    expect(
      (
        await api(app, 'ops')
          .get(`/v1/audit?target=au-3&to=${encodeURIComponent(from)}`)
          .expect(200)
      ).body.entries,
    ).toEqual([]);
    for (const role of ['system', 'rm', 'designer'] as const) expect((await api(app, role).get('/v1/audit').expect(403)).body.error.code).toBe('forbidden');
    expect((await api(app, 'ops').get('/v1/audit?limit=0').expect(400)).body.error.code).toBe('invalid_request');
    expect((await api(app, 'ops').get('/v1/audit?action=DROP%20TABLE').expect(400)).body.error.code).toBe('invalid_request');
  });
});

describe('the audit log is append-only in the database', () => {
  it.each([
    ['UPDATE', `UPDATE audit_log SET action = 'nothing'`],
    ['DELETE', 'DELETE FROM audit_log'],
    ['TRUNCATE', 'TRUNCATE audit_log'],
  ])('refuses %s', async (op, sql) => {
    await stack.audit.record({ principalId: 'test', role: 'admin', action: 'test.append', outcome: 'ok' });
    const before = await stack.testDb.db.auditLog.findMany({ orderBy: { id: 'asc' } });
    const client = new pg.Client({ connectionString: stack.testDb.url });
    await client.connect();
    try {
      await expect(client.query(sql)).rejects.toThrow(`audit_log is append-only: ${op} is not allowed`);
    } finally {
      await client.end();
    }
    expect(await stack.testDb.db.auditLog.findMany({ orderBy: { id: 'asc' } })).toEqual(before);
  });
});

describe('consent provenance', () => {
  it('keeps which principal set a consent and which event withdrew it', async () => {
    await api(app, 'system')
      .put('/v1/customers/au-4')
      .send({ consents: { sms: true, email: true } })
      .expect(201);
    await api(app, 'system')
      .put('/v1/customers/au-4')
      .send({ consents: { sms: true } })
      .expect(200);
    await api(app, 'system')
      .post('/v1/customers/au-4/events')
      .send({ eventId: 'au-4-out', type: 'customer.opted_out', data: { channel: 'sms' } })
      .expect(202);
    const changes = await stack.testDb.db.consentChange.findMany({ where: { customerId: 'au-4' }, orderBy: { id: 'asc' } });
    expect(changes.map(({ channel, from, to, source, principalId, eventId }) => ({ channel, from, to, source, principalId, eventId }))).toEqual([
      { channel: 'email', from: null, to: true, source: 'principal', principalId: principal.system, eventId: null },
      { channel: 'sms', from: null, to: true, source: 'principal', principalId: principal.system, eventId: null },
      { channel: 'sms', from: true, to: false, source: 'event', principalId: principal.system, eventId: 'au-4-out' },
    ]);
    expect(changes.every((c) => typeof c.requestId === 'string')).toBe(true);
  });
});
