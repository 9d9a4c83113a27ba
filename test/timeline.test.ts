// The customer timeline on the real stack (Temporal dev server, worker, Postgres, the SMTP and Twilio sinks): "why did
// (or didn't) this customer get that message?" — a branch names the case it took and why, a send the contact policy
// suppressed names the reason, a flow cancelled before its send says what was not sent and why; in time order, each
// entry naming its journey; an RM reads only their own customers' timelines, and each read is audited.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveParams } from '../engine/definition.js';
import { loadBuiltIn } from '../journeys/index.js';
import type { JourneyWorkflowInput } from '../workflows/journey.js';
import { journeyEventSignal, journeyWorkflowId } from '../workflows/messages.js';
import { api, createStackApp, eventually, NO_LIMITS, RM_ID, startStack, type Stack } from './support/stack.js';

let stack: Stack;
let app: ReturnType<typeof createStackApp>;

interface Entry {
  at: string;
  kind: string;
  journey?: { workflowId: string; journeyKey: string; version: number };
  step?: string;
  summary: string;
  detail: Record<string, any>;
}

const CUSTOMER = 'tl-1';
const EMAIL = 'wang.fang@example.com';
const PHONE = '+8613800000071';
const NAME = '王芳';
let loanId: string;
let fundId: string;
let timeline: Entry[];

beforeAll(async () => {
  // No quiet hours or caps: the only policy decision in play is consent, so the test does not depend on the clock.
  stack = await startStack({ contactPolicy: NO_LIMITS });
  await stack.startWorker();
  app = createStackApp(stack);
  const admin = api(app);
  await admin
    .put(`/v1/customers/${CUSTOMER}`)
    .send({ name: NAME, email: EMAIL, phone: PHONE, timeZone: 'Asia/Shanghai', segment: 'hnw', rmId: RM_ID, consents: { email: false, sms: true } })
    .expect(201);
  await admin.put('/v1/customers/tl-other').send({ name: 'Other', rmId: 'rm-somebody-else' }).expect(201);
  loanId = (await admin.post('/v1/journeys').send({ journeyKey: 'bank-loan', customerId: CUSTOMER }).expect(201)).body.workflowId;
  fundId = (await admin.post('/v1/journeys').send({ journeyKey: 'fund-dca', customerId: CUSTOMER }).expect(201)).body.workflowId;

  let n = 0;
  const event = (type: string, data: Record<string, unknown> = {}) =>
    admin
      .post(`/v1/customers/${CUSTOMER}/events`)
      .send({ eventId: `tl-${++n}`, type, data })
      .expect(202);
  const logged = (kind: string, count: number) =>
    eventually(
      () => stack.testDb.db.journeyLogEntry.count({ where: { customerId: CUSTOMER, kind } }),
      (c) => c >= count,
    );
  // interest: the product email, suppressed (no email consent); comparison: the guide (suppressed too), then a wait
  // whose SMS nudge never goes out, because the stage moves on.
  await event('loan.stage_changed', { stage: 'interest' });
  await event('loan.stage_changed', { stage: 'comparison' });
  await eventually(
    () => stack.testDb.db.message.count({ where: { customerId: CUSTOMER, template: 'loan-comparison-guide' } }),
    (c) => c === 1,
  );
  await event('loan.stage_changed', { stage: 'first_loan' });
  await logged('send_skipped', 1);
  // A repayment reminder waiting for its day, cancelled by the repayment.
  const dueAt = new Date(Date.now() + 30 * 86_400_000).toISOString();
  await event('loan.repayment_due', { dueAt });
  await event('loan.repaid', { dueAt });
  await logged('send_skipped', 2);
  // A high-net-worth customer looking at a fund: the branch sends an advisor, not a push.
  await event('fund.detail_viewed', { fundCode: 'F001' });
  await logged('branch', 1);
  await eventually(
    () => stack.testDb.db.task.count({ where: { workflowId: fundId } }),
    (c) => c === 1,
  );
  timeline = (await api(app, 'rm').get(`/v1/customers/${CUSTOMER}/timeline`).expect(200)).body.entries;
}, 180_000);

afterAll(async () => {
  await stack?.stop();
});

