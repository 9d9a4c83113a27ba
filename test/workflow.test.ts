// The journey workflow on the real Temporal dev server with the real activities (Postgres, SMTP, Twilio-compatible
// server). Durations are shortened through the journey's params.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Worker } from '@temporalio/worker';
import { localDate } from '../channels/format.js';
import { resolveParams } from '../engine/definition.js';
import type { JourneyState } from '../engine/engine.js';
import { loadBuiltIn } from '../journeys/index.js';
import { ContactPolicy } from '../policy/policy.js';
import type { JourneyWorkflowInput } from '../workflows/journey.js';
import {
  CustomerIdAttr,
  exitJourneySignal,
  journeyEventSignal,
  JourneyKeyAttr,
  JourneyStageAttr,
  JourneyStatusAttr,
  journeyWorkflowId,
  stageQuery,
  stateQuery,
  taskCompletedSignal,
} from '../workflows/messages.js';
import { collect, eventually, NO_LIMITS, startStack, type Stack, testDataConverter, workflowBundle } from './support/stack.js';

const loan = loadBuiltIn('bank-loan');
let stack: Stack;
let n = 0;

beforeAll(async () => {
  stack = await startStack();
  await stack.startWorker();
});
afterAll(async () => stack?.stop());

async function newJourney(params: Record<string, unknown> = {}) {
  const customerId = `wf-${++n}-${Date.now()}`;
  await stack.testDb.db.customer.create({
    data: { id: customerId, name: `Customer ${n}`, email: `${customerId}@example.com`, phone: `+1555000${String(n).padStart(4, '0')}`, locale: 'en', rmId: 'rm-1' },
  });
  const workflowId = journeyWorkflowId('bank-loan', customerId);
  const input: JourneyWorkflowInput = { definition: loan, customerId, params: resolveParams(loan, params) };
  // As the API's start does: it is the one writer of these search attributes (the workflow writes only stage and end).
  const typedSearchAttributes = [
    { key: CustomerIdAttr, value: customerId },
    { key: JourneyKeyAttr, value: loan.key },
    { key: JourneyStageAttr, value: loan.initialStage },
    { key: JourneyStatusAttr, value: 'running' },
  ];
  const handle = await stack.client.workflow.start('journeyWorkflow', { taskQueue: stack.taskQueue, workflowId, args: [input], typedSearchAttributes });
  let e = 0;
  const send = (type: string, data: Record<string, unknown> = {}) =>
    handle.signal(journeyEventSignal, { eventId: `${workflowId}-${++e}`, type, occurredAt: new Date().toISOString(), data });
  const stage = () => handle.query(stageQuery);
  return { customerId, workflowId, handle, send, stage };
}

