// The local peers the service talks to in dev and tests: the SMTP catcher (driven by nodemailer), the
// Twilio-compatible sink (driven by the real twilio client through channels/twilio-http.ts) and the webhook sink.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createServer } from 'node:http';
import nodemailer from 'nodemailer';
import twilio from 'twilio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { twilioHttpClient } from '../channels/twilio-http.js';
import { MAIL_FILE, startSmtpCatcher, type SmtpCatcher } from '../dev/smtp-catcher.js';
import { startTwilioSink, type TwilioSink } from '../dev/twilio-sink.js';
import { startWebhookSink } from '../dev/webhook-sink.js';
import { createWebhookChannel } from '../channels/webhook.js';

const ACCOUNT_SID = 'AC0123456789abcdef0123456789abcdef';
const AUTH_TOKEN = 'test-token';

describe('SMTP catcher', () => {
  let catcher: SmtpCatcher;
  beforeAll(async () => {
    catcher = await startSmtpCatcher({ httpPort: 0 });
  });
  afterAll(() => catcher.close());

  it('captures a mail sent with nodemailer and shows it escaped on its page', async () => {
    const transport = nodemailer.createTransport(catcher.smtpUrl);
    const subject = `Your loan <script>alert(1)</script> ${Date.now()}`;
    const waiting = catcher.waitFor((m) => m.subject === subject);
    await transport.sendMail({
      from: 'Journeys <journeys@localhost>',
      to: 'ana@example.com',
      bcc: 'audit@example.com',
      subject,
      text: 'Hello Ana',
      html: '<p>Hello <b>Ana</b></p>',
      messageId: '<fixed-id@localhost>',
    });
    transport.close();

    const mail = await waiting;
    expect(mail).toMatchObject({
      messageId: '<fixed-id@localhost>',
      from: 'Journeys <journeys@localhost>',
      to: ['ana@example.com', 'audit@example.com'],
      text: 'Hello Ana',
      html: '<p>Hello <b>Ana</b></p>',
    });
    expect(catcher.messages().filter((m) => m.subject === subject)).toHaveLength(1);

    const list = await (await fetch(`${catcher.httpUrl}/`)).text();
    expect(list).toContain('Your loan &#60;script&#62;');
    expect(list).not.toContain('<script>');
    const one = await (await fetch(`${catcher.httpUrl}/messages/${mail.id}`)).text();
    expect(one).toContain('<iframe sandbox="" referrerpolicy="no-referrer" srcdoc="&#60;p&#62;Hello');
    const json = (await (await fetch(`${catcher.httpUrl}/messages.json`)).json()) as { id: string }[];
    expect(json.map((m) => m.id)).toContain(mail.id);
  });

  it('accepts any credentials (AUTH without TLS)', async () => {
    const url = new URL(catcher.smtpUrl);
    const transport = nodemailer.createTransport({
      host: url.hostname,
      port: Number(url.port),
      secure: false,
      auth: { user: 'someone', pass: 'anything' },
    });
    await transport.sendMail({ from: 'a@example.com', to: 'b@example.com', subject: 'with auth', text: 'x' });
    transport.close();
    const mail = await catcher.waitFor((m) => m.subject === 'with auth');
    expect(mail).toMatchObject({ to: ['b@example.com'], authUser: 'someone' });
  });

  it('holds the reply to DATA: the mail is captured while the sender waits, and answered on release', async () => {
    const transport = nodemailer.createTransport(catcher.smtpUrl);
    catcher.hold();
    let answered = false;
    const sending = transport.sendMail({ from: 'a@example.com', to: 'held@example.com', subject: 'held', text: 'x' }).then((info) => ((answered = true), info));
    await catcher.waitForHeld(1);
    expect(catcher.messages().filter((m) => m.subject === 'held')).toHaveLength(1);
    expect(answered).toBe(false);
    catcher.release();
    expect((await sending).response).toMatch(/^250 /);
    transport.close();
  });

  it('rejects waitFor with a clear message when nothing matches in time', async () => {
    await expect(catcher.waitFor((m) => m.subject === 'never', 50)).rejects.toThrow(/no matching mail within 50 ms/);
  });
});