describe('the customer timeline', () => {
  it('a branch: names its journey and step, the case it took, the condition and the values it read, then the task it led to', () => {
    const branch = timeline.find((e) => e.kind === 'branch');
    expect(branch).toMatchObject({
      journey: { workflowId: fundId, journeyKey: 'fund-dca', version: 1 },
      step: expect.stringMatching(/^triggers\[\d+\]\.steps\[1\]$/),
      detail: { flow: 'detail-follow-up', taken: 'case', case: 0, when: 'profile.segment == params.hnwSegment', read: { 'profile.segment': 'hnw', 'params.hnwSegment': 'hnw' } },
    });
    expect(branch!.summary).toContain('took case 0 because profile.segment == params.hnwSegment');
    const task = timeline.find((e) => e.kind === 'task_created' && e.journey?.workflowId === fundId);
    expect(task).toMatchObject({ step: 'advisor-fund-talk', detail: { taskKey: 'advisor-fund-talk', rmId: RM_ID } });
    expect(timeline.indexOf(task!)).toBeGreaterThan(timeline.indexOf(branch!));
    // Nothing of the push the other arm would have sent.
    expect(timeline.some((e) => e.kind === 'send' && e.detail.template === 'fund-detail-guide')).toBe(false);
  });

  it('a send the contact policy suppressed: the entry says suppressed and why, with the message story', () => {
    const send = timeline.find((e) => e.kind === 'send' && e.detail.template === 'loan-product-intro');
    expect(send).toMatchObject({ journey: { workflowId: loanId, journeyKey: 'bank-loan' }, detail: { channel: 'email', status: 'suppressed', reason: 'no_consent' } });
    expect(send!.summary).toBe('email loan-product-intro: suppressed (no_consent)');
    expect(send!.detail.events.map((e: { type: string; detail: { reason?: string } }) => [e.type, e.detail.reason ?? null])).toEqual([
      ['created', null],
      ['suppressed', 'no_consent'],
    ]);
  });

  it('flows that stopped before their sends: send_skipped names what was not sent and why (stage left, flow cancelled), and nothing was sent', async () => {
    const skipped = timeline.filter((e) => e.kind === 'send_skipped');
    expect(skipped.map((e) => [e.journey?.workflowId, e.detail.reason, e.detail.flow, e.detail.skipped.map((s: { template: string }) => s.template)])).toEqual([
      [loanId, 'stage_left', 'stage:comparison', ['loan-comparison-nudge']],
      [loanId, 'flow_cancelled', 'repayment-reminder', ['loan-repayment-reminder']],
    ]);
    expect(skipped[0]!.summary).toBe('not sent: sms loan-comparison-nudge — flow stage:comparison stopped: stage comparison left for first_loan');
    expect(skipped[1]!.summary).toMatch(/^not sent: sms loan-repayment-reminder — flow repayment-reminder \(.+\) stopped: cancelled by flow trigger-\d+$/);
    expect(await stack.testDb.db.message.count({ where: { customerId: CUSTOMER, template: { in: ['loan-comparison-nudge', 'loan-repayment-reminder'] } } })).toBe(0);
  });

  it('speaks Chinese when asked (lang=zh-CN): the same entries and detail, the sentences in zh-CN; another language is refused', async () => {
    const zh: Entry[] = (await api(app, 'rm').get(`/v1/customers/${CUSTOMER}/timeline?lang=zh-CN`).expect(200)).body.entries;
    expect(zh.map(({ summary: _, ...e }) => e)).toEqual(timeline.map(({ summary: _, ...e }) => e));
    const skipped = zh.find((e) => e.kind === 'send_skipped')!;
    expect(skipped.summary).toBe('未发送：sms loan-comparison-nudge——流程 stage:comparison 已停止：已离开阶段 comparison，进入 first_loan');
    expect(zh.find((e) => e.kind === 'branch')!.summary).toContain('走了分支 0，因为 profile.segment == params.hnwSegment');
    const error = (await api(app, 'rm').get(`/v1/customers/${CUSTOMER}/timeline?lang=fr`).expect(400)).body.error;
    expect(error).toMatchObject({ code: 'invalid_request', message: expect.stringContaining('lang') });
  });

  it('is in time order, with events and stage changes, each journey entry naming its journey, and no contact data', () => {
    const times = timeline.map((e) => Date.parse(e.at));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    const kinds = new Set(timeline.map((e) => e.kind));
    for (const k of ['event', 'stage', 'branch', 'send', 'send_skipped', 'task_created']) expect(kinds).toContain(k);
    const stages = timeline.filter((e) => e.kind === 'stage' && e.journey?.workflowId === loanId).map((e) => e.detail.to);
    expect(stages).toEqual(['awareness', 'interest', 'comparison', 'first_loan']);
    // The event that moved the stage comes before the move.
    const moved = timeline.findIndex((e) => e.kind === 'stage' && e.detail.to === 'first_loan');
    expect(timeline.slice(0, moved).some((e) => e.kind === 'event' && e.detail.type === 'loan.stage_changed')).toBe(true);
    for (const e of timeline.filter((x) => x.kind !== 'event')) expect(e.journey?.workflowId).toMatch(/^journey:/);
    const text = JSON.stringify(timeline);
    for (const secret of [EMAIL, PHONE, NAME]) expect(text).not.toContain(secret);
  });

  it('pages by time: limit caps a page, nextFrom continues it, and the pages together are the whole timeline', async () => {
    const pages: Entry[] = [];
    let from: string | undefined;
    for (let i = 0; i < 50; i++) {
      const r = await api(app, 'ops')
        .get(`/v1/customers/${CUSTOMER}/timeline?limit=3${from ? `&from=${encodeURIComponent(from)}` : ''}`)
        .expect(200);
      expect(r.body.entries.length).toBeLessThanOrEqual(3);
      pages.push(...r.body.entries);
      if (!r.body.truncated) break;
      expect(r.body.nextFrom).toEqual(expect.any(String));
      from = r.body.nextFrom;
    }
    const all = (await api(app, 'ops').get(`/v1/customers/${CUSTOMER}/timeline`).expect(200)).body;
    expect(all.truncated).toBe(false);
    expect(pages).toEqual(all.entries);
    expect(all.entries.length).toBeGreaterThan(3);
  });

  it('pages through an instant that holds more entries than a page: each once, none left behind', async () => {
    // One engine activation stamps its records with one instant: a journey end cutting many flows writes many at once.
    const customerId = 'tl-burst';
    await api(app, 'admin').put(`/v1/customers/${customerId}`).send({ name: 'Burst', rmId: 'rm-burst' }).expect(201);
    const at = new Date('2026-03-01T08:00:00.000Z');
    const later = new Date('2026-03-01T09:00:00.000Z');
    await stack.testDb.db.journeyLogEntry.createMany({
      data: [
        ...Array.from({ length: 7 }, (_, i) => ({
          idempotencyKey: `burst/${i}`,
          workflowId: 'journey:x:tl-burst',
          customerId,
          journeyKey: 'x',
          kind: 'send_skipped',
          data: { i },
          at,
        })),
        { idempotencyKey: 'burst/later', workflowId: 'journey:x:tl-burst', customerId, journeyKey: 'x', kind: 'goal', data: { goal: 'g' }, at: later },
      ],
    });
    const seen: Entry[] = [];
    let from: string | undefined;
    for (let i = 0; i < 10; i++) {
      const r = await api(app, 'ops')
        .get(`/v1/customers/${customerId}/timeline?limit=2${from ? `&from=${encodeURIComponent(from)}` : ''}`)
        .expect(200);
      seen.push(...r.body.entries);
      if (!r.body.truncated) break;
      from = r.body.nextFrom;
    }
    const all = (await api(app, 'ops').get(`/v1/customers/${customerId}/timeline`).expect(200)).body.entries as Entry[];
    expect(all.filter((e) => e.kind === 'send_skipped')).toHaveLength(7);
    expect(seen).toEqual(all);
  });

  it('shows a migration and a refused one, in en and zh-CN, with the journey and the detail the log holds', async () => {
    const customerId = 'tl-migrated';
    await api(app, 'admin').put(`/v1/customers/${customerId}`).send({ name: 'Migrated', rmId: 'rm-mig' }).expect(201);
    const workflowId = 'journey:bank-loan:tl-migrated';
    const moved = {
      migrationId: 'm1',
      fromVersion: 1,
      toVersion: 2,
      stage: { from: 'comparison', to: 'compare' },
      steps: [{ from: 'stages[2].onEnter[1]', to: 'stages[2].onEnter[1]' }],
    };
    const refused = { migrationId: 'm2', fromVersion: 1, toVersion: 3, code: 'migration_mismatch', message: 'the journey runs version 2, not 1' };
    await stack.testDb.db.journeyLogEntry.createMany({
      data: [
        { idempotencyKey: `${workflowId}/migration/m1`, workflowId, customerId, journeyKey: 'bank-loan', kind: 'migration', data: moved, at: new Date('2026-03-02T08:00:00.000Z') },
        {
          idempotencyKey: `${workflowId}/migration/m2`,
          workflowId,
          customerId,
          journeyKey: 'bank-loan',
          kind: 'migration_refused',
          data: refused,
          at: new Date('2026-03-02T09:00:00.000Z'),
        },
      ],
    });
    const en = (await api(app, 'ops').get(`/v1/customers/${customerId}/timeline`).expect(200)).body.entries as Entry[];
    expect(en.map((e) => [e.kind, e.summary, e.detail])).toEqual([
      ['migration', 'moved from version 1 to version 2, stage comparison → compare', moved],
      ['migration_refused', 'stayed on version 1: the move to version 3 was refused (migration_mismatch)', refused],
    ]);
    const zh = (await api(app, 'ops').get(`/v1/customers/${customerId}/timeline?lang=zh-CN`).expect(200)).body.entries as Entry[];
    expect(zh.map((e) => e.summary)).toEqual(['已从版本 1 迁移到版本 2，阶段 comparison → compare', '仍在版本 1：迁移到版本 3 被拒绝（migration_mismatch）']);
  });

  it('refuses bad paging with a 400 and its error code', async () => {
    for (const q of ['limit=0', 'limit=abc', 'from=yesterday', 'cursor=1', 'from=0000-01-01T00:00:00Z', 'to=+275760-09-13T00:00:00Z'])
      expect((await api(app, 'ops').get(`/v1/customers/${CUSTOMER}/timeline?${q}`).expect(400)).body.error).toMatchObject({
        code: 'invalid_request',
        message: expect.stringContaining('query'),
      });
  });

  it("an RM reads their own customer's timeline; another RM's customer reads 404 exactly as a missing one; ops reads both; designer and system may not", async () => {
    const rm = api(app, 'rm');
    await rm.get(`/v1/customers/${CUSTOMER}/timeline`).expect(200);
    const other = await rm.get('/v1/customers/tl-other/timeline').expect(404);
    const none = await rm.get('/v1/customers/tl-none/timeline').expect(404);
    expect(other.body).toEqual({ error: { code: 'not_found', message: 'customer "tl-other" not found' } });
    expect(none.body).toEqual({ error: { code: 'not_found', message: 'customer "tl-none" not found' } });
    expect((await api(app, 'ops').get('/v1/customers/tl-other/timeline').expect(200)).body).toMatchObject({ customerId: 'tl-other', entries: [], truncated: false });
    await api(app, 'ops').get('/v1/customers/tl-none/timeline').expect(404);
    await api(app, 'designer').get(`/v1/customers/${CUSTOMER}/timeline`).expect(403);
    await api(app, 'system').get(`/v1/customers/${CUSTOMER}/timeline`).expect(403);
  });

  it('every read is audited as a read of the customer', async () => {
    const res = await api(app, 'rm').get(`/v1/customers/${CUSTOMER}/timeline`).expect(200);
    const requestId = res.headers['x-request-id'] as string;
    const entry = await eventually(
      () => stack.testDb.db.auditLog.findFirst({ where: { requestId } }),
      (e) => e !== null,
    );
    expect(entry).toMatchObject({ action: 'customer.timeline.read', targetType: 'customer', targetId: CUSTOMER, role: 'rm', outcome: 'ok', status: 200 });
  });
});

