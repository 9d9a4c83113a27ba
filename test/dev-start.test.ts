// `npm start` cleans up after itself: its Temporal dev server and its embedded PostgreSQL never outlive it, also when
// it is SIGKILLed; those an earlier start left behind are found and stopped; the API listens on 127.0.0.1 and the
// banner says where. Its embedded database is a real PostgreSQL server, and what it and the catchers hold survives a
// restart. Each case runs the real entry point (tsx dev/start.ts, as `npm start` does) on a temporary data folder and
// free ports, against a database of the test Postgres server unless it is about the embedded one.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import nodemailer from 'nodemailer';
import pg from 'pg';
import twilio from 'twilio';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { twilioHttpClient } from '../channels/twilio-http.js';
import { createWebhookChannel } from '../channels/webhook.js';
import { POSTGRES_PID_FILE } from '../dev/embedded-postgres.js';
import { PID_FILE } from '../dev/temporal-dev-server.js';
import { createTestDb, type TestDb } from './support/db.js';
import { freePort } from './support/ports.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BOOT_MS = 90_000;

let testDb: TestDb;
beforeAll(async () => {
  testDb = await createTestDb();
});
afterAll(async () => testDb?.drop());

/** Processes a case started, killed (by pid) when it ends whatever happened. */
const started = new Set<number>();
const dirs: string[] = [];
afterEach(() => {
  for (const pid of started) if (alive(pid)) process.kill(pid, 'SIGKILL');
  started.clear();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Alive and not a zombie (a zombie has exited; only its parent has not collected it yet). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
function parentOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

async function until(what: string, ok: () => boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

type Run = { launcher: ChildProcess; output: () => string; exited: Promise<number | null>; banner: Promise<string> };

/** `npm start`'s entry point, as npm runs it: the tsx CLI, which runs dev/start.ts in a child node process. With
 * `embeddedDb`, no DATABASE_URL: it starts its own PostgreSQL. */
function startDev(dataDir: string, temporalPort: number, uiPort: number, apiPort = 0, embeddedDb = false): Run {
  const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir, DATABASE_URL: testDb.url, PORT: String(apiPort), LOG_LEVEL: 'warn', NODE_ENV: 'development' };
  if (embeddedDb) delete env.DATABASE_URL;
  for (const k of [
    'TEMPORAL_ADDRESS',
    'TEMPORAL_PAYLOAD_KEYS',
    'TEMPORAL_PAYLOAD_KEY_ID',
    'TEMPORAL_UI_ORIGIN',
    'TEMPORAL_UI_CODEC_TOKEN',
    'HOST',
    'SMTP_URL',
    'TWILIO_ACCOUNT_SID',
    'TWILIO_API_BASE_URL',
    'WEBHOOK_URL',
    'WEBHOOK_SECRET',
  ])
    delete env[k];
  Object.assign(env, {
    DEV_TEMPORAL_PORT: String(temporalPort),
    DEV_TEMPORAL_UI_PORT: String(uiPort),
    DEV_POSTGRES_PORT: '0',
    DEV_SMTP_PORT: '0',
    DEV_MAIL_PAGE_PORT: '0',
    DEV_TWILIO_SINK_PORT: '0',
    DEV_WEBHOOK_SINK_PORT: '0',
    DEV_WECHAT_SINK_PORT: '0',
  });
  const launcher = spawn(path.join(root, 'node_modules/.bin/tsx'), ['dev/start.ts'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  started.add(launcher.pid!);
  let out = '';
  let onBanner: (b: string) => void;
  let onFail: (e: Error) => void;
  const banner = new Promise<string>((resolve, reject) => ((onBanner = resolve), (onFail = reject)));
  const exited = new Promise<number | null>((resolve) => launcher.once('exit', (code) => resolve(code)));
  void exited.then((code) => onFail(new Error(`npm start exited (${code}) before its banner:\n${out.slice(-3000)}`)));
  const read = (c: Buffer) => {
    out += c.toString('utf8');
    const at = out.indexOf('Journeys is running.');
    if (at >= 0 && out.indexOf('Ctrl-C stops it.', at) > 0) onBanner(out.slice(at, out.indexOf('Ctrl-C stops it.', at)));
  };
  launcher.stdout!.on('data', read);
  launcher.stderr!.on('data', read);
  return { launcher, output: () => out, exited, banner };
}

/** The dev server's pid file: the server, and the supervisor whose parent is the process running dev/start.ts. */
function pidRecord(dataDir: string, file = PID_FILE): { pid: number; supervisor: number } {
  return JSON.parse(readFileSync(path.join(dataDir, file), 'utf8')) as { pid: number; supervisor: number };
}
function track(dataDir: string) {
  const rec = pidRecord(dataDir);
  const service = parentOf(rec.supervisor);
  for (const pid of [rec.pid, rec.supervisor, service]) started.add(pid);
  return { temporal: rec.pid, supervisor: rec.supervisor, service };
}
/** The embedded PostgreSQL's pid file (the same record, written by its own supervisor). */
function trackPostgres(dataDir: string): { postgres: number; supervisor: number } {
  const rec = pidRecord(dataDir, POSTGRES_PID_FILE);
  for (const pid of [rec.pid, rec.supervisor]) started.add(pid);
  return { postgres: rec.pid, supervisor: rec.supervisor };
}
/** Processes whose command line names the data folder: the supervisors, the Temporal dev server, the postmaster. */
function runningOn(dataDir: string): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((pid) => {
      try {
        return alive(Number(pid)) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dataDir);
      } catch {
        return false; // gone meanwhile
      }
    })
    .map(Number);
}
/** The banner's lines: label → value. */
function bannerField(banner: string, label: string): string {
  const value = new RegExp(`^\\s+${label}\\s+(\\S+)`, 'm').exec(banner)?.[1];
  if (!value) throw new Error(`no ${label} in the banner:\n${banner}`);
  return value;
}
function tempDir() {
  const d = mkdtempSync(path.join(tmpdir(), 'journeys-dev-start-'));
  // Searchable by others, as a project folder is: run as root, the embedded PostgreSQL runs as the user postgres.
  chmodSync(d, 0o711);
  dirs.push(d);
  return d;
}

describe('npm start cleans up after itself', () => {
  it('the API listens on 127.0.0.1 and the banner gives the address it really listens on', { timeout: BOOT_MS + 30_000 }, async () => {
    const dataDir = tempDir();
    const run = startDev(dataDir, await freePort(), await freePort());
    const banner = await run.banner;
    const api = /API\s+(http:\/\/[^\s]+)/.exec(banner)?.[1];
    expect(api).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(Number(new URL(api!).port)).toBeGreaterThan(0); // PORT=0: the real port, not the asked one
    expect((await fetch(`${api}/healthz`)).status).toBe(200);
    // Bound to 127.0.0.1 itself, not every interface: another loopback address is refused (Linux routes all of
    // 127.0.0.0/8 to the loopback device, so a server on 0.0.0.0 would answer there).
    const elsewhere = await fetch(`http://127.0.0.2:${new URL(api!).port}/healthz`).then(
      (r) => r.status,
      (e: Error) => (e.cause as NodeJS.ErrnoException)?.code,
    );
    expect(elsewhere).toBe('ECONNREFUSED');
    run.launcher.kill('SIGTERM');
    expect(await run.exited).toBe(0);
  });

  it('with no API_KEYS, the first start makes a key per role: in the banner, in dev-keys.json (0600), and the API takes them', { timeout: BOOT_MS + 30_000 }, async () => {
    const dataDir = tempDir();
    const run = startDev(dataDir, await freePort(), await freePort());
    const banner = await run.banner;
    const api = /API\s+(http:\/\/[^\s]+)/.exec(banner)![1]!;
    const file = path.join(dataDir, 'dev-keys.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const keys = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
    expect(keys.rmId).toBe('rm-001');
    for (const role of ['system', 'rm', 'designer', 'ops', 'admin']) {
      expect(keys[role]).toMatch(/^jk_[\w-]{43}$/);
      expect(banner).toContain(keys[role]);
    }
    const as = (key?: string) => fetch(`${api}/v1/api-keys`, { headers: key ? { authorization: `Bearer ${key}` } : {} }).then((r) => r.status);
    expect(await as(keys.admin)).toBe(200);
    expect(await as(keys.ops)).toBe(403);
    expect(await as()).toBe(401);
    run.launcher.kill('SIGTERM');
    expect(await run.exited).toBe(0);
  });

  it("encrypts with a key of the data folder, and starts the Temporal UI pointed at the codec server's per-start path", { timeout: BOOT_MS + 30_000 }, async () => {
    const dataDir = tempDir();
    const uiPort = await freePort();
    const run = startDev(dataDir, await freePort(), uiPort, await freePort());
    const banner = await run.banner;
    const api = /API\s+(http:\/\/[^\s]+)/.exec(banner)![1]!;
    const keyFile = path.join(dataDir, 'payload-keys.json');
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const [keyId] = Object.keys(JSON.parse(readFileSync(keyFile, 'utf8')) as object);
    const command = (JSON.parse(readFileSync(path.join(dataDir, PID_FILE), 'utf8')) as { command: string[] }).command;
    const endpoint = command[command.indexOf('--ui-codec-endpoint') + 1]!;
    expect(endpoint).toMatch(new RegExp(`^${api}/codec/[A-Za-z0-9_-]{32}$`));
    expect(banner).not.toContain(endpoint); // the path is the UI's alone
    const payloads = [{ metadata: { encoding: Buffer.from('json/plain').toString('base64') }, data: Buffer.from('"hello"').toString('base64') }];
    const post = (url: string, body: unknown) =>
      fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', origin: `http://127.0.0.1:${uiPort}` }, body: JSON.stringify(body) });
    const encoded = await post(`${endpoint}/encode`, { payloads });
    expect(encoded.status).toBe(200);
    expect(encoded.headers.get('access-control-allow-origin')).toBe(`http://127.0.0.1:${uiPort}`);
    const sealed = (await encoded.json()) as { payloads: { metadata: Record<string, string> }[] };
    expect(Buffer.from(sealed.payloads[0]!.metadata['encryption-key-id']!, 'base64').toString()).toBe(keyId);
    expect(await (await post(`${endpoint}/decode`, sealed)).json()).toEqual({ payloads });
    expect((await post(`${api}/codec/decode`, sealed)).status).toBe(401); // without the path, a key is needed
    run.launcher.kill('SIGTERM');
    expect(await run.exited).toBe(0);
  });

  it('SIGKILL of the process running npm start: its Temporal dev server and its PostgreSQL are gone soon after', { timeout: BOOT_MS + 60_000 }, async () => {
    const dataDir = tempDir();
    const run = startDev(dataDir, await freePort(), await freePort(), 0, true);
    await run.banner;
    const { temporal, service } = track(dataDir);
    const { postgres } = trackPostgres(dataDir);
    expect(alive(temporal) && alive(postgres)).toBe(true);
    process.kill(service, 'SIGKILL');
    await until('the Temporal dev server and PostgreSQL stop after their parent was SIGKILLed', () => !alive(temporal) && !alive(postgres));
    await until('nothing runs on the data folder', () => runningOn(dataDir).length === 0);
  });

  it('SIGKILL of the launcher (npm, tsx): the orphaned service stops everything, Temporal and PostgreSQL too', { timeout: BOOT_MS + 60_000 }, async () => {
    const dataDir = tempDir();
    const run = startDev(dataDir, await freePort(), await freePort(), 0, true);
    await run.banner;
    const { temporal, service } = track(dataDir);
    const { postgres } = trackPostgres(dataDir);
    run.launcher.kill('SIGKILL');
    await until('the orphaned service stops', () => !alive(service));
    await until('its Temporal dev server and PostgreSQL stop', () => !alive(temporal) && !alive(postgres));
  });

  it('a Temporal dev server and a PostgreSQL an earlier start left running are found and stopped by the next start', { timeout: 2 * BOOT_MS + 60_000 }, async () => {
    const dataDir = tempDir();
    const [port, uiPort] = [await freePort(), await freePort()];
    const first = startDev(dataDir, port, uiPort, 0, true);
    await first.banner;
    const left = track(dataDir);
    const leftPg = trackPostgres(dataDir);
    // The whole session killed at once (the supervisors too): nothing is left to stop the servers.
    for (const pid of [left.supervisor, leftPg.supervisor, left.service]) process.kill(pid, 'SIGKILL');
    await until('the first start is gone', () => !alive(left.service) && !alive(left.supervisor) && !alive(leftPg.supervisor));
    expect(alive(left.temporal)).toBe(true);
    expect(alive(leftPg.postgres)).toBe(true);

    const keys = readFileSync(path.join(dataDir, 'dev-keys.json'), 'utf8');
    const second = startDev(dataDir, port, uiPort, 0, true); // the same ports and cluster: it would fail otherwise
    // A later start reuses the keys the first one made.
    expect(await second.banner).toContain((JSON.parse(keys) as { admin: string }).admin);
    expect(readFileSync(path.join(dataDir, 'dev-keys.json'), 'utf8')).toBe(keys);
    expect(alive(left.temporal)).toBe(false);
    expect(alive(leftPg.postgres)).toBe(false);
    const now = track(dataDir);
    const nowPg = trackPostgres(dataDir);
    expect(now.temporal).not.toBe(left.temporal);
    expect(nowPg.postgres).not.toBe(leftPg.postgres);
    expect(second.output()).toContain('stopping a Temporal dev server an earlier start left running');
    expect(second.output()).toContain('stopping a PostgreSQL server an earlier start left running');
    second.launcher.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    await until('the second start stops its servers', () => !alive(now.temporal) && !alive(nowPg.postgres));
  });
});

describe('npm start without DATABASE_URL', () => {
  it(
    "runs a real PostgreSQL 18 in the data folder (separate sessions, exclusive advisory locks), whose data and the catchers' messages survive a restart, and leaves nothing running",
    { timeout: 2 * BOOT_MS + 60_000 },
    async () => {
      const dataDir = tempDir();
      const [port, uiPort] = [await freePort(), await freePort()];
      const first = startDev(dataDir, port, uiPort, 0, true);
      const banner = await first.banner;
      const url = bannerField(banner, 'Database');
      expect(banner).toMatch(/Database\s+\S+ \(embedded PostgreSQL 18\.\d+, /);
      expect(new URL(url).hostname).toBe('127.0.0.1');
      expect(statSync(path.join(dataDir, 'postgres', 'PG_VERSION')).isFile()).toBe(true);

      const [a, b] = [new pg.Client({ connectionString: url }), new pg.Client({ connectionString: url })];
      await Promise.all([a.connect(), b.connect()]);
      try {
        expect((await a.query<{ version: string }>('SELECT version()')).rows[0]!.version).toMatch(/^PostgreSQL 18\./);
        // The migrations ran on it.
        const migrations = readdirSync(path.join(root, 'prisma/migrations'), { withFileTypes: true }).filter((d) => d.isDirectory()).length;
        expect((await a.query<{ n: number }>('SELECT count(*)::int AS n FROM _prisma_migrations WHERE finished_at IS NOT NULL')).rows[0]!.n).toBe(migrations);
        // Two connections, two sessions: a SET in one is not seen in the other, and they are different backends.
        await a.query("SET statement_timeout = '1234ms'");
        expect((await a.query<{ statement_timeout: string }>('SHOW statement_timeout')).rows[0]!.statement_timeout).toBe('1234ms');
        expect((await b.query<{ statement_timeout: string }>('SHOW statement_timeout')).rows[0]!.statement_timeout).toBe('0');
        const [pa, pb] = await Promise.all([a.query<{ p: number }>('SELECT pg_backend_pid() AS p'), b.query<{ p: number }>('SELECT pg_backend_pid() AS p')]);
        expect(pa.rows[0]!.p).not.toBe(pb.rows[0]!.p);
        // An advisory lock held by one excludes the other until released.
        await a.query('SELECT pg_advisory_lock(424242)');
        expect((await b.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(424242) AS ok')).rows[0]!.ok).toBe(false);
        await a.query('SELECT pg_advisory_unlock(424242)');
        expect((await b.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(424242) AS ok')).rows[0]!.ok).toBe(true);
        await a.query('CREATE TABLE dev_start_probe (note text); INSERT INTO dev_start_probe VALUES ($$kept$$)');
      } finally {
        await Promise.all([a.end(), b.end()]);
      }

      // One message through each catcher, as the service would send it.
      const mailer = nodemailer.createTransport(bannerField(banner, 'SMTP'));
      await mailer.sendMail({ from: 'a@example.com', to: 'kept@example.com', subject: 'kept across restarts', text: 'x' });
      mailer.close();
      const smsBase = new URL(bannerField(banner, 'SMS page')).origin;
      const sms = await twilio('AC0123456789abcdef0123456789abcdef', 'token', { httpClient: twilioHttpClient(smsBase) }).messages.create({
        to: '+4915100000042',
        from: '+15005550006',
        body: 'SMS kept across restarts',
      });
      const pushBase = new URL(bannerField(banner, 'Push page')).origin;
      await createWebhookChannel({ url: `${pushBase}/push`, secret: 'local-webhook-secret-change-me' }).send({
        to: 'cust-42',
        subject: 'Kept',
        text: 'push kept across restarts',
        idempotencyKey: 'wf/kept',
      });

      const { postgres } = trackPostgres(dataDir);
      first.launcher.kill('SIGTERM');
      expect(await first.exited).toBe(0);
      expect(alive(postgres)).toBe(false);
      expect(runningOn(dataDir)).toEqual([]);

      const second = startDev(dataDir, port, uiPort, 0, true);
      const again = await second.banner;
      const client = new pg.Client({ connectionString: bannerField(again, 'Database') });
      await client.connect();
      try {
        expect((await client.query<{ note: string }>('SELECT note FROM dev_start_probe')).rows).toEqual([{ note: 'kept' }]);
      } finally {
        await client.end();
      }
      const mails = (await (await fetch(`${bannerField(again, 'Mail page')}/messages.json`)).json()) as { subject: string }[];
      expect(mails.map((m) => m.subject)).toEqual(['kept across restarts']);
      const smsList = (await (await fetch(`${new URL(bannerField(again, 'SMS page')).origin}/messages.json`)).json()) as { sid: string }[];
      expect(smsList.map((m) => m.sid)).toEqual([sms.sid]);
      expect(await (await fetch(`${new URL(bannerField(again, 'Push page')).origin}/`)).text()).toContain('push kept across restarts');

      second.launcher.kill('SIGTERM');
      expect(await second.exited).toBe(0);
      expect(runningOn(dataDir)).toEqual([]);
    },
  );
});
