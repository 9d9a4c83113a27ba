// Customer data out of Temporal, on the real stack: what an event carries reaches a journey only as far as the
// catalogue declares it, sits in Temporal's history as ciphertext only, and ops read it back through the codec server.
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import proto from '@temporalio/proto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '../service/principal.js';
import { AesGcmPayloadCodec, ENCRYPTED_ENCODING } from '../service/payload-codec.js';
import { journeyEventData } from '../service/journeys.js';
import { stateQuery } from '../workflows/messages.js';
import { api, createStackApp, eventually, startStack, type Stack } from './support/stack.js';

let stack: Stack;
let worker: { stop(): Promise<void> };
let app: ReturnType<typeof createStackApp>;
const UI_ORIGIN = 'http://127.0.0.1:8233';
const UI_TOKEN = 'ui-token-0123456789abcdefghijklmnopqrstuv';

beforeAll(async () => {
  stack = await startStack();
  worker = await stack.startWorker();
  app = createStackApp(stack, { config: { temporalUiOrigins: [UI_ORIGIN], codecUiToken: UI_TOKEN } });
}, 120_000);
afterAll(async () => {
  await worker?.stop();
  await stack?.stop();
});

const HistoryProto = proto.temporal.api.history.v1.History;
const b64 = (b: Uint8Array | null | undefined) => Buffer.from(b ?? new Uint8Array()).toString('base64');
const asJson = (p: Payload) => ({ metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, b64(v)])), data: b64(p.data) });

