// Journey definitions as data on the real stack: the definitions API, the seed journeys end to end on the Temporal
// dev server (durations shortened by params), version pinning, the chorus, and simulation agreeing with the workflow.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveParams } from '../engine/definition.js';
import type { Profile } from '../engine/engine.js';
import { describe as describeCommand, simulate } from '../engine/simulate.js';
import { loadBuiltIn } from '../journeys/index.js';
import { journeyQuery } from '../workflows/messages.js';
import { api, createStackApp, eventually, startStack, type Stack } from './support/stack.js';

let stack: Stack;
let app: ReturnType<typeof createStackApp>;
let worker: { stop(): Promise<void> };

beforeAll(async () => {
  stack = await startStack();
  worker = await stack.startWorker();
  app = createStackApp(stack);
});
afterAll(async () => stack?.stop());

/** JSON with sorted keys: Postgres' jsonb does not keep key order. */
const canonical = (v: unknown): string =>
  JSON.stringify(v, (_k, x) => (x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => a.localeCompare(b))) : x));

let seq = 0;
async function customer(fields: Record<string, unknown> = {}) {
  const n = ++seq;
  const c = { id: `jc-${n}`, name: `Customer ${n}`, email: `jc-${n}@example.com`, phone: `+861390000${String(n).padStart(4, '0')}` };
  await api(app)
    .put(`/v1/customers/${c.id}`)
    .send({ name: c.name, email: c.email, phone: c.phone, rmId: 'rm-3', ...fields })
    .expect(201);
  return c;
}
const event = (customerId: string, type: string, data?: Record<string, unknown>) =>
  api(app)
    .post(`/v1/customers/${customerId}/events`)
    .send({ eventId: `${customerId}-${++seq}`, type, ...(data ? { data } : {}) })
    .expect(202)
    .then((r) => r.body as { deliveredTo: string[] });
const start = (journeyKey: string, customerId: string, params?: Record<string, unknown>) =>
  api(app)
    .post('/v1/journeys')
    .send({ journeyKey, customerId, ...(params ? { params } : {}) })
    .then((r) => r.body as { workflowId: string; version: number });
const journey = (workflowId: string) =>
  api(app)
    .get(`/v1/journeys/${encodeURIComponent(workflowId)}`)
    .then((r) => r.body);
const openTask = (customerId: string, taskKey: string) =>
  eventually(
    () =>
      api(app)
        .get(`/v1/tasks?customerId=${customerId}&status=open`)
        .then((r) => r.body.tasks.find((t: { taskKey: string }) => t.taskKey === taskKey)),
    (t) => t !== undefined,
  );

