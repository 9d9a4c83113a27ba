// The contact policy: quiet hours across time zones and DST (pure, and on the workflow clock of the time-skipping
// test server with the real activities), expiry, time-zone fallback, frequency caps under concurrency, priorities,
// consent and opt-out in the message log.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JourneyDefinition, resolveParams } from '../engine/definition.js';
import type { JourneyWorkflowInput } from '../workflows/journey.js';
import { exitJourneySignal, journeyEventSignal } from '../workflows/messages.js';
import { effectiveTimeZone, loadPolicy, quietUntil } from '../policy/policy.js';
import { api, createStackApp, eventually, startStack, type Stack } from './support/stack.js';

const policy = loadPolicy();

describe('quiet hours (pure)', () => {
  it.each([
    ['SMS at 22:30 in Shanghai waits until 08:00 there', 'sms', '2026-03-02T14:30:00Z', 'Asia/Shanghai', '2026-03-03T00:00:00.000Z'],
    ['SMS at 07:59 in Shanghai waits a minute', 'sms', '2026-03-02T23:59:00Z', 'Asia/Shanghai', '2026-03-03T00:00:00.000Z'],
    ['SMS at 08:00 in Shanghai goes', 'sms', '2026-03-03T00:00:00Z', 'Asia/Shanghai', undefined],
    ['SMS at 20:59 in Shanghai goes', 'sms', '2026-03-02T12:59:00Z', 'Asia/Shanghai', undefined],
    ['email is never quiet by default', 'email', '2026-03-02T18:00:00Z', 'Asia/Shanghai', undefined],
    ['New York, the night clocks go forward: 08:00 EDT is 12:00Z', 'sms', '2027-03-14T03:30:00Z', 'America/New_York', '2027-03-14T12:00:00.000Z'],
    ['New York, the night before: 08:00 EST is 13:00Z', 'sms', '2027-03-13T03:30:00Z', 'America/New_York', '2027-03-13T13:00:00.000Z'],
    ['New York, the night clocks go back: 08:00 EST is 13:00Z', 'sms', '2027-11-07T05:30:00Z', 'America/New_York', '2027-11-07T13:00:00.000Z'],
    ['London at 23:00 BST', 'sms', '2026-07-01T22:00:00Z', 'Europe/London', '2026-07-02T07:00:00.000Z'],
    ['WeChat at 22:30 in Shanghai waits until 08:00 there', 'wechat', '2026-03-02T14:30:00Z', 'Asia/Shanghai', '2026-03-03T00:00:00.000Z'],
    ['WeChat at 21:30 in Shanghai goes', 'wechat', '2026-03-02T13:30:00Z', 'Asia/Shanghai', undefined],
  ] as const)('%s', (_n, channel, now, tz, until) => {
    expect(quietUntil(channel, new Date(now), tz, policy)?.toISOString()).toBe(until);
  });

  it('falls back to the configured zone for a missing or unknown one, and says so', () => {
    expect(effectiveTimeZone('Mars/Base', policy)).toEqual({ timeZone: 'Asia/Shanghai', fellBack: true });
    expect(effectiveTimeZone(null, policy)).toEqual({ timeZone: 'Asia/Shanghai', fellBack: true });
    expect(effectiveTimeZone('Europe/Paris', policy)).toEqual({ timeZone: 'Europe/Paris', fellBack: false });
  });

  it('refuses a malformed policy with a clear message', () => {
    expect(() => loadPolicy('{"quietHours":{"sms":{"start":"9pm","end":"08:00"}}}')).toThrow('CONTACT_POLICY is invalid: quietHours.sms.start: a local time like 21:00');
  });
});

const probe = (steps: unknown[]) =>
  JourneyDefinition.parse({
    key: 'policy-probe',
    version: 1,
    name: 'Policy probe',
    stages: [{ key: 'one', label: 'One' }],
    initialStage: 'one',
    entry: { api: true, events: [], reentry: { mode: 'concurrent' } },
    triggers: [
      { event: 'product.viewed', steps },
      { event: 'loan.repayment_due', steps: [{ type: 'send', channel: 'sms', template: 'loan-repayment-reminder', class: 'service', expiresAfter: 'PT6H' }] },
    ],
  });

