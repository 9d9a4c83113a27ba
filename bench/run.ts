// `npm run bench`: the service measured against raw Temporal on the same server, in one run, and how the cost grows
// with open journeys. Not part of `npm test`. Writes bench/results/<stamp>.json and .md (and latest.*).
//
//   npm run bench                      # everything, idle scale at 1 000 and 10 000 journeys
//   npm run bench -- --idle 1000,10000,100000 --n 400 --profile
//   npm run bench -- --enrol 10000     # also: a bulk enrolment of 10 000 customers (POST /v1/enrolments), starts/s
//
// Uses TEMPORAL_ADDRESS and DATABASE_URL when given; otherwise starts a Temporal dev server (in memory) and uses the
// local Postgres (TEST_DATABASE_URL's server) with a database of its own.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import pg from 'pg';
import { resolveParams } from '../engine/definition.js';
import { newPayloadKey } from '../service/payload-codec.js';
import { simulate } from '../engine/simulate.js';
import { loadBuiltIn } from '../journeys/index.js';
import { createLogger } from '../config/logger.js';
import { startTemporalDevServer } from '../dev/temporal-dev-server.js';
import { startSmtpCatcher } from '../dev/smtp-catcher.js';
import { startTwilioSink } from '../dev/twilio-sink.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] && !args[i + 1]!.startsWith('--') ? args[i + 1]! : dflt;
};
const N = Number(opt('n', '300'));
const LEVELS = opt('levels', '1,8,32,64').split(',').map(Number);
const IDLE = opt('idle', '1000,10000')
  .split(',')
  .map(Number)
  .filter((k) => k > 0);
const PROFILE = args.includes('--profile');
/** Customers of the bulk enrolment scenario (0: not run). */
const ENROL = Number(opt('enrol', '0'));
const LABEL = opt('label', 'run');

const progress = (msg: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const results: Record<string, unknown> = {
  label: LABEL,
  at: new Date().toISOString(),
  machine: { cpus: cpus().length, cpu: cpus()[0]?.model, memGiB: Math.round(totalmem() / 2 ** 30), node: process.version },
};
const children: ChildProcess[] = [];
const stopAll = () => children.forEach((c) => c.exitCode === null && c.kill('SIGTERM'));
process.on('exit', stopAll);

// ---- helpers ---------------------------------------------------------------------------------------------------

function pct(sorted: number[], p: number) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
function summary(latencies: number[], ms: number) {
  const s = [...latencies].sort((a, b) => a - b);
  const r = (x: number) => Math.round(x * 10) / 10;
  return { n: s.length, perSec: r((s.length / ms) * 1000), p50: r(pct(s, 50)), p95: r(pct(s, 95)), p99: r(pct(s, 99)) };
}
/** Runs `total` calls with `concurrency` in flight; returns their latencies (ms) and the wall time. */
async function load(total: number, concurrency: number, call: (i: number) => Promise<void>) {
  const latencies: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, total) }, async () => {
      for (let i = next++; i < total; i = next++) {
        const s = performance.now();
        await call(i);
        latencies.push(performance.now() - s);
      }
    }),
  );
  return { latencies, ms: performance.now() - t0 };
}
/** Increasing concurrency until throughput stops rising (less than 5 % better than the best so far). */
async function sweep(name: string, run: (concurrency: number) => Promise<ReturnType<typeof summary>>) {
  const rows: (ReturnType<typeof summary> & { concurrency: number })[] = [];
  for (const c of LEVELS) {
    const r = { concurrency: c, ...(await run(c)) };
    rows.push(r);
    progress(`${name} c=${c}: ${r.perSec}/s p50 ${r.p50} p95 ${r.p95} p99 ${r.p99} ms`);
    const best = Math.max(...rows.slice(0, -1).map((x) => x.perSec));
    if (rows.length > 1 && r.perSec < best * 1.05) break;
  }
  return { rows, max: Math.max(...rows.map((r) => r.perSec)) };
}
function rssMiB(pid: number | undefined): number | null {
  if (!pid) return null;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : null;
  } catch {
    return null;
  }
}
function child(cmd: string, argv: string[], env: Record<string, string>, ready: RegExp): Promise<{ proc: ChildProcess; line: string }> {
  const proc = spawn(cmd, argv, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(proc);
  return new Promise((resolve, reject) => {
    let buf = '';
    proc.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const line = buf.split('\n').find((l) => ready.test(l));
      if (line) resolve({ proc, line });
    });
    proc.once('exit', (code) => reject(new Error(`${argv.join(' ')} exited with ${code} before it was ready`)));
  });
}
const tsx = (file: string, env: Record<string, string>, ready: RegExp, extra: string[] = []) => child(process.execPath, [...extra, '--import', 'tsx', file], env, ready);

