// Migrating running bank-loan journeys from v1 to a v2 that adds an SMS after the comparison stage's wait, on the real
// stack: the dry run, a refused map, the migration workflow, the journeys' answers, and what the customers receive.
import type express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Step } from '../engine/definition.js';
import { loadBuiltIn } from '../journeys/index.js';
import { journeyEventSignal, stateQuery } from '../workflows/messages.js';
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