describe('definitions API', () => {
  const draft = (over: Record<string, unknown> = {}) => ({
    key: 'onboarding-test',
    version: 1,
    name: 'Onboarding test',
    stages: [
      { key: 'new', label: 'New' },
      { key: 'active', label: 'Active' },
    ],
    initialStage: 'new',
    triggers: [
      {
        event: 'product.purchased',
        steps: [
          { type: 'stage', stage: 'active' },
          { type: 'send', channel: 'email', template: 'lifecycle-thanks' },
        ],
      },
    ],
    ...over,
  });

  it('serves the language as JSON Schema', async () => {
    const { body } = await api(app).get('/v1/journey-definitions/schema').expect(200);
    expect(body.title).toBe('Journey definition');
    expect(body.required).toEqual(expect.arrayContaining(['key', 'version', 'name', 'stages', 'initialStage']));
    const text = JSON.stringify(body);
    for (const kind of ['delayUntilLocalTime', 'branch', 'split', 'feedback', 'startJourney', 'goto']) expect(text).toContain(`"const":"${kind}"`);
  });

  it('validates without storing, with exact messages', async () => {
    const bad = draft({
      triggers: [
        {
          event: 'product.purchased',
          steps: [
            { type: 'send', channel: 'sms', template: 'nope' },
            { type: 'goto', target: 'x' },
          ],
        },
      ],
    });
    const { body } = await api(app).post('/v1/journey-definitions/validate').send(bad).expect(200);
    expect(body).toEqual({
      valid: false,
      problems: [
        { path: 'triggers[0].steps[0]', message: 'template "nope" does not exist for sms' },
        { path: 'triggers[0].steps[1]', message: 'goto target "x" does not exist' },
        { path: 'stages[1]', message: 'stage "active" is never entered' },
      ],
    });
    expect((await api(app).post('/v1/journey-definitions/validate').send(draft()).expect(200)).body).toEqual({ valid: true, problems: [] });
    expect((await api(app).post('/v1/journey-definitions/validate').send({ key: 'x' }).expect(200)).body.valid).toBe(false);
  });

  it('draft → published → retired; a published version is immutable; invalid drafts cannot be published', async () => {
    const v1 = await api(app).post('/v1/journey-definitions').send(draft()).expect(201);
    expect(v1.body).toMatchObject({ key: 'onboarding-test', version: 1, status: 'draft', problems: [] });
    const v2 = await api(app)
      .post('/v1/journey-definitions')
      .send(draft({ triggers: [{ event: 'product.purchased', steps: [{ type: 'send', channel: 'sms', template: 'nope' }] }] }))
      .expect(201);
    expect(v2.body.version).toBe(2);
    const refused = await api(app, 'ops').post('/v1/journey-definitions/onboarding-test/versions/2/publish').expect(422);
    expect(refused.body.error.code).toBe('definition_invalid');
    expect(refused.body.error.details).toContainEqual({ path: 'triggers[0].steps[0]', message: 'template "nope" does not exist for sms' });
    await api(app, 'ops').post('/v1/journey-definitions/onboarding-test/versions/1/publish').expect(200);
    expect((await api(app, 'ops').post('/v1/journey-definitions/onboarding-test/versions/1/publish').expect(409)).body.error.code).toBe('not_a_draft');
    expect((await api(app).get('/v1/journey-definitions/onboarding-test/versions/1').expect(200)).body).toMatchObject({
      status: 'published',
      definition: { key: 'onboarding-test', version: 1 },
    });
    const c = await customer();
    expect(await start('onboarding-test', c.id)).toMatchObject({ version: 1 });
    await api(app).post('/v1/journey-definitions/onboarding-test/versions/1/retire').expect(200);
    const other = await customer();
    expect((await api(app).post('/v1/journeys').send({ journeyKey: 'onboarding-test', customerId: other.id }).expect(404)).body.error.message).toContain(
      'journey "onboarding-test" not found',
    );
    const list = (await api(app).get('/v1/journey-definitions').expect(200)).body.definitions;
    expect(list.find((d: { key: string }) => d.key === 'onboarding-test')).toMatchObject({
      publishedVersion: null,
      versions: [
        { version: 1, status: 'retired' },
        { version: 2, status: 'draft' },
      ],
    });
    expect(list.map((d: { key: string }) => d.key)).toEqual(expect.arrayContaining(['bank-loan', 'fund-dca', 'insurance-event', 'lifecycle']));
  });

  it('refuses to publish a template variable the send cannot give, at publish time', async () => {
    const doc = draft({
      key: 'variables-test',
      triggers: [
        {
          event: 'product.purchased',
          steps: [
            { type: 'stage', stage: 'active' },
            { type: 'send', channel: 'email', template: 'loan-approved' },
          ],
        },
      ],
    });
    const d = await api(app).post('/v1/journey-definitions').send(doc).expect(201);
    const refused = await api(app, 'ops').post(`/v1/journey-definitions/variables-test/versions/${d.body.version}/publish`).expect(422);
    expect(refused.body.error.details).toEqual([
      { path: 'triggers[0].steps[1]', message: 'template "loan-approved" uses event.limit, which "product.purchased" does not carry' },
      { path: 'triggers[0].steps[1]', message: 'template "loan-approved" uses event.expiresAt, which "product.purchased" does not carry' },
    ]);
  });

  it('versions templates: a new version, once another principal publishes it, is used by the next send; bad Liquid is refused', async () => {
    const bad = await api(app).put('/v1/templates/lifecycle-thanks/email/en').send({ subject: 'Hi', text: 'Hello {{ customer.name ' }).expect(400);
    expect(bad.body.error.code).toBe('invalid_template');
    expect((await api(app).put('/v1/templates/lifecycle-thanks/email/en').send({ text: 'no subject' }).expect(400)).body.error.message).toBe('an email template needs a subject');
    const v2 = await api(app).put('/v1/templates/lifecycle-ces/sms/en').send({ text: '{{ customer.name }}, how easy was it? Reply 1-7 (v2).' }).expect(201);
    expect(v2.body).toMatchObject({ key: 'lifecycle-ces', channel: 'sms', locale: 'en', version: 2, status: 'draft' });
    await api(app, 'ops').post('/v1/templates/lifecycle-ces/sms/en/versions/2/publish').expect(200);
    const c = await customer();
    await start('lifecycle', c.id);
    await event(c.id, 'service.case_closed', { caseId: 'K1' });
    expect((await stack.sms.waitFor((m) => m.to === c.phone)).body).toBe(`${c.name}, how easy was it? Reply 1-7 (v2).`);
    const listed = (await api(app).get('/v1/templates').expect(200)).body.templates;
    expect(listed.find((t: { key: string; channel: string; locale: string }) => t.key === 'lifecycle-ces' && t.channel === 'sms' && t.locale === 'en').version).toBe(2);
  });

  it.each([
    ['a document that does not fit the schema', 'post', '/v1/journey-definitions', { key: 'Bad Key' }, 400, 'invalid_definition'],
    ['an unknown version', 'get', '/v1/journey-definitions/bank-loan/versions/99', undefined, 404, 'not_found'],
    ['a version that is not a number', 'get', '/v1/journey-definitions/bank-loan/versions/one', undefined, 400, 'invalid_request'],
    ['retiring a draft', 'post', '/v1/journey-definitions/onboarding-test/versions/2/retire', undefined, 409, 'not_published'],
    ['a simulation with neither definition nor key', 'post', '/v1/journey-definitions/simulate', { until: '2027-01-01T00:00:00Z' }, 400, 'invalid_request'],
    ['a simulation of an unknown journey', 'post', '/v1/journey-definitions/simulate', { key: 'nope', until: '2027-01-01T00:00:00Z' }, 404, 'not_found'],
    [
      'a simulation ending before it starts',
      'post',
      '/v1/journey-definitions/simulate',
      { key: 'lifecycle', start: '2027-01-01T00:00:00Z', until: '2026-01-01T00:00:00Z' },
      400,
      'invalid_request',
    ],
  ] as const)('refuses %s', async (_name, method, path, body, status, code) => {
    const before = await stack.testDb.db.journeyDefinitionVersion.count();
    const res = await (body === undefined ? api(app)[method](path) : api(app)[method](path).send(body));
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(code);
    expect(await stack.testDb.db.journeyDefinitionVersion.count()).toBe(before);
  });
});

