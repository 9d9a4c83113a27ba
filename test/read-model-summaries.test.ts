// The per-visit and per-message summaries the console's analytics read (migration 20261206010000_analytics_summaries)
// are kept by the database whoever writes: filled for what an earlier release wrote, then kept as transitions, ends
// and message events arrive — in order or not.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../db/migrate.js';

const ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const SUMMARIES = '20261206010000_analytics_summaries';
const STAGES = JSON.stringify({ key: 'sum-loan', stages: [{ key: 'a' }, { key: 'b' }, { key: 'c' }] });

let url: string;
let db: pg.Client;

beforeAll(async () => {
  const u = new URL(ADMIN_URL);
  u.pathname = `/journeys_test_${randomBytes(4).toString('hex')}`;
  url = u.toString();
  await migrate(url, undefined, { before: SUMMARIES });
  db = new pg.Client({ connectionString: url });
  await db.connect();
});

afterAll(async () => {
  await db?.end();
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS "${new URL(url).pathname.slice(1)}" WITH (FORCE)`);
  await admin.end();
});

const journey = (id: string, ended?: string) =>
  db.query(
    `INSERT INTO journeys (workflow_id, customer_id, journey_key, version, status, stage, stage_entered_at, started_at, ended_at, updated_at)
     VALUES ($1, 'sum-c', 'sum-loan', 1, $2, 'a', '2027-01-01', '2027-01-01', $3, now())`,
    [id, ended ? 'completed' : 'running', ended ?? null],
  );
const visit = (id: string, seq: number, stage: string, at: string) =>
  db.query(`INSERT INTO stage_transitions (workflow_id, seq, to_stage, entered_at) VALUES ($1, $2, $3, $4)`, [id, seq, stage, at]);
const visits = async (id: string) =>
  (
    await db.query<{ seq: number; stage_index: number | null; first_visit: boolean; left_at: Date | null; converted: boolean }>(
      'SELECT seq, stage_index, first_visit, left_at, converted FROM stage_transitions WHERE workflow_id = $1 ORDER BY seq',
      [id],
    )
  ).rows.map((r) => ({ ...r, left_at: r.left_at?.toISOString().slice(0, 10) ?? null }));
const message = async (id: string, events: [type: string, reason?: string][]) => {
  await db.query(`INSERT INTO messages (id, idempotency_key, workflow_id, customer_id, channel, template, updated_at) VALUES ($1, $1, 'sum:1', 'sum-c', 'sms', 't', now())`, [id]);
  for (const [type, reason] of events) await db.query(`INSERT INTO message_events (message_id, type, detail) VALUES ($1, $2, $3)`, [id, type, reason ? { reason } : {}]);
};
/** The journey keys the visits and messages of journey sum:1 carry. */
const keys = async () => ({
  visits: (await db.query<{ k: string | null }>(`SELECT DISTINCT journey_key AS k FROM stage_transitions WHERE workflow_id = 'sum:1'`)).rows.map((r) => r.k),
  messages: (await db.query<{ k: string | null }>(`SELECT DISTINCT journey_key AS k FROM messages WHERE workflow_id = 'sum:1'`)).rows.map((r) => r.k),
});
const outcomes = async (id: string) => (await db.query('SELECT outcomes, outcome_reasons FROM messages WHERE id = $1', [id])).rows[0];

describe('the analytics summaries', () => {
  it('are filled for the visits and messages an earlier release wrote', async () => {
    await db.query(`INSERT INTO customers (id, updated_at) VALUES ('sum-c', now())`);
    await db.query(`INSERT INTO journey_definitions (key, version, status, document) VALUES ('sum-loan', 1, 'published', $1)`, [STAGES]);
    await journey('sum:1', '2027-01-09');
    // a → b → a → c, then the end.
    for (const [seq, stage, at] of [
      [1, 'a', '2027-01-01'],
      [2, 'b', '2027-01-03'],
      [3, 'a', '2027-01-05'],
      [4, 'c', '2027-01-07'],
    ] as const)
      await visit('sum:1', seq, stage, at);
    await message('m-old', [['created'], ['deferred', 'quiet_hours'], ['sent'], ['delivered']]);

    await migrate(url);

    expect(await visits('sum:1')).toEqual([
      { seq: 1, stage_index: 1, first_visit: true, left_at: '2027-01-03', converted: true },
      { seq: 2, stage_index: 2, first_visit: true, left_at: '2027-01-05', converted: true },
      { seq: 3, stage_index: 1, first_visit: false, left_at: '2027-01-07', converted: true },
      { seq: 4, stage_index: 3, first_visit: true, left_at: '2027-01-09', converted: false },
    ]);
    expect(await outcomes('m-old')).toEqual({ outcomes: expect.arrayContaining(['deferred', 'sent', 'delivered']), outcome_reasons: ['quiet_hours'] });
    expect(await keys()).toEqual({ visits: ['sum-loan'], messages: ['sum-loan'] });
    expect((await outcomes('m-old')).outcomes).toHaveLength(3);
  });

  it('are kept as visits arrive, out of order too, and as the journey ends; a step back converts nothing', async () => {
    await journey('sum:2');
    // Written out of order: each later visit before a visit it follows.
    for (const [seq, stage, at] of [
      [1, 'a', '2027-02-01'],
      [4, 'b', '2027-02-07'],
      [2, 'c', '2027-02-03'],
      [3, 'b', '2027-02-05'],
      [5, 'a', '2027-02-09'],
    ] as const)
      await visit('sum:2', seq, stage, at);
    expect(await visits('sum:2')).toEqual([
      { seq: 1, stage_index: 1, first_visit: true, left_at: '2027-02-03', converted: true },
      { seq: 2, stage_index: 3, first_visit: true, left_at: '2027-02-05', converted: false },
      { seq: 3, stage_index: 2, first_visit: true, left_at: '2027-02-07', converted: false },
      { seq: 4, stage_index: 2, first_visit: false, left_at: '2027-02-09', converted: false },
      { seq: 5, stage_index: 1, first_visit: false, left_at: null, converted: false },
    ]);
    await db.query(`UPDATE journeys SET status = 'exited', ended_at = '2027-02-10' WHERE workflow_id = 'sum:2'`);
    expect((await visits('sum:2')).at(-1)).toMatchObject({ seq: 5, left_at: '2027-02-10' });
  });

  it("leave a visit's place unknown when its journey's version is not stored", async () => {
    await db.query(
      `INSERT INTO journeys (workflow_id, customer_id, journey_key, version, stage, stage_entered_at, updated_at) VALUES ('sum:3', 'sum-c', 'sum-loan', 9, 'a', now(), now())`,
    );
    await visit('sum:3', 1, 'a', '2027-03-01');
    await visit('sum:3', 2, 'b', '2027-03-02');
    expect(await visits('sum:3')).toEqual([
      { seq: 1, stage_index: null, first_visit: true, left_at: '2027-03-02', converted: false },
      { seq: 2, stage_index: null, first_visit: true, left_at: null, converted: false },
    ]);
  });

  it("keep each message's outcomes and reasons once, whatever writes its events, and its journey's key, as a visit's", async () => {
    await message('m-new', [
      ['created'],
      ['deferred', 'quiet_hours'],
      ['deferred', 'frequency_cap'],
      ['deferred', 'quiet_hours'],
      ['sent'],
      ['provider_status'],
      ['failed', 'rejected_by_provider'],
    ]);
    expect(await outcomes('m-new')).toEqual({ outcomes: ['deferred', 'sent', 'failed'], outcome_reasons: ['quiet_hours', 'frequency_cap', 'rejected_by_provider'] });
    await visit('sum:1', 5, 'c', '2027-01-10');
    expect(await keys()).toEqual({ visits: ['sum-loan'], messages: ['sum-loan'] });
  });
});
