// Outages answered honestly, on the real stack: the API (its own composition root, startApiServer) reaches Postgres and
// Temporal through TCP proxies, which take a peer away from it (refused, or accepting and never answering) without
// stopping it for the worker or anyone else. A peer down is a 503 with Retry-After within 5 s; an event that arrived
// meanwhile is delivered by the sweeper once Temporal is back; a journey with no worker is read from the read model.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer } from '../api/server.js';
import { loadConfig } from '../config/config.js';
import { createLogger } from '../config/logger.js';
import { eventually, startStack, type Stack, TEST_PAYLOAD_ENV } from './support/stack.js';
import { TcpProxy } from './support/tcp-proxy.js';

let stack: Stack;
let pg: TcpProxy;
let temporal: TcpProxy;
let api: { url: string; close(): Promise<void> };
let worker: { stop(): Promise<void> } | undefined;

beforeAll(async () => {
  stack = await startStack();
  worker = await stack.startWorker();
  const dbUrl = new URL(stack.testDb.url);
  const [temporalHost, temporalPort] = stack.env.address.split(':') as [string, string];
  pg = await TcpProxy.start({ host: dbUrl.hostname, port: Number(dbUrl.port || 5432) });
  temporal = await TcpProxy.start({ host: temporalHost, port: Number(temporalPort) });
  dbUrl.host = pg.address;
  const config = loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: dbUrl.toString(),
    TEMPORAL_ADDRESS: temporal.address,
    ...TEST_PAYLOAD_ENV,
    TEMPORAL_TASK_QUEUE: stack.taskQueue,
    PORT: '0',
    EVENT_SWEEP_INTERVAL_MS: '200',
    EVENT_SWEEP_AFTER_MS: '500',
  });
  api = await startApiServer(config, createLogger({ logLevel: process.env.TEST_LOG_LEVEL ?? 'error' }, 'test-api'));
});
afterAll(async () => {
  await api?.close();
  await pg?.close();
  await temporal?.close();
  await stack?.stop();
});

/** A request to the API, with how long it took to answer. */
async function call(method: string, path: string, body?: unknown) {
  const t0 = performance.now();
  const headers = { authorization: `Bearer ${stack.keys.admin}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) };
  const res = await fetch(`${api.url}${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const json = (await res.json()) as Record<string, any>;
  return { status: res.status, body: json, retryAfter: res.headers.get('retry-after'), ms: performance.now() - t0 };
}

function expectUnavailable(r: Awaited<ReturnType<typeof call>>) {
  expect(r.status).toBe(503);
  expect(r.body.error.code).toBe('unavailable');
  expect(r.body.error.message).toMatch(/not answering/);
  expect(Number(r.retryAfter)).toBeGreaterThan(0);
  expect(r.ms).toBeLessThan(5_000);
}

/** Gives the peer back and waits until the API says it is ready again. */
async function restore(proxy: TcpProxy) {
  await proxy.open();
  await eventually(
    () => call('GET', '/readyz'),
    (r) => r.status === 200,
    20_000,
  );
}

let n = 0;
async function customer() {
  const id = `out-${++n}`;
  expect((await call('PUT', `/v1/customers/${id}`, { name: 'Out', email: `${id}@example.com`, phone: '+8613800138000' })).status).toBe(201);
  return id;
}

describe('Postgres down', () => {
  it('refusing connections: a read answers 503 unavailable with Retry-After within 5 s, and /readyz says so', async () => {
    const c = await customer();
    await pg.refuse();
    try {
      expectUnavailable(await call('GET', `/v1/customers/${c}`));
      expectUnavailable(await call('POST', `/v1/customers/${c}/events`, { eventId: 'pg-down-1', type: 'loan.drawdown' }));
      const ready = await call('GET', '/readyz');
      expect(ready.status).toBe(503);
      expect(ready.body.checks.postgres).not.toBe('ok');
      expect(ready.ms).toBeLessThan(5_000);
    } finally {
      await restore(pg);
    }
    expect((await call('GET', `/v1/customers/${c}`)).status).toBe(200);
  });

  it('accepting connections but never answering: a read answers 503 within 5 s', async () => {
    const c = await customer();
    await pg.hang();
    try {
      // The first read may meet a pooled connection the cut closed; the second needs a new one, which never opens.
      expectUnavailable(await call('GET', `/v1/customers/${c}`));
      expectUnavailable(await call('GET', `/v1/customers/${c}`));
    } finally {
      await restore(pg);
    }
    expect((await call('GET', `/v1/customers/${c}`)).status).toBe(200);
  });
});

describe('Temporal down', () => {
  it('refusing connections: starting a journey answers 503 within 5 s and writes no journey', async () => {
    const c = await customer();
    await temporal.refuse();
    try {
      expectUnavailable(await call('POST', '/v1/journeys', { journeyKey: 'bank-loan', customerId: c }));
      const ready = await call('GET', '/readyz');
      expect(ready.status).toBe(503);
      expect(ready.body.checks.temporal).not.toBe('ok');
      expect(ready.body.checks.postgres).toBe('ok');
      expect(ready.ms).toBeLessThan(5_000);
    } finally {
      await restore(temporal);
    }
    expect(await stack.testDb.db.journey.count({ where: { customerId: c } })).toBe(0);
  });

  it('accepting connections but never answering: starting a journey answers 503 within 5 s', async () => {
    const c = await customer();
    await temporal.hang();
    try {
      expectUnavailable(await call('POST', '/v1/journeys', { journeyKey: 'bank-loan', customerId: c }));
    } finally {
      await restore(temporal);
    }
  });

  it('an event that arrives while Temporal is down answers 503, is recorded, and the sweeper delivers it once Temporal is back', async () => {
    const c = await customer();
    const started = await call('POST', '/v1/journeys', { journeyKey: 'bank-loan', customerId: c, params: { applicationAssistAfter: 'PT1S' } });
    expect(started.status).toBe(201);
    const workflowId = started.body.workflowId as string;
    await temporal.refuse();
    try {
      expectUnavailable(await call('POST', `/v1/customers/${c}/events`, { eventId: `${c}-app`, type: 'loan.application_started' }));
      const recorded = await stack.testDb.db.inboundEvent.findUniqueOrThrow({ where: { eventId: `${c}-app` } });
      expect(recorded.deliveredAt).toBeNull();
    } finally {
      await restore(temporal);
    }
    // No client retries: the sweeper delivers it, and the journey acts on it (the application-assist task).
    const delivered = await eventually(
      () => stack.testDb.db.inboundEvent.findUniqueOrThrow({ where: { eventId: `${c}-app` } }),
      (e) => e.deliveredAt !== null,
      30_000,
    );
    expect(delivered.deliveredTo).toEqual([workflowId]);
    await eventually(
      () => stack.testDb.db.task.findFirst({ where: { workflowId } }),
      (t) => t !== null,
      20_000,
    );
  });
});

describe('no worker running', () => {
  it('a journey read answers from the read model within 5 s', async () => {
    const c = await customer();
    const started = await call('POST', '/v1/journeys', { journeyKey: 'bank-loan', customerId: c });
    expect(started.status).toBe(201);
    const workflowId = started.body.workflowId as string;
    await worker?.stop();
    worker = undefined;
    const r = await call('GET', `/v1/journeys/${encodeURIComponent(workflowId)}`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ workflowId, status: 'running', customerId: c });
    expect(r.ms).toBeLessThan(5_000);
  });
});