describe('simulation API', () => {
  it('returns the timeline of a stored journey for a scripted customer, a year in well under a second', async () => {
    const events = [
      { at: '2026-01-01T01:00:00Z', type: 'loan.approved', data: { limit: 9000, expiresAt: '2026-12-31T00:00:00Z' } },
      { at: '2026-01-02T00:00:00Z', type: 'loan.drawdown', data: { amount: 100 } },
    ];
    for (let m = 1; m <= 11; m++)
      events.push({
        at: `2026-${String(m).padStart(2, '0')}-10T00:00:00Z`,
        type: 'loan.repayment_due',
        data: { dueAt: `2026-${String(m + 1).padStart(2, '0')}-01T00:00:00Z` } as never,
      });
    const { body } = await api(app)
      .post('/v1/journey-definitions/simulate')
      .send({ key: 'bank-loan', customer: { segment: 'young', timeZone: 'Asia/Shanghai' }, start: '2026-01-01T00:00:00Z', events, until: '2027-01-01T00:00:00Z' })
      .expect(200);
    expect(body).toMatchObject({ journeyKey: 'bank-loan', version: 1, status: 'running', stage: 'renewal', goals: ['approved'] });
    expect(body.stages.map((s: { stage: string }) => s.stage)).toEqual(['awareness', 'first_loan', 'repayment', 'renewal']);
    expect(body.messages.filter((m: { template: string }) => m.template === 'loan-repayment-reminder')).toHaveLength(11);
    expect(body.tasks).toEqual([
      { at: '2026-12-08T00:00:00.000Z', kind: 'task', taskKey: 'renewal-follow-up', title: 'Follow up on the renewal offer', dueAt: '2026-12-10T00:00:00.000Z' },
    ]);
    expect(body.timers.length).toBeGreaterThan(12);
    expect(body.stats.ms).toBeLessThan(1000);
  });
});

