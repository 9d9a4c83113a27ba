// `npm run bench:analytics`: the console's analytics queries over a large read model. Not part of `npm test`.
//
//   npm run bench:analytics                          # 100 000 bank-loan journeys
//   npm run bench:analytics -- --journeys 20000 --runs 10
//
// Fills a database of its own (`journeys_bench_analytics` on TEST_DATABASE_URL's server, or BENCH_ANALYTICS_DATABASE_URL)
// with a synthetic read model — customers, journeys across bank-loan's stages (10 % control), their stage transitions,
// goals, A/B assignments, feedback answers, messages and their stories — made in SQL with generate_series (about
// 1 million rows at 100 000 journeys), then starts the API (`api/main.ts`, as a deployment runs it; no Temporal is
// needed for analytics) and times every analytics route, unfiltered and filtered, from outside over HTTP. Writes
// bench/results/analytics-<stamp>.json and prints a table for BENCHMARKS.md.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { migrate } from '../db/migrate.js';
import { createLogger } from '../config/logger.js';
import { loadBuiltIn } from '../journeys/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] && !args[i + 1]!.startsWith('--') ? args[i + 1]! : dflt;
};
const JOURNEYS = Number(opt('journeys', '100000'));
const RUNS = Number(opt('runs', '20'));
const KEY = 'bench-analytics-ops-key-0123456789abcdef';
const progress = (msg: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

const serverUrl = process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const databaseUrl =
  process.env.BENCH_ANALYTICS_DATABASE_URL ??
  (() => {
    const u = new URL(serverUrl);
    u.pathname = '/journeys_bench_analytics';
    return u.toString();
  })();

/** The synthetic read model, in SQL: every figure depends on the row's number only, so a run is reproducible. */
async function seed(n: number): Promise<void> {
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  const name = new URL(databaseUrl).pathname.slice(1);
  await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  await migrate(databaseUrl, createLogger({ logLevel: 'warn' }, 'bench'));
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  const t0 = Date.now();
  const loan = JSON.stringify(loadBuiltIn('bank-loan'));
  const steps = [
    // The definitions the journeys run, stored first: the database keeps each stage visit's place in its journey's
    // definition as the visit is written.
    `INSERT INTO journey_definitions (key, version, status, document, published_at)
       SELECT 'bank-loan', v, 'published', jsonb_set('${loan.replaceAll("'", "''")}'::jsonb, '{version}', to_jsonb(v)), now() FROM generate_series(1, 2) v`,
    // Customers: three segments, 50 RMs.
    `INSERT INTO customers (id, segment, rm_id, locale, updated_at)
       SELECT 'c' || i, (ARRAY['young','retail','hnw'])[1 + i % 3], 'rm-' || (i % 50), 'zh-CN', now() FROM generate_series(1, ${n}) i`,
    // Journeys: depth = how far along bank-loan's six stages (geometric-ish), started over the last 180 days.
    `INSERT INTO journeys (workflow_id, customer_id, journey_key, version, status, exit_reason, stage, stage_entered_at, started_at, ended_at, updated_at, cohort, goals, tags, waiting)
       SELECT 'journey:bank-loan:c' || i, 'c' || i, 'bank-loan', 1 + (i % 5 = 0)::int,
              CASE WHEN d = 6 THEN 'completed' WHEN i % 11 = 0 THEN 'exited' ELSE 'running' END,
              CASE WHEN i % 11 = 0 AND d < 6 THEN (ARRAY['rejected','opted_out'])[1 + i % 2] END,
              (ARRAY['awareness','interest','comparison','first_loan','repayment','renewal'])[d],
              s + (d * interval '5 days'), s, CASE WHEN d = 6 OR i % 11 = 0 THEN s + (d * interval '6 days') END, now(),
              CASE WHEN i % 10 = 0 THEN 'control' ELSE 'treated' END,
              CASE WHEN d >= 4 THEN CASE WHEN d = 6 THEN ARRAY['approved','renewed'] ELSE ARRAY['approved'] END ELSE ARRAY[]::text[] END,
              ARRAY['lending'],
              CASE WHEN d = 3 THEN ARRAY['stages.comparison.onEnter.1'] ELSE ARRAY[]::text[] END
         FROM (SELECT i, 1 + least(5, floor(-ln(1 - ((i * 7919) % 1000 + 0.5) / 1000.0) * 1.6))::int AS d,
                      now() - ((i % 180) * interval '1 day') - ((i % 1440) * interval '1 minute') AS s
                 FROM generate_series(1, ${n}) i) g`,
    // One transition per stage reached, each stage lasting a few hours to a few weeks.
    `INSERT INTO stage_transitions (workflow_id, seq, from_stage, to_stage, cause, entered_at)
       SELECT j.workflow_id, k, CASE WHEN k > 1 THEN (ARRAY['awareness','interest','comparison','first_loan','repayment','renewal'])[k - 1] END,
              (ARRAY['awareness','interest','comparison','first_loan','repayment','renewal'])[k], 'event:loan.stage_changed',
              j.started_at + ((k - 1) * interval '5 days') + (((hashtext(j.workflow_id) & 1023) % (k * 97)) * interval '1 hour')
         FROM journeys j, generate_series(1, 6) k
        WHERE k <= array_position(ARRAY['awareness','interest','comparison','first_loan','repayment','renewal'], j.stage)`,
    // Goals, A/B assignments (half the journeys), feedback answers (a fifth: NPS 0–10).
    `INSERT INTO journey_log (idempotency_key, workflow_id, customer_id, journey_key, kind, data, at)
       SELECT j.workflow_id || '/goal/' || g, j.workflow_id, j.customer_id, 'bank-loan', 'goal', jsonb_build_object('goal', g), j.stage_entered_at
         FROM journeys j, unnest(j.goals) g`,
    `INSERT INTO journey_log (idempotency_key, workflow_id, customer_id, journey_key, kind, data, at)
       SELECT j.workflow_id || '/split', j.workflow_id, j.customer_id, 'bank-loan', 'split',
              jsonb_build_object('split', 'intro-copy', 'variant', (ARRAY['a','b'])[1 + (hashtext(j.workflow_id) & 1)]), j.started_at
         FROM journeys j WHERE hashtext(j.workflow_id) % 2 = 0`,
    `INSERT INTO journey_log (idempotency_key, workflow_id, customer_id, journey_key, kind, data, at)
       SELECT j.workflow_id || '/feedback', j.workflow_id, j.customer_id, 'bank-loan', 'feedback',
              jsonb_build_object('survey', 'nps', 'score', abs(hashtext(j.workflow_id)) % 11), j.stage_entered_at
         FROM journeys j WHERE abs(hashtext(j.workflow_id)) % 5 = 0`,
    // Two messages per journey with every outcome, and their stories.
    `INSERT INTO messages (id, idempotency_key, workflow_id, customer_id, channel, template, status, status_reason, created_at, updated_at)
       SELECT gen_random_uuid()::text, j.workflow_id || '/m' || m, j.workflow_id, j.customer_id,
              CASE WHEN m = 1 THEN 'email' ELSE 'sms' END, CASE WHEN m = 1 THEN 'loan-product-intro' ELSE 'loan-comparison-nudge' END,
              (ARRAY['delivered','delivered','delivered','sent','failed','suppressed','deferred','dropped'])[1 + abs(hashtext(j.workflow_id || m)) % 8],
              CASE abs(hashtext(j.workflow_id || m)) % 8 WHEN 5 THEN 'no_consent' WHEN 6 THEN 'quiet_hours' WHEN 7 THEN 'frequency_cap' WHEN 4 THEN 'rejected_by_provider' END,
              j.started_at, now()
         FROM journeys j, generate_series(1, 2) m`,
    `INSERT INTO message_events (message_id, at, type, detail)
       SELECT id, created_at, 'created', '{}'::jsonb FROM messages
       UNION ALL SELECT id, created_at + interval '1 second', status, jsonb_build_object('reason', status_reason) FROM messages`,
    'ANALYZE',
  ];
  for (const sql of steps) await db.query(sql);
  const { rows } = await db.query<{ size: string }>('SELECT pg_size_pretty(pg_database_size(current_database())) AS size');
  progress(`seeded ${n} journeys in ${((Date.now() - t0) / 1000).toFixed(1)} s (database ${rows[0]!.size})`);
  await db.end();
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

async function startApi(): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'api/main.ts'], {
    cwd: root,
    env: {
      ...process.env,
      NODE_ENV: 'development',
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: databaseUrl,
      API_KEYS: JSON.stringify([{ key: KEY, role: 'ops', name: 'bench' }]),
      TEMPORAL_ADDRESS: '127.0.0.1:1', // analytics read Postgres only; the lazy client never connects
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  for (const deadline = Date.now() + 60_000; Date.now() < deadline;) {
    if (child.exitCode !== null) throw new Error(`the API exited (${child.exitCode})`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) return { url, child };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250)); // polling a child's port: it says nothing when it listens
  }
  throw new Error('the API did not start within 60 s');
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
};

