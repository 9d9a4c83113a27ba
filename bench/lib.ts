// The bench's helpers: its options, load generation, latency summaries, the sweep of concurrency levels, and what it
// reads of a process (RSS, CPU seconds) from /proc.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Client } from '@temporalio/client';
import proto from '@temporalio/proto';
import { createLogger } from '../config/logger.js';
import { startTemporalDevServer } from '../dev/temporal-dev-server.js';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface Options {
  quick: boolean;
  /** Requests per concurrency level. */
  n: number;
  /** Concurrency levels; a sweep still rising at the last one goes on doubling (see `sweep`). */
  levels: number[];
  /** Repeats of the headline sections (ceiling, service starts, service events, enrolment) in the same stack. */
  runs: number;
  /** Customers of the bulk enrolment scenario, each run (0: not run). */
  enrol: number;
  /** Journeys opened by bulk enrolment and left waiting on a 30-day timer (0: not run). */
  open: number;
  /** How the open section's customers are made: `api` (PUT /v1/customers/:id), `sql` (their rows inserted), `auto` (SQL
   * above 20 000). */
  customers: 'api' | 'sql' | 'auto';
  /** Open journeys that get one event each, while K are open. */
  sample: number;
  /** Requests per analytics route, after two warm-ups. */
  analyticsRequests: number;
  profile: boolean;
  label: string;
}

export function options(args: string[]): Options {
  const opt = (name: string, dflt: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 && args[i + 1] && !args[i + 1]!.startsWith('--') ? args[i + 1]! : dflt;
  };
  if (args.includes('--idle')) throw new Error('--idle is gone: `--open K` opens K journeys by bulk enrolment (see BENCHMARKS.md)');
  const quick = args.includes('--quick');
  const o: Options = {
    quick,
    n: Number(opt('n', quick ? '60' : '300')),
    levels: opt('levels', quick ? '1,8,32' : '1,8,32,64')
      .split(',')
      .map(Number),
    runs: Number(opt('runs', quick ? '1' : '3')),
    enrol: Number(opt('enrol', quick ? '2000' : '10000')),
    open: Number(opt('open', quick ? '2000' : '100000')),
    customers: opt('customers', 'auto') as Options['customers'],
    sample: Number(opt('sample', '200')),
    analyticsRequests: Number(opt('analytics-requests', '20')),
    profile: args.includes('--profile'),
    label: opt('label', quick ? 'quick' : 'run'),
  };
  for (const [k, v] of Object.entries(o)) if (typeof v === 'number' && !(Number.isInteger(v) && v >= 0)) throw new Error(`--${k} takes a whole number, not ${String(v)}`);
  if (!['api', 'sql', 'auto'].includes(o.customers)) throw new Error('--customers takes api, sql or auto');
  if (o.runs < 1 || o.n < 1 || !o.levels.every((l) => Number.isInteger(l) && l > 0)) throw new Error('--runs and --n take at least 1; --levels a list of positive numbers');
  return o;
}

/** The bench's journeys: one stage, started through the API; `bench-send` sends an SMS on `product.viewed`, and so
 * does `bench-idle`, which first waits 30 days on entry (the open journeys). */
const benchJourney = (key: string, steps: unknown[], onEnter: unknown[] = []) => ({
  key,
  version: 1,
  name: key,
  stages: [{ key: 'open', label: 'Open', onEnter }],
  initialStage: 'open',
  entry: { api: true, events: [], reentry: { mode: 'concurrent' } },
  triggers: steps.length ? [{ event: 'product.viewed', steps }] : [],
});
const SMS = { type: 'send', channel: 'sms', template: 'lifecycle-consideration', class: 'service' };
export const BENCH_JOURNEYS = [benchJourney('bench-send', [SMS]), benchJourney('bench-idle', [SMS], [{ type: 'delay', duration: 'P30D' }])] as const;

/** A Temporal dev server of the bench's own on a random port (in memory, or its database in `dataDir`), started as
 * `npm start` and the tests start one (dev/temporal-dev-server.ts). */
export const benchTemporal = (dataDir?: string) =>
  startTemporalDevServer({
    projectRoot: root,
    host: '127.0.0.1',
    port: 17233 + Math.floor(Math.random() * 2000),
    logLevel: 'error',
    logger: createLogger({ logLevel: 'warn' }, 'bench-temporal'),
    ...(dataDir ? { dataDir } : {}),
  });