describe('seed journeys on the dev server', () => {
  it('fund-dca: a young customer from a fund page to the monthly plan', async () => {
    const c = await customer({ segment: 'young' });
    const { workflowId } = await start('fund-dca', c.id, { followUpAfter: 'PT1S', compareNudgeAfter: 'PT1S', companionReportEvery: 'PT2S' });
    await event(c.id, 'fund.article_read');
    await event(c.id, 'fund.detail_viewed', { fundCode: 'F100' });
    const push = await stack.push.waitFor((p) => p.customerId === c.id);
    expect(push.title).toBe("Reading a fund's page");
    await event(c.id, 'fund.compared');
    await stack.sms.waitFor((m) => m.to === c.phone && m.body.includes('shortlist'));
    await event(c.id, 'fund.subscribed', { fundCode: 'F100', amount: 5000 });
    expect((await stack.smtp.waitFor((m) => m.to.includes(c.email) && m.subject === 'Welcome to your fund')).text).toContain('F100');
    await stack.sms.waitFor((m) => m.to === c.phone && m.body.includes('Reply 1 (poor) to 5'));
    await event(c.id, 'feedback.answered', { survey: 'csat', score: 5 });
    await event(c.id, 'fund.dca_plan_created', { day: 8 });
    await stack.smtp.waitFor((m) => m.to.includes(c.email) && m.subject === 'Your monthly plan is running');
    await eventually(
      async () => stack.smtp.messages().filter((m) => m.to.includes(c.email) && m.subject === 'Your monthly companion report').length,
      (k) => k >= 2,
    );
    const view = await journey(workflowId);
    expect(view).toMatchObject({ stage: 'invest', status: 'running', goals: ['subscribed', 'dca_started'] });
    expect(view.stageHistory.map((s: { stage: string }) => s.stage)).toEqual(['discover', 'learn', 'evaluate', 'compare', 'subscribe', 'invest']);
    const log = await stack.testDb.db.journeyLogEntry.findMany({ where: { workflowId }, orderBy: { id: 'asc' } });
    const decisions = ['branch', 'send_skipped'];
    expect(log.filter((l) => !decisions.includes(l.kind)).map((l) => [l.kind, l.data])).toEqual([
      ['goal', { goal: 'subscribed' }],
      ['feedback', { survey: 'csat', template: 'fund-csat', score: 5 }],
      ['goal', { goal: 'dca_started' }],
    ]);
    // The log says why a young customer got the push rather than an advisor.
    expect(log.find((l) => l.kind === 'branch')?.data).toMatchObject({
      flow: 'detail-follow-up',
      taken: 'otherwise',
      read: { 'profile.segment': 'young', 'params.hnwSegment': 'hnw' },
    });
    expect((await stack.testDb.db.journey.findUniqueOrThrow({ where: { workflowId } })).goals).toEqual(['subscribed', 'dca_started']);
  });

  it('insurance-event: started by the invitation event; a new affluent customer gets the agent, whose outcome moves the journey', async () => {
    const c = await customer({ segment: 'new_affluent' });
    const eventAt = new Date(Date.now() + 86_400_000 + 3_000).toISOString();
    const { deliveredTo } = await event(c.id, 'insurance.invited', { eventCode: 'EV-7', eventAt });
    expect(deliveredTo).toEqual([`journey:insurance-event:${c.id}:EV-7`]);
    await stack.smtp.waitFor((m) => m.to.includes(c.email) && m.subject === 'You are invited: family protection evening');
    await event(c.id, 'insurance.registered', { eventCode: 'EV-7', eventAt });
    await stack.sms.waitFor((m) => m.to === c.phone && m.body.includes('you are registered'));
    await stack.sms.waitFor((m) => m.to === c.phone && m.body.includes('a reminder'), 15_000); // one day before eventAt: in 3 s
    await event(c.id, 'insurance.attended');
    const task = await openTask(c.id, 'needs-discovery');
    expect(task).toMatchObject({ title: 'Book a one-to-one needs discovery', rmId: 'rm-3' });
    await stack.sms.waitFor((m) => m.to === c.phone && m.body.includes('Reply 0-10'));
    await api(app).post(`/v1/tasks/${task.id}/complete`).send({ outcome: 'interested' }).expect(200);
    const view = await eventually(
      () => journey(deliveredTo[0]!),
      (v) => v.stage === 'needs_discovery',
    );
    expect(view.stageHistory.map((s: { stage: string }) => s.stage)).toEqual(['invited', 'registered', 'attended', 'needs_discovery']);
    // A second invitation to another event is a journey of its own (concurrent by event code); the same one is not.
    expect((await event(c.id, 'insurance.invited', { eventCode: 'EV-8', eventAt })).deliveredTo).toContain(`journey:insurance-event:${c.id}:EV-8`);
    expect(await stack.testDb.db.journey.count({ where: { customerId: c.id, journeyKey: 'insurance-event' } })).toBe(2);
  });

  it('lifecycle: consideration to an advocate, with the A/B reminder recorded', async () => {
    const c = await customer();
    const { workflowId } = await start('lifecycle', c.id, { considerationNudgeAfter: 'PT1S', onboardingAfter: 'PT1S' });
    await event(c.id, 'product.viewed');
    const split = await eventually(
      () => stack.testDb.db.journeyLogEntry.findFirst({ where: { workflowId, kind: 'split' } }),
      (l) => l !== null,
    );
    const variant = (split!.data as { variant: string }).variant;
    if (variant === 'email') await stack.smtp.waitFor((m) => m.to.includes(c.email) && m.subject === 'Still thinking it over?');
    else await stack.sms.waitFor((m) => m.to === c.phone && m.body.includes('still thinking it over'));
    await event(c.id, 'product.purchased');
    await stack.smtp.waitFor((m) => m.to.includes(c.email) && m.subject === 'Thank you for your purchase');
    await stack.smtp.waitFor((m) => m.to.includes(c.email) && m.subject === 'How are we doing?');
    await event(c.id, 'feedback.answered', { survey: 'csat', score: 5 });
    await stack.smtp.waitFor((m) => m.to.includes(c.email) && m.subject === 'Know someone who would like it too?');
    await event(c.id, 'customer.referred');
    const done = await eventually(
      () => journey(workflowId),
      (v) => v.status === 'completed',
    );
    expect(done).toMatchObject({ stage: 'loyalty', endReason: 'advocate', goals: ['purchased', 'advocate'] });
  });
});