describe('the simulator shows the same decisions', () => {
  it('a preview of fund-dca for a high-net-worth customer lists the branch to the advisor, and a cancelled reminder for a loan', async () => {
    const designer = api(app, 'designer');
    const fund = await designer
      .post('/v1/journey-definitions/simulate')
      .send({
        key: 'fund-dca',
        customer: { segment: 'hnw' },
        start: '2026-01-01T00:00:00Z',
        events: [{ at: '2026-01-01T01:00:00Z', type: 'fund.detail_viewed', data: { fundCode: 'F001' } }],
        until: '2026-01-02T00:00:00Z',
      })
      .expect(200);
    expect(fund.body.decisions).toEqual([
      {
        at: '2026-01-01T01:00:00.000Z',
        kind: 'branch',
        data: expect.objectContaining({ flow: 'detail-follow-up', taken: 'case', case: 0, read: { 'profile.segment': 'hnw', 'params.hnwSegment': 'hnw' } }),
      },
    ]);
    const dueAt = '2026-03-01T00:00:00Z';
    const loan = await designer
      .post('/v1/journey-definitions/simulate')
      .send({
        key: 'bank-loan',
        start: '2026-01-01T00:00:00Z',
        events: [
          { at: '2026-01-02T00:00:00Z', type: 'loan.repayment_due', data: { dueAt } },
          { at: '2026-01-03T00:00:00Z', type: 'loan.repaid', data: { dueAt } },
        ],
        until: '2026-04-01T00:00:00Z',
      })
      .expect(200);
    expect(loan.body.decisions).toEqual([
      { at: '2026-01-03T00:00:00.000Z', kind: 'send_skipped', data: expect.objectContaining({ reason: 'flow_cancelled', flow: 'repayment-reminder', instance: dueAt }) },
    ]);
    expect(loan.body.messages.some((m: { template: string }) => m.template === 'loan-repayment-reminder')).toBe(false);
  });
});

