// The activities against real peers: Postgres, the SMTP catcher, the Twilio-compatible sink. What a retry does.
import { MockActivityEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/activity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JourneyActivities, SendInput, SendResult, TaskInput } from '../activities/index.js';
import type { Channel, ChannelName } from '../channels/channel.js';
import { createDeps, type Deps } from '../composition/deps.js';
import { loadConfig } from '../config/config.js';
import { createEmailChannel } from '../channels/email.js';
import { createSmsChannel } from '../channels/sms.js';
import { TemplateStore } from '../channels/templates.js';
import { startSmtpCatcher, type SmtpCatcher } from '../dev/smtp-catcher.js';
import { startTwilioSink, type TwilioSink } from '../dev/twilio-sink.js';
import { startWebhookSink } from '../dev/webhook-sink.js';
import { createWebhookChannel } from '../channels/webhook.js';
import { createTestDb, type TestDb } from './support/db.js';
import { NO_LIMITS } from './support/stack.js';
import { channelsWith, unusedChannelsBut } from './support/channels.js';

let testDb: TestDb;
let smtp: SmtpCatcher;
let sink: TwilioSink;
let deps: Deps;
let activities: JourneyActivities;
const env = new MockActivityEnvironment();
const unused = (what: string) => () => Promise.reject(new Error(`${what} is not used by this test`));
const fileTemplates = { snapshot: async () => TemplateStore.fromFiles() };
const noChorus = { chorusStart: unused('chorus'), chorusSignal: unused('chorus'), chorusStop: unused('chorus') };
let n = 0;
/** The activities as the worker wires them (composition/deps.ts), on this file's database and peers: templates read from
 * the files, no chorus, no preference links, and the channel adapters a test swaps in. */
const activitiesWith = (channels: Partial<Record<ChannelName, Channel>>) =>
  deps.activities({ templates: fileTemplates, links: undefined, channels: { ...deps.channels, ...channels } });

beforeAll(async () => {
  [testDb, smtp, sink] = await Promise.all([createTestDb(), startSmtpCatcher(), startTwilioSink()]);
  const config = loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: testDb.url,
    SMTP_URL: smtp.smtpUrl,
    MAIL_FROM: 'Bank <journeys@bank.example>',
    TWILIO_ACCOUNT_SID: 'AC' + '1'.repeat(32),
    TWILIO_AUTH_TOKEN: 'secret',
    TWILIO_FROM: '+15005550006',
    TWILIO_API_BASE_URL: sink.url,
    CONTACT_POLICY: NO_LIMITS,
    PORT: '0',
  });
  deps = createDeps(config, { db: testDb.db, channels: unusedChannelsBut('email', 'sms'), chorus: noChorus });
  activities = activitiesWith({});
});
afterAll(async () => {
  await deps?.close();
  await Promise.all([smtp?.close(), sink?.close()]);
  await testDb?.drop();
});

async function customer(fields: { phone?: string | null; email?: string | null; consents?: Record<string, boolean>; locale?: string; timeZone?: string | null } = {}) {
  const id = `act-${++n}`;
  await testDb.db.customer.create({
    data: { id, name: `Name ${n}`, email: `act${n}@example.com`, phone: `+8613900${String(n).padStart(6, '0')}`, rmId: 'rm-9', timeZone: 'Asia/Shanghai', ...fields },
  });
  return id;
}

const send = (customerId: string, channel: 'email' | 'sms', key: string, template = channel === 'sms' ? 'loan-comparison-nudge' : 'loan-approved'): Promise<SendResult> => {
  const input: SendInput = {
    idempotencyKey: key,
    workflowId: `journey:bank-loan:${customerId}`,
    customerId,
    channel,
    template,
    flow: 'test',
    vars: { event: { limit: 1000, expiresAt: '2027-01-01' }, params: {} },
  };
  return env.run(activities.sendMessage, input);
};