describe('quiet hours on the workflow clock (time-skipping server, real activities)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ timeSkipping: true, contactPolicy: JSON.stringify({ defaultTimeZone: 'Asia/Shanghai', caps: { marketing: {}, service: {} } }) });
    await stack.startWorker();
  });
  afterAll(async () => stack?.stop());

  async function journeyAt(
    localInstant: string,
    customer: { id: string; timeZone: string; phone?: string; wechatOpenid?: string },
    steps: unknown[] = [{ type: 'send', channel: 'sms', template: 'lifecycle-consideration' }],
  ) {
    // Move the server's clock forward to the instant (the test server starts at the real present; the tests of this
    // block go forward in time, one after another).
    const ms = Date.parse(localInstant) - (await stack.env.currentTimeMs());
    if (ms > 0) await stack.env.sleep(ms);
    await stack.testDb.db.customer.create({ data: { name: 'Night Owl', locale: 'en', ...customer } });
    const def = probe(steps);
    const input: JourneyWorkflowInput = { definition: def, customerId: customer.id, params: resolveParams(def) };
    const handle = await stack.client.workflow.start('journeyWorkflow', { taskQueue: stack.taskQueue, workflowId: `policy:${customer.id}`, args: [input] });
    return handle;
  }
  const story = async (customerId: string, template: string) => {
    const m = await stack.testDb.db.message.findFirst({ where: { customerId, template }, include: { events: { orderBy: { id: 'asc' } } } });
    return { status: m?.status, reason: m?.statusReason, events: m?.events.map((e) => [e.type, e.detail]) ?? [] };
  };

  it('defers an SMS sent at 23:30 in New York, the night DST starts, to 08:00 EDT, then sends it', async () => {
    const c = { id: 'ny-1', timeZone: 'America/New_York', phone: '+12125550101' };
    const handle = await journeyAt('2027-03-14T04:30:00Z', c); // 23:30 EST on 13 March
    await handle.signal(journeyEventSignal, { eventId: 'ny-1-a', type: 'product.viewed', occurredAt: new Date().toISOString(), data: {} });
    const deferred = await eventually(
      () => story(c.id, 'lifecycle-consideration'),
      (s) => s.status === 'deferred',
    );
    expect(deferred.events).toEqual([
      ['created', { class: 'marketing', priority: 5 }],
      ['deferred', { reason: 'quiet_hours', until: '2027-03-14T12:00:00.000Z', timeZone: 'America/New_York' }],
    ]);
    expect(stack.sms.messages().filter((m) => m.to === c.phone)).toHaveLength(0);
    // Skip the server's clock to 08:00 EDT: the workflow's durable timer fires and the send goes out.
    await stack.env.sleep(Date.parse('2027-03-14T12:00:00Z') - (await stack.env.currentTimeMs()));
    await stack.sms.waitFor((m) => m.to === c.phone, 30_000);
    const sent = await eventually(
      () => story(c.id, 'lifecycle-consideration'),
      (s) => s.status === 'sent',
    );
    expect(sent.events.map((e) => e[0])).toEqual(['created', 'deferred', 'sent']);
    expect(await stack.env.currentTimeMs()).toBeGreaterThanOrEqual(Date.parse('2027-03-14T12:00:00Z'));
  });

  it('drops a time-critical SMS that would be stale by the end of the quiet hours; falls back to the default zone and reports it', async () => {
    const c = { id: 'mars-1', timeZone: 'Mars/Olympus_Mons', phone: '+8613700000001' };
    const handle = await journeyAt('2027-06-01T14:00:00Z', c); // 22:00 in Shanghai, the fallback zone
    await handle.signal(journeyEventSignal, { eventId: 'mars-1-a', type: 'loan.repayment_due', occurredAt: new Date().toISOString(), data: { dueAt: '2027-06-02T00:00:00Z' } });
    const dropped = await eventually(
      () => story(c.id, 'loan-repayment-reminder'),
      (s) => s.status === 'dropped',
    );
    expect(dropped.reason).toBe('quiet_hours_expired');
    expect(dropped.events.map((e) => e[0])).toEqual(['created', 'timezone_fallback', 'dropped']);
    expect(dropped.events[1]![1]).toEqual({ given: 'Mars/Olympus_Mons', used: 'Asia/Shanghai' });
    expect(stack.sms.messages().filter((m) => m.to === c.phone)).toHaveLength(0);
  });
  it('a deferred send refused for good when it goes out is recorded as failed, and the journey goes on', async () => {
    const c = { id: 'bad-number-1', timeZone: 'Asia/Shanghai', phone: '12345' };
    const handle = await journeyAt('2027-08-01T15:00:00Z', c); // 23:00 in Shanghai
    await handle.signal(journeyEventSignal, { eventId: 'bad-1-a', type: 'product.viewed', occurredAt: new Date().toISOString(), data: {} });
    await eventually(
      () => story(c.id, 'lifecycle-consideration'),
      (s) => s.status === 'deferred',
    );
    await stack.env.sleep(Date.parse('2027-08-02T00:00:00Z') - (await stack.env.currentTimeMs()));
    const failed = await eventually(
      () => story(c.id, 'lifecycle-consideration'),
      (s) => s.status === 'failed',
    );
    expect(failed.reason).toBe('rejected_by_provider');
    expect((await handle.describe()).status.name).toBe('RUNNING');
  });

  it('a send still deferred when its journey ends is dropped, never sent after an opt-out', async () => {
    const c = { id: 'ends-1', timeZone: 'Asia/Shanghai', phone: '+8613700000002' };
    const handle = await journeyAt('2027-09-01T15:00:00Z', c); // 23:00 in Shanghai
    await handle.signal(journeyEventSignal, { eventId: 'ends-1-a', type: 'product.viewed', occurredAt: new Date().toISOString(), data: {} });
    await eventually(
      () => story(c.id, 'lifecycle-consideration'),
      (s) => s.status === 'deferred',
    );
    await handle.signal(exitJourneySignal, { reason: 'opted_out' });
    await handle.result();
    const dropped = await story(c.id, 'lifecycle-consideration');
    expect(dropped).toMatchObject({ status: 'dropped', reason: 'journey_ended' });
    expect(dropped.events.map((e) => e[0])).toEqual(['created', 'deferred', 'dropped']);
    expect(stack.sms.messages().filter((m) => m.to === c.phone)).toHaveLength(0);
  });

  it('defers a WeChat message sent at 23:00 in Shanghai to 08:00 there, then sends it', async () => {
    const c = { id: 'wx-night-1', timeZone: 'Asia/Shanghai', wechatOpenid: 'oNight0wl000000000000000001' };
    const handle = await journeyAt('2027-10-01T15:00:00Z', c, [{ type: 'send', channel: 'wechat', template: 'loan-repayment-reminder' }]);
    await handle.signal(journeyEventSignal, { eventId: 'wx-night-1-a', type: 'product.viewed', occurredAt: new Date().toISOString(), data: {} });
    const deferred = await eventually(
      () => story(c.id, 'loan-repayment-reminder'),
      (s) => s.status === 'deferred',
    );
    expect(deferred.events[1]).toEqual(['deferred', { reason: 'quiet_hours', until: '2027-10-02T00:00:00.000Z', timeZone: 'Asia/Shanghai' }]);
    expect(stack.wechat.messages().filter((m) => m.touser === c.wechatOpenid)).toHaveLength(0);
    await stack.env.sleep(Date.parse('2027-10-02T00:00:00Z') - (await stack.env.currentTimeMs()));
    await stack.wechat.waitFor((m) => m.touser === c.wechatOpenid, 30_000);
    expect(
      (
        await eventually(
          () => story(c.id, 'loan-repayment-reminder'),
          (s) => s.status === 'sent',
        )
      ).events.map((e) => e[0]),
    ).toEqual(['created', 'deferred', 'sent']);
  });
});

