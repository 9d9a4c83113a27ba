// Migrating running bank-loan journeys from v1 to a v2 that adds an SMS after the comparison stage's wait, on the real
// stack: the dry run, a refused map, the migration workflow, the journeys' answers, and what the customers receive.
import { randomUUID } from 'node:crypto';
import type express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Step } from '../engine/definition.js';
import { loadBuiltIn } from '../journeys/index.js';
import { Conflict, Unavailable } from '../service/errors.js';
import { type MigrationDeps, MigrationService, migrationWorkflowId } from '../service/migrations.js';
import { createTemporalClient } from '../service/temporal-client.js';
import type { JourneyWorkflowInput } from '../workflows/journey.js';
import type { journeyMigrationWorkflow } from '../workflows/migration.js';
import { journeyEventSignal, migrationLogKey, stateQuery } from '../workflows/messages.js';
import { freePort } from './support/ports.js';
import { api, createStackApp, eventually, type Stack, startStack } from './support/stack.js';

const WAIT = 'stages[2].onEnter[1]';
const FOLLOW_UP = 'loan-comparison-follow-up';

let stack: Stack;
let app: express.Express;
let worker: { stop(): Promise<void> };
const ids: Record<'comparing1' | 'comparing2' | 'ended' | 'aware', string> = { comparing1: '', comparing2: '', ended: '', aware: '' };
let e = 0;

const signal = (workflowId: string, type: string, data: Record<string, unknown> = {}) =>
  stack.client.workflow.getHandle(workflowId).signal(journeyEventSignal, { eventId: `m-${++e}`, type, occurredAt: new Date().toISOString(), data });
const sent = (customerId: string, template: string) => stack.testDb.db.message.count({ where: { customerId, template, status: { in: ['sent', 'delivered'] } } });
/** Closes the running migrations the tests stored and drove themselves (no workflow finishes them). */
const closeRunning = () => stack.testDb.db.journeyMigration.updateMany({ where: { status: 'running' }, data: { status: 'completed', finishedAt: new Date() } });
const waitingAt = (workflowId: string) => stack.testDb.db.journey.findUnique({ where: { workflowId }, select: { waiting: true, version: true, stage: true } });

beforeAll(async () => {
  stack = await startStack();
  worker = await stack.startWorker();
  app = createStackApp(stack);
  const designer = api(app, 'designer');
  const ops = api(app, 'ops');
  // The new SMS's template, drafted and published by two people.
  await designer.put(`/v1/templates/${FOLLOW_UP}/sms/en`).send({ text: 'Still comparing? Our advisers can walk you through the numbers.' }).expect(201);
  await ops.post(`/v1/templates/${FOLLOW_UP}/sms/en/versions/1/publish`).expect(200);

  for (const [name, customerId] of [
    ['comparing1', 'mig-1'],
    ['comparing2', 'mig-2'],
    ['ended', 'mig-3'],
    ['aware', 'mig-4'],
  ] as const) {
    await stack.testDb.db.customer.create({
      data: { id: customerId, name: `Migration ${customerId}`, email: `${customerId}@example.com`, phone: `+1555000${customerId.slice(-1)}000` },
    });
    const started = await stack.service.startJourney({ journeyKey: 'bank-loan', customerId, params: { comparisonNudgeAfter: 'P1D' }, via: 'api' });
    ids[name] = started.journey.workflowId;
  }
  for (const name of ['comparing1', 'comparing2', 'ended'] as const) {
    await signal(ids[name], 'loan.stage_changed', { stage: 'comparison' });
    await eventually(
      () => waitingAt(ids[name]),
      (j) => j?.waiting.join() === WAIT,
    );
  }
  // A journey the read model still shows running in comparison, whose workflow is gone: the migration skips it.
  await stack.client.workflow.getHandle(ids.ended).terminate('test: gone before the migration');

  // v2: an SMS after the comparison stage's wait, drafted by a designer and published by ops.
  const doc = JSON.parse(JSON.stringify(loadBuiltIn('bank-loan'))) as { stages: { key: string; onEnter?: Step[] }[] };
  doc.stages.find((s) => s.key === 'comparison')!.onEnter!.push({ type: 'send', channel: 'sms', template: FOLLOW_UP });
  const draft = await designer.post('/v1/journey-definitions').send(doc).expect(201);
  expect(draft.body.version).toBe(2);
  await ops.post('/v1/journey-definitions/bank-loan/versions/2/publish').expect(200);
}, 120_000);

