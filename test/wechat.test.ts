// The WeChat channel: the adapter against the local sink that speaks WeChat's API (the access token cached, fetched
// again when WeChat refuses it; errcodes sorted into transient and permanent), and a journey's send reaching the sink
// end to end, with the customer's openid taken through the API and cleared by erasure; and a deployment that has not
// configured WeChat (no WECHAT_APP_ID in production): no definition sending on it goes live, and a send on it fails
// for good with its reason.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/activity';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SendInput } from '../activities/index.js';
import { createApp } from '../api/app.js';
import { authenticator } from '../api/auth.js';
import { PermanentChannelError } from '../channels/channel.js';
import { appDeps, createDeps, type Deps } from '../composition/deps.js';
import { loadConfig } from '../config/config.js';
import { createLogger } from '../config/logger.js';
import { clientMsgId, createWeChatChannel } from '../channels/wechat.js';
import { DEV_WECHAT_APP_ID, DEV_WECHAT_APP_SECRET, startWeChatSink, type WeChatSink } from '../dev/wechat-sink.js';
import { createTestDb, type TestDb } from './support/db.js';
import { api, createStackApp, eventually, NO_LIMITS, startStack, type Stack, TEST_PAYLOAD_ENV } from './support/stack.js';

const OPENID = 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o';
const message = (key: string, to = OPENID) => ({
  to,
  subject: 'tmpl-repayment',
  text: 'thing1: Personal loan repayment\namount3: CN¥1,000.00\nurl: https://bank.example/loans',
  idempotencyKey: key,
});

describe('the WeChat adapter against the sink', () => {
  let sink: WeChatSink;
  const channel = () => createWeChatChannel({ appId: DEV_WECHAT_APP_ID, appSecret: DEV_WECHAT_APP_SECRET, apiBaseUrl: sink.url });
  beforeAll(async () => {
    sink = await startWeChatSink();
  });
  afterAll(async () => sink?.close());

  it('sends a template message built from the rendered template, fetching the token once for several sends', async () => {
    sink.clear();
    const before = sink.tokenRequests();
    const wechat = channel();
    const first = await wechat.send(message('wx-1'));
    await wechat.send(message('wx-2'));
    expect(sink.tokenRequests() - before).toBe(1);
    expect(wechat.tokenRequests()).toBe(1);
    const sent = sink.messages().find((m) => m.clientMsgId === clientMsgId('wx-1'))!;
    expect(first.providerId).toBe(String(sent.msgid));
    expect(sent).toMatchObject({
      touser: OPENID,
      templateId: 'tmpl-repayment',
      url: 'https://bank.example/loans',
      data: { thing1: { value: 'Personal loan repayment' }, amount3: { value: 'CN¥1,000.00' } },
    });
  });

  it('fetches a new token when WeChat answers 40001, and the send goes through on it', async () => {
    sink.clear();
    const wechat = channel();
    await wechat.send(message('wx-3'));
    sink.expireTokens();
    await wechat.send(message('wx-4'));
    expect(wechat.tokenRequests()).toBe(2);
    expect(sink.messages().map((m) => m.clientMsgId)).toEqual([clientMsgId('wx-3'), clientMsgId('wx-4')]);
  });

  it.each([
    ['-1 (system busy)', -1],
    ['45009 (over the frequency limit)', 45009],
  ])('errcode %s is transient: retried later, nothing recorded', async (_name, errcode) => {
    sink.clear();
    sink.failNext(1, errcode);
    const err = await channel()
      .send(message(`wx-t${errcode}`))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(PermanentChannelError);
    expect((err as Error).message).toContain(`WeChat ${errcode}`);
    expect(sink.messages()).toHaveLength(0);
  });

  it.each([
    ['43004 (not following the account)', 43004, (s: WeChatSink) => s.refuseOpenid(OPENID), OPENID],
    ['40003 (not an openid)', 40003, () => undefined, 'not-an-openid!'],
    ['40037 (unknown template)', 40037, (s: WeChatSink) => s.refuseTemplate('tmpl-repayment'), OPENID],
  ])('errcode %s is permanent, and the openid is not in the error', async (_name, errcode, arrange, to) => {
    sink.clear();
    arrange(sink);
    const err = await channel()
      .send(message(`wx-p${errcode}`, to))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentChannelError);
    expect((err as PermanentChannelError).code).toBe(errcode);
    expect((err as Error).message).not.toContain(OPENID);
    expect(sink.messages()).toHaveLength(0);
  });

  it('refuses for good a template whose text is not "key: value" lines, before calling WeChat', async () => {
    const before = sink.tokenRequests();
    const err = await channel()
      .send({ ...message('wx-bad'), text: 'Dear customer, your repayment is due.' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentChannelError);
    expect(sink.tokenRequests()).toBe(before);
  });
});

