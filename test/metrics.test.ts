// /metrics on a real stack: who may scrape it (the scraper's token, ops and admin keys; nobody else), and that its
// series move when real requests, events, journeys and sends happen — HTTP by route pattern (never an id), events
// received, journeys started and ended, sends by channel and outcome, policy decisions by reason, activity latency,
// and the Temporal SDK's own worker metrics.
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, createStackApp, eventually, startStack, type Stack } from './support/stack.js';
import { ConfigError, loadConfig } from '../config/config.js';
import { createLogger } from '../config/logger.js';
import { startWorkerMetricsServer } from '../worker/metrics-server.js';
import { connect } from 'node:net';

const TOKEN = randomBytes(32).toString('hex');
const UI_TOKEN = randomBytes(32).toString('hex');
let stack: Stack;
let app: ReturnType<typeof createStackApp>;

beforeAll(async () => {
  stack = await startStack();
  await stack.startWorker();
  app = createStackApp(stack, { config: { metricsToken: TOKEN, codecUiToken: UI_TOKEN } });
}, 120_000);
afterAll(async () => {
  await stack?.stop();
});

type Sample = { name: string; labels: Record<string, string>; value: number };
/** The samples of a Prometheus text exposition. */
function parse(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}
const scrape = async () => parse((await request(app).get('/metrics').set('authorization', `Bearer ${TOKEN}`).expect(200)).text);
/** The sum of a series' samples whose labels include `labels`. */
const value = (samples: Sample[], name: string, labels: Record<string, string> = {}) =>
  samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((sum, s) => sum + s.value, 0);

describe('who may read /metrics', () => {
  it('the scraper token, and ops and admin keys, read it; no token or a wrong one is 401; other roles are 403', async () => {
    const ok = await request(app).get('/metrics').set('authorization', `Bearer ${TOKEN}`).expect(200);
    expect(ok.headers['content-type']).toMatch(/^text\/plain/);
    expect(ok.text).toContain('# TYPE journeys_http_requests_total counter');
    await api(app, 'ops').get('/metrics').expect(200);
    await api(app, 'admin').get('/metrics').expect(200);
    expect((await request(app).get('/metrics').expect(401)).body.error.code).toBe('unauthenticated');
    await request(app).get('/metrics').set('authorization', `Bearer ${TOKEN}x`).expect(401);
    for (const role of ['system', 'rm', 'designer'] as const) expect((await api(app, role).get('/metrics').expect(403)).body.error.code).toBe('forbidden');
  });

  it('the scraper token opens /metrics only: elsewhere it is not a key', async () => {
    await request(app).get('/v1/tasks').set('authorization', `Bearer ${TOKEN}`).expect(401);
  });
});

