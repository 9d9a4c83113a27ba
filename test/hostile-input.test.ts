// Input an attacker (or a careless client) sends: refused with a named 4xx that changes nothing, never a 5xx. Also
// what such input used to break further in: colliding workflow ids, garbage consent keys, a missing time zone stored
// as UTC, a chorus start refused for ever, and a journey row that lost its tags.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveParams } from '../engine/definition.js';
import { journeyWorkflowId, parseJourneyWorkflowId } from '../workflows/messages.js';
import { tableCounts } from './support/db.js';
import { loadPolicy } from '../policy/policy.js';
import { api, createStackApp, eventually, NO_LIMITS, startStack, type Stack } from './support/stack.js';

let stack: Stack;
let app: ReturnType<typeof createStackApp>;

beforeAll(async () => {
  stack = await startStack();
  await stack.startWorker();
  app = createStackApp(stack);
  await api(app)
    .put('/v1/customers/h-ok')
    .send({ name: 'Ok', email: 'h-ok@example.com', consents: { email: true } })
    .expect(201);
});
afterAll(async () => stack?.stop());

/** Everything a refused request could have written. */
async function snapshot() {
  const db = stack.testDb.db;
  return {
    counts: await tableCounts(db),
    customers: await db.customer.findMany({ orderBy: { id: 'asc' }, select: { id: true, name: true, consents: true, attributes: true, timeZone: true } }),
    definitions: await db.journeyDefinitionVersion.count(),
    log: await db.journeyLogEntry.count(),
  };
}

/** `[[[…1…]]]`, `depth` arrays deep. */
const nestedArrays = (depth: number) => `${'['.repeat(depth)}1${']'.repeat(depth)}`;

/** A definition whose steps are branches nested in branches: four JSON levels per branch. */
function deepDefinition(jsonDepth: number) {
  let step: Record<string, unknown> = { type: 'complete' };
  for (let i = 0; i < Math.ceil(jsonDepth / 4); i++) step = { type: 'branch', cases: [{ when: 'true', steps: [step] }], otherwise: [] };
  return { key: 'deep-test', version: 1, name: 'Deep', stages: [{ key: 'new', label: 'New' }], initialStage: 'new', triggers: [{ event: 'product.purchased', steps: [step] }] };
}

type Case = [name: string, method: 'get' | 'put' | 'post', path: string, body: string | object | undefined, status: number, code: string, message?: string];

