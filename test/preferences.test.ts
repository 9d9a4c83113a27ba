// The customer stays in control, end to end on the real stack (Temporal dev server, worker, Postgres, SMTP catcher):
// a marketing email carries RFC 8058's one-click unsubscribe and a link to the preference page; posting the one-click
// URL (no key, as a mail client does) withdraws marketing email and nothing else; the page (zh-CN and English) stops
// a channel, stops the journey, or moves the customer to the light, service-only journey; every choice is an inbound
// event, an audit entry under the link's principal and, for consent, a consent change with its provenance; forged and
// expired links answer 4xx and change nothing.
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CapturedMail } from '../dev/smtp-catcher.js';
import { PreferenceLinks } from '../service/preference-links.js';
import { api, createStackApp, eventually, PREFERENCES_BASE_URL, startStack, type Stack } from './support/stack.js';

let stack: Stack;
let app: ReturnType<typeof createStackApp>;

beforeAll(async () => {
  stack = await startStack();
  await stack.startWorker();
  app = createStackApp(stack);
}, 120_000);
afterAll(async () => {
  await stack?.stop();
});

const db = () => stack.testDb.db;
let seq = 0;

async function customer(id: string, locale: 'en' | 'zh-CN') {
  await api(app)
    .put(`/v1/customers/${id}`)
    .send({ name: `Pref ${id}`, email: `${id}@example.com`, phone: '+8613800009999', locale, timeZone: 'Asia/Shanghai', consents: { email: true, sms: true, webhook: true } })
    .expect(201);
}
const event = (customerId: string, type: string, data: Record<string, unknown> = {}) =>
  api(app)
    .post(`/v1/customers/${customerId}/events`)
    .send({ eventId: `pref-test-${++seq}`, type, data })
    .expect(202);
const mailTo = (customerId: string, subject: string) => stack.smtp.waitFor((m) => m.to.includes(`${customerId}@example.com`) && m.subject === subject, 30_000);

/** A bank-loan journey for the customer, moved to `interest`: its product email is marketing. */
async function loanJourneyWithMarketingEmail(customerId: string, subject: string): Promise<{ workflowId: string; mail: CapturedMail }> {
  const started = await api(app).post('/v1/journeys').send({ journeyKey: 'bank-loan', customerId }).expect(201);
  await event(customerId, 'loan.stage_changed', { stage: 'interest' });
  return { workflowId: started.body.workflowId as string, mail: await mailTo(customerId, subject) };
}

/** The paths of an email's one-click URL (from its header) and its preference page (from its text). */
function linksOf(mail: CapturedMail): { unsubscribe: string; page: string; token: string } {
  const header = /^<(.+)>$/.exec(mail.headers['list-unsubscribe'] ?? '')?.[1];
  if (!header) throw new Error(`no List-Unsubscribe header: ${JSON.stringify(mail.headers)}`);
  const page = new RegExp(`${PREFERENCES_BASE_URL.replace(/[.]/g, '\\.')}(/p/[A-Za-z0-9._-]+)`).exec(mail.text)?.[1];
  if (!page) throw new Error('no preference link in the text');
  const unsubscribe = new URL(header).pathname;
  return { unsubscribe, page, token: unsubscribe.slice('/u/'.length) };
}

const consentsOf = async (id: string) => (await db().customer.findUniqueOrThrow({ where: { id } })).consents as Record<string, boolean>;
const journeyRow = (workflowId: string) => db().journey.findUniqueOrThrow({ where: { workflowId } });
/** Rows as JSON text (audit ids are bigints). */
const asText = (v: unknown) => JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? String(x) : x));
const auditOf = (principalId: string) => db().auditLog.findMany({ where: { principalId }, orderBy: { id: 'asc' } });

