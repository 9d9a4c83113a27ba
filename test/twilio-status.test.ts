// Twilio delivery status callbacks end to end: the real twilio client sends through the SMS channel to the sink,
// the sink posts signed status callbacks to a listening Express app that mounts only the status router, and the
// router updates the message rows in a fresh Postgres database.
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import express from 'express';
import twilio from 'twilio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { twilioStatusCallbackUrl, twilioStatusRouter, mapTwilioStatus } from '../api/twilio-status.js';
import { createSmsChannel } from '../channels/sms.js';
import { MessageDeliveries } from '../service/deliveries.js';
import { twilioHttpClient } from '../channels/twilio-http.js';
import type { Channel } from '../channels/channel.js';
import { createLogger } from '../config/logger.js';
import { closeHttpServer, listen } from '../dev/capture.js';
import { startTwilioSink, type StatusCallbackRecord, type TwilioSink } from '../dev/twilio-sink.js';
import { createTestDb, type TestDb } from './support/db.js';

const ACCOUNT_SID = 'AC0123456789abcdef0123456789abcdef';
const AUTH_TOKEN = 'status-test-token';
const FROM = '+15005550006';
const CUSTOMER = 'cust-status-1';

describe('Twilio status callbacks', () => {
  let t: TestDb;
  let sink: TwilioSink;
  let server: Server;
  let publicBaseUrl: string;
  let statusUrl: string;
  let sms: Channel;
  /** A plain twilio client on the sink, for what the channel does not do (fetch, a custom StatusCallback). */
  let client: ReturnType<typeof twilio>;

  beforeAll(async () => {
    t = await createTestDb();
    sink = await startTwilioSink();
    // The router is built with its public URL, known once the server listens: bind first, then attach the app.
    server = createServer();
    const port = await listen(server, 0, '127.0.0.1');
    publicBaseUrl = `http://127.0.0.1:${port}`;
    statusUrl = twilioStatusCallbackUrl(publicBaseUrl);
    const app = express();
    app.use(twilioStatusRouter({ deliveries: new MessageDeliveries(t.db), authToken: AUTH_TOKEN, publicBaseUrl, logger: createLogger({ logLevel: 'silent' }) }));
    server.on('request', app);
    client = twilio(ACCOUNT_SID, AUTH_TOKEN, { httpClient: twilioHttpClient(sink.url) });
    sms = createSmsChannel({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN, from: FROM, apiBaseUrl: sink.url, statusCallbackUrl: statusUrl });
    await t.db.customer.create({ data: { id: CUSTOMER, phone: '+15551230000' } });
  });

  afterAll(async () => {
    await sink?.close();
    if (server) await closeHttpServer(server);
    await t?.drop();
  });

  /** A message row as the send activity leaves it: status 'sent' with the provider's sid. */
  async function messageRow(providerId: string, to: string) {
    return t.db.message.create({
      data: {
        idempotencyKey: randomUUID(),
        workflowId: 'wf-status-test',
        customerId: CUSTOMER,
        channel: 'sms',
        template: 'status_test',
        recipient: to,
        body: 'hello',
        status: 'sent',
        providerId,
        sentAt: new Date(),
        attempts: 1,
      },
    });
  }

  /** Sends through the real channel and records the row before the sink may call back (as the activity does). */
  async function send(to: string) {
    sink.holdCallbacks();
    try {
      const { providerId } = await sms.send({ to, text: `status test ${randomUUID()}`, idempotencyKey: randomUUID() });
      return await messageRow(providerId, to);
    } finally {
      sink.releaseCallbacks();
    }
  }

  const events = (messageId: string) => t.db.messageEvent.findMany({ where: { messageId }, orderBy: { id: 'asc' }, select: { type: true, detail: true } });

  async function post(params: Record<string, string>, opts: { signature?: string | null; url?: string } = {}) {
    const url = opts.url ?? statusUrl;
    const signature = opts.signature === undefined ? twilio.getExpectedTwilioSignature(AUTH_TOKEN, url, params) : opts.signature;
    return fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        ...(signature !== null ? { 'x-twilio-signature': signature } : {}),
      },
      body: new URLSearchParams(params).toString(),
    });
  }

  /** Sends exactly what the sink sent before: same form, same signature. */
  const replay = (cb: StatusCallbackRecord) => post(cb.params, { url: cb.url, signature: cb.signature });

  const callbackParams = (sid: string, status: string, extra: Record<string, string> = {}) => ({
    MessageSid: sid,
    SmsSid: sid,
    AccountSid: ACCOUNT_SID,
    From: FROM,
    To: '+15551230000',
    MessageStatus: status,
    SmsStatus: status,
    ApiVersion: '2010-04-01',
    ...extra,
  });

  const counts = async () => ({ messages: await t.db.message.count(), events: await t.db.messageEvent.count() });

  it('marks a delivered message delivered, after a provider_status event for sent', async () => {
    const message = await send('+15551230001');
    const sid = message.providerId!;
    const delivered = await sink.waitForCallback((c) => c.sid === sid && c.status === 'delivered');
    expect(
      sink
        .callbacks()
        .filter((c) => c.sid === sid)
        .map((c) => [c.status, c.httpStatus]),
    ).toEqual([
      ['sent', 204],
      ['delivered', 204],
    ]);
    expect(delivered.url).toBe(statusUrl);

    const row = await t.db.message.findUniqueOrThrow({ where: { id: message.id } });
    expect(row.status).toBe('delivered');
    expect(row.deliveredAt).toBeInstanceOf(Date);
    expect(row.error).toBeNull();
    expect(await events(message.id)).toEqual([
      { type: 'provider_status', detail: { providerStatus: 'sent' } },
      { type: 'delivered', detail: { providerStatus: 'delivered' } },
    ]);

    // The sink's own view of the message follows the callbacks.
    expect((await client.messages(sid).fetch()).status).toBe('delivered');
  });

  it('adds nothing for a replayed delivered callback, and only a provider_status for a late sent', async () => {
    const message = await send('+15551230003');
    const sid = message.providerId!;
    const delivered = await sink.waitForCallback((c) => c.sid === sid && c.status === 'delivered');
    const sent = sink.callbacks().find((c) => c.sid === sid && c.status === 'sent')!;
    const before = await t.db.message.findUniqueOrThrow({ where: { id: message.id } });
    const eventsBefore = await events(message.id);
    expect(eventsBefore.map((e) => e.type)).toEqual(['provider_status', 'delivered']);

    expect((await replay(delivered)).status).toBe(204);
    expect(await events(message.id)).toEqual(eventsBefore);
    const after = await t.db.message.findUniqueOrThrow({ where: { id: message.id } });
    expect(after).toEqual(before);

    expect((await replay(sent)).status).toBe(204);
    const row = await t.db.message.findUniqueOrThrow({ where: { id: message.id } });
    expect(row.status).toBe('delivered');
    expect(row.deliveredAt).toEqual(before.deliveredAt);
    expect((await events(message.id)).map((e) => e.type)).toEqual(['provider_status', 'delivered', 'provider_status']);
  });

  it('marks an undelivered message failed with the error code', async () => {
    sink.failDelivery('+15551230002');
    const message = await send('+15551230002');
    const sid = message.providerId!;
    const cb = await sink.waitForCallback((c) => c.sid === sid && c.status === 'undelivered');
    expect(cb.httpStatus).toBe(204);
    expect(cb.params).toMatchObject({ ErrorCode: '30003', MessageStatus: 'undelivered' });

    const row = await t.db.message.findUniqueOrThrow({ where: { id: message.id } });
    expect(row).toMatchObject({ status: 'failed', statusReason: 'undelivered', error: 'Twilio 30003: Unreachable destination handset', deliveredAt: null });
    expect(await events(message.id)).toEqual([
      { type: 'provider_status', detail: { providerStatus: 'sent' } },
      { type: 'failed', detail: { providerStatus: 'undelivered', errorCode: '30003' } },
    ]);
    // A delivered arriving after the failure does not resurrect the message.
    expect((await post(callbackParams(sid, 'delivered'))).status).toBe(204);
    expect((await t.db.message.findUniqueOrThrow({ where: { id: message.id } })).status).toBe('failed');
  });

  it('refuses a missing, forged, re-targeted or tampered signature with 403 and changes nothing', async () => {
    const sid = `SM${randomUUID().replace(/-/g, '')}`;
    const message = await messageRow(sid, '+15551230004');
    const params = callbackParams(sid, 'delivered');
    const before = await counts();

    const attempts = [
      await post(params, { signature: null }),
      await post(params, { signature: '' }),
      await post(params, { signature: twilio.getExpectedTwilioSignature('wrong-token', statusUrl, params) }),
      // Signed for another URL than the public one.
      await post(params, { signature: twilio.getExpectedTwilioSignature(AUTH_TOKEN, 'http://evil.example/v1/channels/twilio/status', params) }),
      // Signed for 'sent', sent as 'delivered'.
      await post(params, { signature: twilio.getExpectedTwilioSignature(AUTH_TOKEN, statusUrl, callbackParams(sid, 'sent')) }),
    ];
    for (const res of attempts) {
      expect(res.status).toBe(403);
      expect(await res.json()).toMatchObject({ error: { code: 'invalid_signature', message: expect.any(String) } });
    }
    expect(await counts()).toEqual(before);
    expect(await t.db.message.findUniqueOrThrow({ where: { id: message.id } })).toEqual(message);

    // The same form, correctly signed, is accepted: the refusals were about the signature alone.
    expect((await post(params)).status).toBe(204);
    expect((await t.db.message.findUniqueOrThrow({ where: { id: message.id } })).status).toBe('delivered');
  });

  it('validates the signature over the URL with its query string', async () => {
    const sid = `SM${randomUUID().replace(/-/g, '')}`;
    const message = await messageRow(sid, '+15551230005');
    const url = `${statusUrl}?tenant=a%20b&n=1`;
    const params = callbackParams(sid, 'sent');
    expect((await post(params, { url })).status).toBe(204);
    // Signed without the query string Twilio called: refused.
    const signedWithout = twilio.getExpectedTwilioSignature(AUTH_TOKEN, statusUrl, params);
    expect((await post(params, { url, signature: signedWithout })).status).toBe(403);
    expect(await events(message.id)).toEqual([{ type: 'provider_status', detail: { providerStatus: 'sent' } }]);
  });

  it('answers 200 to a valid callback for an unknown message and writes nothing', async () => {
    const before = await counts();
    const res = await post(callbackParams('SM00000000000000000000000000000000', 'delivered'));
    expect(res.status).toBe(200);
    expect(await counts()).toEqual(before);
  });

  it('answers 400 to a signed callback whose message id is not one (a NUL byte, a non-UUID) and writes nothing', async () => {
    const before = await counts();
    for (const m of ['%00', 'not-a-message-id']) {
      const res = await post(callbackParams('SM00000000000000000000000000000001', 'delivered'), { url: `${statusUrl}?m=${m}` });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: unknown }).error).toMatchObject({ code: 'invalid_request', message: expect.any(String) });
    }
    expect(await counts()).toEqual(before);
  });

  it('keeps the sink running when the callback target is down', async () => {
    const down = createServer();
    const port = await listen(down, 0, '127.0.0.1');
    await closeHttpServer(down);
    const created = await client.messages.create({
      to: '+15551230006',
      from: FROM,
      body: 'nobody listens',
      statusCallback: `http://127.0.0.1:${port}/v1/channels/twilio/status`,
    });
    const cb = await sink.waitForCallback((c) => c.sid === created.sid && c.status === 'delivered');
    expect(cb).toMatchObject({ httpStatus: null, error: expect.any(String) });
    expect(
      sink
        .callbacks()
        .filter((c) => c.sid === created.sid)
        .map((c) => c.status),
    ).toEqual(['sent', 'delivered']);
    // Still serving.
    expect((await client.messages(created.sid).fetch()).status).toBe('delivered');
  });
});

describe('mapTwilioStatus', () => {
  it('maps final statuses and leaves the rest alone', () => {
    expect(mapTwilioStatus('delivered')).toEqual({ kind: 'delivered' });
    expect(mapTwilioStatus('undelivered', '30003', 'Unreachable destination handset')).toEqual({
      kind: 'failed',
      error: 'Twilio 30003: Unreachable destination handset',
    });
    expect(mapTwilioStatus('failed', '30008')).toEqual({ kind: 'failed', error: 'Twilio 30008' });
    for (const s of ['queued', 'accepted', 'sending', 'sent', 'read', 'whatever']) expect(mapTwilioStatus(s)).toEqual({ kind: 'none' });
  });
});