afterAll(async () => {
  await worker?.stop();
  await stack?.stop();
});

describe('migrating running journeys', () => {
  it('refuses a dry run that maps the waiting wait step onto a timer step, naming the step and the reason', async () => {
    const r = await api(app, 'ops')
      .post('/v1/journey-definitions/bank-loan/migrations')
      .send({ fromVersion: 1, toVersion: 2, map: { steps: { [WAIT]: 'triggers[5].steps[0]' } }, dryRun: true })
      .expect(422);
    expect(r.body.error.code).toBe('incompatible_step');
    expect(r.body.error.message).toContain(`step "${WAIT}" cannot move to "triggers[5].steps[0]": a wait step cannot become a delayUntil step`);
  });

  it('refuses a designer: migrating is for ops and admin', async () => {
    await api(app, 'designer').post('/v1/journey-definitions/bank-loan/migrations').send({ fromVersion: 1, toVersion: 2, dryRun: true }).expect(403);
  });

  it('lists in a dry run the journeys in comparison and where each lands', async () => {
    const r = await api(app, 'ops')
      .post('/v1/journey-definitions/bank-loan/migrations')
      .send({ fromVersion: 1, toVersion: 2, where: { stage: 'comparison' }, dryRun: true })
      .expect(200);
    expect(r.body).toMatchObject({ dryRun: true, total: 3, truncated: false });
    expect(r.body.journeys).toEqual(
      [ids.comparing1, ids.comparing2, ids.ended].sort().map((workflowId) => ({ workflowId, stage: { from: 'comparison', to: 'comparison' }, steps: [{ from: WAIT, to: WAIT }] })),
    );
    // Nothing moved.
    expect((await waitingAt(ids.comparing1))?.version).toBe(1);
  });

  it('moves the journeys in comparison to v2: exact progress, the new SMS once after the wait, no old send again, others unaffected', async () => {
    const ops = api(app, 'ops');
    const started = await ops
      .post('/v1/journey-definitions/bank-loan/migrations')
      .send({ fromVersion: 1, toVersion: 2, where: { stage: 'comparison' }, dryRun: false, pace: { batchSize: 2, pauseMs: 100 } })
      .expect(202);
    expect(started.body).toMatchObject({ total: 3, status: 'running' });
    const progress = await eventually(
      async () => (await ops.get(`/v1/journey-definitions/bank-loan/migrations/${started.body.migrationId}`).expect(200)).body,
      (p: { status: string }) => p.status === 'completed',
      60_000,
    );
    expect(progress).toMatchObject({ total: 3, pending: 0, migrated: 2, failed: 0, skipped: { count: 1, reasons: [{ reason: 'journey_ended', count: 1 }] } });

    for (const id of [ids.comparing1, ids.comparing2]) {
      expect(await waitingAt(id)).toEqual({ waiting: [WAIT], version: 2, stage: 'comparison' });
      const state = await stack.client.workflow.getHandle(id).query(stateQuery);
      expect(state.version).toBe(2);
      const log = await stack.testDb.db.journeyLogEntry.findMany({ where: { workflowId: id, kind: 'migration' } });
      expect(log.map((l) => l.data)).toEqual([
        { migrationId: started.body.migrationId, fromVersion: 1, toVersion: 2, stage: { from: 'comparison', to: 'comparison' }, steps: [{ from: WAIT, to: WAIT }] },
      ]);
    }
    expect((await waitingAt(ids.aware))?.version).toBe(1);
    expect((await waitingAt(ids.ended))?.version).toBe(1);

    // The customers apply: the migrated ones get the new SMS once; the one on v1 (moved to comparison afterwards) not.
    await signal(ids.aware, 'loan.stage_changed', { stage: 'comparison' });
    for (const id of [ids.comparing1, ids.comparing2, ids.aware]) await signal(id, 'loan.application_started');
    for (const c of ['mig-1', 'mig-2'])
      await eventually(
        () => sent(c, FOLLOW_UP),
        (n) => n === 1,
      );
    await eventually(
      () => stack.testDb.db.journey.findUnique({ where: { workflowId: ids.aware } }),
      (j) => j?.stage === 'first_loan',
    );
    for (const c of ['mig-1', 'mig-2', 'mig-4']) {
      expect(await sent(c, 'loan-product-intro')).toBe(0);
      expect(await sent(c, 'loan-comparison-guide')).toBe(1);
    }
    expect(await sent('mig-4', FOLLOW_UP)).toBe(0);
    // Once each, whatever its status: nothing sent twice.
    for (const c of ['mig-1', 'mig-2']) expect(await stack.testDb.db.message.count({ where: { customerId: c, template: FOLLOW_UP } })).toBe(1);
  }, 120_000);

  it('records the migration in the audit log, with who applied it', async () => {
    const entries = await stack.audit.query({ action: 'definition.migrate', limit: 10 });
    const applied = entries.find((x) => (x.detail as { dryRun?: boolean }).dryRun === false);
    expect(applied).toMatchObject({ role: 'ops', targetId: 'bank-loan', outcome: 'ok', status: 202 });
    expect((applied!.detail as { total?: number }).total).toBe(3);
  });
});