describe('frequency caps, priorities, consent (dev server, real activities)', () => {
  let stack: Stack;
  let app: ReturnType<typeof createStackApp>;
  beforeAll(async () => {
    stack = await startStack({
      contactPolicy: JSON.stringify({
        quietHours: {},
        caps: {
          marketing: {
            sms: [
              { limit: 2, window: 'P1D' },
              { limit: 5, window: 'P7D' },
            ],
          },
          service: {},
        },
        onCap: { marketing: 'drop', service: 'defer' },
      }),
    });
    await stack.startWorker();
    app = createStackApp(stack);
    const doc = probe([{ type: 'send', channel: 'sms', template: 'lifecycle-consideration' }]);
    await api(app).post('/v1/journey-definitions').send(doc).expect(201);
    await api(app, 'ops').post('/v1/journey-definitions/policy-probe/versions/1/publish').expect(200);
  });
  afterAll(async () => stack?.stop());

  it('50 journeys of one customer send at once: exactly the cap passes, the rest are dropped and recorded', async () => {
    const phone = '+8613800000050';
    await api(app).put('/v1/customers/cap-1').send({ name: 'Busy', phone, timeZone: 'Asia/Shanghai' }).expect(201);
    const journeys = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        api(app)
          .post('/v1/journeys')
          .send({ journeyKey: 'policy-probe', customerId: 'cap-1', businessKey: `b${i}` })
          .expect(201),
      ),
    );
    await Promise.all(
      journeys.map((j, i) =>
        api(app)
          .post(`/v1/journeys/${j.body.workflowId}/events`)
          .send({ eventId: `cap-${i}`, type: 'product.viewed' })
          .expect(202),
      ),
    );
    const settled = await eventually(
      () => stack.testDb.db.message.findMany({ where: { customerId: 'cap-1' } }),
      (m) => m.length === 50 && m.every((x) => x.status === 'sent' || x.status === 'dropped'),
      60_000,
    );
    const sent = settled.filter((m) => m.status === 'sent');
    const dropped = settled.filter((m) => m.status === 'dropped');
    process.stdout.write(`frequency cap: 50 concurrent sends → ${sent.length} sent, ${dropped.length} dropped\n`);
    expect(sent).toHaveLength(2);
    expect(dropped.every((m) => m.statusReason === 'frequency_cap')).toBe(true);
    expect(stack.sms.messages().filter((m) => m.to === phone)).toHaveLength(2);
    // the reason is in each message's story, visible through the API
    const log = (await api(app).get('/v1/customers/cap-1/messages?limit=100').expect(200)).body.messages;
    const one = log.find((m: { status: string }) => m.status === 'dropped');
    expect(one.events.map((e: { type: string }) => e.type)).toEqual(['created', 'dropped']);
    expect(one.events[1].detail).toMatchObject({ reason: 'frequency_cap', limit: 2, window: 'P1D', used: 2 });
  });

  it('service messages are not capped by the marketing caps', async () => {
    await api(app).put('/v1/customers/cap-2').send({ name: 'Borrower', phone: '+8613800000051', timeZone: 'Asia/Shanghai' }).expect(201);
    const ids = await Promise.all(
      [0, 1, 2, 3].map((i) =>
        api(app)
          .post('/v1/journeys')
          .send({ journeyKey: 'policy-probe', customerId: 'cap-2', businessKey: `s${i}` })
          .expect(201),
      ),
    );
    await Promise.all(
      ids.map((j, i) =>
        api(app)
          .post(`/v1/journeys/${j.body.workflowId}/events`)
          .send({ eventId: `svc-${i}`, type: 'loan.repayment_due', data: { dueAt: '2030-01-01T00:00:00Z' } })
          .expect(202),
      ),
    );
    const all = await eventually(
      () => stack.testDb.db.message.findMany({ where: { customerId: 'cap-2' } }),
      (m) => m.length === 4 && m.every((x) => x.status === 'sent'),
    );
    expect(all.every((m) => m.class === 'service')).toBe(true);
  });

  it('a higher-priority message waiting for the same moment gets the last slot', async () => {
    await api(app).put('/v1/customers/cap-3').send({ name: 'Prio', phone: '+8613800000052', timeZone: 'Asia/Shanghai' }).expect(201);
    const waiting = await stack.testDb.db.message.create({
      data: {
        idempotencyKey: 'prio-high',
        workflowId: 'w',
        customerId: 'cap-3',
        channel: 'sms',
        template: 'lifecycle-consideration',
        priority: 9,
        status: 'deferred',
        deferredUntil: new Date(Date.now() - 1000),
      },
    });
    await stack.testDb.db.message.create({
      data: { idempotencyKey: 'prio-used', workflowId: 'w', customerId: 'cap-3', channel: 'sms', template: 'x', status: 'sent', sentAt: new Date() },
    });
    // one slot of two is used; the high-priority message waiting now takes precedence over a new low-priority one
    const j = await api(app).post('/v1/journeys').send({ journeyKey: 'policy-probe', customerId: 'cap-3', businessKey: 'low' }).expect(201);
    await api(app).post(`/v1/journeys/${j.body.workflowId}/events`).send({ eventId: 'prio-low', type: 'product.viewed' }).expect(202);
    // The status and its event are one write: the moment the status reads `dropped`, its event is there.
    const low = await eventually(
      () => stack.testDb.db.message.findFirst({ where: { customerId: 'cap-3', workflowId: j.body.workflowId }, include: { events: { orderBy: { id: 'asc' } } } }),
      (m) => m?.status === 'dropped',
    );
    expect(low!.statusReason).toBe('frequency_cap');
    expect(low!.events.map((e) => e.type)).toEqual(['created', 'dropped']);
    expect(low!.events[1]!.detail).toMatchObject({ reason: 'frequency_cap', used: 1, higherPriorityWaiting: 1 });
    // the waiting high-priority message was left as it was (nothing took its slot or touched it)
    expect(await stack.testDb.db.message.findUniqueOrThrow({ where: { id: waiting.id } })).toMatchObject({ status: 'deferred', attempts: 0 });
    expect(stack.sms.messages().filter((m) => m.to === '+8613800000052')).toHaveLength(0);
  });

  it('consent and a channel opt-out suppress, and the message log says why', async () => {
    await api(app).put('/v1/customers/opt-1').send({ name: 'Quiet', phone: '+8613800000053', timeZone: 'Asia/Shanghai' }).expect(201);
    await api(app)
      .post('/v1/customers/opt-1/events')
      .send({ eventId: 'opt-1-out', type: 'customer.opted_out', data: { channel: 'sms' } })
      .expect(202);
    const j = await api(app).post('/v1/journeys').send({ journeyKey: 'policy-probe', customerId: 'opt-1', businessKey: 'x' }).expect(201);
    await api(app).post(`/v1/journeys/${j.body.workflowId}/events`).send({ eventId: 'opt-1-v', type: 'product.viewed' }).expect(202);
    const log = await eventually(
      () =>
        api(app)
          .get('/v1/customers/opt-1/messages')
          .then((r) => r.body.messages),
      (m) => m.length === 1 && m[0].status === 'suppressed',
    );
    expect(log[0]).toMatchObject({ statusReason: 'no_consent', channel: 'sms' });
    expect(log[0].events.map((e: { type: string; detail: { reason?: string } }) => [e.type, e.detail.reason ?? null])).toEqual([
      ['created', null],
      ['suppressed', 'no_consent'],
    ]);
    expect(stack.sms.messages().some((m) => m.to === '+8613800000053')).toBe(false);
  });

  it('WeChat consent like any channel: marketing withdrawn alone suppresses marketing, an opt-out of the channel everything', async () => {
    const doc = {
      ...probe([{ type: 'send', channel: 'wechat', template: 'loan-repayment-reminder' }]),
      key: 'policy-wechat',
      triggers: [
        {
          event: 'loan.repayment_due',
          steps: [
            { type: 'send', channel: 'wechat', template: 'loan-repayment-reminder' },
            { type: 'send', channel: 'wechat', template: 'loan-repayment-reminder', class: 'service' },
          ],
        },
      ],
    };
    await api(app).post('/v1/journey-definitions').send(doc).expect(201);
    await api(app, 'ops').post('/v1/journey-definitions/policy-wechat/versions/1/publish').expect(200);
    const openids = { 'wx-opt-1': 'oConsent00000000000000000001', 'wx-opt-2': 'oConsent00000000000000000002' };
    await api(app)
      .put('/v1/customers/wx-opt-1')
      .send({ wechatOpenid: openids['wx-opt-1'], consents: { wechat_marketing: false } })
      .expect(201);
    await api(app).put('/v1/customers/wx-opt-2').send({ wechatOpenid: openids['wx-opt-2'] }).expect(201);
    await api(app)
      .post('/v1/customers/wx-opt-2/events')
      .send({ eventId: 'wx-opt-2-out', type: 'customer.opted_out', data: { channel: 'wechat' } })
      .expect(202);
    for (const id of ['wx-opt-1', 'wx-opt-2'] as const) {
      const j = await api(app).post('/v1/journeys').send({ journeyKey: 'policy-wechat', customerId: id, businessKey: 'x' }).expect(201);
      await api(app)
        .post(`/v1/journeys/${j.body.workflowId}/events`)
        .send({ eventId: `${id}-due`, type: 'loan.repayment_due', data: { dueAt: '2027-01-01T00:00:00Z' } })
        .expect(202);
    }
    // The step's two sends run side by side: by class, not by which was written first.
    const outcomes = async (id: string) =>
      (await stack.testDb.db.message.findMany({ where: { customerId: id }, orderBy: { class: 'asc' } })).map((m) => [m.class, m.status, m.statusReason]);
    expect(
      await eventually(
        () => outcomes('wx-opt-1'),
        (o) => o.length === 2 && o.every((m) => m[1] !== 'pending' && m[1] !== 'sending'),
      ),
    ).toEqual([
      ['marketing', 'suppressed', 'no_consent'],
      ['service', 'sent', null],
    ]);
    expect(
      await eventually(
        () => outcomes('wx-opt-2'),
        (o) => o.length === 2 && o.every((m) => m[1] !== 'pending' && m[1] !== 'sending'),
      ),
    ).toEqual([
      ['marketing', 'suppressed', 'no_consent'],
      ['service', 'suppressed', 'no_consent'],
    ]);
    expect(stack.wechat.messages().map((m) => m.touser)).toEqual([openids['wx-opt-1']]);
  });
});