describe('sendMessage', () => {
  it('sends once per idempotency key, however often it is retried', async () => {
    const id = await customer();
    const first = await send(id, 'email', `${id}/1`);
    const again = await send(id, 'email', `${id}/1`);
    expect(again).toEqual(first);
    expect(first.status).toBe('sent');
    const mails = smtp.messages().filter((m) => m.to.includes(`act${n}@example.com`));
    expect(mails).toHaveLength(1);
    expect(mails[0]!.subject).toBe('Your loan is approved: limit CN¥1,000.00');
    const row = await testDb.db.message.findUniqueOrThrow({ where: { idempotencyKey: `${id}/1` } });
    expect(row).toMatchObject({ status: 'sent', attempts: 1, providerId: mails[0]!.messageId, recipient: `act${n}@example.com` });
  });

  it('retries a Twilio 500 and a 429 as transient, then sends exactly one SMS', async () => {
    const id = await customer();
    sink.failNext(2, 500);
    await expect(send(id, 'sms', `${id}/1`)).rejects.not.toBeInstanceOf(ApplicationFailure);
    await expect(send(id, 'sms', `${id}/1`)).rejects.toThrow();
    sink.failNext(1, 429);
    await expect(send(id, 'sms', `${id}/1`)).rejects.toThrow();
    const failing = await testDb.db.message.findUniqueOrThrow({ where: { idempotencyKey: `${id}/1` } });
    // the message holds its slot while it is retried, and each transient error is in its story
    expect(failing).toMatchObject({ status: 'sending', attempts: 3 });
    expect(failing.error).toBeTruthy();
    expect((await testDb.db.messageEvent.findMany({ where: { messageId: failing.id }, orderBy: { id: 'asc' } })).map((e) => e.type)).toEqual([
      'created',
      'error',
      'error',
      'error',
    ]);
    expect((await send(id, 'sms', `${id}/1`)).status).toBe('sent');
    expect((await send(id, 'sms', `${id}/1`)).status).toBe('sent');
    const phone = (await testDb.db.customer.findUniqueOrThrow({ where: { id } })).phone;
    expect(sink.messages().filter((m) => m.to === phone)).toHaveLength(1);
  });

  it('an SMS Twilio accepted but whose answer never came is found at Twilio on the retry and not sent again', async () => {
    const id = await customer();
    const phone = (await testDb.db.customer.findUniqueOrThrow({ where: { id } })).phone!;
    const impatient = createSmsChannel({ accountSid: 'AC' + '1'.repeat(32), authToken: 'secret', from: '+15005550006', apiBaseUrl: sink.url, timeoutMs: 300 });
    const acts = activitiesWith({ sms: impatient });
    const input: SendInput = {
      idempotencyKey: `${id}/1`,
      workflowId: 'w',
      customerId: id,
      channel: 'sms',
      template: 'loan-comparison-nudge',
      flow: 't',
      vars: { event: {}, params: {} },
    };
    sink.hold(); // Twilio accepts the message and keeps its answer back: the sender times out, in doubt
    const err = await env
      .run(acts.sendMessage, input)
      .catch((e: unknown) => e)
      .finally(() => sink.release());
    expect(err).not.toBeInstanceOf(ApplicationFailure);
    const accepted = sink.messages().filter((m) => m.to === phone);
    expect(accepted).toHaveLength(1);
    expect(await testDb.db.message.findUniqueOrThrow({ where: { idempotencyKey: `${id}/1` } })).toMatchObject({ status: 'sending', attempts: 1, providerId: null });
    // The retry asks Twilio first, finds the message and records it: no second SMS.
    expect(await env.run(acts.sendMessage, input)).toMatchObject({ status: 'sent' });
    expect(sink.messages().filter((m) => m.to === phone)).toHaveLength(1);
    const row = await testDb.db.message.findUniqueOrThrow({ where: { idempotencyKey: `${id}/1` }, include: { events: { orderBy: { id: 'asc' } } } });
    expect(row).toMatchObject({ status: 'sent', attempts: 1, providerId: accepted[0]!.sid });
    expect(row.events.map((e) => [e.type, (e.detail as { reconciled?: boolean }).reconciled ?? null])).toEqual([
      ['created', null],
      ['error', null],
      ['sent', true],
    ]);
  });

  it('an in-doubt SMS is not matched to an earlier SMS with the same text that another message already owns', async () => {
    const id = await customer();
    const phone = (await testDb.db.customer.findUniqueOrThrow({ where: { id } })).phone!;
    expect((await send(id, 'sms', `${id}/1`)).status).toBe('sent');
    sink.failNext(1, 500); // the second message, same template and text, never reaches Twilio on its first attempt
    await expect(send(id, 'sms', `${id}/2`)).rejects.toThrow();
    expect((await send(id, 'sms', `${id}/2`)).status).toBe('sent');
    const sent = sink.messages().filter((m) => m.to === phone);
    expect(sent).toHaveLength(2);
    expect(sent[0]!.body).toBe(sent[1]!.body);
    const rows = await testDb.db.message.findMany({ where: { customerId: id }, orderBy: { idempotencyKey: 'asc' } });
    expect(rows.map((r) => r.providerId)).toEqual(sent.map((m) => m.sid));
  });

  it('stops at once on a number Twilio refuses, and records why', async () => {
    const id = await customer({ phone: '12345' });
    const err = await send(id, 'sms', `${id}/1`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect((err as ApplicationFailure).nonRetryable).toBe(true);
    expect((err as ApplicationFailure).type).toBe('PermanentDeliveryError');
    const row = await testDb.db.message.findUniqueOrThrow({ where: { idempotencyKey: `${id}/1` } });
    expect(row).toMatchObject({ status: 'failed', statusReason: 'rejected_by_provider' });
    expect(row.error).toContain('21211');
    // a retry of the same send does not call Twilio again
    expect(await send(id, 'sms', `${id}/1`)).toMatchObject({ status: 'failed', reason: 'rejected_by_provider' });
  });

  it.each([
    ['no consent for the channel', { consents: { sms: false } }, 'sms', 'no_consent'],
    ['no address', { email: null }, 'email', 'no_address'],
  ] as const)('suppresses a send with %s and records it', async (_n, fields, channel, reason) => {
    const id = await customer(fields);
    const before = sink.messages().length + smtp.messages().length;
    expect(await send(id, channel, `${id}/1`)).toMatchObject({ status: 'suppressed', reason });
    expect(sink.messages().length + smtp.messages().length).toBe(before);
    expect(await testDb.db.message.findUniqueOrThrow({ where: { idempotencyKey: `${id}/1` } })).toMatchObject({ status: 'suppressed', statusReason: reason });
  });

  it('treats the SMTP server being down as transient', async () => {
    const id = await customer();
    const down = await startSmtpCatcher();
    await down.close();
    const channel = createEmailChannel({ smtpUrl: down.smtpUrl, from: 'Bank <journeys@bank.example>' });
    const acts = activitiesWith(channelsWith({ email: channel }));
    const input: SendInput = {
      idempotencyKey: `${id}/1`,
      workflowId: 'w',
      customerId: id,
      channel: 'email',
      template: 'loan-approved',
      flow: 't',
      vars: { event: {}, params: {} },
    };
    const err = await env.run(acts.sendMessage, input).catch((e: unknown) => e);
    channel.close();
    expect(err).not.toBeInstanceOf(ApplicationFailure);
    expect(String(err)).toMatch(/ECONNREFUSED/);
    // the message stays pending, to be sent by the retry
    expect(await testDb.db.message.findUniqueOrThrow({ where: { idempotencyKey: `${id}/1` } })).toMatchObject({ status: 'sending', attempts: 1 });
    expect((await send(id, 'email', `${id}/1`)).status).toBe('sent');
  });

  it('a first attempt that stopped after creating the message (with its time zone fallback) is retried without a second fallback event', async () => {
    // No time zone: the policy's default is used, and the message's story says so in the statement that creates it.
    const id = await customer({ timeZone: null });
    // The template catalog does not answer once (a transient fault, after the message exists and before its slot).
    let reads = 0;
    const flaky = {
      snapshot: async () => {
        if (++reads === 1) throw new Error('template catalog not answering');
        return TemplateStore.fromFiles();
      },
    };
    const acts = deps.activities({ templates: flaky, links: undefined, channels: deps.channels });
    const input: SendInput = {
      idempotencyKey: `${id}/1`,
      workflowId: `journey:bank-loan:${id}`,
      customerId: id,
      channel: 'email',
      template: 'loan-approved',
      flow: 'test',
      vars: { event: { limit: 1000, expiresAt: '2027-01-01' }, params: {} },
    };
    await expect(env.run(acts.sendMessage, input)).rejects.toThrow('template catalog not answering');
    const row = await testDb.db.message.findUniqueOrThrow({ where: { idempotencyKey: `${id}/1` } });
    expect(row).toMatchObject({ status: 'pending', attempts: 0 });
    expect(((await env.run(acts.sendMessage, input)) as SendResult).status).toBe('sent');
    const events = await testDb.db.messageEvent.findMany({ where: { messageId: row.id }, orderBy: { id: 'asc' } });
    expect(events.map((e) => e.type)).toEqual(['created', 'timezone_fallback', 'sent']);
  });

  it("dates the message and its story by the wall clock, and its cap slot by the policy's clock, when the workflow's clock is ahead", async () => {
    const id = await customer();
    // A send deferred on a durable timer of the time-skipping server: the workflow's clock is two days ahead.
    const at = new Date(Date.now() + 2 * 86_400_000).toISOString();
    const input: SendInput = {
      idempotencyKey: `${id}/1`,
      workflowId: `journey:bank-loan:${id}`,
      customerId: id,
      channel: 'email',
      template: 'loan-approved',
      flow: 'test',
      vars: { event: { limit: 1000, expiresAt: '2027-01-01' }, params: {} },
      at,
    };
    expect(((await env.run(activities.sendMessage, input)) as SendResult).status).toBe('sent');
    const after = new Date();
    const row = await testDb.db.message.findUniqueOrThrow({ where: { idempotencyKey: `${id}/1` }, include: { events: true } });
    expect(row.sentAt?.toISOString()).toBe(at);
    expect(row.createdAt.getTime()).toBeLessThanOrEqual(after.getTime());
    expect(row.updatedAt.getTime()).toBeLessThanOrEqual(after.getTime());
    expect(row.events.map((e) => e.type).sort()).toEqual(['created', 'sent']);
    for (const e of row.events) expect(e.at.getTime()).toBeLessThanOrEqual(after.getTime());
  });

  it("renders the customer's locale, falling back to English", async () => {
    const zh = await customer({ locale: 'zh-CN' });
    const fr = await customer({ locale: 'fr-FR' });
    await send(zh, 'email', `${zh}/1`);
    await send(fr, 'email', `${fr}/1`);
    expect((await testDb.db.message.findUniqueOrThrow({ where: { idempotencyKey: `${zh}/1` } })).subject).toBe('贷款已获批：额度 ¥1,000.00');
    expect((await testDb.db.message.findUniqueOrThrow({ where: { idempotencyKey: `${fr}/1` } })).subject).toBe('Your loan is approved: limit CN¥1,000.00');
  });
});

describe('webhook channel', () => {
  it('signs its POST; 5xx is transient, 4xx permanent, 2xx sent once', async () => {
    const secret = 'activities-webhook-secret-123';
    const hook = await startWebhookSink({ secret });
    try {
      const acts = activitiesWith(channelsWith({ webhook: createWebhookChannel({ url: hook.url, secret }) }));
      const id = await customer();
      const input: SendInput = {
        idempotencyKey: `${id}/push`,
        workflowId: 'w',
        customerId: id,
        channel: 'webhook',
        template: 'fund-detail-guide',
        flow: 't',
        vars: { event: {}, params: {} },
      };
      hook.failNext(1, 503);
      const transient = await env.run(acts.sendMessage, input).catch((e: unknown) => e);
      expect(transient).not.toBeInstanceOf(ApplicationFailure);
      expect(await env.run(acts.sendMessage, input)).toMatchObject({ status: 'sent' });
      expect(await env.run(acts.sendMessage, input)).toMatchObject({ status: 'sent' });
      expect(hook.messages().filter((p) => p.customerId === id)).toHaveLength(1); // the sink checked the signature
      const refused = { ...input, idempotencyKey: `${id}/push-2` };
      hook.failNext(1, 410);
      const permanent = await env.run(acts.sendMessage, refused).catch((e: unknown) => e);
      expect((permanent as ApplicationFailure).nonRetryable).toBe(true);
      expect(await testDb.db.message.findUniqueOrThrow({ where: { idempotencyKey: refused.idempotencyKey } })).toMatchObject({
        status: 'failed',
        statusReason: 'rejected_by_provider',
      });
      // a receiver with another secret refuses the signature: a permanent failure, not a silent success
      const other = await startWebhookSink({ secret: 'another-secret-entirely-456' });
      const wrong = activitiesWith(channelsWith({ webhook: createWebhookChannel({ url: other.url, secret }) }));
      const bad = await env.run(wrong.sendMessage, { ...input, idempotencyKey: `${id}/push-3` }).catch((e: unknown) => e);
      expect((bad as ApplicationFailure).message).toContain('webhook answered 401');
      await other.close();
    } finally {
      await hook.close();
    }
  });
});

describe('createTask and recordProgress', () => {
  it("creates one task per idempotency key, assigned to the customer's RM", async () => {
    const id = await customer();
    const input: TaskInput = {
      idempotencyKey: `${id}/7`,
      workflowId: 'w',
      customerId: id,
      taskKey: 'application-assist',
      title: 'Assist',
      dueAt: '2026-12-01T00:00:00.000Z',
      flow: 'f',
    };
    const a = await env.run(activities.createTask, input);
    const b = await env.run(activities.createTask, input);
    expect(b).toEqual(a);
    expect(await testDb.db.task.findMany({ where: { customerId: id } })).toMatchObject([{ rmId: 'rm-9', status: 'open', taskKey: 'application-assist' }]);
  });

  it('records each stage transition once', async () => {
    const id = await customer();
    const input = {
      journey: {
        workflowId: `wf-${id}`,
        customerId: id,
        journeyKey: 'bank-loan',
        version: 1,
        params: {},
        status: 'running' as const,
        stage: 'interest',
        stageEnteredAt: '2026-11-01T00:00:00.000Z',
      },
      transitions: [
        { type: 'stageChanged' as const, seq: 1, from: null, to: 'awareness', at: '2026-11-01T00:00:00.000Z', cause: 'start' },
        { type: 'stageChanged' as const, seq: 2, from: 'awareness', to: 'interest', at: '2026-11-01T00:00:00.000Z', cause: 'loan.stage_changed' },
      ],
    };
    await env.run(activities.recordProgress, input);
    await env.run(activities.recordProgress, input);
    expect(await testDb.db.stageTransition.count({ where: { workflowId: `wf-${id}` } })).toBe(2);
    expect(await testDb.db.journey.findUniqueOrThrow({ where: { workflowId: `wf-${id}` } })).toMatchObject({ stage: 'interest', status: 'running' });
  });

  it('writes the waiting steps; their since moves only when they change (a retried write keeps the first instant)', async () => {
    const id = await customer();
    const journey = {
      workflowId: `wf-${id}`,
      customerId: id,
      journeyKey: 'bank-loan',
      version: 1,
      params: {},
      status: 'running' as const,
      stage: 'awareness',
      stageEnteredAt: '2026-11-01T00:00:00.000Z',
    };
    const row = () => testDb.db.journey.findUniqueOrThrow({ where: { workflowId: `wf-${id}` }, select: { waiting: true, waitingSince: true } });
    await env.run(activities.recordProgress, { journey, transitions: [], waiting: { steps: ['a', 'b'], at: '2026-11-01T01:00:00.000Z' } });
    expect(await row()).toEqual({ waiting: ['a', 'b'], waitingSince: new Date('2026-11-01T01:00:00.000Z') });
    await env.run(activities.recordProgress, { journey, transitions: [], waiting: { steps: ['a', 'b'], at: '2026-11-01T02:00:00.000Z' } });
    expect(await row()).toEqual({ waiting: ['a', 'b'], waitingSince: new Date('2026-11-01T01:00:00.000Z') });
    await env.run(activities.recordProgress, { journey, transitions: [], waiting: { steps: ['b'], at: '2026-11-01T03:00:00.000Z' } });
    expect(await row()).toEqual({ waiting: ['b'], waitingSince: new Date('2026-11-01T03:00:00.000Z') });
    // Older workflow code sends no waiting steps: what is there stays.
    await env.run(activities.recordProgress, { journey, transitions: [] });
    expect(await row()).toEqual({ waiting: ['b'], waitingSince: new Date('2026-11-01T03:00:00.000Z') });
  });
});