describe('a migration that does not stall, and counts exactly', () => {
  /** A migration stored as `apply` stores one, of the given journeys, with no workflow running it: the test drives
   * its batches. */
  async function stored(workflowIds: string[], opts: { fromVersion?: number; toVersion?: number; map?: object } = {}) {
    // One running migration per key and version (as `apply` keeps it): the previous test's is closed first.
    await closeRunning();
    const migrationId = randomUUID();
    await stack.testDb.db.journeyMigration.create({
      data: { id: migrationId, journeyKey: 'bank-loan', fromVersion: opts.fromVersion ?? 1, toVersion: opts.toVersion ?? 2, map: opts.map ?? {}, createdBy: 'test' },
    });
    await stack.testDb.db.journeyMigrationItem.createMany({ data: workflowIds.map((workflowId) => ({ migrationId, workflowId })) });
    return migrationId;
  }
  const items = async (migrationId: string) =>
    Object.fromEntries(
      (await stack.testDb.db.journeyMigrationItem.findMany({ where: { migrationId } })).map((i) => [i.workflowId, { status: i.status, reason: i.reason, attempts: i.attempts }]),
    );
  const service = (over: Partial<MigrationDeps>) =>
    new MigrationService({ db: stack.testDb.db, temporal: stack.client, taskQueue: stack.taskQueue, definitions: stack.definitions, ...over });
  const heartbeat = { heartbeat: () => undefined };
  /** A journey on v2 waiting in comparison (started now, on the latest published version: v2 until v3 is). */
  async function comparingOnV2(customerId: string) {
    await stack.testDb.db.customer.create({ data: { id: customerId, name: `Migration ${customerId}`, email: `${customerId}@example.com` } });
    const started = await stack.service.startJourney({ journeyKey: 'bank-loan', customerId, params: {}, via: 'api' });
    const id = started.journey.workflowId;
    await signal(id, 'loan.stage_changed', { stage: 'comparison' });
    await eventually(
      () => waitingAt(id),
      (j) => j?.waiting.join() === WAIT && j.version === 2,
    );
    return id;
  }
  /** A dead address for Temporal: every call fails as "not answering" within its deadline. */
  const deadTemporal = async () => createTemporalClient({ address: `127.0.0.1:${await freePort()}`, namespace: stack.config.temporal.namespace, callTimeoutMs: 500 }).client;

  let renamedFrom = '';
  const onV2: string[] = [];
  it('fails a journey its worker never answers for after its last pass, and moves the journeys after it meanwhile', async () => {
    // Journeys on v2 for this test and the next ones, before v3 is published.
    renamedFrom = await comparingOnV2('mig-5');
    for (const c of ['mig-7', 'mig-8']) onV2.push(await comparingOnV2(c));
    // v3 renames the comparison stage to "compare".
    const doc = JSON.parse(JSON.stringify(loadBuiltIn('bank-loan'))) as { stages: { key: string; onEnter?: Step[] }[]; triggers: { steps: Step[] }[] };
    const comparison = doc.stages.find((x) => x.key === 'comparison')!;
    comparison.onEnter!.push({ type: 'send', channel: 'sms', template: FOLLOW_UP });
    comparison.key = 'compare';
    for (const t of doc.triggers) for (const x of t.steps) if (x.type === 'stage' && x.stage === 'comparison') x.stage = 'compare';
    expect((await api(app, 'designer').post('/v1/journey-definitions').send(doc).expect(201)).body.version).toBe(3);
    await api(app, 'ops').post('/v1/journey-definitions/bank-loan/versions/3/publish').expect(200);

    // A journey no worker runs: Temporal answers its state query with "deadline exceeded", every time. Its id sorts
    // first.
    const input: JourneyWorkflowInput = { definition: loadBuiltIn('bank-loan'), customerId: 'mig-6', params: {} };
    const unaskable = await stack.client.workflow.start('journeyWorkflow', { taskQueue: `${stack.taskQueue}-nobody`, workflowId: 'journey:bank-loan:!unaskable', args: [input] });
    const temporal = createTemporalClient({ address: stack.env.address, namespace: stack.config.temporal.namespace, payloadKeys: stack.config.payloadKeys, callTimeoutMs: 1_000 });
    try {
      const migrationId = await stored([unaskable.workflowId, renamedFrom], { fromVersion: 2, toVersion: 3, map: { stages: { comparison: 'compare' } } });
      const migrations = service({ temporal: temporal.client, maxAttempts: 2 });
      // The first pass stops on it (the activity would retry); the next takes the other journey first.
      await expect(migrations.runBatch({ migrationId, limit: 10 }, heartbeat)).rejects.toThrow();
      expect(await items(migrationId)).toMatchObject({ [unaskable.workflowId]: { status: 'pending', attempts: 1 }, [renamedFrom]: { status: 'pending', attempts: 0 } });
      expect(await migrations.runBatch({ migrationId, limit: 10 }, heartbeat)).toEqual({ remaining: 0 });
      expect(await items(migrationId)).toMatchObject({
        [unaskable.workflowId]: { status: 'failed', attempts: 2, reason: expect.stringMatching(/^unavailable: /) },
        [renamedFrom]: { status: 'migrated' },
      });
    } finally {
      await unaskable.terminate('test: done');
      await temporal.connection.close();
    }
  }, 60_000);

  it('writes the renamed stage as a stage transition with cause migration, so the read model shows the journey in it', async () => {
    const transitions = await stack.testDb.db.stageTransition.findMany({ where: { workflowId: renamedFrom }, orderBy: { seq: 'asc' } });
    expect(transitions.at(-1)).toMatchObject({ fromStage: 'comparison', toStage: 'compare', cause: 'migration', seq: transitions.length });
    // The analytics triggers closed the visit to the old key when the new one began.
    const [closed] = await stack.testDb.db.$queryRaw<
      { left_at: Date | null }[]
    >`SELECT left_at FROM stage_transitions WHERE workflow_id = ${renamedFrom} AND to_stage = 'comparison'`;
    expect(closed?.left_at?.toISOString()).toBe(transitions.at(-1)!.enteredAt.toISOString());
    expect(await waitingAt(renamedFrom)).toEqual({ waiting: [WAIT], version: 3, stage: 'compare' });
  });

  it('leaves a journey that has not answered yet pending, and counts it migrated once its answer is in its log', async () => {
    const id = onV2[0]!;
    const migrationId = await stored([id], { fromVersion: 2, toVersion: 3, map: { stages: { comparison: 'compare' } } });
    // No time to answer in a pass: the journey is signalled, and stays pending.
    const impatient = service({ answerTimeoutMs: 0, maxAttempts: 2 });
    expect(await impatient.runBatch({ migrationId, limit: 10 }, heartbeat)).toEqual({ remaining: 1 });
    expect((await items(migrationId))[id]).toMatchObject({ status: 'pending', attempts: 1, reason: expect.stringMatching(/^no_answer/) });
    // It moves all the same; the next pass reads its answer.
    await eventually(
      () => stack.testDb.db.journeyLogEntry.findUnique({ where: { idempotencyKey: migrationLogKey(id, migrationId) } }),
      (e) => e?.kind === 'migration',
    );
    expect(await impatient.runBatch({ migrationId, limit: 10 }, heartbeat)).toEqual({ remaining: 0 });
    expect((await items(migrationId))[id]).toMatchObject({ status: 'migrated' });
  }, 60_000);

  it('counts a journey failed for want of an answer as migrated when it moved after all', async () => {
    const id = onV2[1]!;
    const migrationId = await stored([id], { fromVersion: 2, toVersion: 3, map: { stages: { comparison: 'compare' } } });
    await service({ answerTimeoutMs: 0, maxAttempts: 1 }).runBatch({ migrationId, limit: 10 }, heartbeat);
    expect((await items(migrationId))[id]).toMatchObject({ status: 'failed', reason: expect.stringMatching(/^no_answer/) });
    await eventually(
      () => waitingAt(id),
      (j) => j?.version === 3,
    );
    const done = await stack.migrations.finish(migrationId);
    expect(done).toMatchObject({ status: 'completed', total: 1, migrated: 1, failed: 0, pending: 0 });
  }, 60_000);

  it('retries a journey Temporal does not answer for behind the others, then fails it after the last pass', async () => {
    const migrationId = await stored(['journey:bank-loan:a', 'journey:bank-loan:b']);
    const cut = service({ temporal: await deadTemporal(), maxAttempts: 2 });
    // Each pass fails on the journey tried fewest times: a, then b (a waits behind it), then a for the last time.
    await expect(cut.runBatch({ migrationId, limit: 10 }, heartbeat)).rejects.toThrow();
    expect(await items(migrationId)).toMatchObject({ 'journey:bank-loan:a': { status: 'pending', attempts: 1 }, 'journey:bank-loan:b': { status: 'pending', attempts: 0 } });
    await expect(cut.runBatch({ migrationId, limit: 10 }, heartbeat)).rejects.toThrow();
    expect(await items(migrationId)).toMatchObject({ 'journey:bank-loan:b': { status: 'pending', attempts: 1 } });
    expect(await cut.runBatch({ migrationId, limit: 10 }, heartbeat)).toEqual({ remaining: 0 });
    expect(await items(migrationId)).toMatchObject({
      'journey:bank-loan:a': { status: 'failed', attempts: 2, reason: expect.stringMatching(/^unavailable: /) },
      'journey:bank-loan:b': { status: 'failed', reason: expect.stringMatching(/^unavailable: /) },
    });
  }, 60_000);

  it('takes no new journey once its time budget is spent, and answers how many remain', async () => {
    const migrationId = await stored(['journey:bank-loan:c', 'journey:bank-loan:d']);
    expect(await service({ batchBudgetMs: 0 }).runBatch({ migrationId, limit: 10 }, heartbeat)).toEqual({ remaining: 2 });
    expect(Object.values(await items(migrationId)).map((i) => i.attempts)).toEqual([0, 0]);
  });

  it('stops when its activity is cancelled, storing nothing for the journeys it did not reach', async () => {
    const migrationId = await stored(['journey:bank-loan:e']);
    const cancelled = new AbortController();
    cancelled.abort(new Error('cancelled'));
    await expect(stack.migrations.runBatch({ migrationId, limit: 10 }, { ...heartbeat, signal: cancelled.signal })).rejects.toThrow('cancelled');
    expect(await items(migrationId)).toEqual({ 'journey:bank-loan:e': { status: 'pending', reason: null, attempts: 0 } });
  });

  it('refuses in the dry run a journey whose parameters the live move would refuse (incompatible_param)', async () => {
    // The read model's copy of what a v1 journey runs with: a value v2 would not start with.
    await stack.testDb.db.journey.update({ where: { workflowId: ids.ended }, data: { params: { taskDueIn: 'soon' } } });
    const r = await api(app, 'ops').post('/v1/journey-definitions/bank-loan/migrations').send({ fromVersion: 1, toVersion: 2, dryRun: true }).expect(422);
    expect(r.body.error).toMatchObject({ code: 'incompatible_param', message: expect.stringContaining(`${ids.ended}: parameter "taskDueIn"`) });
    await stack.testDb.db.journey.update({ where: { workflowId: ids.ended }, data: { params: { comparisonNudgeAfter: 'P1D' } } });
  });

  it('marks a migration whose workflow cannot be started failed (503 unavailable), and moves nothing if it ran after all', async () => {
    await closeRunning();
    const down = service({ temporal: await deadTemporal() });
    const err = await down
      .apply('bank-loan', { fromVersion: 1, toVersion: 2, map: {}, where: {}, dryRun: false, pace: { batchSize: 20, pauseMs: 1000 } }, 'ops-down')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Unavailable);
    const m = await stack.testDb.db.journeyMigration.findFirstOrThrow({ where: { createdBy: 'ops-down' }, include: { items: true } });
    expect(m.status).toBe('failed');
    expect(m.finishedAt).not.toBeNull();
    expect(m.items.length).toBeGreaterThan(0);
    for (const i of m.items) expect(i).toMatchObject({ status: 'failed', reason: expect.stringMatching(/^not_started: /) });
    expect(await stack.migrations.runBatch({ migrationId: m.id, limit: 10 }, heartbeat)).toEqual({ remaining: 0 });
  }, 30_000);
});