const signalled = (fetch: () => Promise<proto.temporal.api.history.v1.IHistory>) =>
  eventually(fetch, (h) => Boolean(h.events?.some((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'journeyEvent')));

/** A journey for a new customer, and an event to all the customer's journeys with declared and undeclared data. */
async function journeyWithEvent(customerId: string, data: Record<string, unknown>) {
  await api(app).put(`/v1/customers/${customerId}`).send({ name: 'Wang Fang', phone: '+8613800138000', timeZone: 'Asia/Shanghai' }).expect(201);
  const { body: journey } = await api(app).post('/v1/journeys').send({ journeyKey: 'lifecycle', customerId }).expect(201);
  const eventId = `${customerId}-feedback`;
  await api(app).post(`/v1/customers/${customerId}/events`).send({ eventId, type: 'feedback.answered', data }).expect(202);
  const row = await eventually(
    () => stack.testDb.db.inboundEvent.findUniqueOrThrow({ where: { eventId } }),
    (r) => r.deliveredTo.includes(journey.workflowId as string),
  );
  return { workflowId: journey.workflowId as string, row };
}

describe('payloads in Temporal are ciphertext', () => {
  const COMMENT = 'MARKER-7f3c the advisor Li Lei at 13911112222 was great';

  it('a marker in event data is absent from the raw history yet readable through the codec server', async () => {
    const { workflowId } = await journeyWithEvent('cd-marker', { survey: 'nps', score: 9, comment: COMMENT });
    // Read undecoded: the test environment's own client has no codec, and the history is taken as raw bytes. (A signal
    // that arrives during a workflow task is written to the history when the task completes.)
    const history = await signalled(() => stack.env.client.workflow.getHandle(workflowId).fetchHistory());
    const raw = Buffer.from(HistoryProto.encode(history).finish());
    expect(raw.includes(Buffer.from('MARKER-7f3c'))).toBe(false);
    expect(raw.includes(Buffer.from('Wang Fang'))).toBe(false);
    expect(raw.includes(Buffer.from(ENCRYPTED_ENCODING))).toBe(true);

    const signal = history.events!.find((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'journeyEvent')!;
    const sealed = signal.workflowExecutionSignaledEventAttributes!.input!.payloads! as Payload[];
    const { body } = await api(app, 'ops')
      .post('/codec/decode')
      .set('x-namespace', 'default')
      .send({ payloads: sealed.map(asJson) })
      .expect(200);
    const opened = (body as { payloads: { metadata: Record<string, string>; data: string }[] }).payloads.map((p) => ({
      metadata: Object.fromEntries(Object.entries(p.metadata).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
      data: Buffer.from(p.data, 'base64'),
    }));
    expect(defaultPayloadConverter.fromPayload(opened[0]!)).toMatchObject({ type: 'feedback.answered', data: { comment: COMMENT, score: 9 } });
    // Reading customer data out of the history is itself a read of personal data: the audit log has it.
    await eventually(
      () => stack.testDb.db.auditLog.count({ where: { action: 'codec.decode', role: 'ops' } }),
      (n) => n >= 1,
      5_000,
    );
  });

  it("a provider's refusal: the activity failure's message is absent from the raw history, readable through the codec server", async () => {
    const customerId = 'cd-failure';
    await api(app).put(`/v1/customers/${customerId}`).send({ name: 'Zhao Lei', email: 'refused@example.com', timeZone: 'Asia/Shanghai' }).expect(201);
    stack.smtp.refuseRecipient('refused@example.com');
    const { body: journey } = await api(app).post('/v1/journeys').send({ journeyKey: 'bank-loan', customerId }).expect(201);
    await api(app)
      .post(`/v1/customers/${customerId}/events`)
      .send({ eventId: `${customerId}-approved`, type: 'loan.approved', data: { limit: 80000, expiresAt: '2027-11-30T00:00:00Z' } })
      .expect(202);
    // The loan-approved email is refused by the mail server: a permanent failure of the send activity.
    const history = await eventually(
      () => stack.env.client.workflow.getHandle(journey.workflowId as string).fetchHistory(),
      (h) => Boolean(h.events?.some((e) => e.activityTaskFailedEventAttributes)),
    );
    const row = await stack.testDb.db.message.findFirstOrThrow({ where: { customerId, status: 'failed' } });
    expect(row.error).toContain('Recipient address rejected');
    const failure = history.events!.find((e) => e.activityTaskFailedEventAttributes)!.activityTaskFailedEventAttributes!.failure!;
    expect(failure.message).toBe('Encoded failure');
    expect(failure.stackTrace).toBe('');
    const raw = Buffer.from(HistoryProto.encode(history).finish());
    // The error's type stays readable (ops filter on it; it says nothing about the customer); its text and stack do not.
    expect(failure.applicationFailureInfo?.type).toBe('PermanentDeliveryError');
    for (const text of ['Recipient address rejected', 'activities/send']) expect(raw.includes(Buffer.from(text)), text).toBe(false);

    const { body } = await api(app, 'ops')
      .post('/codec/decode')
      .send({ payloads: [asJson(failure.encodedAttributes as Payload)] })
      .expect(200);
    const [opened] = (body as { payloads: { metadata: Record<string, string>; data: string }[] }).payloads;
    const attributes = defaultPayloadConverter.fromPayload<{ message: string }>({
      metadata: Object.fromEntries(Object.entries(opened!.metadata).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
      data: Buffer.from(opened!.data, 'base64'),
    });
    expect(attributes.message).toContain('Recipient address rejected');
  });

  it('the codec server encodes what it decodes back', async () => {
    const plain = defaultPayloadConverter.toPayload({ comment: COMMENT });
    const { body: enc } = await api(app, 'admin')
      .post('/codec/encode')
      .send({ payloads: [asJson(plain)] })
      .expect(200);
    const sealed = (enc as { payloads: { metadata: Record<string, string>; data: string }[] }).payloads[0]!;
    expect(Buffer.from(sealed.metadata.encoding!, 'base64').toString()).toBe(ENCRYPTED_ENCODING);
    expect(Buffer.from(sealed.data, 'base64').includes(Buffer.from('MARKER-7f3c'))).toBe(false);
    const { body: dec } = await api(app, 'ops').post('/codec/decode').send(enc).expect(200);
    expect((dec as { payloads: unknown[] }).payloads[0]).toEqual(asJson(plain));
  });

  it('a tampered payload is answered 422, not decoded', async () => {
    const { body: enc } = await api(app, 'ops')
      .post('/codec/encode')
      .send({ payloads: [asJson(defaultPayloadConverter.toPayload('x'))] })
      .expect(200);
    const p = (enc as { payloads: { metadata: Record<string, string>; data: string }[] }).payloads[0]!;
    const bytes = Buffer.from(p.data, 'base64');
    bytes[bytes.length - 1]! ^= 1;
    const { body } = await api(app, 'ops')
      .post('/codec/decode')
      .send({ payloads: [{ ...p, data: bytes.toString('base64') }] })
      .expect(422);
    expect(body).toMatchObject({ error: { code: 'cannot_decode' } });
  });

  it('a body that is not the protocol is answered 400', async () => {
    const { body } = await api(app, 'ops')
      .post('/codec/decode')
      .send({ payloads: [{ data: 'not base64!' }] })
      .expect(400);
    expect(body.error.code).toBeTruthy();
  });
});

describe('who may use the codec server', () => {
  const payloads = [asJson(defaultPayloadConverter.toPayload('x'))];

  it.each(['system', 'rm', 'designer'] as Role[])('the %s role is refused 403 on both routes', async (role) => {
    for (const op of ['encode', 'decode']) {
      const { body } = await api(app, role).post(`/codec/${op}`).send({ payloads }).expect(403);
      expect(body.error.code).toBe('forbidden');
    }
  });

  it('without a key, or with an unknown one, both routes answer 401', async () => {
    for (const op of ['encode', 'decode']) {
      await request(app).post(`/codec/${op}`).send({ payloads }).expect(401);
      await api(app, { token: 'not-a-key-not-a-key-not-a-key' }).post(`/codec/${op}`).send({ payloads }).expect(401);
    }
  });

  it("answers the UI origin's preflight without a key, with the headers the UI sends; another origin gets no CORS grant", async () => {
    const ok = await request(app)
      .options('/codec/decode')
      .set('origin', UI_ORIGIN)
      .set('access-control-request-method', 'POST')
      .set('access-control-request-headers', 'content-type,x-namespace,authorization')
      .expect(204);
    expect(ok.headers['access-control-allow-origin']).toBe(UI_ORIGIN);
    expect(ok.headers['access-control-allow-headers']).toMatch(/X-Namespace/);
    expect(ok.headers['access-control-allow-headers']).toMatch(/Authorization/);
    const other = await request(app).options('/codec/decode').set('origin', 'https://evil.example').set('access-control-request-method', 'POST').expect(204);
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
    // The actual call from the UI carries the grant too, so the browser lets the UI read the answer.
    const call = await api(app, 'ops').post('/codec/decode').set('origin', UI_ORIGIN).send({ payloads }).expect(200);
    expect(call.headers['access-control-allow-origin']).toBe(UI_ORIGIN);
  });

  it("the local UI's random path segment opens only the codec routes; a wrong one is 401", async () => {
    await request(app).post(`/codec/${UI_TOKEN}/decode`).send({ payloads }).expect(200);
    await request(app).post(`/codec/${UI_TOKEN}/encode`).send({ payloads }).expect(200);
    await request(app)
      .post(`/codec/${UI_TOKEN.slice(0, -1)}x/decode`)
      .send({ payloads })
      .expect(401);
    await request(app).get(`/codec/${UI_TOKEN}/../../v1/customers/cd-marker`).expect(401);
    await request(app).get('/v1/customers/cd-marker').set('authorization', `Bearer ${UI_TOKEN}`).expect(401);
  });
});

describe('least data in', () => {
  it('fields the catalogue does not declare never reach the journey but stay in inbound_events', async () => {
    const { workflowId, row } = await journeyWithEvent('cd-least', { survey: 'nps', score: 3, idNumber: '110101199003071234', fullName: 'Zhao Lei' });
    expect(row.data).toMatchObject({ idNumber: '110101199003071234', fullName: 'Zhao Lei', score: 3 });
    const state = await stack.client.workflow.getHandle(workflowId).query(stateQuery);
    expect(JSON.stringify(state)).not.toContain('110101199003071234');
    // What was signalled, decoded: the declared fields only.
    const history = await signalled(() => stack.client.workflow.getHandle(workflowId).fetchHistory());
    const signal = history.events!.find((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'journeyEvent')!;
    const [decoded] = await new AesGcmPayloadCodec(stack.config.payloadKeys!).decode(signal.workflowExecutionSignaledEventAttributes!.input!.payloads! as Payload[]);
    expect(defaultPayloadConverter.fromPayload(decoded!)).toMatchObject({ type: 'feedback.answered', data: { survey: 'nps', score: 3 } });
    expect((defaultPayloadConverter.fromPayload(decoded!) as { data: object }).data).toEqual({ survey: 'nps', score: 3 });
  });

  it('an event type the catalogue does not know reaches journeys with no data', () => {
    expect(journeyEventData(undefined, { anything: 1 })).toEqual({});
    expect(journeyEventData(['a'], { a: 1, b: 2, ['__proto__']: 3 })).toEqual({ a: 1 });
  });
});
