// `npm run bench`: the service measured against raw Temporal on the same server, in one run; repeated to give the
// run-to-run spread of the headline ratios; then K journeys opened by bulk enrolment and what they cost. Not part of
// `npm test`. Writes bench/results/<stamp>-<label>.json and .md (and latest.*). BENCHMARKS.md's "Method" tells what
// each section measures.
//
//   npm run bench                         # the headline profile: 3 runs, enrolment of 10 000, 100 000 open journeys
//   npm run bench -- --quick              # every section, small sizes: a few minutes on two cores
//   npm run bench -- --runs 5 --open 0    # five runs of the headline sections, no open journeys
//   npm run bench -- --profile            # CPU profiles of the worker and the API (events scenario; no open section)
//
// Options: --n (requests per level), --levels 1,8,32,64, --runs, --enrol, --open, --sample, --analytics-requests,
// --label. Uses TEMPORAL_ADDRESS and DATABASE_URL when given; otherwise starts a Temporal dev server (in memory) and
// uses the local Postgres (TEST_DATABASE_URL's server) with a database of its own.
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { tsToMs } from '@temporalio/common/lib/time.js';
import type proto from '@temporalio/proto';
import pg from 'pg';
import { newPayloadKey } from '../service/payload-codec.js';
import { startSmtpCatcher } from '../dev/smtp-catcher.js';
import { startTwilioSink } from '../dev/twilio-sink.js';
import { loanYear } from './engine.js';
import {
  BENCH_JOURNEYS,
  benchTemporal,
  cpuSeconds,
  type Latency,
  load,
  median,
  options,
  progress,
  ratio,
  root,
  round,
  rssMiB,
  sleep,
  spread,
  stop,
  stopChildren,
  summary,
  sweep,
  tsx,
  workflowBacklog,
} from './lib.js';
import { type EventsRow, markdown, type OpenResult, PHASES, type Phases, type Results, type RunResult } from './report.js';

const o = options(process.argv.slice(2));
const wallStart = performance.now();
const results: Results = {
  label: o.label,
  at: new Date().toISOString(),
  options: o,
  machine: { cpus: cpus().length, cpu: cpus()[0]?.model, memGiB: Math.round(totalmem() / 2 ** 30), node: process.version },
  runs: [],
};

// ---- the stack -------------------------------------------------------------------------------------------------

/** Above 20 000 open journeys the dev server keeps its database in a file: in memory its SQLite crashed (SIGSEGV)
 * with some 82 000 workflows open. Removed when the bench ends. */
const temporalDir = !process.env.TEMPORAL_ADDRESS && o.open > 20_000 ? mkdtempSync(path.join(tmpdir(), 'bench-temporal-')) : undefined;
/** The Temporal server the bench measures against: TEMPORAL_ADDRESS, or a dev server in memory started as `npm start`
 * and the tests start one (dev/temporal-dev-server.ts), stopped when the bench ends. */
async function temporalServer(): Promise<{ address: string; pid?: number; stop(): Promise<void> }> {
  if (process.env.TEMPORAL_ADDRESS) return { address: process.env.TEMPORAL_ADDRESS, stop: async () => undefined };
  return benchTemporal(temporalDir);
}

const BENCH_DB = `journeys_bench_${process.pid}`;
async function database(): Promise<string> {
  if (process.env.DATABASE_URL) return process.env.DATABASE_URL;
  const admin = process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
  const c = new pg.Client({ connectionString: admin });
  await c.connect();
  // A database of this run's own: two benches on one server (or a bench beside the tests) never share or drop another's.
  await c.query(`DROP DATABASE IF EXISTS ${BENCH_DB} WITH (FORCE)`);
  await c.end();
  const u = new URL(admin);
  u.pathname = `/${BENCH_DB}`;
  return u.toString();
}

const temporal = await temporalServer();
const databaseUrl = await database();
const smtp = await startSmtpCatcher();
const sms = await startTwilioSink();
const connection = await Connection.connect({ address: temporal.address });
const client = new Client({ connection });
progress(`Temporal ${temporal.address}, Postgres ${new URL(databaseUrl).pathname.slice(1)}; ${o.quick ? 'quick profile' : 'full profile'}, ${o.runs} run(s)`);