/** Workflow tasks waiting in a task queue: Temporal's approximate backlog count (its task-queue stats). */
export async function workflowBacklog(client: Client, taskQueue: string): Promise<number> {
  const { stats } = await client.workflowService.describeTaskQueue({
    namespace: 'default',
    taskQueue: { name: taskQueue },
    taskQueueType: proto.temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    reportStats: true,
  });
  return Number(stats?.approximateBacklogCount ?? 0);
}

export const progress = (msg: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;
export const ratio = (x: number, of: number) => round(x / of, 3);

export interface Latency {
  n: number;
  perSec: number;
  p50: number;
  p95: number;
  p99: number;
}

/** The p-th percentile of ascending `sorted` by nearest rank: the smallest value with at least p % of them at or below
 * it (of 200 values, p95 is the 190th and p50 the 100th, not the 191st and 101st). */
export function pct(sorted: number[], p: number) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
export function summary(latencies: number[], ms: number): Latency {
  const s = [...latencies].sort((a, b) => a - b);
  return { n: s.length, perSec: round((s.length / ms) * 1000), p50: round(pct(s, 50)), p95: round(pct(s, 95)), p99: round(pct(s, 99)) };
}
/** min / median / max of a headline figure over the runs. */
export function spread(values: number[]) {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length / 2;
  const median = s.length % 2 ? s[Math.floor(mid)]! : (s[mid - 1]! + s[mid]!) / 2;
  return { values, min: s[0]!, median: round(median, 3), max: s[s.length - 1]! };
}
export type Spread = ReturnType<typeof spread>;
export const median = (values: number[]) => spread(values).median;

/** Runs `total` calls with `concurrency` in flight; returns their latencies (ms) and the wall time. */
export async function load(total: number, concurrency: number, call: (i: number) => Promise<void>) {
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

/** Doubling stops here: beyond it the load generator, not the system, is what is measured. */
const MAX_LEVEL = 1024;

/**
 * Runs `run` at every concurrency level given, then goes on at twice the last level for as long as the last level was
 * still at least 5 % better than the best before it: a maximum is never read off a curve that was still climbing. The
 * first level that is not (under 1.05 × the best so far) ends the doubling, a noisy one included: the ceiling may then
 * be understated, which `--runs` and its spread show. No doubling past `requests` (a level never has more calls in
 * flight than it makes) or `MAX_LEVEL`.
 */
export async function sweep<T>(name: string, levels: number[], requests: number, run: (concurrency: number) => Promise<T>, rate: (r: T) => number, describe: (r: T) => string) {
  const rows: (T & { concurrency: number })[] = [];
  const queue = [...levels];
  for (let c = queue.shift(); c !== undefined; c = queue.shift()) {
    const r = { ...(await run(c)), concurrency: c };
    rows.push(r);
    progress(`${name} c=${c}: ${describe(r)}`);
    const best = Math.max(...rows.slice(0, -1).map(rate));
    if (!queue.length && rate(r) >= best * 1.05 && c < requests && c * 2 <= MAX_LEVEL) queue.push(Math.min(c * 2, requests));
  }
  return { rows, max: Math.max(...rows.map(rate)) };
}

export function rssMiB(pid: number | undefined): number | null {
  if (!pid) return null;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : null;
  } catch {
    return null;
  }
}
/** User + system CPU seconds a process (all its threads) has used so far: fields 14 and 15 of /proc/<pid>/stat, in
 * clock ticks (USER_HZ, 100 on Linux). */
export function cpuSeconds(pid: number | undefined): number | null {
  if (!pid) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // from field 3 (state) on
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

const children: ChildProcess[] = [];
export const stopChildren = () => children.forEach((c) => c.exitCode === null && c.kill('SIGTERM'));
process.on('exit', stopChildren);

/** A child process of the bench, resolved when a stdout line matches `ready`. */
export function child(cmd: string, argv: string[], env: Record<string, string>, ready: RegExp): Promise<{ proc: ChildProcess; line: string }> {
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
export const tsx = (file: string, env: Record<string, string>, ready: RegExp, extra: string[] = []) => child(process.execPath, [...extra, '--import', 'tsx', file], env, ready);

/** Stops a child and waits for its exit (a CPU profile is written then). */
export async function stop(proc: ChildProcess) {
  if (proc.exitCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  await exited;
}