const cases: Case[] = [
  ['NUL in a customer name', 'put', '/v1/customers/h-new', { name: 'Eve\u0000' }, 400, 'invalid_string', 'body.name'],
  ['a lone surrogate in a customer name', 'put', '/v1/customers/h-new', { name: 'Eve \ud800' }, 400, 'invalid_string', 'body.name'],
  [
    'NUL in event data, nested',
    'post',
    '/v1/customers/h-ok/events',
    { eventId: 'h-e1', type: 'loan.drawdown', data: { a: { b: 'x\u0000y' } } },
    400,
    'invalid_string',
    'body.data.a.b',
  ],
  [
    'a lone surrogate in an event data key',
    'post',
    '/v1/customers/h-ok/events',
    { eventId: 'h-e2', type: 'loan.drawdown', data: { ['k\udc00']: 1 } },
    400,
    'invalid_string',
    'body.data',
  ],
  [
    'a lone surrogate in event data, in an array',
    'post',
    '/v1/customers/h-ok/events',
    { eventId: 'h-e3', type: 'loan.drawdown', data: { list: ['ok', '\udbff'] } },
    400,
    'invalid_string',
    'body.data.list.1',
  ],
  [
    'NUL in start params',
    'post',
    '/v1/journeys',
    { journeyKey: 'bank-loan', customerId: 'h-ok', params: { comparisonNudgeAfter: 'P1D\u0000' } },
    400,
    'invalid_string',
    'body.params.comparisonNudgeAfter',
  ],
  ['NUL in a definition', 'post', '/v1/journey-definitions', { ...deepDefinition(4), name: 'x\u0000' }, 400, 'invalid_string', 'body.name'],
  ['NUL in a journey id in the path', 'get', '/v1/journeys/journey:bank-loan:h%00ok', undefined, 400, 'invalid_string', 'path.3'],
  ['a lone surrogate (CESU-8) in the path', 'get', '/v1/journeys/journey:bank-loan:%ED%A0%80', undefined, 400, 'invalid_path'],
  ['NUL in a definition key in the path', 'get', '/v1/journey-definitions/a%00b/versions/1', undefined, 400, 'invalid_string', 'path.3'],
  ['NUL in a query string', 'get', '/v1/tasks?rmId=rm%00', undefined, 400, 'invalid_string', 'query.rmId'],
  [
    'event data nested 3 000 deep',
    'post',
    '/v1/customers/h-ok/events',
    `{"eventId":"h-e4","type":"loan.drawdown","data":{"a":${nestedArrays(3000)}}}`,
    400,
    'too_deep',
    'deeper than 32',
  ],
  ['a customer body nested 40 deep', 'put', '/v1/customers/h-new', `{"attributes":{"a":${nestedArrays(40)}}}`, 400, 'too_deep'],
  ['a definition nested 500 deep', 'post', '/v1/journey-definitions', deepDefinition(500), 400, 'too_deep', 'deeper than 100'],
  ['a definition nested 500 deep, validated', 'post', '/v1/journey-definitions/validate', deepDefinition(500), 400, 'too_deep'],
  ['a definition nested 500 deep, simulated', 'post', '/v1/journey-definitions/simulate', { definition: deepDefinition(500), until: '2030-01-01T00:00:00Z' }, 400, 'too_deep'],
  ['an event body over 64 KiB', 'post', '/v1/customers/h-ok/events', { eventId: 'h-e5', type: 'loan.drawdown', data: { a: 'x'.repeat(70_000) } }, 413, 'payload_too_large'],
  [
    'params: {"constructor": 1}',
    'post',
    '/v1/journeys',
    { journeyKey: 'bank-loan', customerId: 'h-ok', params: { constructor: 1 } },
    400,
    'invalid_params',
    'body.params.constructor',
  ],
  [
    'params: {"__proto__": …}',
    'post',
    '/v1/journeys',
    '{"journeyKey":"bank-loan","customerId":"h-ok","params":{"__proto__":{"x":1}}}',
    400,
    'reserved_key',
    'body.params.__proto__',
  ],
  [
    'an opt-out naming a 300-character channel',
    'post',
    '/v1/customers/h-ok/events',
    { eventId: 'h-e6', type: 'customer.opted_out', data: { channel: 'x'.repeat(300) } },
    400,
    'invalid_request',
    'body.data.channel',
  ],
  [
    'an opt-out naming channel "__proto__"',
    'post',
    '/v1/customers/h-ok/events',
    { eventId: 'h-e7', type: 'customer.opted_out', data: { channel: '__proto__' } },
    400,
    'invalid_request',
    'body.data.channel',
  ],
];

describe('hostile input gets a named 4xx and changes nothing', () => {
  it.each(cases)('%s', async (_name, method, path, body, status, code, message) => {
    const before = await snapshot();
    let req = api(app)[method](path);
    if (typeof body === 'string') req = req.set('content-type', 'application/json').send(body);
    else if (body !== undefined) req = req.send(body);
    const res = await req;
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(code);
    expect(typeof res.body.error.message).toBe('string');
    if (message) expect(res.body.error.message).toContain(message);
    expect(await snapshot()).toEqual(before);
  });

  it('a body just inside the depth limit is still served', async () => {
    const res = await api(app)
      .post('/v1/customers/h-ok/events')
      .set('content-type', 'application/json')
      .send(`{"eventId":"h-ok-deep","type":"loan.drawdown","data":{"a":${nestedArrays(30)},"s":"[[[{{{\\"]]"}}`);
    expect(res.status).toBe(202);
  });

  it('an opt-out without a channel, or with a consent channel, is accepted; only the channel enum becomes a consent key', async () => {
    await api(app)
      .put('/v1/customers/h-optout')
      .send({ name: 'Opt', consents: { email: true } })
      .expect(201);
    await api(app)
      .post('/v1/customers/h-optout/events')
      .send({ eventId: 'h-oo1', type: 'customer.opted_out', data: { channel: 'sms' } })
      .expect(202);
    await api(app)
      .post('/v1/customers/h-optout/events')
      .send({ eventId: 'h-oo2', type: 'customer.opted_out', data: { channel: null } })
      .expect(202);
    await api(app).post('/v1/customers/h-optout/events').send({ eventId: 'h-oo3', type: 'customer.opted_out' }).expect(202);
    expect((await stack.testDb.db.customer.findUniqueOrThrow({ where: { id: 'h-optout' } })).consents).toEqual({ email: true, sms: false });
  });
});