// The ceiling's minimal worker (bench/raw-worker.ts).
const RAW_QUEUE = 'bench-raw';
const SERVICE_QUEUE = 'bench-journeys';
await tsx('bench/raw-worker.ts', { TEMPORAL_ADDRESS: temporal.address, TEMPORAL_TASK_QUEUE: RAW_QUEUE }, /^READY/);

// The service: its worker and its API as two processes (as `npm run worker` and `npm run api` run them), so that each
// one's RSS and CPU time are its own; no quiet hours or caps in the way, payloads encrypted as in production. (The
// ceiling is the bare SDK: no codec.)
const BENCH_KEY = `bench-${randomBytes(24).toString('base64url')}`;
const benchHeaders = { 'content-type': 'application/json', authorization: `Bearer ${BENCH_KEY}` };
// Four-eyes: the bench's drafts are published by a second principal, which also reads the analytics (ops).
const REVIEWER_KEY = `bench-${randomBytes(24).toString('base64url')}`;
const serviceEnv = {
  TEMPORAL_PAYLOAD_KEYS: JSON.stringify({ bench: newPayloadKey() }),
  DATABASE_URL: databaseUrl,
  TEMPORAL_ADDRESS: temporal.address,
  TEMPORAL_TASK_QUEUE: SERVICE_QUEUE,
  SMTP_URL: smtp.smtpUrl,
  TWILIO_API_BASE_URL: sms.url,
  PORT: String(14000 + Math.floor(Math.random() * 1000)),
  LOG_LEVEL: 'error',
  CONTACT_POLICY: JSON.stringify({ quietHours: {}, caps: { marketing: {}, service: {} } }),
  // The bench calls the API as a system would, with a key of its own and no per-key limit in the way.
  API_KEYS: JSON.stringify([
    { key: BENCH_KEY, role: 'admin', name: 'bench' },
    { key: REVIEWER_KEY, role: 'ops', name: 'bench reviewer' },
  ]),
  RATE_LIMIT_PER_MINUTE: '1000000',
  // The worker's tuning under test, when given (WORKER_MAX_CACHED_WORKFLOWS=…, see config/config.ts).
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('WORKER_'))),
};
const profileDir = path.join(root, 'bench/results/profiles');
mkdirSync(profileDir, { recursive: true });
const profileArgs = o.profile ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [];
const worker = await tsx('bench/worker.ts', serviceEnv, /^READY/, profileArgs); // migrates first
const apiProc = await tsx('bench/api.ts', serviceEnv, /^READY /, profileArgs);
const api = apiProc.line.split(' ')[1]!;
const pids = { worker: worker.proc.pid, api: apiProc.proc.pid, temporal: temporal.pid };
const rss = () => ({ workerMiB: rssMiB(pids.worker), apiMiB: rssMiB(pids.api), temporalMiB: rssMiB(pids.temporal) });
const cpu = () => ({ worker: cpuSeconds(pids.worker) ?? NaN, api: cpuSeconds(pids.api) ?? NaN, temporal: cpuSeconds(pids.temporal) ?? NaN });

const post = async (p: string, body: unknown, key = BENCH_KEY) => {
  const res = await fetch(`${api}${p}`, { method: 'POST', headers: { ...benchHeaders, authorization: `Bearer ${key}` }, body: JSON.stringify(body) });
  if (res.status >= 300) throw new Error(`${p}: ${res.status} ${await res.text()}`);
  return res.json() as Promise<any>;
};
const get = async (p: string, key = BENCH_KEY) => {
  const res = await fetch(`${api}${p}`, { headers: { ...benchHeaders, authorization: `Bearer ${key}` } });
  if (!res.ok) throw new Error(`${p}: ${res.status} ${await res.text()}`);
  return res.json() as Promise<any>;
};
for (const d of BENCH_JOURNEYS) {
  const draft = await post('/v1/journey-definitions', d);
  await post(`/v1/journey-definitions/${d.key}/versions/${draft.version}/publish`, {}, REVIEWER_KEY);
}