describe('the series move with real traffic', () => {
  it('requests, events, journey starts and ends, sends and policy decisions, activity latency; routes by pattern, never an id', async () => {
    const before = await scrape();
    const system = api(app, 'system');
    await system.put('/v1/customers/metrics-a').send({ name: 'A', email: 'a@example.com' }).expect(201);
    await system
      .put('/v1/customers/metrics-b')
      .send({ name: 'B', email: 'b@example.com', consents: { email: false } })
      .expect(201);
    const a = (await system.post('/v1/journeys').send({ journeyKey: 'lifecycle', customerId: 'metrics-a' }).expect(201)).body.workflowId as string;
    const b = (await system.post('/v1/journeys').send({ journeyKey: 'lifecycle', customerId: 'metrics-b' }).expect(201)).body.workflowId as string;
    await system.post('/v1/customers/metrics-a/events').send({ eventId: 'metrics-a-1', type: 'product.purchased' }).expect(202);
    await system.post('/v1/customers/metrics-a/events').send({ eventId: 'metrics-a-1', type: 'product.purchased' }).expect(202);
    await system.post('/v1/customers/metrics-b/events').send({ eventId: 'metrics-b-1', type: 'product.purchased' }).expect(202);
    await api(app, 'rm').get('/v1/customers/metrics-zzz').expect(404);
    // Routes of mounted routers: under their mount pattern, the local UI's secret path segment included.
    await api(app, 'ops').post('/codec/decode').send({ payloads: [] }).expect(200);
    await request(app).post(`/codec/${UI_TOKEN}/decode`).send({ payloads: [] }).expect(200);
    // The thank-you email: sent to A, suppressed for B (no consent).
    await eventually(
      async () => (await stack.testDb.db.message.findMany({ where: { customerId: { in: ['metrics-a', 'metrics-b'] } } })).map((m) => m.status).sort(),
      (s) => s.join() === 'sent,suppressed',
    );
    await system.post(`/v1/journeys/${a}/exit`).send({ reason: 'metrics' }).expect(202);
    await system.post(`/v1/journeys/${b}/exit`).send({ reason: 'metrics' }).expect(202);
    await eventually(
      () => stack.testDb.db.journey.count({ where: { workflowId: { in: [a, b] }, status: 'exited' } }),
      (n) => n === 2,
    );

    const after = await scrape();
    const moved = (name: string, labels: Record<string, string> = {}) => value(after, name, labels) - value(before, name, labels);
    expect(moved('journeys_http_requests_total', { method: 'PUT', route: '/v1/customers/:customerId', status: '201' })).toBe(2);
    expect(moved('journeys_http_requests_total', { method: 'POST', route: '/v1/customers/:customerId/events', status: '202' })).toBe(3);
    expect(moved('journeys_http_requests_total', { method: 'GET', route: '/v1/customers/:customerId', status: '404' })).toBe(1);
    expect(moved('journeys_http_request_duration_seconds_count', { method: 'POST', route: '/v1/journeys', status: '201' })).toBe(2);
    expect(moved('journeys_http_requests_total', { method: 'POST', route: '/codec/decode', status: '200' })).toBe(1);
    expect(moved('journeys_http_requests_total', { method: 'POST', route: '/codec/:token/decode', status: '200' })).toBe(1);
    expect(after.some((s) => Object.values(s.labels).some((v) => v.includes('metrics-') || v.includes(UI_TOKEN)))).toBe(false);

    expect(moved('journeys_events_received_total', { outcome: 'new' })).toBe(2);
    expect(moved('journeys_events_received_total', { outcome: 'duplicate' })).toBe(1);
    expect(moved('journeys_started_total', { journey: 'lifecycle', via: 'api' })).toBe(2);
    expect(moved('journeys_ended_total', { journey: 'lifecycle', status: 'exited' })).toBe(2);
    expect(moved('journeys_sends_total', { channel: 'email', outcome: 'sent' })).toBe(1);
    expect(moved('journeys_sends_total', { channel: 'email', outcome: 'suppressed' })).toBe(1);
    expect(moved('journeys_policy_decisions_total', { decision: 'allowed', reason: 'none' })).toBe(1);
    expect(moved('journeys_policy_decisions_total', { decision: 'suppressed', reason: 'no_consent' })).toBe(1);
    expect(moved('journeys_activity_duration_seconds_count', { activity: 'sendMessage', outcome: 'ok' })).toBe(2);
    expect(moved('journeys_activity_duration_seconds_count', { activity: 'recordProgress', outcome: 'ok' })).toBeGreaterThanOrEqual(2);
  }, 60_000);

  it("the Temporal SDK's worker metrics are in the same exposition", async () => {
    const samples = await eventually(scrape, (s) => s.some((x) => x.name.startsWith('temporal_')));
    const names = new Set(samples.map((s) => s.name).filter((n) => n.startsWith('temporal_')));
    // Workflow and activity task polling, and the slots the worker offers, are what every worker reports.
    expect([...names].some((n) => /workflow_task/.test(n))).toBe(true);
    expect([...names].some((n) => /slots/.test(n))).toBe(true);
  });
});

describe('a worker run alone', () => {
  it('serves the same registry at WORKER_METRICS_PORT, to METRICS_TOKEN only', async () => {
    const server = await startWorkerMetricsServer({ port: 0, host: '127.0.0.1', token: TOKEN, logger: createLogger({ logLevel: 'warn' }, 'test') });
    try {
      const origin = new URL(server.url).origin;
      expect((await request(origin).get('/metrics').expect(401)).body.error.code).toBe('unauthenticated');
      await request(origin).get('/metrics').set('authorization', `Bearer ${TOKEN}x`).expect(401);
      await request(origin).get('/other').set('authorization', `Bearer ${TOKEN}`).expect(404);
      // A request line no URL parser takes: answered, and the worker's process lives on to serve the next request.
      const { port } = new URL(origin);
      const raw = await new Promise<string>((resolve, reject) => {
        const socket = connect(Number(port), '127.0.0.1', () => socket.end('GET //[ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
        let text = '';
        socket.on('data', (c: Buffer) => (text += c.toString('utf8')));
        socket.on('end', () => resolve(text));
        socket.on('error', reject);
      });
      expect(raw).toMatch(/^HTTP\/1\.1 404/);
      const res = await request(origin).get('/metrics').set('authorization', `Bearer ${TOKEN}`).expect(200);
      expect(res.text).toContain('# TYPE journeys_sends_total counter');
      expect(parse(res.text).some((s) => s.name.startsWith('journeys_process_'))).toBe(true);
    } finally {
      await server.close();
    }
  });

  it('WORKER_METRICS_PORT without METRICS_TOKEN is refused at start-up; a short token too', () => {
    expect(() => loadConfig({ WORKER_METRICS_PORT: '9464' })).toThrow(ConfigError);
    expect(() => loadConfig({ WORKER_METRICS_PORT: '9464' })).toThrow(/METRICS_TOKEN/);
    expect(() => loadConfig({ METRICS_TOKEN: 'short' })).toThrow(/METRICS_TOKEN/);
    expect(loadConfig({ WORKER_METRICS_PORT: '9464', METRICS_TOKEN: TOKEN })).toMatchObject({ workerMetricsPort: 9464, metricsToken: TOKEN });
  });
});