describe('workflow ids', () => {
  // Parts as clients send them (the id charset) and beyond it, with the separators and the escape character.
  const part = fc.string({ unit: fc.constantFrom('a', 'b', '1', '_', '.', '-', ':', '@', '%', '3', 'A'), minLength: 1, maxLength: 12 });

  it('one (journey, customer, business key) ↔ one id, both ways, also with a re-entry number', () => {
    fc.assert(
      fc.property(part, part, fc.option(part, { nil: undefined }), fc.option(fc.integer({ min: 2, max: 1000 }), { nil: undefined }), (k, c, b, n) => {
        const id = journeyWorkflowId(k, c, b) + (n !== undefined ? `@${n}` : '');
        expect(parseJourneyWorkflowId(id)).toEqual({ journeyKey: k, customerId: c, ...(b !== undefined ? { businessKey: b } : {}), ...(n !== undefined ? { reentry: n } : {}) });
      }),
      { numRuns: 2000 },
    );
  });

  it('different parts never make the same id', () => {
    fc.assert(
      fc.property(fc.tuple(part, part, fc.option(part, { nil: undefined })), fc.tuple(part, part, fc.option(part, { nil: undefined })), (x, y) => {
        fc.pre(JSON.stringify(x) !== JSON.stringify(y));
        expect(journeyWorkflowId(...x)).not.toBe(journeyWorkflowId(...y));
      }),
      { numRuns: 2000 },
    );
  });

  it('ids of parts without separators are the strings running journeys already have', () => {
    const plain = fc.stringMatching(/^[A-Za-z0-9_.-]{1,20}$/);
    fc.assert(
      fc.property(plain, plain, fc.option(plain, { nil: undefined }), (k, c, b) => {
        expect(journeyWorkflowId(k, c, b)).toBe(b === undefined ? `journey:${k}:${c}` : `journey:${k}:${c}:${b}`);
      }),
    );
  });

  it('customers "a" with business key "vip" and "a:vip" get separate journeys', async () => {
    await api(app).put('/v1/customers/hx').send({ name: 'A' }).expect(201);
    await api(app).put('/v1/customers/hx:vip').send({ name: 'A vip' }).expect(201);
    const first = await api(app).post('/v1/journeys').send({ journeyKey: 'insurance-event', customerId: 'hx', businessKey: 'vip' }).expect(201);
    const second = await api(app).post('/v1/journeys').send({ journeyKey: 'insurance-event', customerId: 'hx:vip' }).expect(201);
    expect(first.body).toMatchObject({ workflowId: 'journey:insurance-event:hx:vip', customerId: 'hx', businessKey: 'vip' });
    expect(second.body).toMatchObject({ workflowId: 'journey:insurance-event:hx%3Avip', customerId: 'hx:vip' });
    const read = await api(app)
      .get(`/v1/journeys/${encodeURIComponent(second.body.workflowId)}`)
      .expect(200);
    expect(read.body).toMatchObject({ customerId: 'hx:vip', status: 'running' });
  });
});