let customers = 0;
const phoneOf = (id: string) => `+1${String(2_000_000_000 + Number(id.slice(3)))}`;
/** K new customers through PUT /v1/customers/:id, `concurrency` at a time. */
async function newCustomers(k: number, concurrency = 32, report?: (done: number) => void): Promise<string[]> {
  const ids = Array.from({ length: k }, () => `bc-${++customers}`);
  let done = 0;
  await load(k, concurrency, async (i) => {
    const res = await fetch(`${api}/v1/customers/${ids[i]}`, { method: 'PUT', headers: benchHeaders, body: JSON.stringify({ name: 'Bench', phone: phoneOf(ids[i]!) }) });
    if (res.status >= 300) throw new Error(`PUT /v1/customers: ${res.status} ${await res.text()}`);
    if (++done % 10_000 === 0) report?.(done);
  });
  return ids;
}
const db = new pg.Client({ connectionString: databaseUrl });
await db.connect();
const dbBytes = async () => Number((await db.query<{ s: string }>('SELECT pg_database_size(current_database())::text AS s')).rows[0]!.s);
const TABLES = ['customers', 'journeys', 'stage_transitions', 'journey_log', 'inbound_events', 'messages', 'message_events', 'audit_log', 'enrolment_items'];
async function tableBytes(): Promise<Record<string, number>> {
  const { rows } = await db.query<{ t: string; s: string }>('SELECT t, pg_total_relation_size(t::regclass)::text AS s FROM unnest($1::text[]) t', [TABLES]);
  return Object.fromEntries(rows.map((r) => [r.t, Number(r.s)]));
}
const shuffled = <T>(xs: T[]): T[] => {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
};

/** Waits until the worker has initialised these journeys (their first workflow task completed: started, scheduled,
 * started, completed are in the history): a start is accepted before the worker has run it, and a backlog would distort
 * what is measured next. Asked of Temporal, not of the read model, which the API writes at start. */
async function initialised(workflowIds: string[], report?: (done: number) => void) {
  let left = workflowIds;
  while (left.length) {
    const still: string[] = [];
    await load(left.length, 16, async (i) => {
      // An overloaded dev server may not answer for a start it has just acknowledged: asked again.
      const historyLength = await client.workflow
        .getHandle(left[i]!)
        .describe()
        .then((d) => d.historyLength)
        .catch(() => 0);
      if (historyLength < 4) still.push(left[i]!);
    });
    report?.(workflowIds.length - still.length);
    left = still;
    if (left.length) await sleep(250);
  }
}
/** Waits until the journeys' workflow task queue has no backlog (Temporal's approximate count, asked twice a second
 * apart so a task being handed over is not missed), then until these journeys (the ones measured next) are
 * initialised. With 100 000 just started, asking each one (`initialised`) takes longer than opening them. */
async function drained(taskQueue: string, measured: string[], report?: (backlog: number) => void) {
  for (let zeros = 0; zeros < 2;) {
    const backlog = await workflowBacklog(client, taskQueue);
    report?.(backlog);
    zeros = backlog === 0 ? zeros + 1 : 0;
    await sleep(1000);
  }
  await initialised(measured);
}
/** Bytes of Temporal history of each journey, once it has nothing in flight (no workflow task, no activity pending):
 * `historySizeBytes` of DescribeWorkflowExecution. */
async function historyBytes(workflowIds: string[]): Promise<number[]> {
  const sizes: number[] = new Array<number>(workflowIds.length).fill(NaN);
  await load(workflowIds.length, 8, async (i) => {
    for (;;) {
      const { raw } = await client.workflow.getHandle(workflowIds[i]!).describe();
      if (!raw.pendingWorkflowTask && !raw.pendingActivities?.length) return void (sizes[i] = Number(raw.workflowExecutionInfo?.historySizeBytes ?? NaN));
      await sleep(100);
    }
  });
  return sizes;
}
const startJourney = async (journeyKey: string, customerId: string, businessKey: string): Promise<string> =>
  ((await post('/v1/journeys', { journeyKey, customerId, businessKey })) as { workflowId: string }).workflowId;

/** One event to each customer (one journey each, which sends one SMS): REST latency and event→send latency (from the
 * request to the Twilio-compatible sink receiving the SMS). */