describe('Twilio sink with the real twilio client', () => {
  let sink: TwilioSink;
  let client: ReturnType<typeof twilio>;
  beforeAll(async () => {
    sink = await startTwilioSink();
    client = twilio(ACCOUNT_SID, AUTH_TOKEN, { httpClient: twilioHttpClient(sink.url) });
  });
  afterAll(() => sink.close());

  it('sends an SMS and fetches it back by sid', async () => {
    const body = `Your appointment is confirmed ${Date.now()}`;
    const created = await client.messages.create({ to: '+4915112345678', from: '+15005550006', body });
    expect(created.sid).toMatch(/^SM[0-9a-f]{32}$/);
    expect(created.status).toBe('queued');
    expect(created.accountSid).toBe(ACCOUNT_SID);

    const sms = await sink.waitFor((m) => m.body === body);
    expect(sms).toMatchObject({ sid: created.sid, accountSid: ACCOUNT_SID, to: '+4915112345678', from: '+15005550006' });

    const fetched = await client.messages(created.sid).fetch();
    expect(fetched.body).toBe(body);
    expect(fetched.dateCreated).toBeInstanceOf(Date);
  });

  it('refuses an invalid number with 400 / 21211, as a RestException', async () => {
    const err = await client.messages.create({ to: '12345', from: '+15005550006', body: 'x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(twilio.RestException);
    expect(err).toMatchObject({ status: 400, code: 21211, message: "The 'To' number 12345 is not a valid phone number." });
  });

  it('fails the next create with 500 when told to, then accepts again', async () => {
    const before = sink.messages().length;
    sink.failNext(1, 500);
    const err = await client.messages.create({ to: '+15551234567', from: '+15005550006', body: 'x' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 500, code: 20500 });
    expect(sink.messages()).toHaveLength(before);
    await client.messages.create({ to: '+15551234567', from: '+15005550006', body: 'after the fault' });
    expect(sink.messages()).toHaveLength(before + 1);
  });

  it('surfaces 429 by default (no client retry) and retries it only with autoRetry', async () => {
    sink.failNext(1, 429);
    await expect(client.messages.create({ to: '+15551234567', from: '+15005550006', body: 'x' })).rejects.toMatchObject({
      status: 429,
      code: 20429,
    });
    const retrying = twilio(ACCOUNT_SID, AUTH_TOKEN, { httpClient: twilioHttpClient(sink.url, { autoRetry: true }) });
    sink.failNext(2, 429);
    const sent = await retrying.messages.create({ to: '+15551234567', from: '+15005550006', body: 'retried' });
    expect(sent.body).toBe('retried');
  });

  it('lists the messages to a number, newest first, with DateSent> by the day as Twilio filters it', async () => {
    const to = '+4915100000001';
    const first = await client.messages.create({ to, from: '+15005550006', body: 'one' });
    const second = await client.messages.create({ to, from: '+15005550006', body: 'two' });
    await client.messages.create({ to: '+4915100000002', from: '+15005550006', body: 'other' });
    const listed = await client.messages.list({ to, dateSentAfter: first.dateCreated });
    expect(listed.map((m) => m.sid)).toEqual([second.sid, first.sid]);
    expect(listed[0]).toMatchObject({ to, from: '+15005550006', body: 'two', direction: 'outbound-api' });
    expect(listed[0]!.dateCreated).toBeInstanceOf(Date);
    // by the day: a bound later on the same day still includes that day's messages; the next day's excludes them
    const day = first.dateCreated.toISOString().slice(0, 10);
    expect(await client.messages.list({ to, dateSentAfter: new Date(`${day}T23:59:59Z`) })).toHaveLength(2);
    expect(await client.messages.list({ to, dateSentAfter: new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000) })).toHaveLength(0);
    expect(await client.messages.list({ to, from: '+15005550007' })).toHaveLength(0);
    // pages are followed by the client
    expect((await client.messages.list({ to, pageSize: 1 })).map((m) => m.sid)).toEqual([second.sid, first.sid]);
  });

  it('holds the answer to a create: the SMS is accepted and listed while the sender waits', async () => {
    const to = '+4915100000003';
    sink.hold();
    let answered = false;
    const creating = client.messages.create({ to, from: '+15005550006', body: 'held' }).then((m) => ((answered = true), m));
    await sink.waitForHeld(1);
    const listed = await client.messages.list({ to });
    expect(listed).toHaveLength(1);
    expect(answered).toBe(false);
    sink.release();
    expect((await creating).sid).toBe(listed[0]!.sid);
  });

  it('answers 401 like Twilio when the request has no credentials', async () => {
    const res = await fetch(`${sink.url}/2010-04-01/Accounts/${ACCOUNT_SID}/Messages.json`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'To=%2B15551234567&From=%2B15005550006&Body=x',
    });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ code: 20003, status: 401 });
  });
});

