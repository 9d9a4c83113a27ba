// `npm run bench:analytics`: how long each analytics figure takes over many journeys. Not part of `npm test` (numbers
// are never asserted in a test). Fills a database of its own with `--journeys` bank-loan journeys (default 100 000) in
// bulk SQL — customers in three segments, one in ten in the control group, stage transitions, splits, survey answers,
// messages with their stories — then asks each figure `--runs` times (default 5) and writes the timings to
// bench/results/analytics-<stamp>.json and .md.
//
//   npm run bench:analytics -- --journeys 100000 --runs 5
//
// Uses DATABASE_URL when given (it must be migrated and may hold other data); otherwise a database of its own on the
// local Postgres (TEST_DATABASE_URL's server), dropped at the end unless `--keep`.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { TemplateCatalog } from '../channels/templates.js';
import { createDb } from '../db/client.js';
import { migrate } from '../db/migrate.js';
import { Analytics, type AnalyticsFilters } from '../service/analytics.js';
import { DefinitionStore } from '../service/definitions.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined && !args[i + 1]!.startsWith('--') ? args[i + 1]! : dflt;
};
const JOURNEYS = Number(opt('journeys', '100000'));
const RUNS = Number(opt('runs', '5'));
const KEEP = args.includes('--keep');
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const progress = (msg: string) => process.stderr.write(`[bench:analytics ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

const ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const own = process.env.DATABASE_URL === undefined;
const url = process.env.DATABASE_URL ?? Object.assign(new URL(ADMIN_URL), { pathname: '/journeys_bench_analytics' }).toString();
async function admin(sql: string) {
  const c = new pg.Client({ connectionString: ADMIN_URL });
  await c.connect();
  await c.query(sql);
  await c.end();
}
if (own) await admin('DROP DATABASE IF EXISTS journeys_bench_analytics WITH (FORCE)');
await migrate(url);
const db = createDb(url, 4);
const templates = new TemplateCatalog(db, 0);
await templates.seed();
const definitions = new DefinitionStore(db, templates, 0);
await definitions.seedBuiltIns();

// The journeys of bank-loan: each reaches k of its six stages (1–6), a day apart; one in seven exited, those that
// reached renewal completed, the rest running and waiting at a step; goals by the stage reached.
progress(`seeding ${JOURNEYS} journeys`);
await db.$executeRawUnsafe('DROP TABLE IF EXISTS bench_seed, bench_seed_messages');
const started = Date.now();
await db.$executeRawUnsafe(`
  CREATE TABLE bench_seed AS
  SELECT i, 1 + (i * 7919) % 6 AS k, timestamp '2026-01-01' + (i % 90) * interval '1 day' + (i % 1440) * interval '1 minute' AS start,
         ARRAY['awareness','interest','comparison','first_loan','repayment','renewal'] AS st
  FROM generate_series(1, ${JOURNEYS}) i`);
await db.$executeRawUnsafe(`
  INSERT INTO customers (id, segment, updated_at) SELECT 'bench-' || i, (ARRAY['young','affluent','mass'])[1 + i % 3], now() FROM bench_seed`);
await db.$executeRawUnsafe(`
  INSERT INTO journeys (workflow_id, customer_id, journey_key, version, status, exit_reason, stage, stage_entered_at, started_at, ended_at, goals, cohort, waiting, waiting_since, updated_at)
  SELECT 'journey:bank-loan:bench-' || i, 'bench-' || i, 'bank-loan', 1,
         CASE WHEN i % 7 = 0 THEN 'exited' WHEN k = 6 THEN 'completed' ELSE 'running' END,
         CASE WHEN i % 7 = 0 THEN 'opted_out' WHEN k = 6 THEN 'renewed' END,
         st[k], start + (k - 1) * interval '1 day', start,
         CASE WHEN i % 7 = 0 OR k = 6 THEN start + k * interval '1 day' END,
         (CASE WHEN k >= 4 THEN ARRAY['applied'] ELSE ARRAY[]::text[] END) || (CASE WHEN k >= 6 THEN ARRAY['renewed'] ELSE ARRAY[]::text[] END),
         CASE WHEN i % 10 = 0 THEN 'control' ELSE 'treated' END,
         CASE WHEN i % 7 <> 0 AND k < 6 THEN ARRAY['triggers[' || (k % 4) || '].steps[1]'] ELSE ARRAY[]::text[] END,
         start + (k - 1) * interval '1 day', now()
  FROM bench_seed`);
await db.$executeRawUnsafe(`
  INSERT INTO stage_transitions (workflow_id, seq, from_stage, to_stage, cause, entered_at)
  SELECT 'journey:bank-loan:bench-' || i, g, CASE WHEN g > 1 THEN st[g - 1] END, st[g], 'bench', start + (g - 1) * interval '1 day' + (i % 17) * interval '1 hour'
  FROM bench_seed, generate_series(1, k) g`);
await db.$executeRawUnsafe(`
  INSERT INTO journey_log (idempotency_key, workflow_id, customer_id, journey_key, kind, data, at)
  SELECT 'bench-split-' || i, 'journey:bank-loan:bench-' || i, 'bench-' || i, 'bank-loan', 'split', jsonb_build_object('split', 'nudge', 'variant', CASE WHEN i % 2 = 0 THEN 'A' ELSE 'B' END), start FROM bench_seed
  UNION ALL
  SELECT 'bench-nps-' || i, 'journey:bank-loan:bench-' || i, 'bench-' || i, 'bank-loan', 'feedback', jsonb_build_object('survey', 'nps', 'template', 'loan-nps', 'score', i % 11), start FROM bench_seed WHERE i % 5 = 0`);
await db.$executeRawUnsafe(`
  CREATE TABLE bench_seed_messages AS
  SELECT gen_random_uuid()::text AS id, i, m FROM bench_seed, generate_series(1, 2) m`);
await db.$executeRawUnsafe(`
  INSERT INTO messages (id, idempotency_key, workflow_id, customer_id, channel, template, status, updated_at)
  SELECT id, 'bench-msg-' || i || '-' || m, 'journey:bank-loan:bench-' || i, 'bench-' || i, CASE WHEN m = 1 THEN 'email' ELSE 'sms' END,
         CASE WHEN m = 1 THEN 'loan-guide' ELSE 'loan-nudge' END, CASE WHEN i % 9 = 0 THEN 'suppressed' ELSE 'sent' END, now()
  FROM bench_seed_messages`);
await db.$executeRawUnsafe(`
  INSERT INTO message_events (message_id, type, detail)
  SELECT id, 'created', '{}'::jsonb FROM bench_seed_messages
  UNION ALL SELECT id, 'suppressed', '{"reason":"no_consent"}'::jsonb FROM bench_seed_messages WHERE i % 9 = 0
  UNION ALL SELECT id, 'deferred', '{"reason":"quiet_hours"}'::jsonb FROM bench_seed_messages WHERE i % 9 <> 0 AND i % 4 = 0
  UNION ALL SELECT id, 'sent', '{}'::jsonb FROM bench_seed_messages WHERE i % 9 <> 0`);
// Plain tables, not temporary ones: the statements may run on different connections of the pool.
await db.$executeRawUnsafe('DROP TABLE bench_seed, bench_seed_messages');
await db.$executeRawUnsafe('ANALYZE');
progress(`seeded in ${((Date.now() - started) / 1000).toFixed(1)} s`);

const analytics = new Analytics(db, definitions);
const filters: [string, AnalyticsFilters][] = [
  ['all', {}],
  ['30 days', { from: '2026-01-15T00:00:00Z', to: '2026-02-14T00:00:00Z' }],
  ['segment + variant', { segment: 'young', variant: 'A' }],
];
const figures: [string, (f: AnalyticsFilters) => Promise<unknown>][] = [
  ['funnel', (f) => analytics.funnel('bank-loan', f)],
  ['time-in-stage', (f) => analytics.timeInStage('bank-loan', f)],
  ['breakpoints', (f) => analytics.breakpoints('bank-loan', f)],
  ['feedback', (f) => analytics.feedback('bank-loan', f)],
  ['messages', (f) => analytics.messages('bank-loan', f)],
  ['lift', (f) => analytics.lift('bank-loan', f)],
  ['map', (f) => analytics.map('bank-loan', f)],
];
const rows: { figure: string; filter: string; medianMs: number; maxMs: number }[] = [];
for (const [figure, run] of figures)
  for (const [filter, f] of filters) {
    await run(f); // warm: plans cached, pages in memory
    const times: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      const t = performance.now();
      await run(f);
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    rows.push({ figure, filter, medianMs: Math.round(times[Math.floor(times.length / 2)]!), maxMs: Math.round(times.at(-1)!) });
    progress(`${figure} (${filter}): median ${rows.at(-1)!.medianMs} ms`);
  }

const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const dir = path.join(root, 'bench', 'results');
mkdirSync(dir, { recursive: true });
const result = { at: new Date().toISOString(), journeys: JOURNEYS, runs: RUNS, rows };
writeFileSync(path.join(dir, `analytics-${stamp}.json`), JSON.stringify(result, null, 2));
const md = [
  `Analytics over ${JOURNEYS} journeys, ${RUNS} runs each (after one warm-up)`,
  '',
  '| figure | filter | median ms | max ms |',
  '| --- | --- | --- | --- |',
  ...rows.map((r) => `| ${r.figure} | ${r.filter} | ${r.medianMs} | ${r.maxMs} |`),
].join('\n');
writeFileSync(path.join(dir, `analytics-${stamp}.md`), `${md}\n`);
process.stdout.write(`${md}\n`);
await db.$disconnect();
if (own && !KEEP) await admin('DROP DATABASE IF EXISTS journeys_bench_analytics WITH (FORCE)');