describe('one migration of the same journeys at a time, counted exactly', () => {
  const body = (over: { where?: { stage?: string } } = {}) => ({
    fromVersion: 1,
    toVersion: 2,
    map: {},
    // No journey is in this stage: the migration takes none, and finishes at once when it runs.
    where: over.where ?? { stage: 'no-such-stage' },
    dryRun: false,
    pace: { batchSize: 20, pauseMs: 0 },
  });
  /** A migration stored just now, as `apply` stores one (its workflow not started yet). */
  const running = (migrationId: string) =>
    stack.testDb.db.journeyMigration.create({ data: { id: migrationId, journeyKey: 'bank-loan', fromVersion: 1, toVersion: 2, createdBy: 'test', createdAt: new Date() } });

  it('refuses a second apply from the same version while one runs (409 migration_in_progress naming it), and takes it once that one finished', async () => {
    await closeRunning();
    const first = randomUUID();
    await running(first);
    const ops = api(app, 'ops');
    const r = await ops.post('/v1/journey-definitions/bank-loan/migrations').send(body()).expect(409);
    expect(r.body.error).toMatchObject({ code: 'migration_in_progress', message: expect.stringContaining(first), details: { migrationId: first } });
    expect(await stack.testDb.db.journeyMigration.count({ where: { journeyKey: 'bank-loan', fromVersion: 1, status: 'running' } })).toBe(1);
    // A dry run changes nothing: still answered.
    await ops
      .post('/v1/journey-definitions/bank-loan/migrations')
      .send({ ...body(), dryRun: true })
      .expect(200);

    await stack.migrations.finish(first);
    const next = await ops.post('/v1/journey-definitions/bank-loan/migrations').send(body()).expect(202);
    await eventually(
      async () => (await ops.get(`/v1/journey-definitions/bank-loan/migrations/${next.body.migrationId}`).expect(200)).body,
      (p: { status: string }) => p.status === 'completed',
    );
  }, 30_000);

  it('lets one of two applies at the same instant win; the other is refused naming the winner, and the database holds one running', async () => {
    await closeRunning();
    const [a, b] = await Promise.allSettled([stack.migrations.apply('bank-loan', body(), 'ops-race-a'), stack.migrations.apply('bank-loan', body(), 'ops-race-b')]);
    const won = [a, b].filter((r) => r.status === 'fulfilled');
    const lost = [a, b].filter((r) => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    const reason = lost[0]!.reason as Conflict;
    expect(reason).toBeInstanceOf(Conflict);
    expect(reason.code).toBe('migration_in_progress');
    expect(reason.details).toMatchObject({ migrationId: won[0]!.value.migrationId });
    // What holds the rule when both pass the check before inserting: the partial unique index on running migrations.
    await closeRunning();
    await running(randomUUID());
    await expect(running(randomUUID())).rejects.toMatchObject({ code: 'P2002' });
    await closeRunning();
  }, 30_000);

  it('no longer refuses an apply because of a migration whose workflow was terminated: that one is closed failed, and the new one runs', async () => {
    await closeRunning();
    const stuck = randomUUID();
    await running(stuck);
    await stack.testDb.db.journeyMigrationItem.create({ data: { migrationId: stuck, workflowId: 'journey:bank-loan:mig-stuck' } });
    // Its workflow, on a queue no worker polls (it moves nothing), is ended by an operator before its last activity.
    const handle = await stack.client.workflow.start<typeof journeyMigrationWorkflow>('journeyMigrationWorkflow', {
      taskQueue: `${stack.taskQueue}-unpolled`,
      workflowId: migrationWorkflowId('bank-loan', stuck),
      args: [{ migrationId: stuck, batchSize: 20, pauseMs: 0 }],
    });
    const ops = api(app, 'ops');
    const refused = await ops.post('/v1/journey-definitions/bank-loan/migrations').send(body()).expect(409);
    expect(refused.body.error).toMatchObject({ code: 'migration_in_progress', details: { migrationId: stuck } });
    await handle.terminate('test: ended by an operator');

    const next = await ops.post('/v1/journey-definitions/bank-loan/migrations').send(body()).expect(202);
    const old = await stack.testDb.db.journeyMigration.findUniqueOrThrow({ where: { id: stuck }, include: { items: true } });
    expect(old.status).toBe('failed');
    expect(old.finishedAt).not.toBeNull();
    expect(old.items).toMatchObject([{ status: 'failed', reason: 'abandoned: its workflow ended terminated without finishing it' }]);
    await eventually(
      async () => (await ops.get(`/v1/journey-definitions/bank-loan/migrations/${next.body.migrationId}`).expect(200)).body,
      (p: { status: string }) => p.status === 'completed',
    );
  }, 30_000);

  it('no longer refuses an apply because of a migration whose workflow never started, once the start window has passed', async () => {
    await closeRunning();
    const stranded = randomUUID();
    // Stored two minutes ago, and its process died before it started the workflow.
    await stack.testDb.db.journeyMigration.create({
      data: { id: stranded, journeyKey: 'bank-loan', fromVersion: 1, toVersion: 2, createdBy: 'test', createdAt: new Date(Date.now() - 120_000) },
    });
    const next = await stack.migrations.apply('bank-loan', body(), 'ops-after-stranded');
    expect(await stack.testDb.db.journeyMigration.findUniqueOrThrow({ where: { id: stranded } })).toMatchObject({ status: 'failed', finishedAt: expect.any(Date) });
    await eventually(
      () => stack.testDb.db.journeyMigration.findUniqueOrThrow({ where: { id: next.migrationId } }),
      (m) => m.status === 'completed',
    );
  }, 30_000);

  it('skips a journey another migration already moved to the target as already_on_target, not counting it migrated', async () => {
    // comparing1 was moved to v2 by the first migration; the read model lagging, a second migration takes it again.
    await closeRunning();
    const second = randomUUID();
    await running(second);
    await stack.testDb.db.journeyMigrationItem.create({ data: { migrationId: second, workflowId: ids.comparing1 } });
    expect(await stack.migrations.runBatch({ migrationId: second, limit: 10 }, { heartbeat: () => undefined })).toEqual({ remaining: 0 });
    const progress = await stack.migrations.finish(second);
    expect(progress).toMatchObject({ total: 1, migrated: 0, failed: 0, pending: 0, skipped: { count: 1 } });
    expect(progress.skipped.reasons).toEqual([{ reason: 'already_on_target: the journey already runs version 2', count: 1 }]);
    // The journey stayed where the first migration put it, with that migration's one move in its log.
    expect((await stack.client.workflow.getHandle(ids.comparing1).query(stateQuery)).version).toBe(2);
    expect(await stack.testDb.db.journeyLogEntry.count({ where: { workflowId: ids.comparing1, kind: 'migration' } })).toBe(1);
  }, 60_000);
});