describe('versions and the chorus', () => {
  it('a running journey finishes on the version it started with; new starts take the newest published', async () => {
    const a = await customer();
    const v1 = await start('lifecycle', a.id, { onboardingAfter: 'PT1S' });
    expect(v1.version).toBe(1);
    const doc = structuredClone(loadBuiltIn('lifecycle')) as any;
    doc.triggers.find((t: { event: string }) => t.event === 'product.purchased').steps[2] = { type: 'send', channel: 'sms', template: 'lifecycle-consideration' };
    const draft = await api(app).post('/v1/journey-definitions').send(doc).expect(201);
    await api(app, 'ops').post(`/v1/journey-definitions/lifecycle/versions/${draft.body.version}/publish`).expect(200);
    const b = await customer();
    const v2 = await start('lifecycle', b.id, { onboardingAfter: 'PT1S' });
    expect(v2.version).toBe(draft.body.version);
    await event(a.id, 'product.purchased');
    await event(b.id, 'product.purchased');
    await stack.smtp.waitFor((m) => m.to.includes(a.email) && m.subject === 'Thank you for your purchase');
    await stack.sms.waitFor((m) => m.to === b.phone && m.body.includes('still thinking it over'));
    expect(stack.smtp.messages().some((m) => m.to.includes(b.email) && m.subject === 'Thank you for your purchase')).toBe(false);
    expect(stack.sms.messages().some((m) => m.to === a.phone)).toBe(false);
    expect((await journey(v1.workflowId)).version).toBe(1);
  });

  it('a renewed loan starts fund-dca for the customer', async () => {
    const c = await customer();
    const loan = await start('bank-loan', c.id);
    await event(c.id, 'loan.approved', { limit: 1000, expiresAt: new Date(Date.now() + 400 * 86_400_000).toISOString() });
    await event(c.id, 'loan.renewed');
    await eventually(
      () => journey(loan.workflowId),
      (v) => v.status === 'completed',
    );
    const fund = await eventually(
      () => stack.testDb.db.journey.findFirst({ where: { customerId: c.id, journeyKey: 'fund-dca' } }),
      (j) => j !== null,
    );
    expect(fund).toMatchObject({ status: 'running', stage: 'discover', workflowId: `journey:fund-dca:${c.id}` });
  });

  it("an opt-out in the loan journey stops the customer's marketing journeys", async () => {
    const c = await customer();
    const loan = await start('bank-loan', c.id);
    const life = await start('lifecycle', c.id);
    await api(app)
      .post(`/v1/journeys/${loan.workflowId}/events`)
      .send({ eventId: `${c.id}-out`, type: 'customer.opted_out' })
      .expect(202);
    const stopped = await eventually(
      () => journey(life.workflowId),
      (v) => v.status === 'exited',
    );
    expect(stopped.endReason).toBe('customer_opted_out');
    expect((await journey(loan.workflowId)).endReason).toBe('opted_out');
  });
});