async function eventsRound(ids: string[], c: number, tag: string, workflowOf: Map<string, string>) {
  const sentAt = new Map<string, number>();
  const arrived = new Map<string, number>();
  const waiters = ids.map((id) =>
    sms.waitFor((m) => m.to === phoneOf(id) && m.receivedAt.getTime() >= (sentAt.get(id) ?? Infinity) - 5, 120_000).then((m) => arrived.set(id, m.receivedAt.getTime())),
  );
  const r = await load(ids.length, c, async (i) => {
    const id = ids[i]!;
    sentAt.set(id, Date.now());
    await post(`/v1/customers/${id}/events`, { eventId: `${tag}-${id}`, type: 'product.viewed' });
  });
  await Promise.all(waiters);
  const e2s = ids.map((id) => arrived.get(id)! - sentAt.get(id)!);
  // The slowest 5 % (at least 3), each taken apart by its journey's history.
  const slowest = ids
    .map((id, i) => ({ id, ms: e2s[i]! }))
    .sort((a, b) => b.ms - a.ms)
    .slice(0, Math.max(3, Math.ceil(ids.length / 20)));
  const phases = await Promise.all(slowest.map(({ id }) => phasesOf(workflowOf.get(id)!, sentAt.get(id)!, arrived.get(id)!)));
  return { rest: summary(r.latencies, r.ms), eventToSend: summary(e2s, r.ms), slowest: medianPhases(phases) };
}

/**
 * Where one event→send went, from its journey's history (Temporal's clock and the bench's are this machine's): `api`
 * from the request until Temporal recorded the signal; `queue` until the worker took the workflow task it caused;
 * `task` that workflow task; `activityWait` the send activity, scheduled, until a worker started it (~0 when it is
 * dispatched eagerly); `send` from then until the SMS reached the sink (the contact policy's statements, rendering,
 * the Twilio call). The journey has had exactly one event.
 */