describe('one-click unsubscribe (RFC 8058)', () => {
  it('a marketing email carries both headers and the page link; POSTing the URL without a key withdraws marketing email only, once, audited, with provenance', async () => {
    await customer('pref-1', 'en');
    const { mail } = await loanJourneyWithMarketingEmail('pref-1', 'How our consumer loan works');
    expect(mail.headers['list-unsubscribe']).toMatch(new RegExp(`^<${PREFERENCES_BASE_URL.replace(/[.]/g, '\\.')}/u/[A-Za-z0-9._-]+>$`));
    expect(mail.headers['list-unsubscribe-post']).toBe('List-Unsubscribe=One-Click');
    const links = linksOf(mail);
    expect(links.page).toBe(`/p/${links.token}`);
    expect(mail.html).toContain(`${PREFERENCES_BASE_URL}/p/${links.token}`);
    // The message log (read by RMs and ops) keeps the email without the customer's link.
    const message = await db().message.findFirstOrThrow({ where: { customerId: 'pref-1', template: 'loan-product-intro' } });
    expect(message.body).not.toContain('/p/');
    const linkPrincipal = `link:${message.id}`;

    const res = await request(app).post(links.unsubscribe).type('form').send('List-Unsubscribe=One-Click').expect(200);
    expect(res.body).toEqual({ unsubscribed: true, channel: 'email' });
    expect(await consentsOf('pref-1')).toMatchObject({ email: true, email_marketing: false, sms: true });
    const eventId = `pref:${message.id}:unsubscribe_email`;
    expect(await db().inboundEvent.findUniqueOrThrow({ where: { eventId } })).toMatchObject({ type: 'customer.opted_out', data: { channel: 'email', class: 'marketing' } });
    const changes = await db().consentChange.findMany({ where: { customerId: 'pref-1', channel: 'email_marketing' } });
    expect(changes).toEqual([expect.objectContaining({ from: null, to: false, source: 'event', eventId, principalId: linkPrincipal, requestId: res.headers['x-request-id'] })]);
    const entries = await eventually(
      () => auditOf(linkPrincipal),
      (e) => e.length === 1,
    );
    expect(entries[0]).toMatchObject({ role: 'customer', action: 'preferences.unsubscribe', targetType: 'customer', targetId: 'pref-1', outcome: 'ok', status: 200 });
    expect(asText(entries)).not.toMatch(/example\.com|Pref pref-1/);

    // A second click (mail clients retry) is the same event: nothing changes twice.
    await request(app).post(links.unsubscribe).type('form').send('List-Unsubscribe=One-Click').expect(200);
    expect(await db().consentChange.count({ where: { customerId: 'pref-1', channel: 'email_marketing' } })).toBe(1);

    // The next marketing email is suppressed; a service email (the approval) still goes out, without the headers.
    await event('pref-1', 'loan.stage_changed', { stage: 'comparison' });
    const suppressed = await eventually(
      () => db().message.findFirst({ where: { customerId: 'pref-1', template: 'loan-comparison-guide' } }),
      (m) => m?.status === 'suppressed',
    );
    expect(suppressed!.statusReason).toBe('no_consent');
    await event('pref-1', 'loan.approved', { limit: 80000, expiresAt: new Date(Date.now() + 90 * 86_400_000).toISOString() });
    const approval = await mailTo('pref-1', 'Your loan is approved: limit CN¥80,000.00');
    expect(approval.headers['list-unsubscribe']).toBeUndefined();
    expect(approval.text).not.toContain('/p/');
  });

  it('a GET of the one-click URL unsubscribes nobody (link scanners fetch every URL): it goes to the page', async () => {
    await customer('pref-get', 'en');
    const { mail } = await loanJourneyWithMarketingEmail('pref-get', 'How our consumer loan works');
    const links = linksOf(mail);
    const res = await request(app).get(links.unsubscribe).expect(303);
    expect(res.headers.location).toBe(`../p/${links.token}`);
    expect(await consentsOf('pref-get')).not.toHaveProperty('email_marketing');
  });
});