describe('re-entry and escalation on the real stack', () => {
  const quick = {
    key: 'quick-check',
    version: 1,
    name: 'Quick check',
    tags: ['marketing'],
    entry: { api: true, events: [], reentry: { mode: 'cooldown', cooldown: 'PT2S' } },
    stages: [{ key: 'open', label: 'Open' }],
    initialStage: 'open',
    triggers: [{ event: 'product.viewed', steps: [{ type: 'task', key: 'call-back', title: 'Call back', due: 'PT1S', escalateTo: 'rm-lead' }] }],
  };

  it('cool-down: no second journey while one runs or cools down, a new instance after', async () => {
    const d = await api(app).post('/v1/journey-definitions').send(quick).expect(201);
    await api(app, 'ops').post(`/v1/journey-definitions/quick-check/versions/${d.body.version}/publish`).expect(200);
    const c = await customer();
    const first = await api(app).post('/v1/journeys').send({ journeyKey: 'quick-check', customerId: c.id }).expect(201);
    await api(app).post('/v1/journeys').send({ journeyKey: 'quick-check', customerId: c.id }).expect(200);
    await api(app).post(`/v1/journeys/${first.body.workflowId}/exit`).send({ reason: 'done' }).expect(202);
    await eventually(
      () => stack.testDb.db.journey.findUniqueOrThrow({ where: { workflowId: first.body.workflowId } }),
      (j) => j.status === 'exited',
    );
    const cooling = await api(app).post('/v1/journeys').send({ journeyKey: 'quick-check', customerId: c.id }).expect(409);
    expect(cooling.body.error.code).toBe('reentry_cooldown');
    const again = await eventually(
      () => api(app).post('/v1/journeys').send({ journeyKey: 'quick-check', customerId: c.id }),
      (r) => r.status === 201,
      10_000,
    );
    expect(again.body.workflowId).toBe(`${first.body.workflowId}@2`);
  });

  it('a task still open at its due time is escalated to the second assignee', async () => {
    const c = await customer();
    const { workflowId } = await start('quick-check', c.id);
    await api(app)
      .post(`/v1/journeys/${encodeURIComponent(workflowId)}/events`)
      .send({ eventId: `${c.id}-v`, type: 'product.viewed' })
      .expect(202);
    const escalated = await eventually(
      () =>
        api(app)
          .get('/v1/tasks?rmId=rm-lead&status=open')
          .then((r) => r.body.tasks.find((t: { customerId: string }) => t.customerId === c.id)),
      (t) => t !== undefined,
    );
    expect(escalated).toMatchObject({ rmId: 'rm-3', escalatedTo: 'rm-lead', taskKey: 'call-back' });
  });
});