describe('a customer without a time zone', () => {
  it('is stored without one, and a send falls back to the policy zone and records timezone_fallback', async () => {
    await api(app).put('/v1/customers/h-notz').send({ name: 'No zone', email: 'h-notz@example.com' }).expect(201);
    expect((await stack.testDb.db.customer.findUniqueOrThrow({ where: { id: 'h-notz' } })).timeZone).toBeNull();
    await api(app).post('/v1/journeys').send({ journeyKey: 'bank-loan', customerId: 'h-notz' }).expect(201);
    await api(app)
      .post('/v1/customers/h-notz/events')
      .send({ eventId: 'h-notz-1', type: 'loan.stage_changed', data: { stage: 'interest' } })
      .expect(202);
    await stack.smtp.waitFor((m) => m.to.includes('h-notz@example.com'));
    const messages = (await api(app).get('/v1/customers/h-notz/messages').expect(200)).body.messages;
    expect(messages).toHaveLength(1);
    expect(messages[0].events).toContainEqual(expect.objectContaining({ type: 'timezone_fallback', detail: { given: null, used: loadPolicy(NO_LIMITS).defaultTimeZone } }));
  });
});

describe('chorus params', () => {
  const base = { stages: [{ key: 'new', label: 'New' }], initialStage: 'new' };
  const target = (params: Record<string, unknown>) => ({ key: 'h-target', version: 1, name: 'Target', ...base, params });
  const source = (key: string, params: Record<string, unknown>) => ({
    key,
    version: 1,
    name: 'Source',
    ...base,
    triggers: [
      {
        event: 'product.purchased',
        steps: [
          { type: 'startJourney', journeyKey: 'h-target', params },
          { type: 'complete', reason: 'started_target' },
        ],
      },
    ],
  });
  const publish = async (doc: object) => {
    const d = await api(app).post('/v1/journey-definitions').send(doc).expect(201);
    return api(app, 'ops').post(`/v1/journey-definitions/${d.body.key}/versions/${d.body.version}/publish`);
  };

  it('are checked against the target journey at publish', async () => {
    await publish(target({ waitFor: { type: 'duration', default: 'P1D' } })).then((r) => expect(r.status).toBe(200));
    const refused = await publish(source('h-source-bad', { waitFor: 3, colour: 'red' }));
    expect(refused.status).toBe(422);
    expect(refused.body.error.code).toBe('definition_invalid');
    expect(refused.body.error.details).toEqual([{ path: 'triggers[0].steps[0].params.colour', message: 'journey "h-target" has no parameter "colour"' }]);
    const wrongType = await publish(source('h-source-bad2', { waitFor: 3 }));
    expect(wrongType.status).toBe(422);
    expect(wrongType.body.error.details[0].path).toBe('triggers[0].steps[0].params.waitFor');
  });

  it('a chorus start the target refuses is not retried: recorded once, and the journey goes on', async () => {
    // Valid when published; the target's next version changes the param's type, so the start is refused at run time.
    await publish(source('h-source', { waitFor: 'PT1H' })).then((r) => expect(r.status).toBe(200));
    await publish({ ...target({ waitFor: { type: 'number', default: 1 } }), version: 2 }).then((r) => expect(r.status).toBe(200));
    await api(app).put('/v1/customers/h-chorus').send({ name: 'Chorus' }).expect(201);
    const { body: j } = await api(app).post('/v1/journeys').send({ journeyKey: 'h-source', customerId: 'h-chorus' }).expect(201);
    await api(app).post('/v1/customers/h-chorus/events').send({ eventId: 'h-chorus-1', type: 'product.purchased' }).expect(202);
    const row = await eventually(
      () => stack.testDb.db.journey.findUniqueOrThrow({ where: { workflowId: j.workflowId } }),
      (r) => r.status !== 'running',
    );
    expect(row).toMatchObject({ status: 'completed', exitReason: 'started_target' });
    const log = await stack.testDb.db.journeyLogEntry.findMany({ where: { workflowId: j.workflowId, kind: 'command_failed' } });
    expect(log).toHaveLength(1);
    expect(log[0]!.data).toMatchObject({ command: 'startJourney', journeyKey: 'h-target', code: 'invalid_params' });
    expect(await stack.testDb.db.journey.count({ where: { customerId: 'h-chorus', journeyKey: 'h-target' } })).toBe(0);
    const history = await stack.client.workflow.getHandle(j.workflowId).fetchHistory();
    const failed = history.events!.filter((e) => e.activityTaskFailedEventAttributes);
    expect(failed).toHaveLength(1);
    expect(failed[0]!.activityTaskFailedEventAttributes!.failure!.applicationFailureInfo).toMatchObject({ type: 'PermanentError', nonRetryable: true });
    const started = history.events!.filter((e) => e.activityTaskStartedEventAttributes);
    expect(started.map((e) => e.activityTaskStartedEventAttributes!.attempt)).not.toContain(2);
  });
});