describe('the preference page', () => {
  it('is server-rendered in the customer’s language (zh-CN, English), with a strict CSP, no script and no external asset', async () => {
    await customer('pref-zh', 'zh-CN');
    const zh = linksOf((await loanJourneyWithMarketingEmail('pref-zh', '一文读懂我们的消费贷款')).mail);
    const page = await request(app).get(zh.page).expect(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.text).toContain('<html lang="zh-CN">');
    expect(page.text).toContain('<h1>消息偏好</h1>');
    expect(page.text).toContain('您从一封关于“Bank consumer loan”的邮件来到此页');
    expect(page.text).toMatch(/有效期至 \d{4}年\d{1,2}月\d{1,2}日/);
    expect(page.text).toContain('停止此旅程');
    expect(page.headers['content-security-policy']).toMatch(/^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/=]+'; form-action 'self'; frame-ancestors 'none'/);
    expect(page.headers['referrer-policy']).toBe('no-referrer');
    expect(page.headers['cache-control']).toBe('no-store');
    expect(page.text).not.toMatch(/<script|src=|<link|https?:\/\//);

    await customer('pref-en', 'en');
    const en = linksOf((await loanJourneyWithMarketingEmail('pref-en', 'How our consumer loan works')).mail);
    const enPage = await request(app).get(en.page).expect(200);
    expect(enPage.text).toContain('<html lang="en">');
    expect(enPage.text).toContain('<h1>Your messages</h1>');
    expect(enPage.text).toMatch(/This link works until \d{1,2} [A-Z][a-z]{2} \d{4}\./);
    expect(enPage.text).toContain('Stop this journey');
    expect(enPage.text).toContain('Fewer messages');
  });

  it('stop a channel: marketing by SMS is withdrawn (consent with provenance), the page says so; stop this journey: it exits with its reason', async () => {
    await customer('pref-stop', 'zh-CN');
    const { workflowId, mail } = await loanJourneyWithMarketingEmail('pref-stop', '一文读懂我们的消费贷款');
    const links = linksOf(mail);
    const message = await db().message.findFirstOrThrow({ where: { customerId: 'pref-stop', template: 'loan-product-intro' } });
    const linkPrincipal = `link:${message.id}`;

    const stopped = await request(app).post(links.page).type('form').send({ choice: 'stop_channel', channel: 'sms' }).expect(303);
    expect(stopped.headers.location).toBe('?done=stop_channel&channel=sms');
    expect(await consentsOf('pref-stop')).toMatchObject({ sms: true, sms_marketing: false, email: true });
    expect(await db().consentChange.findMany({ where: { customerId: 'pref-stop', channel: 'sms_marketing' } })).toEqual([
      expect.objectContaining({
        to: false,
        source: 'event',
        principalId: linkPrincipal,
        eventId: `pref:${message.id}:unsubscribe_sms`,
        requestId: stopped.headers['x-request-id'],
      }),
    ]);
    const after = await request(app).get(`${links.page}?done=stop_channel&channel=sms`).expect(200);
    expect(after.text).toContain('已完成：不再通过短信向您发送推介。');
    expect(after.text).toMatch(/短信 — <span class="off">已停止<\/span>/);

    await request(app).post(links.page).type('form').send({ choice: 'stop_journey' }).expect(303);
    const ended = await eventually(
      () => journeyRow(workflowId),
      (j) => j.status === 'exited',
    );
    expect(ended.exitReason).toBe('customer_stopped');
    expect(await db().inboundEvent.findUniqueOrThrow({ where: { eventId: `pref:${message.id}:stop_journey` } })).toMatchObject({
      type: 'customer.journey_stopped',
      workflowId,
      data: { journeyKey: 'bank-loan' },
    });
    expect((await request(app).get(links.page).expect(200)).text).toContain('此旅程已结束');
    // Stopping it again: the journey has ended, a 4xx page, nothing new.
    const again = await request(app).post(links.page).type('form').send({ choice: 'stop_journey' }).expect(409);
    expect(again.text).toContain('此旅程已经结束');

    const entries = await eventually(
      () => auditOf(linkPrincipal),
      (e) => e.filter((x) => x.action === 'preferences.choose').length === 3,
    );
    expect(entries.filter((e) => e.action === 'preferences.choose').map((e) => [e.outcome, (e.detail as { choice?: string }).choice])).toEqual([
      ['ok', 'stop_channel'],
      ['ok', 'stop_journey'],
      ['refused', 'stop_journey'],
    ]);
    expect(entries.some((e) => e.action === 'preferences.read')).toBe(true);
    expect(asText(entries)).not.toMatch(/example\.com|Pref pref-stop|\+86/);
  });

  it('fewer messages: the journey that wrote exits, light-touch starts, stops the marketing journeys and confirms by a service email', async () => {
    await customer('pref-few', 'en');
    const lifecycle = await api(app).post('/v1/journeys').send({ journeyKey: 'lifecycle', customerId: 'pref-few' }).expect(201);
    const { workflowId, mail } = await loanJourneyWithMarketingEmail('pref-few', 'How our consumer loan works');
    const links = linksOf(mail);

    const res = await request(app).post(links.page).type('form').send({ choice: 'fewer_messages' }).expect(303);
    expect(res.headers.location).toBe('?done=fewer_messages');
    expect(
      (
        await eventually(
          () => journeyRow(workflowId),
          (j) => j.status === 'exited',
        )
      ).exitReason,
    ).toBe('fewer_messages');
    expect(
      (
        await eventually(
          () => journeyRow(lifecycle.body.workflowId as string),
          (j) => j.status === 'exited',
        )
      ).exitReason,
    ).toBe('fewer_messages');
    const light = await db().journey.findFirstOrThrow({ where: { customerId: 'pref-few', journeyKey: 'light-touch' } });
    expect(light).toMatchObject({ status: 'running', tags: ['service'] });
    const confirmation = await mailTo('pref-few', 'Fewer messages from us, as you asked');
    expect(confirmation.headers['list-unsubscribe']).toBeUndefined(); // a service email
    const message = await db().message.findFirstOrThrow({ where: { customerId: 'pref-few', template: 'loan-product-intro' } });
    expect(await db().inboundEvent.findUniqueOrThrow({ where: { eventId: `pref:${message.id}:fewer_messages` } })).toMatchObject({
      type: 'customer.fewer_messages',
      data: { journeyKey: 'bank-loan' },
      deliveredTo: expect.arrayContaining([light.workflowId]),
    });
    const entries = await eventually(
      () => auditOf(`link:${message.id}`),
      (e) => e.some((x) => x.action === 'preferences.choose'),
    );
    expect(entries.find((e) => e.action === 'preferences.choose')).toMatchObject({ outcome: 'ok', targetId: 'pref-few', detail: { choice: 'fewer_messages', exited: workflowId } });
    const done = await request(app).get(`${links.page}?done=fewer_messages`).expect(200);
    expect(done.text).toContain('Done: from now on we write to you only about your accounts and contracts.');
  });

  it('a choice the page does not offer is 400 and changes nothing', async () => {
    await customer('pref-bad', 'en');
    const links = linksOf((await loanJourneyWithMarketingEmail('pref-bad', 'How our consumer loan works')).mail);
    await request(app).post(links.page).type('form').send({ choice: 'stop_channel', channel: 'fax' }).expect(400);
    await request(app).post(links.page).type('form').send({ choice: 'delete_everything' }).expect(400);
    expect(await consentsOf('pref-bad')).toEqual({ email: true, sms: true, webhook: true });
  });
});

describe('forged and expired links', () => {
  it('a forged, altered or foreign-signed link answers 403 on every route and changes nothing; an expired one 410', async () => {
    await customer('pref-forge', 'en');
    const { workflowId, mail } = await loanJourneyWithMarketingEmail('pref-forge', 'How our consumer loan works');
    const { token } = linksOf(mail);
    const [head, body, sig] = token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as { sub: string; jti: string; wid: string };
    const otherCustomer = Buffer.from(JSON.stringify({ ...claims, sub: 'pref-1' })).toString('base64url');
    const foreign = await new PreferenceLinks({ secret: 'another-secret-another-secret-another', linkDays: 30 }).sign({
      linkId: claims.jti,
      customerId: 'pref-forge',
      workflowId,
      channel: 'email',
    });
    const expired = await stack.links.sign({ linkId: claims.jti, customerId: 'pref-forge', workflowId, channel: 'email' }, new Date(Date.now() - 31 * 86_400_000));
    const forged = [`${head}.${otherCustomer}.${sig}`, `${head}.${body}.${sig[0] === 'A' ? 'B' : 'A'}${sig.slice(1)}`, foreign, 'not-a-token', `${head}.${body}.`];

    for (const t of forged) {
      const u = await request(app).post(`/u/${t}`).type('form').send('List-Unsubscribe=One-Click').expect(403);
      expect(u.body.error.code).toBe('invalid_link');
      expect((await request(app).get(`/p/${t}`).expect(403)).text).toContain('This link is not valid.');
      await request(app).post(`/p/${t}`).type('form').send({ choice: 'fewer_messages' }).expect(403);
    }
    const u = await request(app).post(`/u/${expired}`).type('form').send('List-Unsubscribe=One-Click').expect(410);
    expect(u.body.error.code).toBe('link_expired');
    const page = await request(app).get(`/p/${expired}`).set('accept-language', 'zh-CN,zh;q=0.9').expect(410);
    expect(page.text).toContain('此链接已过期。');
    await request(app).post(`/p/${expired}`).type('form').send({ choice: 'stop_journey' }).expect(410);

    // Nothing changed: consents, events, the journey, and no audit entry under the link (an unverified request
    // proves nothing about who sent it, and could fill the table).
    expect(await consentsOf('pref-forge')).toEqual({ email: true, sms: true, webhook: true });
    expect(await consentsOf('pref-1')).toMatchObject({ email_marketing: false }); // unchanged by the forged copy of its id
    expect(await db().inboundEvent.count({ where: { eventId: { startsWith: `pref:${claims.jti}` } } })).toBe(0);
    expect((await journeyRow(workflowId)).status).toBe('running');
    expect(await auditOf(`link:${claims.jti}`)).toEqual([]);
  });

  it('a genuine link of an erased customer no longer works (404) and changes nothing', async () => {
    await customer('pref-gone', 'en');
    const { mail } = await loanJourneyWithMarketingEmail('pref-gone', 'How our consumer loan works');
    const links = linksOf(mail);
    await api(app).delete('/v1/customers/pref-gone').expect(202);
    await request(app).post(links.unsubscribe).type('form').send('List-Unsubscribe=One-Click').expect(404);
    expect((await request(app).get(links.page).expect(404)).text).toContain('This link no longer works.');
    expect(await db().consentChange.count({ where: { customerId: 'pref-gone', source: 'event' } })).toBe(0);
  });
});