describe('journeyWorkflow on the dev server', () => {
  it('sends the comparison guide, then the SMS nudge when no application follows', async () => {
    const j = await newJourney({ comparisonNudgeAfter: 'PT2S' });
    await j.send('loan.stage_changed', { stage: 'comparison' });
    const mail = await stack.smtp.waitFor((m) => m.to.includes(`${j.customerId}@example.com`));
    expect(mail.subject).toBe('Compare loans side by side');
    expect(mail.text).toContain(`Customer ${n}`);
    const sms = await stack.sms.waitFor((m) => m.body.includes('still comparing loans'));
    expect((await stack.testDb.db.customer.findUniqueOrThrow({ where: { id: j.customerId } })).phone).toBe(sms.to);
    expect((await j.stage()).stage).toBe('comparison');

    // The provider has the SMS before the activity records it as sent: wait for that write.
    const messages = await eventually(
      () => stack.testDb.db.message.findMany({ where: { customerId: j.customerId }, orderBy: { createdAt: 'asc' } }),
      (rows) => rows.length === 2 && rows.every((r) => r.status !== 'sending'),
    );
    expect(messages.map((m) => [m.channel, m.template, m.status])).toEqual([
      ['email', 'loan-comparison-guide', 'sent'],
      ['sms', 'loan-comparison-nudge', 'sent'],
    ]);
    expect(messages[1]!.providerId).toBe(sms.sid);
    const row = await stack.testDb.db.journey.findUniqueOrThrow({ where: { workflowId: j.workflowId } });
    expect(row.stage).toBe('comparison');
  });

  it('creates an RM task when the application stalls, and takes its outcome', async () => {
    const j = await newJourney({ applicationAssistAfter: 'PT1S' });
    await j.send('loan.application_started');
    const task = await eventually(
      () => stack.testDb.db.task.findFirst({ where: { customerId: j.customerId } }),
      (t) => t !== null,
    );
    expect(task).toMatchObject({ taskKey: 'application-assist', title: 'Assist with the application', rmId: 'rm-1', status: 'open' });
    expect((await j.stage()).stage).toBe('first_loan');
    await j.handle.signal(taskCompletedSignal, { taskId: task!.id, taskKey: task!.taskKey, outcome: 'interested' });
    const state = await eventually(
      () => j.handle.query(stateQuery),
      (s: JourneyState) => s.recentEventIds.includes(`task:${task!.id}:completed`),
    );
    expect(state.status).toBe('running');
  });

  it('reminds before each repayment due date and records the stage history in Postgres', async () => {
    const j = await newJourney({ repaymentReminderBefore: 'P3D' });
    await j.send('loan.approved', { limit: 20000, expiresAt: new Date(Date.now() + 400 * 86_400_000).toISOString() });
    await j.send('loan.drawdown', { amount: 5000 });
    const dueAt = new Date(Date.now() + 3 * 86_400_000 + 1500).toISOString();
    await j.send('loan.repayment_due', { dueAt });
    const approved = await stack.smtp.waitFor((m) => m.to.includes(`${j.customerId}@example.com`));
    expect(approved.subject).toBe('Your loan is approved: limit CN¥20,000.00');
    // The customer has no time zone: the date is written in the service's default zone, in the customer's locale.
    const { phone } = await stack.testDb.db.customer.findUniqueOrThrow({ where: { id: j.customerId } });
    const reminder = await stack.sms.waitFor((m) => m.to === phone && m.body.includes('repayment is due on'));
    // (The policy's default zone, Asia/Shanghai: from 16:00 UTC its date is a day ahead of UTC's.)
    expect(reminder.body).toContain(`due on ${localDate(dueAt, ContactPolicy.parse(JSON.parse(NO_LIMITS)).defaultTimeZone, 'en')}`);
    const transitions = await stack.testDb.db.stageTransition.findMany({ where: { workflowId: j.workflowId }, orderBy: { seq: 'asc' } });
    expect(transitions.map((t) => t.toStage)).toEqual(['awareness', 'first_loan', 'repayment']);
    const found = await eventually(
      () => collect(stack.client.workflow.list({ query: `CustomerId="${j.customerId}" AND JourneyStage="repayment"` })),
      (l) => l.length === 1,
    );
    expect(found[0]!.workflowId).toBe(j.workflowId);
  });

  it('ends on opt-out and on the exit signal, recording why and the JourneyStatus search attribute', async () => {
    const a = await newJourney();
    await a.send('customer.opted_out');
    expect(await a.handle.result()).toEqual({ status: 'exited', reason: 'opted_out', stage: 'awareness' });
    const b = await newJourney();
    await b.handle.signal(exitJourneySignal, { reason: 'closed by RM' });
    expect(await b.handle.result()).toMatchObject({ status: 'exited', reason: 'closed by RM' });
    const rows = await stack.testDb.db.journey.findMany({ where: { workflowId: { in: [a.workflowId, b.workflowId] } }, orderBy: { workflowId: 'asc' } });
    expect(rows.map((r) => [r.status, r.exitReason, r.endedAt !== null])).toEqual([
      ['exited', 'opted_out', true],
      ['exited', 'closed by RM', true],
    ]);
    // Ops find ended journeys by status: the workflow writes JourneyStatus when the journey ends.
    const exited = await eventually(
      () => collect(stack.client.workflow.list({ query: `JourneyStatus="exited" AND CustomerId IN ("${a.customerId}", "${b.customerId}")` })),
      (l) => l.length === 2,
    );
    expect(exited.map((w) => w.workflowId).sort()).toEqual([a.workflowId, b.workflowId].sort());
  });

  it('replays its own history deterministically', async () => {
    const j = await newJourney({ comparisonNudgeAfter: 'PT1S' });
    await j.send('loan.stage_changed', { stage: 'comparison' });
    await stack.sms.waitFor((m) => m.to === `+1555000${String(n).padStart(4, '0')}`);
    await j.send('customer.opted_out');
    await j.handle.result();
    const history = await j.handle.fetchHistory();
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle(), dataConverter: testDataConverter() }, history, j.workflowId);
  });
});