describe('simulation and the workflow agree', () => {
  type Entry = { label: string; t: number };
  const seqOf = (key: string) => Number(key.slice(key.lastIndexOf('/') + 1));
  /** What the workflow did and what the simulator does with the same script, each as two ordered timelines: the stages
   * entered, in order, and the keyed commands (sends and log records) in the order the engine issued them (the
   * sequence number in their idempotency keys), ended by the journey's end when it ended. */
  async function timelines(
    workflowId: string,
    params: Record<string, unknown>,
    profile: Profile,
    sent: { at: string; type: string; data: Record<string, unknown> }[],
    untilMs: number,
  ) {
    const db = stack.testDb.db;
    const row = await db.journey.findUniqueOrThrow({ where: { workflowId } });
    const [stages, messages, log] = await Promise.all([
      db.stageTransition.findMany({ where: { workflowId }, orderBy: { seq: 'asc' } }),
      db.message.findMany({ where: { workflowId } }),
      db.journeyLogEntry.findMany({ where: { workflowId } }),
    ]);
    const keyed = [
      ...messages.map((m) => ({ seq: seqOf(m.idempotencyKey), label: `send ${m.channel} ${m.template}`, t: m.createdAt.getTime() })),
      ...log.map((l) => ({ seq: seqOf(l.idempotencyKey), label: `${l.kind} ${canonical(l.data)}`, t: l.at.getTime() })),
    ].sort((a, b) => a.seq - b.seq);
    const real = {
      stages: stages.map((x): Entry => ({ label: `stage ${x.toStage}`, t: x.enteredAt.getTime() })),
      keyed: [...keyed.map(({ label, t }): Entry => ({ label, t })), ...(row.endedAt ? [{ label: `end ${row.status} ${row.exitReason}`, t: row.endedAt.getTime() }] : [])],
    };
    // The same script in virtual time, from the same start, with the events at the instants they were sent.
    const def = (await stack.definitions.get(row.journeyKey, row.version)).definition; // the version the journey runs
    const sim = simulate(def, {
      instanceId: workflowId,
      customerId: row.customerId,
      params: resolveParams(def, params),
      profile,
      start: stages[0]!.enteredAt.toISOString(),
      until: new Date(untilMs).toISOString(),
      inputs: sent.map((e, i) => ({ at: e.at, input: { type: 'event', event: { eventId: `x${i}`, type: e.type, occurredAt: e.at, data: e.data } } })),
      // A journey started by this code records its decisions (the engine-records-decisions patch): so does the simulator.
      engine: { recordDecisions: true },
    });
    const entries = sim.timeline.map(({ at, command }) => ({ e: describeCommand(command, at) as Record<string, any>, command, t: Date.parse(at) }));
    const simulated = {
      stages: entries.filter((x) => x.e.kind === 'stage').map(({ e, t }): Entry => ({ label: `stage ${e.stage}`, t })),
      keyed: entries
        .filter((x) => x.command.type === 'send' || x.command.type === 'record' || x.command.type === 'ended')
        .map(({ e, t }): Entry => ({
          label: e.kind === 'send' ? `send ${e.channel} ${e.template}` : e.kind === 'end' ? `end ${e.status} ${e.reason}` : `${e.kind} ${canonical(e.data)}`,
          t,
        })),
    };
    return { real, simulated };
  }
  const labels = (x: { stages: Entry[]; keyed: Entry[] }) => ({ stages: x.stages.map((e) => e.label), keyed: x.keyed.map((e) => e.label) });

  it('runs one script through both and gets the same ordered timelines', async () => {
    const c = await customer({ segment: 'young', timeZone: 'Asia/Shanghai' });
    const params = { considerationNudgeAfter: 'PT2S', onboardingAfter: 'PT2S' };
    const { workflowId } = await start('lifecycle', c.id, params);
    const first = await eventually(
      () => stack.testDb.db.stageTransition.findFirst({ where: { workflowId, seq: 1 } }),
      (x) => x !== null,
    );
    const t0 = first!.enteredAt.getTime();
    const script: [number, string, Record<string, unknown>][] = [
      [500, 'product.viewed', {}],
      [4000, 'product.purchased', {}],
      [7500, 'feedback.answered', { survey: 'csat', score: 5 }],
      [9000, 'customer.referred', {}],
    ];
    const sent: { at: string; type: string; data: Record<string, unknown> }[] = [];
    for (const [offset, type, data] of script) {
      await new Promise((r) => setTimeout(r, Math.max(0, t0 + offset - Date.now()))); // the script's own clock
      const at = new Date().toISOString();
      await event(c.id, type, data);
      sent.push({ at, type, data });
    }
    expect(await stack.client.workflow.getHandle(workflowId).result()).toMatchObject({ status: 'completed' });
    const { real, simulated } = await timelines(workflowId, params, { segment: 'young', timeZone: 'Asia/Shanghai', locale: 'en', attributes: {} }, sent, t0 + 60_000);
    expect(labels(real)).toEqual(labels(simulated));
    // Times agree to within the latency of a signal and an activity on this machine.
    for (const k of ['stages', 'keyed'] as const) real[k].forEach((x, i) => expect(Math.abs(x.t - simulated[k][i]!.t), x.label).toBeLessThan(1500));
    expect(simulated.keyed.map((x) => x.label)).toContain('end completed advocate');
  });

  it('a timeout that fell due while the worker was down fires before an event sent after it, in both', async () => {
    const c = await customer({ segment: 'young', timeZone: 'Asia/Shanghai' });
    const params = { considerationNudgeAfter: 'PT2S', onboardingAfter: 'P1D' };
    const { workflowId } = await start('lifecycle', c.id, params);
    const handle = stack.client.workflow.getHandle(workflowId);
    const sent: { at: string; type: string; data: Record<string, unknown> }[] = [];
    const send = async (type: string) => {
      const at = new Date().toISOString();
      await event(c.id, type);
      sent.push({ at, type, data: {} });
    };
    await send('product.viewed');
    const waiting = await eventually(
      () => handle.query(journeyQuery),
      (j) => j.waitingFor.includes('product.purchased') && j.nextTimerAt !== undefined,
    );
    // The worker goes down; the consideration timeout falls due; then the purchase arrives. Both are due together when
    // the worker comes back.
    await worker.stop();
    await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(waiting.nextTimerAt!) + 500 - Date.now())));
    await send('product.purchased');
    worker = await stack.startWorker();

    // Once the workflow has run the purchase and as much as the simulator did (on the old order it never does: the
    // event went first and the timeout with its nudge was lost).
    const profile = { segment: 'young', timeZone: 'Asia/Shanghai', locale: 'en', attributes: {} };
    const { real, simulated } = await eventually(
      () => timelines(workflowId, params, profile, sent, Date.parse(sent[1]!.at) + 1000),
      (t) => t.real.stages.some((x) => x.label === 'stage purchase') && t.real.keyed.length >= t.simulated.keyed.length,
    );
    const nudge = simulated.keyed.find((x) => x.label.startsWith('send '))!.label; // the A/B split picks email or SMS
    expect(labels(simulated).keyed.slice(0, 3)).toEqual([expect.stringMatching(/^split /), nudge, 'goal {"goal":"purchased"}']);
    expect(labels(real)).toEqual(labels(simulated));
    // Late, never early: the workflow ran what was due when the worker came back.
    for (const k of ['stages', 'keyed'] as const) real[k].forEach((x, i) => expect(x.t, x.label).toBeGreaterThanOrEqual(simulated[k][i]!.t - 1500));
  });
});