describe('the journey row has one writer', () => {
  it('a journey started through the API has its row, tags included, before the workflow runs', async () => {
    await api(app).put('/v1/customers/h-tags').send({ name: 'Tags' }).expect(201);
    const { body: j } = await api(app).post('/v1/journeys').send({ journeyKey: 'lifecycle', customerId: 'h-tags' }).expect(201);
    expect((await stack.testDb.db.journey.findUniqueOrThrow({ where: { workflowId: j.workflowId } })).tags).toEqual(['marketing']);
  });

  it('when the worker writes progress before the API, the row keeps its tags and a stop by tag reaches the journey', async () => {
    await api(app).put('/v1/customers/h-race').send({ name: 'Race' }).expect(201);
    const customer = await stack.testDb.db.customer.findUniqueOrThrow({ where: { id: 'h-race' } });
    const { definition } = (await stack.definitions.latestPublished('lifecycle'))!;
    const workflowId = journeyWorkflowId('lifecycle', 'h-race');
    // The workflow runs (and records its first stage) before the API has written anything for it.
    await stack.client.workflow.start('journeyWorkflow', {
      taskQueue: stack.taskQueue,
      workflowId,
      args: [{ definition, customerId: 'h-race', params: resolveParams(definition, {}), profile: { segment: null, locale: customer.locale, attributes: {} } }],
    });
    await eventually(
      () => stack.testDb.db.journey.findUnique({ where: { workflowId } }),
      (r) => r !== null,
    );
    const again = await api(app).post('/v1/journeys').send({ journeyKey: 'lifecycle', customerId: 'h-race' }).expect(200);
    expect(again.body.workflowId).toBe(workflowId);
    expect((await stack.testDb.db.journey.findUniqueOrThrow({ where: { workflowId } })).tags).toEqual(['marketing']);
    expect(await stack.service.chorusStop('h-race', { tag: 'marketing' }, 'opted_out', 'some-other-journey')).toEqual([workflowId]);
    const ended = await eventually(
      () => stack.testDb.db.journey.findUniqueOrThrow({ where: { workflowId } }),
      (r) => r.status !== 'running',
    );
    expect(ended).toMatchObject({ status: 'exited', exitReason: 'opted_out', tags: ['marketing'] });
  });

  it('a start Temporal refuses leaves no journey row behind', async () => {
    const { Client } = await import('@temporalio/client');
    const { JourneyService } = await import('../service/journeys.js');
    const broken = new JourneyService({
      db: stack.testDb.db,
      temporal: new Client({ connection: stack.env.client.connection, namespace: 'no-such-namespace' }),
      taskQueue: stack.taskQueue,
      definitions: stack.definitions,
    });
    await api(app).put('/v1/customers/h-nostart').send({ name: 'No start' }).expect(201);
    const before = await snapshot();
    await expect(broken.startJourney({ journeyKey: 'lifecycle', customerId: 'h-nostart', via: 'api' })).rejects.toThrow();
    expect(await snapshot()).toEqual(before);
    const { body } = await api(app).post('/v1/journeys').send({ journeyKey: 'lifecycle', customerId: 'h-nostart' }).expect(201);
    expect(body).toMatchObject({ customerId: 'h-nostart', status: 'running' });
  });
});