async function main() {
  progress(`seeding ${JOURNEYS} journeys into ${new URL(databaseUrl).pathname.slice(1)}`);
  await seed(JOURNEYS);
  const { url, child } = await startApi();
  const routes = ['funnel', 'time-in-stage', 'breakpoints', 'feedback', 'messages', 'lift', 'map'];
  const from = new Date(Date.now() - 90 * 86_400_000).toISOString();
  const filters: Record<string, string> = { none: '', period: `?from=${from}`, 'version+segment': '?version=1&segment=hnw', variant: '?variant=b' };
  const results: { route: string; filter: string; p50: number; p95: number; max: number }[] = [];
  try {
    for (const route of routes)
      for (const [filter, query] of Object.entries(filters)) {
        const target = `${url}/v1/analytics/journeys/bank-loan/${route}${query}`;
        const times: number[] = [];
        for (let i = 0; i < RUNS + 2; i++) {
          const t = performance.now();
          const res = await fetch(target, { headers: { authorization: `Bearer ${KEY}` } });
          await res.arrayBuffer();
          if (!res.ok) throw new Error(`${target} → ${res.status}`);
          if (i >= 2) times.push(performance.now() - t); // two warm-ups: plans cached, pages in memory
        }
        const row = { route, filter, p50: Math.round(quantile(times, 0.5)), p95: Math.round(quantile(times, 0.95)), max: Math.round(Math.max(...times)) };
        results.push(row);
        progress(`${route} (${filter}): p50 ${row.p50} ms, p95 ${row.p95} ms`);
      }
  } finally {
    child.kill('SIGTERM');
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  mkdirSync(path.join(root, 'bench/results'), { recursive: true });
  writeFileSync(path.join(root, `bench/results/analytics-${stamp}.json`), JSON.stringify({ journeys: JOURNEYS, runs: RUNS, results }, null, 2));
  const table = [
    '| route | filter | p50 ms | p95 ms | max ms |',
    '| --- | --- | --- | --- | --- |',
    ...results.map((r) => `| ${r.route} | ${r.filter} | ${r.p50} | ${r.p95} | ${r.max} |`),
  ];
  process.stdout.write(`\n${JOURNEYS} journeys, ${RUNS} requests each after 2 warm-ups\n\n${table.join('\n')}\n`);
}

await main();