describe('the WeChat sink kept in a data folder', () => {
  it('shows earlier messages after a restart and numbers new ones after them', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'journeys-wechat-sink-'));
    try {
      const first = await startWeChatSink({ dataDir });
      const kept = await createWeChatChannel({ appId: DEV_WECHAT_APP_ID, appSecret: DEV_WECHAT_APP_SECRET, apiBaseUrl: first.url }).send(message('wx-kept'));
      await first.close();

      const second = await startWeChatSink({ dataDir });
      try {
        expect(second.messages()).toMatchObject([{ msgid: Number(kept.providerId), touser: OPENID, clientMsgId: clientMsgId('wx-kept') }]);
        expect(second.messages()[0]!.receivedAt).toBeInstanceOf(Date);
        expect(await (await fetch(new URL('/', second.url))).text()).toContain('tmpl-repayment');
        const next = await createWeChatChannel({ appId: DEV_WECHAT_APP_ID, appSecret: DEV_WECHAT_APP_SECRET, apiBaseUrl: second.url }).send(message('wx-after'));
        expect(Number(next.providerId)).toBeGreaterThan(Number(kept.providerId));
      } finally {
        await second.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

/** A journey definition whose one trigger sends the seed WeChat template. */
const wechatJourney = (key: string) => ({
  key,
  version: 1,
  name: 'WeChat reminder',
  stages: [{ key: 'one', label: 'One' }],
  initialStage: 'one',
  entry: { api: true, events: [], reentry: { mode: 'once' } },
  triggers: [{ event: 'loan.repayment_due', steps: [{ type: 'send', channel: 'wechat', template: 'loan-repayment-reminder', class: 'service' }] }],
});

describe('the WeChat channel not configured (production without WECHAT_APP_ID)', () => {
  let testDb: TestDb;
  let deps: Deps;
  let app: ReturnType<typeof createApp>;
  const keys: Record<'designer' | 'ops', string> = { designer: '', ops: '' };
  beforeAll(async () => {
    testDb = await createTestDb();
    // A bank's production settings with no WeChat at all: no app id, no secret.
    const config = loadConfig({
      NODE_ENV: 'production',
      DATABASE_URL: testDb.url,
      TWILIO_AUTH_TOKEN: '8f3a1c9e2b7d4f60a5c1e9b3d7f2a6c4',
      WEBHOOK_SECRET: 'Qm9xTqv7Zr2LwP8sYk4NdJ6hFc1GtB5e',
      PREFERENCES_SECRET: 'u7Hc2Lq9Vx4Rk8Tz1Nm6Pb3Wf5Yd0Js2Ga',
      PUBLIC_BASE_URL: 'https://journeys.bank.test',
      CONTACT_POLICY: NO_LIMITS,
      PORT: '0',
      ...TEST_PAYLOAD_ENV,
    });
    expect(config.wechat).toBeUndefined();
    deps = createDeps(config, { db: testDb.db, templateCacheMs: 0 });
    await deps.seed();
    for (const role of ['designer', 'ops'] as const) keys[role] = (await deps.keys.create({ role, name: `test ${role}` }, 'test')).key;
    app = createApp(
      appDeps(deps, {
        logger: createLogger({ logLevel: process.env.TEST_LOG_LEVEL ?? 'warn' }, 'test-api'),
        readiness: async () => ({ temporal: 'ok', postgres: 'ok' }),
        publicBaseUrl: 'http://127.0.0.1',
        authenticate: authenticator([(token) => deps.keys.authenticate(token)]),
      }),
    );
  });
  afterAll(async () => {
    await deps?.close();
    await testDb?.drop();
  });

  it('refuses to publish a definition that sends on WeChat with 422 channel_not_configured, naming the step', async () => {
    await api(app, { token: keys.designer }).post('/v1/journey-definitions').send(wechatJourney('wechat-off')).expect(201);
    const r = await api(app, { token: keys.ops }).post('/v1/journey-definitions/wechat-off/versions/1/publish').expect(422);
    expect(r.body.error).toMatchObject({ code: 'channel_not_configured', message: expect.stringContaining('WECHAT_APP_ID is not set') });
    expect(r.body.error.details).toEqual([{ path: 'triggers[0].steps[0]', message: 'the wechat channel is not configured (WECHAT_APP_ID is not set)' }]);
    expect((await deps.definitions.get('wechat-off', 1)).status).toBe('draft');
    // The same journey sending by SMS goes live: only the channel left off is refused.
    const sms = wechatJourney('sms-on');
    sms.triggers[0]!.steps[0] = { type: 'send', channel: 'sms', template: 'loan-comparison-nudge', class: 'service' };
    await api(app, { token: keys.designer }).post('/v1/journey-definitions').send(sms).expect(201);
    await api(app, { token: keys.ops }).post('/v1/journey-definitions/sms-on/versions/1/publish').expect(200);
  });

  it('fails a send on WeChat for good, with the reason channel_not_configured, without retrying', async () => {
    // A definition published before WeChat was switched off (or on another deployment) still asks for the send.
    await testDb.db.customer.create({ data: { id: 'wx-off-1', name: 'Wei', wechatOpenid: OPENID, locale: 'zh-CN', timeZone: 'Asia/Shanghai' } });
    const input: SendInput = {
      idempotencyKey: 'wx-off-1/1',
      workflowId: 'journey:wechat-reminder:wx-off-1',
      customerId: 'wx-off-1',
      channel: 'wechat',
      template: 'loan-repayment-reminder',
      class: 'service',
      flow: 'test',
      vars: { event: { dueAt: '2027-11-30T00:00:00Z', amount: 1000 }, params: {} },
    };
    const activities = deps.activities({ links: undefined });
    const err = await new MockActivityEnvironment().run(activities.sendMessage, input).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err).toMatchObject({ type: 'PermanentDeliveryError', nonRetryable: true, message: 'the wechat channel is not configured: WECHAT_APP_ID is not set' });
    const row = await testDb.db.message.findUniqueOrThrow({ where: { idempotencyKey: 'wx-off-1/1' }, include: { events: { orderBy: { id: 'asc' } } } });
    expect(row).toMatchObject({ status: 'failed', statusReason: 'channel_not_configured', error: 'the wechat channel is not configured: WECHAT_APP_ID is not set', attempts: 0 });
    expect(row.events.map((e) => [e.type, (e.detail as { reason?: string }).reason ?? null])).toEqual([
      ['created', null],
      ['failed', 'channel_not_configured'],
    ]);
    // A retry of the activity (as Temporal would, were it retryable) finds the message settled and sends nothing.
    expect(await new MockActivityEnvironment().run(activities.sendMessage, input)).toMatchObject({ status: 'failed', reason: 'channel_not_configured' });
  });
});

describe('a journey sends on WeChat (the stack, real worker)', () => {
  let stack: Stack;
  let app: ReturnType<typeof createStackApp>;
  beforeAll(async () => {
    stack = await startStack();
    await stack.startWorker();
    app = createStackApp(stack);
  });
  afterAll(async () => stack?.stop());

  it("reaches the customer's openid with the seed template's data; erasure clears the openid", async () => {
    await api(app).post('/v1/journey-definitions').send(wechatJourney('wechat-reminder')).expect(201);
    await api(app, 'ops').post('/v1/journey-definitions/wechat-reminder/versions/1/publish').expect(200);
    await api(app).put('/v1/customers/wx-c1').send({ name: 'Wei', wechatOpenid: OPENID, locale: 'zh-CN', timeZone: 'Asia/Shanghai' }).expect(201);
    expect((await api(app).get('/v1/customers/wx-c1').expect(200)).body.wechatOpenid).toBe(OPENID);
    const j = await api(app).post('/v1/journeys').send({ journeyKey: 'wechat-reminder', customerId: 'wx-c1' }).expect(201);
    await api(app)
      .post(`/v1/journeys/${j.body.workflowId}/events`)
      .send({ eventId: 'wx-due-1', type: 'loan.repayment_due', data: { dueAt: '2027-11-30T00:00:00Z', amount: 1000 } })
      .expect(202);

    const sent = await stack.wechat.waitFor((m) => m.touser === OPENID, 30_000);
    expect(sent.templateId).toBe('repayment-reminder-template-id');
    expect(sent.data).toEqual({
      thing1: { value: '个人消费贷款还款' },
      time2: { value: '2027年11月30日' },
      amount3: { value: '¥1,000.00' },
      thing4: { value: '请确保账户余额充足' },
    });
    const row = await eventually(
      () => stack.testDb.db.message.findFirst({ where: { customerId: 'wx-c1' } }),
      (m) => m?.status === 'sent',
    );
    expect(row).toMatchObject({ channel: 'wechat', recipient: OPENID, providerId: String(sent.msgid) });

    await api(app).delete('/v1/customers/wx-c1').expect(202);
    const erased = await stack.testDb.db.customer.findUniqueOrThrow({ where: { id: 'wx-c1' } });
    expect(erased.wechatOpenid).toBeNull();
    expect(erased.consents).toMatchObject({ wechat: false });
    expect(await stack.testDb.db.message.findFirst({ where: { customerId: 'wx-c1' } })).toMatchObject({ recipient: null });
  });

  it('refuses an openid that is not one', async () => {
    const r = await api(app).put('/v1/customers/wx-c2').send({ wechatOpenid: 'not an openid' }).expect(400);
    expect(r.body.error.code).toBe('invalid_request');
  });
});
