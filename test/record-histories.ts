// `npm run record-histories`: records the workflow histories that test/replay.test.ts replays on every change, from
// the current workflow code on the real stack. Run it when a deliberate, patched() change to the workflow is done, and
// commit the files: from then on the replay test guards both the old and the new histories. Histories of earlier
// releases (first-release-*.json, before-engine-orders-*.json) are never re-recorded: they stand for journeys still
// running on old code paths. RECORD_ONLY=<prefix> writes only the files whose names start with it (the sections all
// run, as later ones may depend on earlier ones): a new section is recorded without touching the histories before it.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { JourneyDefinition, resolveParams, type Step } from '../engine/definition.js';
import { loadBuiltIn } from '../journeys/index.js';
import { EnrolmentBody } from '../service/enrolments.js';
import { MigrationBody } from '../service/migrations.js';
import type { JourneyWorkflowInput } from '../workflows/journey.js';
import {
  enrolmentWorkflowId,
  journeyEventSignal,
  journeyQuery,
  journeyWorkflowId,
  migrateJourneySignal,
  migrationLogKey,
  stageQuery,
  stateQuery,
  taskCompletedSignal,
} from '../workflows/messages.js';
import { eventually, startStack } from './support/stack.js';

const stack = await startStack();
const only = process.env.RECORD_ONLY;
async function save(name: string, handle: { fetchHistory(): Promise<Parameters<typeof historyToJSON>[0]> }) {
  if (only !== undefined && !name.startsWith(only)) return;
  const file = new URL(`./histories/${name}.json`, import.meta.url);
  await writeFile(file, historyToJSON(await handle.fetchHistory()));
  process.stdout.write(`recorded ${file.pathname}\n`);
}
try {
  let worker = await stack.startWorker();
  const loan = loadBuiltIn('bank-loan');
  const customerId = 'history-1';
  const phone = '+15550009999';
  await stack.testDb.db.customer.create({ data: { id: customerId, name: 'History', email: 'history@example.com', phone, rmId: 'rm-1' } });
  const params = resolveParams(loan, { comparisonNudgeAfter: 'PT1S', applicationAssistAfter: 'PT1S', drawdownFollowUpAfter: 'PT1S', renewalFollowUpAfter: 'PT1S' });
  const input: JourneyWorkflowInput = { definition: loan, customerId, params };
  const workflowId = journeyWorkflowId('bank-loan', customerId);
  const handle = await stack.client.workflow.start('journeyWorkflow', { taskQueue: stack.taskQueue, workflowId, args: [input] });
  let e = 0;
  const send = (type: string, data: Record<string, unknown> = {}) => handle.signal(journeyEventSignal, { eventId: `h-${++e}`, type, occurredAt: new Date().toISOString(), data });

  await send('loan.stage_changed', { stage: 'interest' });
  await send('loan.stage_changed', { stage: 'comparison' });
  await stack.sms.waitFor((m) => m.to === phone);
  await send('loan.application_started');
  const task = await eventually(
    () => stack.testDb.db.task.findFirst({ where: { customerId } }),
    (t) => t !== null,
  );
  await handle.signal(taskCompletedSignal, { taskId: task!.id, taskKey: task!.taskKey, outcome: 'interested' });
  await send('loan.application_submitted');
  await send('loan.approved', { limit: 50000, expiresAt: new Date(Date.now() + 30 * 86_400_000 + 3000).toISOString() });
  await send('loan.drawdown', { amount: 1000 });
  await send('loan.repayment_due', { dueAt: new Date(Date.now() + 3 * 86_400_000 + 500).toISOString() });
  await eventually(
    () => handle.query(stageQuery),
    (s) => s.stage === 'renewal',
  );
  await eventually(
    () => stack.testDb.db.task.count({ where: { customerId } }),
    (c) => c === 2,
  );
  await send('loan.renewed');
  assert.deepEqual(await handle.result(), { status: 'completed', reason: 'renewed', stage: 'renewal' });
  await save('bank-loan-renewed', handle);

  // A lifecycle journey: an A/B split, a survey answered, goals, a referral that completes it.
  const other = 'history-2';
  await stack.testDb.db.customer.create({ data: { id: other, name: 'History Two', email: 'history2@example.com', phone: '+15550008888' } });
  const life = await stack.service.startJourney({ journeyKey: 'lifecycle', customerId: other, params: { considerationNudgeAfter: 'PT1S', onboardingAfter: 'PT1S' }, via: 'api' });
  const lifeHandle = stack.client.workflow.getHandle(life.journey.workflowId);
  const sendTo = (type: string, data: Record<string, unknown> = {}) =>
    lifeHandle.signal(journeyEventSignal, { eventId: `h2-${++e}`, type, occurredAt: new Date().toISOString(), data });
  await sendTo('product.viewed');
  await eventually(
    () => stack.testDb.db.journeyLogEntry.count({ where: { workflowId: life.journey.workflowId, kind: 'split' } }),
    (c) => c === 1,
  );
  await sendTo('product.purchased');
  await stack.smtp.waitFor((m) => m.to.includes('history2@example.com') && m.subject === 'How are we doing?');
  await sendTo('feedback.answered', { survey: 'csat', score: 5 });
  await sendTo('customer.referred');
  assert.deepEqual(await lifeHandle.result(), { status: 'completed', reason: 'advocate', stage: 'loyalty' });
  await save('lifecycle-advocate', lifeHandle);

  // The engine orders inputs: a consideration timeout falls due while the worker is down, then a purchase arrives;
  // the timeout fires first (the nudge, then the thanks). An opt-out ends it.
  const third = 'history-3';
  await stack.testDb.db.customer.create({ data: { id: third, name: 'History Three', email: 'history3@example.com', phone: '+15550007777' } });
  const order = await stack.service.startJourney({ journeyKey: 'lifecycle', customerId: third, params: { considerationNudgeAfter: 'PT2S', onboardingAfter: 'P1D' }, via: 'api' });
  const orderHandle = stack.client.workflow.getHandle(order.journey.workflowId);
  const sendOrder = (type: string) => orderHandle.signal(journeyEventSignal, { eventId: `h3-${++e}`, type, occurredAt: new Date().toISOString(), data: {} });
  await sendOrder('product.viewed');
  const waiting = await eventually(
    () => orderHandle.query(journeyQuery),
    (j) => j.nextTimerAt !== undefined,
  );
  await worker.stop();
  await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(waiting.nextTimerAt!) + 500 - Date.now())));
  await sendOrder('product.purchased');
  worker = await stack.startWorker();
  await stack.smtp.waitFor((m) => m.to.includes('history3@example.com') && m.subject === 'Thank you for your purchase');
  await sendOrder('customer.opted_out');
  assert.deepEqual(await orderHandle.result(), { status: 'exited', reason: 'opted_out', stage: 'purchase' });
  await save('lifecycle-timer-before-event', orderHandle);

  // A poison definition (a goto to a missing step, as if stored without validation): the journey ends as failed.
  const poison = {
    key: 'poison-goto',
    version: 1,
    name: 'Poison',
    stages: [{ key: 'one', label: 'One' }],
    initialStage: 'one',
    tags: [],
    params: {},
    exits: [],
    goals: [],
    entry: { api: true, events: [], reentry: { mode: 'once' as const } },
    triggers: [{ event: 'product.viewed', scope: 'journey' as const, replace: false, steps: [{ type: 'goto' as const, target: 'nowhere' }] }],
  };
  const poisonId = journeyWorkflowId(poison.key, third);
  const poisonHandle = await stack.client.workflow.start('journeyWorkflow', {
    taskQueue: stack.taskQueue,
    workflowId: poisonId,
    args: [{ definition: poison, customerId: third, params: {} } satisfies JourneyWorkflowInput],
  });
  await poisonHandle.signal(journeyEventSignal, { eventId: `h4-${++e}`, type: 'product.viewed', occurredAt: new Date().toISOString(), data: {} });
  assert.equal((await poisonHandle.result()).status, 'failed');
  await save('poison-failed', poisonHandle);

  // Holdouts (patch holdout-cohort): a control lifecycle journey — the holdout entry first, every send held out, the
  // onboarding delay and the goals as in treatment.
  const held = 'history-4';
  await stack.testDb.db.customer.create({ data: { id: held, name: 'History Four', email: 'history4@example.com', phone: '+15550006666' } });
  const life2 = loadBuiltIn('lifecycle');
  const heldHandle = await stack.client.workflow.start('journeyWorkflow', {
    taskQueue: stack.taskQueue,
    workflowId: journeyWorkflowId('lifecycle', held),
    args: [
      {
        definition: life2,
        customerId: held,
        params: resolveParams(life2, { onboardingAfter: 'PT1S' }),
        holdout: { cohort: 'control', source: 'global', percent: 10 },
      } satisfies JourneyWorkflowInput,
    ],
  });
  const sendHeld = (type: string) => heldHandle.signal(journeyEventSignal, { eventId: `h5-${++e}`, type, occurredAt: new Date().toISOString(), data: {} });
  await sendHeld('product.viewed');
  await sendHeld('product.purchased');
  await eventually(
    () => heldHandle.query(stageQuery),
    (s) => s.stage === 'service',
  );
  await sendHeld('customer.referred');
  assert.deepEqual(await heldHandle.result(), { status: 'completed', reason: 'advocate', stage: 'service' });
  assert.equal(await stack.testDb.db.message.count({ where: { customerId: held } }), 0);
  await save('holdout-control-lifecycle', heldHandle);

  // A control journey's task with outcomes: no task, a timer to its due time, then the step after it.
  const taskDef = {
    key: 'holdout-task',
    version: 1,
    name: 'Holdout task',
    holdout: { percent: 50 },
    stages: [
      { key: 'open', label: 'Open' },
      { key: 'done', label: 'Done' },
    ],
    initialStage: 'open',
    tags: [],
    params: {},
    exits: [],
    goals: [{ key: 'handled' }],
    entry: { api: true, events: [], reentry: { mode: 'once' as const } },
    triggers: [
      {
        event: 'product.viewed',
        scope: 'journey' as const,
        replace: false,
        steps: [
          { type: 'task' as const, key: 'call', title: 'Call', due: 'PT1S', outcomes: { reached: [] } },
          { type: 'goal' as const, key: 'handled' },
          { type: 'complete' as const, reason: 'handled' },
        ],
      },
    ],
  };
  const taskHandle = await stack.client.workflow.start('journeyWorkflow', {
    taskQueue: stack.taskQueue,
    workflowId: journeyWorkflowId(taskDef.key, held),
    args: [{ definition: taskDef, customerId: held, params: {}, holdout: { cohort: 'control', source: 'journey', percent: 50 } } satisfies JourneyWorkflowInput],
  });
  await taskHandle.signal(journeyEventSignal, { eventId: `h6-${++e}`, type: 'product.viewed', occurredAt: new Date().toISOString(), data: {} });
  assert.deepEqual(await taskHandle.result(), { status: 'completed', reason: 'handled', stage: 'open' });
  assert.equal(await stack.testDb.db.task.count({ where: { customerId: held } }), 0);
  await save('holdout-control-task', taskHandle);

  // The engine records its decisions (patch engine-records-decisions): a bank loan whose comparison nudge is cut short
  // when the stage moves on and whose repayment reminder is cancelled by the repayment, then an opt-out that ends it
  // with the application-assist task and the reminder of a second due date still ahead; a fund journey whose branch
  // sends a high-net-worth customer to an advisor.
  const fifth = 'history-5';
  await stack.testDb.db.customer.create({ data: { id: fifth, name: 'History Five', email: 'history5@example.com', phone: '+15550005555', segment: 'hnw', rmId: 'rm-1' } });
  const decided = await stack.service.startJourney({ journeyKey: 'bank-loan', customerId: fifth, via: 'api' });
  const decidedHandle = stack.client.workflow.getHandle(decided.journey.workflowId);
  const sendDecided = (type: string, data: Record<string, unknown> = {}) =>
    decidedHandle.signal(journeyEventSignal, { eventId: `h7-${++e}`, type, occurredAt: new Date().toISOString(), data });
  const logged = (workflowId: string, kind: string, count: number) =>
    eventually(
      () => stack.testDb.db.journeyLogEntry.count({ where: { workflowId, kind } }),
      (c) => c === count,
    );
  await sendDecided('loan.stage_changed', { stage: 'comparison' });
  await sendDecided('loan.stage_changed', { stage: 'first_loan' });
  await logged(decided.journey.workflowId, 'send_skipped', 1);
  await sendDecided('loan.application_started');
  const firstDue = new Date(Date.now() + 30 * 86_400_000).toISOString();
  await sendDecided('loan.repayment_due', { dueAt: firstDue });
  await sendDecided('loan.repayment_due', { dueAt: new Date(Date.now() + 60 * 86_400_000).toISOString() });
  await sendDecided('loan.repaid', { dueAt: firstDue });
  await logged(decided.journey.workflowId, 'send_skipped', 2);
  await sendDecided('customer.opted_out');
  assert.equal((await decidedHandle.result()).status, 'exited');
  await logged(decided.journey.workflowId, 'send_skipped', 4);
  await save('decisions-bank-loan-skipped', decidedHandle);

  const fund = await stack.service.startJourney({ journeyKey: 'fund-dca', customerId: fifth, via: 'api' });
  const fundHandle = stack.client.workflow.getHandle(fund.journey.workflowId);
  await fundHandle.signal(journeyEventSignal, { eventId: `h8-${++e}`, type: 'fund.detail_viewed', occurredAt: new Date().toISOString(), data: { fundCode: 'F001' } });
  await logged(fund.journey.workflowId, 'branch', 1);
  await eventually(
    () => stack.testDb.db.task.count({ where: { workflowId: fund.journey.workflowId } }),
    (c) => c === 1,
  );
  await fundHandle.signal(journeyEventSignal, { eventId: `h8-${++e}`, type: 'customer.opted_out', occurredAt: new Date().toISOString(), data: {} });
  assert.equal((await fundHandle.result()).status, 'exited');
  await save('decisions-fund-dca-branch', fundHandle);

  // The waiting steps (the `progress-records-waiting` patch): a delay, then a wait, then the end, all in one stage, so
  // each change of the steps the journey waits at is written by itself.
  const steps = {
    ...poison,
    key: 'waiting-steps',
    name: 'Waiting steps',
    triggers: [
      {
        event: 'product.viewed',
        scope: 'journey' as const,
        replace: false,
        steps: [
          { id: 'pause', type: 'delay' as const, duration: 'PT1S' },
          { id: 'await-purchase', type: 'wait' as const, for: [{ event: 'product.purchased', then: [{ type: 'complete' as const, reason: 'purchased' }] }], timeout: 'PT1H' },
        ],
      },
    ],
  };
  const stepsHandle = await stack.client.workflow.start('journeyWorkflow', {
    taskQueue: stack.taskQueue,
    workflowId: journeyWorkflowId(steps.key, third),
    args: [{ definition: steps, customerId: third, params: {} } satisfies JourneyWorkflowInput],
  });
  const waitingAt = () => stack.testDb.db.journey.findUnique({ where: { workflowId: stepsHandle.workflowId }, select: { waiting: true } });
  await stepsHandle.signal(journeyEventSignal, { eventId: `h7-${++e}`, type: 'product.viewed', occurredAt: new Date().toISOString(), data: {} });
  await eventually(waitingAt, (r) => r?.waiting.join() === 'pause');
  await eventually(waitingAt, (r) => r?.waiting.join() === 'await-purchase');
  await stepsHandle.signal(journeyEventSignal, { eventId: `h7-${++e}`, type: 'product.purchased', occurredAt: new Date().toISOString(), data: {} });
  assert.deepEqual(await stepsHandle.result(), { status: 'completed', reason: 'purchased', stage: 'one' });
  await save('waiting-steps-completed', stepsHandle);

  // Migrations (patch `journey-migration`, asked when a migration signal arrives): a bank loan waiting in comparison
  // moves to a v2 with an SMS after the comparison wait, is sent the same migration again (refused: it runs v2 now),
  // sends the new SMS once the customer applies, and opts out. And a bank loan on the same code never migrated: no
  // marker, the path every journey started before the patch replays.
  const seventh = 'history-7';
  await stack.testDb.db.customer.create({ data: { id: seventh, name: 'History Seven', email: 'history7@example.com', phone: '+15550004444' } });
  const v2doc = JSON.parse(JSON.stringify(loan)) as { version: number; stages: { key: string; onEnter?: Step[] }[] };
  v2doc.version = 2;
  v2doc.stages.find((s) => s.key === 'comparison')!.onEnter!.push({ type: 'send', channel: 'sms', template: 'loan-comparison-nudge' });
  const loanV2 = JourneyDefinition.parse(v2doc);
  const slow = resolveParams(loan, { comparisonNudgeAfter: 'P1D' });
  for (const [name, customer, migrated] of [
    ['migration-bank-loan-moved', seventh, true],
    ['migration-bank-loan-not-migrated', 'history-8', false],
  ] as const) {
    if (!migrated) await stack.testDb.db.customer.create({ data: { id: customer, name: 'History Eight', email: 'history8@example.com', phone: '+15550003333' } });
    const h = await stack.client.workflow.start('journeyWorkflow', {
      taskQueue: stack.taskQueue,
      workflowId: journeyWorkflowId('bank-loan', customer),
      args: [{ definition: loan, customerId: customer, params: slow } satisfies JourneyWorkflowInput],
    });
    const sendTo = (type: string) =>
      h.signal(journeyEventSignal, { eventId: `h9-${++e}`, type, occurredAt: new Date().toISOString(), data: type === 'loan.stage_changed' ? { stage: 'comparison' } : {} });
    await sendTo('loan.stage_changed');
    await eventually(
      () => h.query(journeyQuery),
      (j) => j.waitingFor.includes('loan.application_started'),
    );
    if (migrated) {
      const migrationId = '00000000-0000-4000-8000-000000000001';
      const answer = (kind: string) =>
        eventually(
          () => stack.testDb.db.journeyLogEntry.findFirst({ where: { workflowId: h.workflowId, kind } }),
          (x) => x !== null,
        );
      await h.signal(migrateJourneySignal, { migrationId, fromVersion: 1, definition: loanV2, map: {} });
      assert.equal((await answer('migration'))!.idempotencyKey, migrationLogKey(h.workflowId, migrationId));
      await h.signal(migrateJourneySignal, { migrationId: '00000000-0000-4000-8000-000000000002', fromVersion: 1, definition: loanV2, map: {} });
      await answer('migration_refused');
      assert.equal((await h.query(stateQuery)).version, 2);
    }
    await sendTo('loan.application_started');
    if (migrated) await stack.sms.waitFor((m) => m.to === '+15550004444');
    else
      await eventually(
        () => h.query(stageQuery),
        (st) => st.stage === 'first_loan',
      );
    await sendTo('customer.opted_out');
    assert.equal((await h.result()).status, 'exited');
    assert.equal(await stack.testDb.db.message.count({ where: { customerId: customer, template: 'loan-comparison-nudge' } }), migrated ? 1 : 0);
    await save(name, h);
  }

  // Fewer round trips (patches start-written-by-api, local-writes, concurrent-sends): a bank loan started through the
  // API (no progress write for its start; the read model's and the log's writes as local activities) that moves two
  // stages and is opted out; and a step whose email and SMS are sent at once.
  const perf = 'history-9';
  await stack.testDb.db.customer.create({ data: { id: perf, name: 'History Nine', email: 'history9@example.com', phone: '+15550002222' } });
  const perfLoan = await stack.service.startJourney({ journeyKey: 'bank-loan', customerId: perf, via: 'api' });
  const perfHandle = stack.client.workflow.getHandle(perfLoan.journey.workflowId);
  const sendPerf = (type: string, data: Record<string, unknown> = {}) =>
    perfHandle.signal(journeyEventSignal, { eventId: `h10-${++e}`, type, occurredAt: new Date().toISOString(), data });
  await sendPerf('loan.stage_changed', { stage: 'interest' });
  await eventually(
    () => stack.testDb.db.message.count({ where: { workflowId: perfHandle.workflowId } }),
    (k) => k === 1,
  );
  await sendPerf('loan.stage_changed', { stage: 'comparison' });
  await eventually(
    () => perfHandle.query(stageQuery),
    (st) => st.stage === 'comparison',
  );
  await sendPerf('customer.opted_out');
  assert.equal((await perfHandle.result()).status, 'exited');
  await save('perf-bank-loan-api-start', perfHandle);

  const both = {
    ...poison,
    key: 'email-and-sms',
    name: 'Email and SMS',
    triggers: [
      {
        event: 'product.viewed',
        scope: 'journey' as const,
        replace: false,
        steps: [
          { type: 'send' as const, channel: 'email' as const, template: 'lifecycle-consideration', class: 'service' as const },
          { type: 'send' as const, channel: 'sms' as const, template: 'lifecycle-consideration', class: 'service' as const },
          { type: 'complete' as const, reason: 'sent' },
        ],
      },
    ],
  };
  const bothHandle = await stack.client.workflow.start('journeyWorkflow', {
    taskQueue: stack.taskQueue,
    workflowId: journeyWorkflowId(both.key, perf),
    args: [{ definition: both, customerId: perf, params: {} } satisfies JourneyWorkflowInput],
  });
  await bothHandle.signal(journeyEventSignal, { eventId: `h10-${++e}`, type: 'product.viewed', occurredAt: new Date().toISOString(), data: {} });
  assert.deepEqual(await bothHandle.result(), { status: 'completed', reason: 'sent', stage: 'one' });
  assert.equal(await stack.testDb.db.message.count({ where: { workflowId: bothHandle.workflowId, status: 'sent' } }), 2);
  await save('perf-concurrent-sends', bothHandle);

  // The bulk enrolment workflow (workflows/enrolment.ts), through the service's own create: 20 customers at 10 a
  // second (two batches of 10), paused at once — the pause takes effect between batches (or before the first) — then
  // resumed, and completed with every customer started. Last in the file: the sections above record journey histories
  // that a published new version (the migration's, below) would change.
  const audience = Array.from({ length: 20 }, (_, i) => `history-enr-${String(i + 1).padStart(2, '0')}`);
  await stack.testDb.db.customer.createMany({ data: audience.map((id) => ({ id })) });
  const enrolments = stack.deps.enrolments;
  const enrolment = await enrolments.create(EnrolmentBody.parse({ journeyKey: 'lifecycle', customers: audience, ratePerSecond: 10 }), 'history-ops');
  await enrolments.control(enrolment.id, 'pause');
  await eventually(
    () => enrolments.progress(enrolment.id),
    (p) => p.status === 'paused',
  );
  await enrolments.control(enrolment.id, 'resume');
  const enrolmentHandle = stack.client.workflow.getHandle(enrolmentWorkflowId(enrolment.id));
  assert.deepEqual(await enrolmentHandle.result(), { started: 20, skipped: 0, failed: 0, pending: 0 });
  assert.equal((await enrolments.progress(enrolment.id)).status, 'completed');
  await save('enrolment-paused-resumed-completed', enrolmentHandle);

  // The migration workflow itself (workflows/migration.ts), through the service's own apply: two bank-loan v1 journeys
  // waiting in comparison, v2 drafted and published by two principals, the two moved one per batch with a pause
  // between (a timer), then the migration closed.
  const movers: string[] = [];
  for (const customerId of ['history-10', 'history-11']) {
    await stack.testDb.db.customer.create({ data: { id: customerId, name: 'History Mover', email: `${customerId}@example.com`, phone: '+15550001111' } });
    const started = await stack.service.startJourney({ journeyKey: 'bank-loan', customerId, params: { comparisonNudgeAfter: 'P1D' }, via: 'api' });
    const h = stack.client.workflow.getHandle(started.journey.workflowId);
    await h.signal(journeyEventSignal, { eventId: `h11-${++e}`, type: 'loan.stage_changed', occurredAt: new Date().toISOString(), data: { stage: 'comparison' } });
    await eventually(
      () => h.query(journeyQuery),
      (j) => j.waitingFor.includes('loan.application_started'),
    );
    movers.push(h.workflowId);
  }
  const v2 = await stack.definitions.createDraft(v2doc, 'history-designer');
  assert.equal(v2.version, 2);
  await stack.definitions.publish('bank-loan', 2, 'history-ops');
  const applied = await stack.migrations.apply(
    'bank-loan',
    MigrationBody.parse({ fromVersion: 1, toVersion: 2, where: { stage: 'comparison' }, dryRun: false, pace: { batchSize: 1, pauseMs: 200 } }),
    'history-ops',
  );
  assert.equal(applied.total, 2);
  const migrationHandle = stack.client.workflow.getHandle(applied.workflowId);
  assert.deepEqual(await migrationHandle.result(), { migrated: 2, skipped: 0, failed: 0 });
  for (const id of movers) assert.equal((await stack.client.workflow.getHandle(id).query(stateQuery)).version, 2);
  await save('migration-workflow-two-moved', migrationHandle);
} finally {
  await stack.stop();
}
