// End to end: the API and the worker as they run in production (startApiServer, runWorker) over the Temporal dev
// server, Postgres, the SMTP catcher and the Twilio-compatible sink. A customer walks the whole loan journey by events.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer } from '../api/server.js';
import { createLogger } from '../config/logger.js';
import { runWorker } from '../worker/run.js';
import { collect, eventually, startStack, type Stack } from './support/stack.js';

let stack: Stack;
let api: Awaited<ReturnType<typeof startApiServer>>;
let worker: Awaited<ReturnType<typeof runWorker>>;

beforeAll(async () => {
  stack = await startStack();
  const logger = createLogger({ logLevel: process.env.TEST_LOG_LEVEL ?? 'warn' }, 'e2e');
  api = await startApiServer(stack.config, logger);
  // Twilio's delivery callbacks come back to the API where it listens.
  worker = await runWorker({ ...stack.config, publicBaseUrl: api.url }, logger);
});
afterAll(async () => {
  await api?.close();
  await worker?.shutdown();
  await stack?.stop();
});

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${api.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${stack.keys.admin}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: await res.json() };
}

describe('the bank-loan journey end to end', () => {
  it('walks a customer from awareness to a renewed loan', { timeout: 120_000 }, async () => {
    const customerId = 'cust-e2e-1';
    const email = 'li.wei@example.com';
    const phone = '+8613800138000';
    expect((await call('GET', '/healthz')).body).toEqual({ status: 'ok' });
    expect((await call('GET', '/readyz')).body).toEqual({ status: 'ready', checks: { temporal: 'ok', postgres: 'ok' } });

    const put = await call('PUT', `/v1/customers/${customerId}`, {
      name: '李伟',
      email,
      phone,
      timeZone: 'Asia/Shanghai',
      locale: 'zh-CN',
      segment: 'young',
      rmId: 'rm-7',
      consents: { email: true, sms: true },
    });
    expect(put.status).toBe(201);

    const started = await call('POST', '/v1/journeys', {
      journeyKey: 'bank-loan',
      customerId,
      params: { comparisonNudgeAfter: 'PT2S', applicationAssistAfter: 'PT2S', drawdownFollowUpAfter: 'PT2S', renewalFollowUpAfter: 'PT2S' },
    });
    expect(started).toEqual({
      status: 201,
      body: { workflowId: `journey:bank-loan:${customerId}`, journeyKey: 'bank-loan', version: 1, customerId, stage: 'awareness', status: 'running', cohort: 'treated' },
    });
    const wf = started.body.workflowId as string;
    let e = 0;
    const send = async (type: string, data?: Record<string, unknown>) => {
      const r = await call('POST', `/v1/customers/${customerId}/events`, { eventId: `e2e-${++e}`, type, ...(data ? { data } : {}) });
      expect(r).toEqual({ status: 202, body: { eventId: `e2e-${e}`, duplicate: false, deliveredTo: [wf] } });
    };
    const stageIs = (stage: string) =>
      eventually(
        () => call('GET', `/v1/journeys/${wf}`).then((r) => r.body),
        (v) => v.stage === stage,
      );
    const task = (taskKey: string) =>
      eventually(
        () => call('GET', `/v1/tasks?rmId=rm-7&status=open`).then((r) => r.body.tasks.find((t: any) => t.taskKey === taskKey)),
        (t) => t !== undefined,
      );
    const mailTo = (subject: string) => stack.smtp.waitFor((m) => m.to.includes(email) && m.subject === subject, 30_000);
    const smsTo = (text: string) => stack.sms.waitFor((m) => m.to === phone && m.body.includes(text), 30_000);

    // awareness → interest: product content, in the customer's own language
    await send('loan.stage_changed', { stage: 'interest' });
    await mailTo('一文读懂我们的消费贷款');
    // comparison: the calculator, then one nudge when no application follows
    await send('loan.stage_changed', { stage: 'comparison' });
    await mailTo('贷款对比一目了然');
    await smsTo('还在比较贷款吗');
    // first loan: a stalled application becomes an RM task; its outcome goes back to the journey
    await send('loan.application_started');
    await stageIs('first_loan');
    const assist = await task('application-assist');
    expect(assist).toMatchObject({ title: 'Assist with the application', customerId, workflowId: wf, status: 'open' });
    const done = await call('POST', `/v1/tasks/${assist.id}/complete`, { outcome: 'interested', note: 'will submit tonight' });
    expect(done.body).toMatchObject({ status: 'done', outcome: 'interested' });
    await send('loan.application_submitted');
    const expiresAt = new Date(Date.now() + 30 * 86_400_000 + 20_000).toISOString();
    await send('loan.approved', { limit: 80000, expiresAt });
    const approval = await mailTo('贷款已获批：额度 ¥80,000.00');
    // The date as the customer reads it, in their zone and locale.
    expect(approval.text).toContain(new Intl.DateTimeFormat('zh-CN', { timeZone: 'Asia/Shanghai', year: 'numeric', month: 'long', day: 'numeric' }).format(new Date(expiresAt)));
    // approved, nothing drawn: an RM task; then the drawdown moves the journey to repayment
    await task('drawdown-follow-up');
    await send('loan.drawdown', { amount: 30000 });
    const view = await stageIs('repayment');
    expect(view.stageHistory.map((h: any) => h.stage)).toEqual(['awareness', 'interest', 'comparison', 'first_loan', 'repayment']);
    expect(view.waitingFor).toEqual([]);
    expect(view.nextTimerAt).toBe(new Date(Date.parse(expiresAt) - 30 * 86_400_000).toISOString());
    const listed = await eventually(
      () => collect(stack.client.workflow.list({ query: `CustomerId="${customerId}" AND JourneyStage="repayment"` })),
      (l) => l.length === 1,
    );
    expect(listed[0]!.workflowId).toBe(wf);
    const row = await stack.testDb.db.journey.findUniqueOrThrow({ where: { workflowId: wf } });
    expect(row).toMatchObject({ stage: 'repayment', status: 'running', journeyKey: 'bank-loan', version: 1 });
    // a reminder before the due date
    const dueAt = new Date(Date.now() + 3 * 86_400_000 + 1_000).toISOString();
    await send('loan.repayment_due', { dueAt });
    await smsTo(`将于 ${new Intl.DateTimeFormat('zh-CN', { timeZone: 'Asia/Shanghai', year: 'numeric', month: 'long', day: 'numeric' }).format(new Date(dueAt))} 到期还款`);
    // renewal: the offer before the limit expires, an RM task when it is not answered, renewed → completed
    await stageIs('renewal');
    await mailTo('您的授信即将到期：一键续贷');
    await smsTo('一键续贷或提额');
    await task('renewal-follow-up');
    await send('loan.renewed');
    const ended = await eventually(
      () => call('GET', `/v1/journeys/${wf}`).then((r) => r.body),
      (v) => v.status === 'completed',
    );
    expect(ended).toMatchObject({ status: 'completed', endReason: 'renewed', stage: 'renewal' });
    expect(ended.stageHistory.map((h: any) => h.stage)).toEqual(['awareness', 'interest', 'comparison', 'first_loan', 'repayment', 'renewal']);

    // the message log and the read model tell the same story
    const messages = (await call('GET', `/v1/customers/${customerId}/messages`)).body.messages as any[];
    expect(messages.map((m) => `${m.channel}:${m.template}`).sort()).toEqual([
      'email:loan-approved',
      'email:loan-comparison-guide',
      'email:loan-product-intro',
      'email:loan-renewal-offer',
      'sms:loan-comparison-nudge',
      'sms:loan-renewal-offer',
      'sms:loan-repayment-reminder',
    ]);
    expect(messages.every((m) => m.status === 'sent' || m.status === 'delivered')).toBe(true);
    expect(stack.smtp.messages().filter((m) => m.to.includes(email))).toHaveLength(4);
    // Twilio's signed delivery callbacks reached the API and closed each SMS's story
    const sms = await eventually(
      () => call('GET', `/v1/customers/${customerId}/messages`).then((r) => (r.body.messages as any[]).filter((m) => m.channel === 'sms')),
      (l) => l.length === 3 && l.every((m) => m.status === 'delivered'),
    );
    expect(sms[0].events.map((e: any) => e.type)).toEqual(['created', 'sent', 'provider_status', 'delivered']);
    expect(stack.sms.messages().filter((m) => m.to === phone)).toHaveLength(3);
    const tasks = (await call('GET', `/v1/tasks?customerId=${customerId}`)).body.tasks as any[];
    expect(tasks.map((t) => t.taskKey).sort()).toEqual(['application-assist', 'drawdown-follow-up', 'renewal-follow-up']);
    // the renewed loan invited the customer to the fund regular-investment journey
    // (the live view shows the end first; the read model follows once the journey's last actions are done)
    const journeys = await eventually(
      () => call('GET', `/v1/customers/${customerId}/journeys`).then((r) => r.body.journeys as any[]),
      (l) => l.find((j) => j.workflowId === wf)?.status === 'completed',
    );
    expect(journeys.find((j) => j.workflowId === wf)).toMatchObject({ status: 'completed', stage: 'renewal', endReason: 'renewed', goals: ['approved', 'renewed'] });
    expect(journeys.find((j) => j.journeyKey === 'fund-dca')).toMatchObject({ status: 'running', stage: 'discover' });
    // events after the end change nothing
    const late = await call('POST', `/v1/customers/${customerId}/events`, { eventId: 'late-1', type: 'loan.stage_changed', data: { stage: 'awareness' } });
    expect(late.body.deliveredTo).not.toContain(wf);
  });
});
