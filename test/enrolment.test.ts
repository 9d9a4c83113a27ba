// Bulk enrolment of an audience into a journey, on the real stack: by ids (with pages) and by segment, exact progress,
// entry and re-entry rules per customer, a second enrolment of the same customers enrolling nobody twice, a worker
// stopped mid-enrolment (its last outcomes lost, as in a crash) and another finishing with exact counts, pause, resume
// and cancel, and the refusals of bad input.
import type express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JourneyDefinition } from '../engine/definition.js';
import { assignHoldout } from '../service/holdouts.js';
import type { StartPlan } from '../service/journeys.js';
import { enrolmentWorkflowId } from '../workflows/messages.js';
import { api, createStackApp, eventually, type Stack, startStack } from './support/stack.js';

let stack: Stack;
let app: express.Express;
let worker: { stop(): Promise<void> };

const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${String(i + 1).padStart(3, '0')}`);
const progress = async (id: string) => (await api(app, 'ops').get(`/v1/enrolments/${id}`).expect(200)).body;
const finished = (id: string) =>
  eventually(
    () => progress(id),
    (p) => p.status === 'completed' || p.status === 'cancelled',
    60_000,
  );
/** Journey rows per customer: each enrolled customer has exactly one. */
const journeysOf = (customerIds: string[]) =>
  stack.testDb.db.journey.groupBy({ by: ['customerId'], where: { customerId: { in: customerIds }, journeyKey: 'lifecycle' }, _count: { _all: true } });

async function customers(list: string[], data: { segment?: string; rmId?: string } = {}) {
  await stack.testDb.db.customer.createMany({ data: list.map((id) => ({ id, ...data })) });
}

beforeAll(async () => {
  stack = await startStack();
  worker = await stack.startWorker();
  app = createStackApp(stack);
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

describe('bulk enrolment', () => {
  const byIds = ids('enr-a', 50);

  it('enrols 50 customers by ids: unknown ids and a customer cooling down are skipped with their reasons, a repeated id counted once', async () => {
    await customers(byIds);
    // A customer whose last lifecycle journey ended moments ago: its re-entry rule (cool-down P180D) refuses a new one.
    await customers(['enr-cool']);
    const first = await stack.service.startJourney({ journeyKey: 'lifecycle', customerId: 'enr-cool', via: 'api' });
    await stack.service.exitJourney(first.journey.workflowId, 'test');
    await eventually(
      () => stack.testDb.db.journey.findUnique({ where: { workflowId: first.journey.workflowId } }),
      (j) => j?.status === 'exited',
    );

    const made = await api(app, 'ops')
      .post('/v1/enrolments')
      .send({ journeyKey: 'lifecycle', customers: [...byIds, 'enr-ghost-1', 'enr-cool', 'enr-ghost-2', byIds[0]], ratePerSecond: 200 })
      .expect(202);
    expect(made.body).toMatchObject({ journeyKey: 'lifecycle', status: 'running', total: 53 });

    const done = await finished(made.body.id);
    expect(done).toMatchObject({
      status: 'completed',
      total: 53,
      pending: 0,
      started: 50,
      skipped: { unknown_customer: 2, reentry_cooldown: 1 },
      failed: 0,
      failures: {},
    });
    const rows = await stack.testDb.db.journey.findMany({ where: { enrolmentId: made.body.id }, select: { customerId: true, workflowId: true, status: true } });
    expect(rows.map((r) => r.customerId).sort()).toEqual(byIds);
    // The same workflow ids as the API's one start, and each workflow runs.
    const one = rows.find((r) => r.customerId === byIds[7])!;
    expect(one.workflowId).toBe(`journey:lifecycle:${byIds[7]}`);
    expect((await stack.client.workflow.getHandle(one.workflowId).describe()).status.name).toBe('RUNNING');
  }, 90_000);

  it('a second enrolment of the same customers enrols nobody twice: every one is skipped as already_running', async () => {
    const again = await api(app, 'ops').post('/v1/enrolments').send({ journeyKey: 'lifecycle', customers: byIds, ratePerSecond: 500 }).expect(202);
    const done = await finished(again.body.id);
    expect(done).toMatchObject({ status: 'completed', total: 50, started: 0, skipped: { already_running: 50 }, failed: 0 });
    expect((await journeysOf(byIds)).every((g) => g._count._all === 1)).toBe(true);
  }, 90_000);

  it('enrols a segment resolved in SQL: its customers only, not the erased one; a segment of one RM narrows it', async () => {
    const hnw = ids('enr-hnw', 30);
    await customers(hnw.slice(0, 25), { segment: 'hnw', rmId: 'rm-enr-1' });
    await customers(hnw.slice(25), { segment: 'hnw', rmId: 'rm-enr-2' });
    await customers(ids('enr-mass', 5), { segment: 'mass', rmId: 'rm-enr-1' });
    await stack.testDb.db.customer.create({ data: { id: 'enr-hnw-erased', segment: 'hnw', erasedAt: new Date() } });

    const ofRm = await api(app, 'ops')
      .post('/v1/enrolments')
      .send({ journeyKey: 'lifecycle', filter: { segment: 'hnw', rmId: 'rm-enr-2' }, ratePerSecond: 200 })
      .expect(202);
    expect(ofRm.body.total).toBe(5);
    expect(await finished(ofRm.body.id)).toMatchObject({ status: 'completed', total: 5, started: 5, skipped: {}, filter: { segment: 'hnw', rmId: 'rm-enr-2' } });

    const segment = await api(app, 'ops')
      .post('/v1/enrolments')
      .send({ journeyKey: 'lifecycle', filter: { segment: 'hnw' }, ratePerSecond: 200 })
      .expect(202);
    expect(await finished(segment.body.id)).toMatchObject({ status: 'completed', total: 30, started: 25, skipped: { already_running: 5 }, failed: 0 });
    expect((await journeysOf([...hnw, ...ids('enr-mass', 5), 'enr-hnw-erased'])).map((g) => g.customerId).sort()).toEqual(hnw);
  }, 90_000);

  it('takes its customers in pages before it starts: a repeated id is added once, a page after the start is refused', async () => {
    const paged = ids('enr-p', 20);
    await customers(paged);
    const ops = api(app, 'ops');
    const made = await ops
      .post('/v1/enrolments')
      .send({ journeyKey: 'lifecycle', customers: paged.slice(0, 12), start: false })
      .expect(202);
    expect(made.body).toMatchObject({ status: 'open', total: 12, pending: 12 });
    const page = await ops
      .post(`/v1/enrolments/${made.body.id}/customers`)
      .send({ customers: paged.slice(10) })
      .expect(200);
    expect(page.body).toEqual({ id: made.body.id, added: 8, total: 20 });
    expect((await ops.post(`/v1/enrolments/${made.body.id}/pause`).expect(409)).body.error.code).toBe('enrolment_not_started');
    await ops.post(`/v1/enrolments/${made.body.id}/start`).expect(202);
    expect(
      (
        await ops
          .post(`/v1/enrolments/${made.body.id}/customers`)
          .send({ customers: ['enr-late'] })
          .expect(409)
      ).body.error.code,
    ).toBe('enrolment_started');
    expect(await finished(made.body.id)).toMatchObject({ status: 'completed', total: 20, started: 20, skipped: {} });
  }, 90_000);

  it('resumes after its worker is stopped mid-enrolment with its last outcomes lost: a new worker finishes with exact counts', async () => {
    const killed = ids('enr-k', 40);
    await customers(killed);
    const made = await api(app, 'ops').post('/v1/enrolments').send({ journeyKey: 'lifecycle', customers: killed, ratePerSecond: 10 }).expect(202);
    const midway = await eventually(
      () => progress(made.body.id),
      (p) => p.started >= 10,
      30_000,
    );
    expect(midway.pending).toBeGreaterThan(0);
    await worker.stop();
    const stopped = await progress(made.body.id);
    expect(stopped.status).toBe('running');
    expect(stopped.pending).toBeGreaterThan(0);
    // As in a crash: the journeys of some started customers exist, their outcomes were never stored.
    const lost = await stack.testDb.db.enrolmentItem.updateMany({
      where: { enrolmentId: made.body.id, status: 'started', customerId: { in: killed.slice(0, 5) } },
      data: { status: 'pending' },
    });
    expect(lost.count).toBe(5);

    worker = await stack.startWorker();
    const done = await finished(made.body.id);
    expect(done).toMatchObject({ status: 'completed', total: 40, pending: 0, started: 40, skipped: {}, failed: 0 });
    const groups = await journeysOf(killed);
    expect(groups).toHaveLength(40);
    expect(groups.every((g) => g._count._all === 1)).toBe(true);
  }, 120_000);

  it('pause stops the starts after the batch in flight, resume goes on, cancel ends it with the counts so far', async () => {
    const slow = ids('enr-s', 40);
    await customers(slow);
    const ops = api(app, 'ops');
    const made = await ops.post('/v1/enrolments').send({ journeyKey: 'lifecycle', customers: slow, ratePerSecond: 5 }).expect(202);
    const id = made.body.id as string;
    await ops.post(`/v1/enrolments/${id}/pause`).expect(202);
    const paused = await eventually(
      () => progress(id),
      (p) => p.status === 'paused',
      30_000,
    );
    // Paused: no batch in flight, and nothing starts (at 5 a second, ten would have in two seconds).
    const described = await stack.client.workflow.getHandle(enrolmentWorkflowId(id)).describe();
    expect(described.raw.pendingActivities ?? []).toHaveLength(0);
    await new Promise((r) => setTimeout(r, 2_000));
    const still = await progress(id);
    expect(still).toMatchObject({ status: 'paused', started: paused.started, pending: paused.pending });
    expect(still.pending).toBeGreaterThan(0);

    await ops.post(`/v1/enrolments/${id}/resume`).expect(202);
    await eventually(
      () => progress(id),
      (p) => p.status === 'running' && p.started > paused.started,
      30_000,
    );
    await ops.post(`/v1/enrolments/${id}/cancel`).expect(202);
    const cancelled = await finished(id);
    expect(cancelled.status).toBe('cancelled');
    expect(cancelled.started).toBeGreaterThan(paused.started);
    expect(cancelled.pending).toBeGreaterThan(0);
    expect(cancelled.started + cancelled.pending).toBe(40);
    expect(await stack.testDb.db.journey.count({ where: { enrolmentId: id } })).toBe(cancelled.started);
    expect((await ops.post(`/v1/enrolments/${id}/resume`).expect(409)).body.error.code).toBe('enrolment_finished');
  }, 120_000);

  it('is audited with counts, never the customers; listed on the ops page', async () => {
    const entries = await eventually(
      () => stack.testDb.db.auditLog.findMany({ where: { action: 'enrolment.create' } }),
      (e) => e.length >= 5,
    );
    expect(entries.every((e) => e.role === 'ops' && e.targetType === 'enrolment' && e.targetId !== null)).toBe(true);
    expect(JSON.stringify(entries.map((e) => e.detail))).not.toContain('enr-a-');
    const list = await api(app, 'ops').get('/v1/enrolments?limit=3').expect(200);
    expect(list.body.enrolments).toHaveLength(3);
    expect(list.body.enrolments[0].status).toBe('cancelled');
  });

  it('refuses bad input with its code', async () => {
    const ops = api(app, 'ops');
    const refused = async (body: unknown, status: number) =>
      (
        await ops
          .post('/v1/enrolments')
          .send(body as object)
          .expect(status)
      ).body.error.code as string;
    expect(await refused({ journeyKey: 'no-such-journey', customers: ['enr-a-001'] }, 404)).toBe('not_found');
    expect(await refused({ journeyKey: 'lifecycle', customers: [] }, 400)).toBe('invalid_request');
    expect(await refused({ journeyKey: 'lifecycle' }, 400)).toBe('invalid_request');
    expect(await refused({ journeyKey: 'lifecycle', customers: ['enr-a-001'], filter: { segment: 'hnw' } }, 400)).toBe('invalid_request');
    expect(await refused({ journeyKey: 'lifecycle', customers: ids('x', 10_001) }, 400)).toBe('invalid_request');
    expect(await refused({ journeyKey: 'lifecycle', customers: Array.from({ length: 13_000 }, (_, i) => `${'c'.repeat(120)}${i}`) }, 413)).toBe('payload_too_large');
    expect(await refused({ journeyKey: 'lifecycle', filter: { segment: 'nobody-here' } }, 400)).toBe('empty_audience');
    expect(await refused({ journeyKey: 'lifecycle', customers: ['enr-a-001'], params: { noSuchParam: 1 } }, 400)).toBe('invalid_params');
    expect(await refused({ journeyKey: 'lifecycle', customers: ['enr-a-001'], ratePerSecond: 0 }, 400)).toBe('invalid_request');
    await ops.get('/v1/enrolments/00000000-0000-4000-8000-000000000000').expect(404);
    await api(app, 'designer')
      .post('/v1/enrolments')
      .send({ journeyKey: 'lifecycle', customers: ['enr-a-001'] })
      .expect(403);
    await api(app, 'system')
      .post('/v1/enrolments')
      .send({ journeyKey: 'lifecycle', customers: ['enr-a-001'] })
      .expect(403);
  });

  it('a batch mixing new, running, cooling-down, unknown and erased customers and a row a crash left without its workflow gives each its exact outcome', async () => {
    const fresh = ids('enr-m-new', 3);
    await customers([...fresh, 'enr-m-running', 'enr-m-cool', 'enr-m-crashed']);
    await stack.testDb.db.customer.create({ data: { id: 'enr-m-erased', erasedAt: new Date() } });
    const running = await stack.service.startJourney({ journeyKey: 'lifecycle', customerId: 'enr-m-running', via: 'api' });
    const cool = await stack.service.startJourney({ journeyKey: 'lifecycle', customerId: 'enr-m-cool', via: 'api' });
    await stack.service.exitJourney(cool.journey.workflowId, 'test');
    await eventually(
      () => stack.testDb.db.journey.findUnique({ where: { workflowId: cool.journey.workflowId } }),
      (j) => j?.status === 'exited',
    );
    const audience = [...fresh, 'enr-m-running', 'enr-m-cool', 'enr-m-ghost', 'enr-m-erased', 'enr-m-crashed'];
    const made = await api(app, 'ops').post('/v1/enrolments').send({ journeyKey: 'lifecycle', customers: audience, ratePerSecond: 500, start: false }).expect(202);
    // As a crash between a batch's row write and its starts leaves it: the row, written by this enrolment, no workflow.
    const resolved = await stack.service.resolveStart('lifecycle', 'enrolment', {});
    const plan = (await stack.service.planStarts(resolved, ['enr-m-crashed'], made.body.id, new Date())).get('enr-m-crashed') as Extract<StartPlan, { kind: 'start' }>;
    const left = stack.service.beginStart(resolved, plan, 'enrolment', new Date());
    expect([...(await stack.service.writeStarts([left]))]).toEqual([left.workflowId]);
    await expect(stack.client.workflow.getHandle(left.workflowId).describe()).rejects.toThrow();

    await api(app, 'ops').post(`/v1/enrolments/${made.body.id}/start`).expect(202);
    expect(await finished(made.body.id)).toMatchObject({
      status: 'completed',
      total: 8,
      pending: 0,
      started: 4,
      skipped: { already_running: 1, reentry_cooldown: 1, unknown_customer: 2 },
      failed: 0,
    });
    const items = await stack.testDb.db.enrolmentItem.findMany({ where: { enrolmentId: made.body.id }, select: { customerId: true, status: true, reason: true } });
    expect(Object.fromEntries(items.map((i) => [i.customerId, i.reason ?? i.status]))).toEqual({
      ...Object.fromEntries(fresh.map((c) => [c, 'started'])),
      'enr-m-crashed': 'started',
      'enr-m-running': 'already_running',
      'enr-m-cool': 'reentry_cooldown',
      'enr-m-ghost': 'unknown_customer',
      'enr-m-erased': 'unknown_customer',
    });
    // One journey each: the crashed customer's row is the one its workflow runs for, with its first transition once.
    const rows = await stack.testDb.db.journey.findMany({ where: { customerId: { in: audience } }, select: { customerId: true, workflowId: true, enrolmentId: true } });
    expect(
      rows
        .filter((r) => r.enrolmentId === made.body.id)
        .map((r) => r.customerId)
        .sort(),
    ).toEqual([...fresh, 'enr-m-crashed'].sort());
    expect(rows.filter((r) => r.customerId === 'enr-m-crashed')).toEqual([{ customerId: 'enr-m-crashed', workflowId: left.workflowId, enrolmentId: made.body.id }]);
    expect(await stack.testDb.db.stageTransition.count({ where: { workflowId: left.workflowId, seq: left.transitions[0]!.seq } })).toBe(1);
    for (const r of rows.filter((r) => r.enrolmentId === made.body.id)) expect((await stack.client.workflow.getHandle(r.workflowId).describe()).status.name).toBe('RUNNING');
    expect(rows.filter((r) => r.customerId === 'enr-m-running').map((r) => r.workflowId)).toEqual([running.journey.workflowId]);
    expect(rows.some((r) => r.customerId === 'enr-m-erased' || r.customerId === 'enr-m-ghost')).toBe(false);
  }, 90_000);

  it('a worker stopping mid-batch leaves no row without its workflow, and the next batch starts every other customer once', async () => {
    const list = ids('enr-stop', 30);
    await customers(list);
    const made = await api(app, 'ops').post('/v1/enrolments').send({ journeyKey: 'lifecycle', customers: list, ratePerSecond: 20, start: false }).expect(202);
    const enrolmentId = made.body.id as string;
    // The batch as the enrolment workflow's activity runs it, told to stop after its second start.
    let beats = 0;
    const stopping = { heartbeat: () => void beats++, stopping: () => beats >= 2 };
    await expect(stack.deps.enrolments.runBatch({ enrolmentId, limit: 30, ratePerSecond: 20 }, stopping)).rejects.toThrow(/shutting down/);
    const stopped = await progress(enrolmentId);
    expect(stopped.started).toBeGreaterThanOrEqual(2);
    expect(stopped.pending).toBe(30 - stopped.started);
    const rows = await stack.testDb.db.journey.findMany({ where: { enrolmentId }, select: { workflowId: true } });
    expect(rows).toHaveLength(stopped.started);
    for (const r of rows) expect((await stack.client.workflow.getHandle(r.workflowId).describe()).status.name).toBe('RUNNING');

    const rest = await stack.deps.enrolments.runBatch({ enrolmentId, limit: 30, ratePerSecond: 200 }, { heartbeat: () => undefined, stopping: () => false });
    expect(rest).toEqual({ remaining: 0 });
    expect(await progress(enrolmentId)).toMatchObject({ total: 30, pending: 0, started: 30, skipped: {}, failed: 0 });
    const groups = await journeysOf(list);
    expect(groups).toHaveLength(30);
    expect(groups.every((g) => g._count._all === 1)).toBe(true);
  }, 90_000);

  it('a cancelled enrolment removes the rows a crash left written ahead of their starts, and counts a row whose workflow did start', async () => {
    const list = ids('enr-orphan', 3);
    await customers(list);
    const made = await api(app, 'ops').post('/v1/enrolments').send({ journeyKey: 'lifecycle', customers: list, ratePerSecond: 50, start: false }).expect(202);
    const enrolmentId = made.body.id as string;
    // As a crash leaves a batch: the first two customers' rows written, only the second's workflow started, no outcome
    // stored; then the enrolment is cancelled.
    const resolved = await stack.service.resolveStart('lifecycle', 'enrolment', {});
    const plans = await stack.service.planStarts(resolved, list.slice(0, 2), enrolmentId, new Date());
    const begun = list.slice(0, 2).map((c) => stack.service.beginStart(resolved, plans.get(c) as Extract<StartPlan, { kind: 'start' }>, 'enrolment', new Date()));
    expect((await stack.service.writeStarts(begun)).size).toBe(2);
    expect(await stack.service.launchStart(begun[1]!)).toBe(true);

    const closed = await stack.deps.enrolments.finish(enrolmentId, true);
    expect(closed).toMatchObject({ started: 1, pending: 2 });
    const rows = await stack.testDb.db.journey.findMany({ where: { customerId: { in: list } }, select: { customerId: true, workflowId: true } });
    expect(rows).toEqual([{ customerId: list[1], workflowId: begun[1]!.workflowId }]);
    expect(await stack.testDb.db.stageTransition.count({ where: { workflowId: begun[0]!.workflowId } })).toBe(0);
    const items = await stack.testDb.db.enrolmentItem.findMany({ where: { enrolmentId }, orderBy: { seq: 'asc' }, select: { status: true } });
    expect(items.map((i) => i.status)).toEqual(['pending', 'started', 'pending']);
  }, 90_000);

  it("puts each customer in the holdout cohort the API's single start gives them, and tells the workflow", async () => {
    const held = {
      key: 'enr-held',
      version: 1,
      name: 'Held',
      tags: ['marketing'],
      holdout: { percent: 50 },
      entry: { api: true, events: [], reentry: { mode: 'concurrent' } },
      stages: [{ key: 'open', label: 'Open' }],
      initialStage: 'open',
      goals: [{ key: 'converted', event: 'product.viewed' }],
      triggers: [],
    };
    const draft = await api(app).post('/v1/journey-definitions').send(held).expect(201);
    await api(app, 'ops').post(`/v1/journey-definitions/enr-held/versions/${draft.body.version}/publish`).expect(200);
    const list = ids('enr-h', 24);
    await customers(list);
    const expected = list.map((c) => assignHoldout(JourneyDefinition.parse(held), c, stack.config.controlGroup)!.cohort);
    expect(new Set(expected)).toEqual(new Set(['control', 'treated']));

    const made = await api(app, 'ops').post('/v1/enrolments').send({ journeyKey: 'enr-held', customers: list, ratePerSecond: 500 }).expect(202);
    expect(await finished(made.body.id)).toMatchObject({ status: 'completed', started: 24 });
    // The same customers through the API's single start (another business key: another journey of the same key).
    const single = await Promise.all(list.map((c) => stack.service.startJourney({ journeyKey: 'enr-held', customerId: c, businessKey: 'single', via: 'api' })));
    const enrolled = await stack.testDb.db.journey.findMany({ where: { enrolmentId: made.body.id }, select: { customerId: true, workflowId: true, cohort: true } });
    const cohortOf = new Map(enrolled.map((r) => [r.customerId, r.cohort]));
    expect(list.map((c) => cohortOf.get(c))).toEqual(expected);
    expect(single.map((s) => s.journey.cohort)).toEqual(expected);
    const control = enrolled.find((r) => r.cohort === 'control')!;
    expect((await stack.service.getJourney(control.workflowId)).cohort).toBe('control');
  }, 90_000);
});