describe('a held-out customer', () => {
  it('the timeline names the cohort, and each send the control journey did not make as send_skipped, reason held_out', async () => {
    await api(app).put('/v1/customers/tl-held').send({ name: 'Held', email: 'held@example.com', rmId: RM_ID }).expect(201);
    const def = loadBuiltIn('lifecycle');
    const handle = await stack.client.workflow.start('journeyWorkflow', {
      taskQueue: stack.taskQueue,
      workflowId: journeyWorkflowId('lifecycle', 'tl-held'),
      args: [
        { definition: def, customerId: 'tl-held', params: resolveParams(def, {}), holdout: { cohort: 'control', source: 'global', percent: 10 } } satisfies JourneyWorkflowInput,
      ],
    });
    await handle.signal(journeyEventSignal, { eventId: 'tl-held-1', type: 'product.purchased', occurredAt: new Date().toISOString(), data: {} });
    const entries = await eventually(
      () =>
        api(app, 'rm')
          .get('/v1/customers/tl-held/timeline')
          .then((r) => r.body.entries as Entry[]),
      (e) => e.some((x) => x.kind === 'send_skipped'),
    );
    expect(entries.find((e) => e.kind === 'holdout')).toMatchObject({ summary: 'holdout: control (global, 10 %)', detail: { cohort: 'control', source: 'global', percent: 10 } });
    expect(entries.find((e) => e.kind === 'send_skipped')).toMatchObject({
      journey: { workflowId: handle.workflowId, journeyKey: 'lifecycle' },
      summary: 'not sent: email lifecycle-thanks — held out (control cohort)',
      detail: { reason: 'held_out', action: 'send', channel: 'email', template: 'lifecycle-thanks' },
    });
    expect(entries.some((e) => e.kind === 'send')).toBe(false);
  });
});

describe('erasure', () => {
  it("an erased customer's timeline keeps the decisions but not the values a branch read", async () => {
    await api(app).delete(`/v1/customers/${CUSTOMER}`).expect(202);
    const after: Entry[] = (await api(app, 'ops').get(`/v1/customers/${CUSTOMER}/timeline`).expect(200)).body.entries;
    const branch = after.find((e) => e.kind === 'branch')!;
    expect(branch.detail).toMatchObject({ taken: 'case', case: 0, when: 'profile.segment == params.hnwSegment' });
    expect(branch.detail.read).toBeUndefined();
    expect(branch.summary).not.toContain('hnw"');
  });
});