async function phasesOf(workflowId: string, sentAt: number, arrivedAt: number): Promise<Phases> {
  // The activity's start is written with its completion, which can follow the SMS's arrival: asked again until it is.
  let events = (await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  for (let i = 0; i < 100 && !events.some((e) => e.activityTaskCompletedEventAttributes); i++) {
    await sleep(100);
    events = (await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  }
  const at = (i: number) => (i >= 0 ? tsToMs(events[i]!.eventTime) : NaN);
  const after = (from: number, has: (e: proto.temporal.api.history.v1.IHistoryEvent) => unknown) => events.findIndex((e, i) => i > from && has(e));
  const signal = events.findIndex((e) => e.workflowExecutionSignaledEventAttributes);
  const taskStarted = after(signal, (e) => e.workflowTaskStartedEventAttributes);
  const taskCompleted = after(taskStarted, (e) => e.workflowTaskCompletedEventAttributes);
  const scheduled = after(taskCompleted, (e) => e.activityTaskScheduledEventAttributes);
  const started = after(scheduled, (e) => e.activityTaskStartedEventAttributes);
  return {
    api: at(signal) - sentAt,
    queue: at(taskStarted) - at(signal),
    task: at(taskCompleted) - at(taskStarted),
    activityWait: at(started) - at(scheduled),
    send: arrivedAt - at(started),
  };
}
const medianPhases = (ps: Phases[]): Phases & { n: number } => ({
  n: ps.length,
  ...(Object.fromEntries(PHASES.map((k) => [k, round(median(ps.map((p) => p[k])))])) as unknown as Phases),
});

/** A bulk enrolment through the API: pages of 10 000 ids, then start, at the highest rate it takes. Answers when it has
 * completed (every customer's start accepted by Temporal). */
async function enrol(journeyKey: string, ids: string[], tick?: (enrolmentId: string) => Promise<void>) {
  const t0 = Date.now();
  const first = await post('/v1/enrolments', { journeyKey, customers: ids.slice(0, 10_000), ratePerSecond: 2_000, start: false });
  for (let i = 10_000; i < ids.length; i += 10_000) await post(`/v1/enrolments/${first.id}/customers`, { customers: ids.slice(i, i + 10_000) });
  const pagesMs = Date.now() - t0;
  const started = Date.now();
  await post(`/v1/enrolments/${first.id}/start`, {});
  let done: any;
  for (;;) {
    done = await get(`/v1/enrolments/${first.id}`);
    if (done.status === 'completed') break;
    if (tick) await tick(first.id as string);
    await sleep(tick ? 2_000 : 250);
  }
  const ms = Date.now() - started;
  return { id: first.id as string, pagesMs, ms, started: done.started as number, skipped: done.skipped as Record<string, number>, failed: done.failed as number };
}

// ---- the headline sections, `--runs` times ----------------------------------------------------------------------

for (let run = 1; run <= o.runs; run++) {
  const tag = `r${run}`;
  progress(`—— run ${run} of ${o.runs}`);
  // 1. Ceiling: bare client and minimal worker on the same server.
  const stamp = Date.now();
  const lat = (r: Latency) => `${r.perSec}/s p50 ${r.p50} p95 ${r.p95} p99 ${r.p99} ms`;
  const ceilingStarts = await sweep(
    'ceiling starts',
    o.levels,
    o.n,
    async (c) => {
      const r = await load(o.n, c, async (i) => void (await client.workflow.start('rawWorkflow', { taskQueue: RAW_QUEUE, workflowId: `raw-${stamp}-${c}-${i}`, args: [false] })));
      return summary(r.latencies, r.ms);
    },
    (r) => r.perSec,
    lat,
  );
  const ceilingSws = await sweep(
    'ceiling signalWithStart',
    o.levels,
    o.n,
    async (c) => {
      const r = await load(
        o.n,
        c,
        async (i) => void (await client.workflow.signalWithStart('rawWorkflow', { taskQueue: RAW_QUEUE, workflowId: `raws-${stamp}-${c}-${i}`, args: [true], signal: 'poke' })),
      );
      return summary(r.latencies, r.ms);
    },
    (r) => r.perSec,
    lat,
  );

  // 2. Service starts (POST /v1/journeys), until the worker has initialised them.
  const serviceStarts = await sweep(
    'service starts',
    o.levels,
    o.n,
    async (c) => {
      const ids = await newCustomers(o.n);
      const started: string[] = [];
      const r = await load(o.n, c, async (i) => void started.push(await startJourney('bench-send', ids[i]!, 's')));
      await initialised(started);
      return summary(r.latencies, r.ms);
    },
    (r) => r.perSec,
    (r) => `${lat(r)} (${ratio(r.perSec, ceilingStarts.max)} of bare starts)`,
  );

  // 3. Service events that each cause one send; the CPU seconds of each process and the database's growth over the
  // rounds themselves (not the starts before them), and the history of a sample before and after its event.
  const spent = { events: 0, worker: 0, api: 0, temporal: 0, dbBytes: 0 };
  const history: { before: number[]; after: number[] } = { before: [], after: [] };
  const serviceEvents = await sweep<Omit<EventsRow, 'concurrency'>>(
    'service events',
    o.levels,
    o.n,
    async (c) => {
      const ids = await newCustomers(o.n);
      const workflowOf = new Map<string, string>();
      await load(o.n, 32, async (i) => void workflowOf.set(ids[i]!, await startJourney('bench-send', ids[i]!, 'e')));
      const started = [...workflowOf.values()];
      await initialised(started);
      const sampled = history.before.length ? [] : started.slice(0, 50);
      history.before.push(...(await historyBytes(sampled)));
      sms.clear();
      const [cpu0, db0] = [cpu(), await dbBytes()];
      const r = await eventsRound(ids, c, `${tag}-ev${c}`, workflowOf);
      const [cpu1, db1] = [cpu(), await dbBytes()];
      spent.events += ids.length;
      spent.worker += cpu1.worker - cpu0.worker;
      spent.api += cpu1.api - cpu0.api;
      spent.temporal += cpu1.temporal - cpu0.temporal;
      spent.dbBytes += db1 - db0;
      history.after.push(...(await historyBytes(sampled)));
      return r;
    },
    (r) => r.rest.perSec,
    (r) =>
      `${r.rest.perSec}/s (${ratio(r.rest.perSec, ceilingSws.max)} of bare signalWithStart), REST p99 ${r.rest.p99} ms, event→send p50 ${r.eventToSend.p50} p99 ${r.eventToSend.p99} ms`,
  );
  // event→send at half the maximum rate: the level closest to it
  const half = serviceEvents.rows.reduce((a, b) => (Math.abs(b.rest.perSec - serviceEvents.max / 2) < Math.abs(a.rest.perSec - serviceEvents.max / 2) ? b : a));
  const perEvent = history.after.map((a, i) => a - history.before[i]!);

  // 4. Bulk enrolment into bench-send: starts per second from the start request to the enrolment's completion.
  let enrolment: RunResult['enrolment'];
  if (o.enrol > 0) {
    const ids = await newCustomers(o.enrol, 64);
    const e = await enrol('bench-send', ids);
    const perSec = round((e.started / e.ms) * 1000);
    enrolment = { customers: o.enrol, pagesMs: e.pagesMs, ms: e.ms, started: e.started, skipped: e.skipped, failed: e.failed, perSec, vsCeiling: ratio(perSec, ceilingStarts.max) };
    progress(`enrolment: ${e.started} started in ${e.ms} ms (${perSec}/s; ${enrolment.vsCeiling} of bare starts); pages took ${e.pagesMs} ms`);
  }

  const r: RunResult = {
    run,
    ceiling: { starts: ceilingStarts, signalWithStart: ceilingSws },
    serviceStarts,
    serviceEvents: {
      ...serviceEvents,
      atHalfMax: { concurrency: half.concurrency, perSec: half.rest.perSec, eventToSend: half.eventToSend, slowest: half.slowest },
      cpuSeconds: { events: spent.events, worker: round(spent.worker, 2), api: round(spent.api, 2), temporal: round(spent.temporal, 2) },
      eventsPerCoreSecond: { worker: round(spent.events / spent.worker), api: round(spent.events / spent.api), temporal: round(spent.events / spent.temporal) },
      postgresBytesPerEvent: Math.round(spent.dbBytes / spent.events),
      history: { journeys: history.before.length, bytesBefore: median(history.before), bytesAfter: median(history.after), bytesPerEvent: median(perEvent) },
    },
    ...(enrolment ? { enrolment } : {}),
    ratios: {
      startsVsRawStarts: ratio(serviceStarts.max, ceilingStarts.max),
      eventsVsRawSignalWithStart: ratio(serviceEvents.max, ceilingSws.max),
      ...(enrolment ? { enrolmentVsRawStarts: enrolment.vsCeiling } : {}),
      eventToSendP99AtHalfMax: half.eventToSend.p99,
    },
  };
  results.runs.push(r);
  progress(
    `run ${run}: starts ${r.ratios.startsVsRawStarts}, events ${r.ratios.eventsVsRawSignalWithStart}${enrolment ? `, enrolment ${enrolment.vsCeiling}` : ''} of the ceiling; event→send p99 at half max ${half.eventToSend.p99} ms; ${r.serviceEvents.eventsPerCoreSecond.worker} events per worker CPU-second`,
  );
}
{
  const of = (f: (r: RunResult) => number | undefined) => results.runs.map(f).filter((x): x is number => x !== undefined);
  results.spread = {
    startsVsRawStarts: spread(of((r) => r.ratios.startsVsRawStarts)),
    eventsVsRawSignalWithStart: spread(of((r) => r.ratios.eventsVsRawSignalWithStart)),
    ...(o.enrol > 0 ? { enrolmentVsRawStarts: spread(of((r) => r.ratios.enrolmentVsRawStarts)) } : {}),
    eventToSendP99AtHalfMax: spread(of((r) => r.ratios.eventToSendP99AtHalfMax)),
    eventsPerWorkerCoreSecond: spread(of((r) => r.serviceEvents.eventsPerCoreSecond.worker)),
  };
}

if (o.profile) {
  await Promise.all([stop(worker.proc), stop(apiProc.proc)]);
  progress('CPU profiles of the worker and the API written to bench/results/profiles/ (no open section with --profile)');
  results.profile = 'bench/results/profiles/*.cpuprofile (the worker and the API, every section up to here)';
}

// ---- K open journeys, opened by bulk enrolment --------------------------------------------------------------------

if (!o.profile && o.open > 0) {
  const K = o.open;
  const ceilingStarts = median(results.runs.map((r) => r.ceiling.starts.max));
  const viaSql = o.customers === 'sql' || (o.customers === 'auto' && K > 20_000);
  const c0 = performance.now();
  let ids: string[];
  if (viaSql) {
    // The rows PUT /v1/customers/:id writes for a new customer (id, name, phone, no consent decision), in one
    // statement: through the API, 100 000 customers take longer than the journeys they are for. Not measured.
    progress(`open: creating ${K} customers directly in SQL (the rows PUT /v1/customers writes, without its audit entries)`);
    const first = customers + 1;
    customers += K;
    ids = Array.from({ length: K }, (_, i) => `bc-${first + i}`);
    await db.query(
      `INSERT INTO customers (id, name, phone, updated_at) SELECT 'bc-' || i, 'Bench', '+1' || (2000000000 + i)::text, now() FROM generate_series($1::int, $2::int) i`,
      [first, customers],
    );
  } else {
    progress(`open: creating ${K} customers (PUT /v1/customers/:id, 64 at a time)`);
    ids = await newCustomers(K, 64, (done) => progress(`open: ${done}/${K} customers (${Math.round((done / (performance.now() - c0)) * 1000)}/s)`));
  }
  const customersSeconds = (performance.now() - c0) / 1000;
  progress(`open: ${K} customers in ${round(customersSeconds)} s (${Math.round(K / customersSeconds)}/s); enrolling them into bench-idle`);
  // The journeys' cost is counted from here: the customers exist before a bank enrols them.
  const [db0, tables0] = [await dbBytes(), await tableBytes()];
  let last = { at: performance.now(), started: 0 };
  const o0 = performance.now();
  // Progress from the journey rows (the API's start writes each one): the enrolment's own counts move a batch at a time.
  const e = await enrol('bench-idle', ids, async (id) => {
    // A stack part gone (the dev server has crashed under load) would leave the enrolment waiting for ever.
    if (temporal.pid !== undefined && rssMiB(temporal.pid) === null) throw new Error('the Temporal server has exited');
    const now = performance.now();
    const started = Number((await db.query<{ n: string }>('SELECT count(*)::text AS n FROM journeys WHERE enrolment_id = $1', [id])).rows[0]!.n);
    progress(`open: ${started}/${K} started (${Math.round(((started - last.started) / (now - last.at)) * 1000)}/s now, ${Math.round((started / (now - o0)) * 1000)}/s overall)`);
    last = { at: now, started };
  });
  const acceptedSeconds = (performance.now() - o0) / 1000;
  // A random sample gets one event each while K are open; the first 50 of it also tell the history before and after.
  const sample = shuffled(ids).slice(0, Math.min(o.sample, K));
  const sampleWorkflows = (
    await db.query<{ workflow_id: string; customer_id: string }>('SELECT workflow_id, customer_id FROM journeys WHERE enrolment_id = $1 AND customer_id = ANY($2::text[])', [
      e.id,
      sample,
    ])
  ).rows;
  const historySample = sampleWorkflows.filter((r) => sample.indexOf(r.customer_id) < 50).map((r) => r.workflow_id);
  progress(`open: ${e.started} started in ${round(acceptedSeconds)} s; waiting until the worker has initialised them`);
  await drained(
    SERVICE_QUEUE,
    sampleWorkflows.map((r) => r.workflow_id),
    (backlog) => progress(`open: ${backlog} journeys' first tasks waiting`),
  );
  const openSeconds = (performance.now() - o0) / 1000;
  const [db1, tables1] = [await dbBytes(), await tableBytes()];
  const opened = { ...rss(), postgresBytes: db1 };

  const before = await historyBytes(historySample);
  sms.clear();
  const [cpuA, dbA] = [cpu(), await dbBytes()];
  const events = await eventsRound(sample, 8, 'open', new Map(sampleWorkflows.map((r) => [r.customer_id, r.workflow_id])));
  const [cpuB, dbB] = [cpu(), await dbBytes()];
  const after = await historyBytes(historySample);
  progress(`open: event→send to ${sample.length} of ${K} open journeys p50 ${events.eventToSend.p50} p95 ${events.eventToSend.p95} p99 ${events.eventToSend.p99} ms`);

  // The console's analytics over the K journeys.
  const analytics: OpenResult['analytics'] = [];
  for (const route of ['funnel', 'time-in-stage', 'breakpoints', 'feedback', 'messages', 'lift', 'map']) {
    const times: number[] = [];
    for (let i = 0; i < o.analyticsRequests + 2; i++) {
      const t = performance.now();
      await get(`/v1/analytics/journeys/bench-idle/${route}`, REVIEWER_KEY);
      if (i >= 2) times.push(performance.now() - t); // two warm-ups: plans cached, pages in memory
    }
    const s = summary(times, 1);
    analytics.push({ route, p50: s.p50, p95: s.p95 });
    progress(`open: analytics ${route} p50 ${s.p50} p95 ${s.p95} ms`);
  }
  const tables2 = await tableBytes();
  const opensPerSec = e.started / openSeconds;
  const result: OpenResult = {
    journeys: K,
    started: e.started,
    customersVia: viaSql ? 'sql' : 'api',
    customersPerSec: Math.round(K / customersSeconds),
    acceptedSeconds: round(acceptedSeconds),
    acceptedPerSec: round(e.started / acceptedSeconds),
    openSeconds: round(openSeconds),
    opensPerSec: round(opensPerSec),
    ceilingStarts,
    opensVsCeiling: ratio(opensPerSec, ceilingStarts),
    opened,
    afterEvents: rss(),
    postgres: {
      bytesBefore: db0,
      bytesOpened: db1,
      bytesPerOpenJourney: Math.round((db1 - db0) / K),
      bytesPerEvent: Math.round((dbB - dbA) / sample.length),
      tables: Object.fromEntries(TABLES.map((t) => [t, { before: tables0[t]!, opened: tables1[t]!, afterEvents: tables2[t]! }])),
    },
    history: {
      journeys: before.length,
      bytesPerOpenJourney: median(before),
      bytesPerEvent: median(after.map((a, i) => a - before[i]!)),
    },
    eventToSend: events.eventToSend,
    slowest: events.slowest,
    sampleCpuSeconds: { worker: round(cpuB.worker - cpuA.worker, 2), api: round(cpuB.api - cpuA.api, 2), temporal: round(cpuB.temporal - cpuA.temporal, 2) },
    analytics,
  };
  results.open = result;
  progress(
    `open ${K}: worker RSS ${result.opened.workerMiB} MiB, API RSS ${result.opened.apiMiB} MiB, Temporal RSS ${result.opened.temporalMiB} MiB, Postgres ${Math.round(db1 / 2 ** 20)} MiB (${result.postgres.bytesPerOpenJourney} B per journey), history ${result.history.bytesPerOpenJourney} B per journey`,
  );
}

// ---- the engine, the planning figures, the report -----------------------------------------------------------------

results.engine = loanYear();
progress(`engine: a 365-day loan journey with ${results.engine.events} events simulates in ${results.engine.msPerJourney} ms`);
{
  // A journey-year: a bank-loan-like journey open for a year that takes the engine scenario's events (404), each one
  // causing a send as the bench's events do. Bytes = bytes of the journey opened + events × bytes per event.
  const E = results.engine.events;
  const eventsHistory = median(results.runs.map((r) => r.serviceEvents.history.bytesPerEvent));
  const eventsPostgres = median(results.runs.map((r) => r.serviceEvents.postgresBytesPerEvent));
  const open = results.open;
  const historyOpen = open?.history.bytesPerOpenJourney ?? median(results.runs.map((r) => r.serviceEvents.history.bytesBefore));
  const historyPerEvent = open?.history.bytesPerEvent ?? eventsHistory;
  const postgresOpen = open?.postgres.bytesPerOpenJourney ?? NaN;
  results.planning = {
    eventsPerWorkerCoreSecond: results.spread.eventsPerWorkerCoreSecond,
    eventsPerApiCoreSecond: median(results.runs.map((r) => r.serviceEvents.eventsPerCoreSecond.api)),
    eventsPerTemporalCoreSecond: median(results.runs.map((r) => r.serviceEvents.eventsPerCoreSecond.temporal)),
    historyBytesPerOpenJourney: historyOpen,
    historyBytesPerEvent: historyPerEvent,
    historyBytesPerEventEventsScenario: eventsHistory,
    postgresBytesPerOpenJourney: postgresOpen,
    postgresBytesPerEvent: eventsPostgres,
    journeyYear: {
      events: E,
      historyBytes: Math.round(historyOpen + E * historyPerEvent),
      postgresBytes: Math.round(postgresOpen + E * eventsPostgres),
      formula: `bytes per journey-year = bytes of an opened journey + ${E} events × bytes per event (history: the open section's sample; Postgres: database growth per open journey, and per event over the events scenario's rounds)`,
    },
  };
}
results.wallSeconds = round((performance.now() - wallStart) / 1000);

const dir = path.join(root, 'bench/results');
mkdirSync(dir, { recursive: true });
const fileStamp = new Date().toISOString().replace(/[:.]/g, '-');
const md = markdown(results);
writeFileSync(path.join(dir, `${fileStamp}-${o.label}.json`), JSON.stringify(results, null, 2));
writeFileSync(path.join(dir, `${fileStamp}-${o.label}.md`), md);
writeFileSync(path.join(dir, 'latest.json'), JSON.stringify(results, null, 2));
writeFileSync(path.join(dir, 'latest.md'), md);
process.stdout.write(md);
await db.end();
stopChildren();
await Promise.all([smtp.close(), sms.close(), connection.close()]);
await temporal.stop();
if (temporalDir) rmSync(temporalDir, { recursive: true, force: true });
if (!process.env.DATABASE_URL) {
  const admin = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres' });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${BENCH_DB} WITH (FORCE)`);
  await admin.end();
}
process.exit(0);