describe('webhook sink', () => {
  it('records a push with its Idempotency-Key and holds its answer until release', async () => {
    const sink = await startWebhookSink({ secret: 'dev-peers-secret-0123456789' });
    try {
      const channel = createWebhookChannel({ url: sink.url, secret: 'dev-peers-secret-0123456789' });
      sink.hold();
      let answered = false;
      const sending = channel.send({ to: 'cust-1', subject: 'Hi', text: 'held', idempotencyKey: 'wf/1' }).then((d) => ((answered = true), d));
      await sink.waitForHeld(1);
      expect(sink.messages()).toMatchObject([{ id: 'wf/1', customerId: 'cust-1', idempotencyKey: 'wf/1', text: 'held' }]);
      expect(answered).toBe(false);
      sink.release();
      expect(await sending).toEqual({ providerId: 'push-wf/1' });
    } finally {
      await sink.close();
    }
  });
});

describe('kept in a data folder, what the peers received survives a restart', () => {
  let dataDir: string;
  beforeAll(() => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'journeys-dev-peers-'));
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('the SMTP catcher shows earlier mail after a restart, numbers new mail after it, and a clear empties the file', async () => {
    const first = await startSmtpCatcher({ httpPort: 0, dataDir });
    const transport = nodemailer.createTransport(first.smtpUrl);
    await transport.sendMail({ from: 'a@example.com', to: 'kept@example.com', subject: 'before the restart', text: 'x' });
    transport.close();
    const kept = await first.waitFor((m) => m.subject === 'before the restart');
    await first.close();

    const second = await startSmtpCatcher({ httpPort: 0, dataDir });
    try {
      expect(second.messages()).toEqual([kept]); // dates revived as dates
      expect(await (await fetch(`${second.httpUrl}/`)).text()).toContain('before the restart');
      const again = nodemailer.createTransport(second.smtpUrl);
      await again.sendMail({ from: 'a@example.com', to: 'kept@example.com', subject: 'after the restart', text: 'y' });
      again.close();
      expect((await second.waitFor((m) => m.subject === 'after the restart')).id).toBe(String(Number(kept.id) + 1));
      second.clear();
      expect(readFileSync(path.join(dataDir, MAIL_FILE), 'utf8')).toBe('');
    } finally {
      await second.close();
    }
    const third = await startSmtpCatcher({ dataDir });
    expect(third.messages()).toEqual([]);
    await third.close();
  });

  it('the Twilio sink still lists and fetches earlier messages, with their last delivery status, after a restart', async () => {
    const callbackUrl = await new Promise<{ url: string; close: () => void }>((resolve) => {
      const server = createServer((_req, res) => res.writeHead(204).end());
      server.listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        resolve({ url: `http://127.0.0.1:${port}/status`, close: () => server.close() });
      });
    });
    const first = await startTwilioSink({ dataDir, callbackDelayMs: 0 });
    const sent = await twilio(ACCOUNT_SID, AUTH_TOKEN, { httpClient: twilioHttpClient(first.url) }).messages.create({
      to: '+4915100000009',
      from: '+15005550006',
      body: 'before the restart',
      statusCallback: callbackUrl.url,
    });
    await first.waitForCallback((c) => c.sid === sent.sid && c.status === 'delivered');
    await first.close();
    callbackUrl.close();

    const second = await startTwilioSink({ dataDir });
    try {
      const client = twilio(ACCOUNT_SID, AUTH_TOKEN, { httpClient: twilioHttpClient(second.url) });
      const fetched = await client.messages(sent.sid).fetch();
      expect(fetched).toMatchObject({ body: 'before the restart', status: 'delivered' });
      expect((await client.messages.list({ to: '+4915100000009' })).map((m) => m.sid)).toEqual([sent.sid]);
      expect(second.callbacks().map((c) => c.status)).toEqual(['sent', 'delivered']);
      expect(await (await fetch(`${second.url}/`)).text()).toContain('before the restart');
    } finally {
      await second.close();
    }
  });

  it('the webhook sink shows earlier pushes after a restart', async () => {
    const secret = 'dev-peers-secret-0123456789';
    const first = await startWebhookSink({ secret, dataDir });
    await createWebhookChannel({ url: first.url, secret }).send({ to: 'cust-9', subject: 'Kept', text: 'before the restart', idempotencyKey: 'wf/kept' });
    await first.close();

    const second = await startWebhookSink({ secret, dataDir });
    try {
      expect(second.messages()).toMatchObject([{ id: 'wf/kept', customerId: 'cust-9', text: 'before the restart' }]);
      expect(second.messages()[0]!.receivedAt).toBeInstanceOf(Date);
      expect(await (await fetch(new URL('/', second.url))).text()).toContain('before the restart');
    } finally {
      await second.close();
    }
  });
});
