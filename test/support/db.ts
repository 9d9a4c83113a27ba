// A fresh database per test file on the real Postgres server, migrated by the service's own migration runner.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createDb, type Db } from '../../db/client.js';
import { migrate } from '../../db/migrate.js';

/** The server the tests create their databases on (any database on it works as the admin connection). */
const ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

export interface TestDb {
  url: string;
  db: Db;
  drop(): Promise<void>;
}

export async function createTestDb(): Promise<TestDb> {
  const name = `journeys_test_${randomBytes(4).toString('hex')}`;
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  await migrate(url.toString());
  // The API and the worker of a test stack share this pool; in production each has its own (10 by default).
  const db = createDb(url.toString(), 10);
  return {
    url: url.toString(),
    db,
    async drop() {
      await db.$disconnect();
      const admin = new pg.Client({ connectionString: ADMIN_URL });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await admin.end();
    },
  };
}

/** Counts of every table, to prove a refused request wrote nothing. */
export async function tableCounts(db: Db): Promise<Record<string, number>> {
  const [customers, journeys, transitions, events, messages, tasks] = await Promise.all([
    db.customer.count(),
    db.journey.count(),
    db.stageTransition.count(),
    db.inboundEvent.count(),
    db.message.count(),
    db.task.count(),
  ]);
  return { customers, journeys, transitions, events, messages, tasks };
}
