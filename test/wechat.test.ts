// The WeChat channel: the adapter against the local sink that speaks WeChat's API (the access token cached, fetched
// again when WeChat refuses it; errcodes sorted into transient and permanent), and a journey's send reaching the sink
// end to end, with the customer's openid taken through the API and cleared by erasure.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PermanentChannelError } from '../channels/channel.js';
import { clientMsgId, createWeChatChannel } from '../channels/wechat.js';
import { DEV_WECHAT_APP_ID, DEV_WECHAT_APP_SECRET, startWeChatSink, type WeChatSink } from '../dev/wechat-sink.js';
import { api, createStackApp, eventually, startStack, type Stack } from './support/stack.js';

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
    const doc = {
      key: 'wechat-reminder',
      version: 1,
      name: 'WeChat reminder',
      stages: [{ key: 'one', label: 'One' }],
      initialStage: 'one',
      entry: { api: true, events: [], reentry: { mode: 'once' } },
      triggers: [{ event: 'loan.repayment_due', steps: [{ type: 'send', channel: 'wechat', template: 'loan-repayment-reminder', class: 'service' }] }],
    };
    await api(app).post('/v1/journey-definitions').send(doc).expect(201);
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