// ---- the stack -------------------------------------------------------------------------------------------------

/** The Temporal server the bench measures against: TEMPORAL_ADDRESS, or a dev server in memory started as `npm start`
 * and the tests start one (dev/temporal-dev-server.ts), stopped when the bench ends. */
async function temporalServer(): Promise<{ address: string; pid?: number; stop(): Promise<void> }> {
  if (process.env.TEMPORAL_ADDRESS) return { address: process.env.TEMPORAL_ADDRESS, stop: async () => undefined };
  return startTemporalDevServer({
    projectRoot: root,
    host: '127.0.0.1',
    port: 17233 + Math.floor(Math.random() * 1000),
    logLevel: 'error',
    logger: createLogger({ logLevel: 'warn' }, 'bench-temporal'),
  });
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

// ---- main ------------------------------------------------------------------------------------------------------

const temporal = await temporalServer();
const databaseUrl = await database();
const smtp = await startSmtpCatcher();
const sms = await startTwilioSink();
const connection = await Connection.connect({ address: temporal.address });
const client = new Client({ connection });
progress(`Temporal ${temporal.address}, Postgres ${new URL(databaseUrl).pathname.slice(1)}`);

// 1. Ceiling: bare client and minimal worker on the same server.
{
  const taskQueue = 'bench-raw';
  await tsx('bench/raw-worker.ts', { TEMPORAL_ADDRESS: temporal.address, TEMPORAL_TASK_QUEUE: taskQueue }, /^READY/);
  const run = Date.now();
  const starts = await sweep('ceiling starts', async (c) => {
    const r = await load(N, c, async (i) => void (await client.workflow.start('rawWorkflow', { taskQueue, workflowId: `raw-${run}-${c}-${i}`, args: [false] })));
    return summary(r.latencies, r.ms);
  });
  const signalWithStart = await sweep('ceiling signalWithStart', async (c) => {
    const r = await load(
      N,
      c,
      async (i) => void (await client.workflow.signalWithStart('rawWorkflow', { taskQueue, workflowId: `raws-${run}-${c}-${i}`, args: [true], signal: 'poke' })),
    );
    return summary(r.latencies, r.ms);
  });
  results.ceiling = { starts, signalWithStart };
}

// The service, in a child process (API + worker), with no quiet hours or caps in the way, encrypting its payloads as
// production does. (The ceiling above is the bare SDK: no codec.)
const BENCH_KEY = `bench-${randomBytes(24).toString('base64url')}`;
const benchHeaders = { 'content-type': 'application/json', authorization: `Bearer ${BENCH_KEY}` };
// Four-eyes: the bench's drafts are published by a second principal.
const REVIEWER_KEY = `bench-${randomBytes(24).toString('base64url')}`;
const serviceEnv = {
  TEMPORAL_PAYLOAD_KEYS: JSON.stringify({ bench: newPayloadKey() }),
  DATABASE_URL: databaseUrl,
  TEMPORAL_ADDRESS: temporal.address,
  TEMPORAL_TASK_QUEUE: 'bench-journeys',
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
mkdirSync(path.join(root, 'bench/results/profiles'), { recursive: true });
const service = await tsx('bench/service.ts', serviceEnv, /^READY /, PROFILE ? ['--cpu-prof', '--cpu-prof-dir', path.join(root, 'bench/results/profiles')] : []);
const api = service.line.split(' ')[1]!;
const post = async (p: string, body: unknown, key = BENCH_KEY) => {
  const res = await fetch(`${api}${p}`, { method: 'POST', headers: { ...benchHeaders, authorization: `Bearer ${key}` }, body: JSON.stringify(body) });
  if (res.status >= 300) throw new Error(`${p}: ${res.status} ${await res.text()}`);
  return res.json() as Promise<any>;
};
const put = (p: string, body: unknown) => fetch(`${api}${p}`, { method: 'PUT', headers: benchHeaders, body: JSON.stringify(body) });
const definition = (key: string, steps: unknown[], onEnter: unknown[] = []) => ({
  key,
  version: 1,
  name: key,
  stages: [{ key: 'open', label: 'Open', onEnter }],
  initialStage: 'open',
  entry: { api: true, events: [], reentry: { mode: 'concurrent' } },
  triggers: steps.length ? [{ event: 'product.viewed', steps }] : [],
});
for (const d of [
  definition('bench-send', [{ type: 'send', channel: 'sms', template: 'lifecycle-consideration', class: 'service' }]),
  definition('bench-idle', [{ type: 'send', channel: 'sms', template: 'lifecycle-consideration', class: 'service' }], [{ type: 'delay', duration: 'P30D' }]),
]) {
  const draft = await post('/v1/journey-definitions', d);
  await post(`/v1/journey-definitions/${d.key}/versions/${draft.version}/publish`, {}, REVIEWER_KEY);
}
let customers = 0;
async function newCustomers(k: number, concurrency = 32): Promise<string[]> {
  const ids = Array.from({ length: k }, () => `bc-${++customers}`);
  await load(k, concurrency, async (i) => {
    const n = Number(ids[i]!.slice(3));
    await put(`/v1/customers/${ids[i]}`, { name: 'Bench', phone: `+1${String(2_000_000_000 + n)}` });
  });
  return ids;
}
const phoneOf = (id: string) => `+1${String(2_000_000_000 + Number(id.slice(3)))}`;
const db = new pg.Client({ connectionString: databaseUrl });
await db.connect();
/** Waits until the worker has initialised these journeys (their first workflow task completed: started, scheduled,
 * started, completed are in the history): a start is accepted by the API before the worker has run it, and a backlog
 * would distort what is measured next. Asked of Temporal, not of the read model, which the API writes at start. */
async function initialised(workflowIds: string[]) {
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
    left = still;
    if (left.length) await new Promise((res) => setTimeout(res, 250));
  }
}
const startJourney = async (journeyKey: string, customerId: string, businessKey: string): Promise<string> =>
  ((await post('/v1/journeys', { journeyKey, customerId, businessKey })) as { workflowId: string }).workflowId;

// 2. Service starts.
{
  const starts = await sweep('service starts', async (c) => {
    const ids = await newCustomers(N);
    const started: string[] = [];
    const r = await load(N, c, async (i) => void started.push(await startJourney('bench-send', ids[i]!, 's')));
    await initialised(started);
    return summary(r.latencies, r.ms);
  });
  results.serviceStarts = starts;
}

// 2b. Bulk enrolment: N customers through POST /v1/enrolments (pages of 10 000, then start), at the highest rate the
// API takes; starts per second from the start request to the enrolment's completion, next to the bare-start ceiling.
if (ENROL > 0) {
  const ids = await newCustomers(ENROL);
  const t0 = Date.now();
  const first = await post('/v1/enrolments', { journeyKey: 'bench-send', customers: ids.slice(0, 10_000), ratePerSecond: 2_000, start: false });
  for (let i = 10_000; i < ids.length; i += 10_000) await post(`/v1/enrolments/${first.id}/customers`, { customers: ids.slice(i, i + 10_000) });
  const pagesMs = Date.now() - t0;
  const started = Date.now();
  await post(`/v1/enrolments/${first.id}/start`, {});
  let done: any;
  for (;;) {
    done = await (await fetch(`${api}/v1/enrolments/${first.id}`, { headers: benchHeaders })).json();
    if (done.status === 'completed') break;
    await new Promise((r) => setTimeout(r, 250));
  }
  const ms = Date.now() - started;
  const ceiling = (results.ceiling as { starts: { max: number } }).starts.max;
  const perSec = Math.round((done.started / ms) * 1000 * 10) / 10;
  results.enrolment = {
    customers: ENROL,
    pagesMs,
    ms,
    started: done.started,
    skipped: done.skipped,
    failed: done.failed,
    perSec,
    ceiling,
    vsCeiling: Math.round((perSec / ceiling) * 1000) / 1000,
  };
  progress(`enrolment: ${done.started} started in ${ms} ms (${perSec}/s; bare starts ${ceiling}/s); pages took ${pagesMs} ms`);
}

// 3. Service events that each cause one send: REST latency and event→send latency.
async function eventsRound(ids: string[], c: number, tag: string) {
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
  return { rest: summary(r.latencies, r.ms), eventToSend: summary(e2s, r.ms) };
}
{
  const rows: { concurrency: number; rest: ReturnType<typeof summary>; eventToSend: ReturnType<typeof summary> }[] = [];
  for (const c of LEVELS) {
    const ids = await newCustomers(N);
    const started: string[] = [];
    await load(N, 32, async (i) => void started.push(await startJourney('bench-send', ids[i]!, 'e')));
    await initialised(started);
    sms.clear();
    const r = await eventsRound(ids, c, `ev${c}`);
    rows.push({ concurrency: c, ...r });
    progress(`service events c=${c}: ${r.rest.perSec}/s REST p99 ${r.rest.p99} ms, event→send p50 ${r.eventToSend.p50} p99 ${r.eventToSend.p99} ms`);
    const best = Math.max(...rows.slice(0, -1).map((x) => x.rest.perSec));
    if (rows.length > 1 && r.rest.perSec < best * 1.05) break;
  }
  const max = Math.max(...rows.map((r) => r.rest.perSec));
  // event→send at half the maximum rate: the level closest to it
  const half = rows.reduce((a, b) => (Math.abs(b.rest.perSec - max / 2) < Math.abs(a.rest.perSec - max / 2) ? b : a));
  results.serviceEvents = { rows, max, atHalfMax: { concurrency: half.concurrency, perSec: half.rest.perSec, eventToSend: half.eventToSend } };
}

// 4. Ratios, from this run.
{
  const c = results.ceiling as { starts: { max: number }; signalWithStart: { max: number } };
  const s = results.serviceStarts as { max: number };
  const e = results.serviceEvents as { max: number };
  results.ratios = {
    startsVsRawStarts: Math.round((s.max / c.starts.max) * 1000) / 1000,
    eventsVsRawSignalWithStart: Math.round((e.max / c.signalWithStart.max) * 1000) / 1000,
  };
  progress(`ratios: starts ${(results.ratios as any).startsVsRawStarts}, events ${(results.ratios as any).eventsVsRawSignalWithStart}`);
}
if (PROFILE) {
  service.proc.kill('SIGTERM');
  await new Promise((r) => service.proc.once('exit', r));
  progress('CPU profile of the service written to bench/results/profiles/');
  results.profile = 'bench/results/profiles/*.cpuprofile (service: API and worker, events scenario)';
}

// 5. Idle scale: K journeys waiting on a 30-day timer; then one event to a sample and its event→send latency.
if (!PROFILE) {
  const idle: unknown[] = [];
  let open = 0;
  for (const k of IDLE) {
    const more = k - open;
    const ids = await newCustomers(more, 64);
    const t0 = performance.now();
    const started: string[] = [];
    await load(more, 64, async (i) => {
      started.push(await startJourney('bench-idle', ids[i]!, 'idle'));
      if (started.length % 1000 === 0) progress(`idle: ${open + started.length}/${k} open`);
    });
    const acceptMs = performance.now() - t0;
    await initialised(started);
    const openMs = performance.now() - t0;
    open = k;
    const sample = ids.sort(() => Math.random() - 0.5).slice(0, 50);
    sms.clear();
    const r = await eventsRound(sample, 8, `idle${k}`);
    const size = await db.query<{ s: string }>('SELECT pg_database_size(current_database())::text AS s');
    const row = {
      openJourneys: k,
      acceptSeconds: Math.round(acceptMs / 100) / 10,
      openSeconds: Math.round(openMs / 100) / 10,
      opensPerSec: Math.round((more / openMs) * 1000), // to initialised
      serviceRssMiB: rssMiB(service.proc.pid),
      temporalRssMiB: rssMiB(temporal.pid),
      postgresMiB: Math.round(Number(size.rows[0]!.s) / 2 ** 20),
      eventToSend: r.eventToSend,
    };
    idle.push(row);
    progress(
      `idle ${k}: opened in ${row.openSeconds}s, service RSS ${row.serviceRssMiB} MiB, Temporal RSS ${row.temporalRssMiB} MiB, Postgres ${row.postgresMiB} MiB, event→send p99 ${r.eventToSend.p99} ms`,
    );
  }
  results.idle = idle;
}

// 6. The engine alone: a 365-day loan journey with several hundred events.
{
  const loan = loadBuiltIn('bank-loan');
  const params = resolveParams(loan);
  const start = Date.parse('2026-01-01T00:00:00Z');
  const day = 86_400_000;
  const inputs: { at: number; type: string; data: Record<string, unknown> }[] = [
    { at: start + day, type: 'loan.stage_changed', data: { stage: 'comparison' } },
    { at: start + 3 * day, type: 'loan.application_started', data: {} },
    { at: start + 4 * day, type: 'loan.approved', data: { limit: 50000, expiresAt: new Date(start + 360 * day).toISOString() } },
    { at: start + 5 * day, type: 'loan.drawdown', data: { amount: 1000 } },
  ];
  for (let i = 0; i < 400; i++) {
    const at = start + 6 * day + i * 20 * 3_600_000;
    inputs.push(
      i % 4 === 0
        ? { at, type: 'loan.repayment_due', data: { dueAt: new Date(at + 10 * day).toISOString() } }
        : {
            at,
            type: i % 4 === 1 ? 'loan.repaid' : 'loan.stage_changed',
            data: (i % 4 === 1 ? { dueAt: new Date(at - 20 * 3_600_000 + 10 * day).toISOString() } : { stage: 'repayment' }) as Record<string, unknown>,
          },
    );
  }
  const script = inputs.map((e, i) => ({
    at: new Date(e.at).toISOString(),
    input: { type: 'event' as const, event: { eventId: `x${i}`, type: e.type, occurredAt: new Date(e.at).toISOString(), data: e.data } },
  }));
  const runs = 50;
  const t0 = performance.now();
  let commands = 0;
  for (let i = 0; i < runs; i++)
    commands = simulate(loan, { customerId: `c${i}`, params, start: new Date(start).toISOString(), until: new Date(start + 365 * day).toISOString(), inputs: script }).timeline
      .length;
  const per = (performance.now() - t0) / runs;
  results.engine = { events: script.length, days: 365, commandsPerJourney: commands, msPerJourney: Math.round(per * 100) / 100 };
  progress(`engine: a 365-day loan journey with ${script.length} events simulates in ${results.engine && (results.engine as any).msPerJourney} ms`);
}

// ---- write -----------------------------------------------------------------------------------------------------
const dir = path.join(root, 'bench/results');
mkdirSync(dir, { recursive: true });
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
writeFileSync(path.join(dir, `${stamp}-${LABEL}.json`), JSON.stringify(results, null, 2));
writeFileSync(path.join(dir, 'latest.json'), JSON.stringify(results, null, 2));
writeFileSync(path.join(dir, 'latest.md'), markdown(results));
process.stdout.write(markdown(results));
await db.end();
stopAll();
await Promise.all([smtp.close(), sms.close(), connection.close()]);
await temporal.stop();
if (!process.env.DATABASE_URL) {
  const admin = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres' });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${BENCH_DB} WITH (FORCE)`);
  await admin.end();
}
process.exit(0);

function markdown(r: any): string {
  const table = (rows: any[], cols: [string, (x: any) => unknown][]) =>
    `| ${cols.map((c) => c[0]).join(' | ')} |\n| ${cols.map(() => '---').join(' | ')} |\n` + rows.map((x) => `| ${cols.map((c) => c[1](x)).join(' | ')} |`).join('\n') + '\n';
  const lat = (x: any) => `${x.p50} / ${x.p95} / ${x.p99}`;
  let out = `# Bench ${r.label} — ${r.at}\n\n${r.machine.cpus} × ${r.machine.cpu}, ${r.machine.memGiB} GiB, Node ${r.machine.node}\n\n`;
  out += `## 1. Ceiling (bare Temporal)\n\nStarts\n\n${table(r.ceiling.starts.rows, [
    ['concurrency', (x) => x.concurrency],
    ['/s', (x) => x.perSec],
    ['p50 / p95 / p99 ms', lat],
  ])}\nsignalWithStart\n\n${table(r.ceiling.signalWithStart.rows, [
    ['concurrency', (x) => x.concurrency],
    ['/s', (x) => x.perSec],
    ['p50 / p95 / p99 ms', lat],
  ])}\n`;
  out += `## 2. Service starts (POST /v1/journeys)\n\n${table(r.serviceStarts.rows, [
    ['concurrency', (x) => x.concurrency],
    ['/s', (x) => x.perSec],
    ['p50 / p95 / p99 ms', lat],
  ])}\n`;
  if (r.enrolment)
    out += `## 2b. Bulk enrolment (POST /v1/enrolments)\n\n${r.enrolment.started} of ${r.enrolment.customers} customers started in ${r.enrolment.ms} ms: **${r.enrolment.perSec}/s** (rate asked 2 000/s; bare starts in this run: ${r.enrolment.ceiling}/s, ratio ${r.enrolment.vsCeiling}); the pages of ids took ${r.enrolment.pagesMs} ms.\n\n`;
  out += `## 3. Service events (POST /v1/customers/:id/events → one SMS)\n\n${table(r.serviceEvents.rows, [
    ['concurrency', (x) => x.concurrency],
    ['/s', (x) => x.rest.perSec],
    ['REST p50 / p95 / p99 ms', (x) => lat(x.rest)],
    ['event→send p50 / p95 / p99 ms', (x) => lat(x.eventToSend)],
  ])}\n`;
  out += `At half the maximum rate (c=${r.serviceEvents.atHalfMax.concurrency}, ${r.serviceEvents.atHalfMax.perSec}/s): event→send p99 ${r.serviceEvents.atHalfMax.eventToSend.p99} ms.\n\n`;
  out += `## 4. Ratios\n\n- service starts / raw starts: **${r.ratios.startsVsRawStarts}**\n- service events / raw signalWithStart: **${r.ratios.eventsVsRawSignalWithStart}**\n\n`;
  if (r.idle)
    out += `## 5. Idle scale\n\n${table(r.idle, [
      ['open journeys', (x) => x.openJourneys],
      ['accepted in s', (x) => x.acceptSeconds],
      ['initialised in s', (x) => x.openSeconds],
      ['opens/s', (x) => x.opensPerSec],
      ['service RSS MiB', (x) => x.serviceRssMiB],
      ['Temporal RSS MiB', (x) => x.temporalRssMiB],
      ['Postgres MiB', (x) => x.postgresMiB],
      ['event→send p50 / p95 / p99 ms', (x) => lat(x.eventToSend)],
    ])}\n`;
  out += `## 6. Engine\n\nA ${r.engine.days}-day loan journey with ${r.engine.events} events (${r.engine.commandsPerJourney} commands): **${r.engine.msPerJourney} ms** per journey.\n`;
  return out;
}
