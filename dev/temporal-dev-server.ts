// The Temporal dev server of `npm start`, started under the supervisor of dev/supervisor.ts so that it never outlives
// the process that started it. Its pid file is `<dataDir>/temporal-dev-server.pid`; the next start stops a server
// that file names, if that process is still alive and its command line is our `temporal server start-dev` on the same
// database file.
import { rmSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import type { Logger } from '../config/logger.js';
import { commandLine, readPidRecord, stillSupervised, stopLeftover, supervise } from './supervisor.js';
import { resolveTemporalCli } from './temporal-cli.js';

export const PID_FILE = 'temporal-dev-server.pid';
const READY_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 10_000;

export interface DevServerOptions {
  projectRoot: string;
  dataDir: string;
  host: string;
  port: number;
  uiPort: number;
  /** Where the UI sends payloads to be decoded (the API's codec server), if anywhere. */
  uiCodecEndpoint?: string;
  /** `Name=Type` as the CLI takes them. */
  searchAttributes: string[];
  env: NodeJS.ProcessEnv;
  logger: Logger;
  abort?: AbortSignal;
}

export interface DevServer {
  address: string;
  uiUrl: string;
  /** The server's own pid (not the supervisor's). */
  pid: number;
  stop(): Promise<void>;
}

/** Stops a dev server an earlier start left running on this data folder (named by its pid file); returns its pid. */
export async function stopStaleDevServer(dataDir: string, logger: Logger): Promise<number | undefined> {
  const file = path.join(dataDir, PID_FILE);
  const record = readPidRecord(file);
  if (!record) return undefined;
  const { pid } = record;
  if (!isOurServer(pid, path.join(dataDir, 'temporal.db'))) {
    rmSync(file, { force: true });
    return undefined;
  }
  if (stillSupervised(record))
    throw new Error(`another \`npm start\` is running on ${dataDir} (its Temporal dev server is pid ${pid}): stop it first, or set DATA_DIR to another folder`);
  logger.warn({ pid }, 'stopping a Temporal dev server an earlier start left running');
  await stopLeftover(pid, 'SIGTERM', STOP_GRACE_MS, 'Temporal dev server');
  rmSync(file, { force: true });
  return pid;
}

/** Whether the process runs `temporal server start-dev` on this database file. */
function isOurServer(pid: number, dbFile: string): boolean {
  const argv = commandLine(pid);
  if (!argv) return false;
  const db = argv.indexOf('--db-filename');
  return argv[1] === 'server' && argv[2] === 'start-dev' && db > 0 && path.resolve(argv[db + 1] ?? '') === path.resolve(dbFile);
}

/** Starts `temporal server start-dev` under the supervisor and resolves once it accepts gRPC connections. */
export async function startTemporalDevServer(o: DevServerOptions): Promise<DevServer> {
  const { host, port, uiPort, logger } = o;
  const address = `${host}:${port}`;
  await stopStaleDevServer(o.dataDir, logger);
  for (const p of [port, uiPort]) {
    if (await isListening(host, p)) {
      throw new Error(
        `port ${p} on ${host} is already in use. Is a Temporal server already running? ` + `Stop it, or set TEMPORAL_ADDRESS=${address} to use it instead of starting one.`,
      );
    }
  }
  const cli = await resolveTemporalCli({ projectRoot: o.projectRoot, env: o.env, install: true, log: (msg) => logger.info(msg) });
  const args = [
    'server',
    'start-dev',
    '--db-filename',
    path.join(o.dataDir, 'temporal.db'),
    '--ip',
    host,
    '--port',
    String(port),
    '--ui-port',
    String(uiPort),
    ...(o.uiCodecEndpoint ? ['--ui-codec-endpoint', o.uiCodecEndpoint] : []),
    '--namespace',
    'default',
    ...o.searchAttributes.flatMap((sa) => ['--search-attribute', sa]),
    '--log-level',
    'warn',
  ];
  logger.info({ cli }, 'starting the Temporal dev server');
  const pidFile = path.join(o.dataDir, PID_FILE);
  // Its stdout is the start-up summary (debug); stderr carries its warnings, which are noise once it is stopping.
  const server = supervise({
    command: cli,
    args,
    pidFile,
    env: o.env,
    stopSignal: 'SIGTERM',
    graceMs: STOP_GRACE_MS,
    onLine: (line, stream, stopping) => {
      if (stream === 'stderr' && !stopping) logger.warn({ source: 'temporal' }, line);
      else logger.debug({ source: 'temporal' }, line);
    },
  });
  const { exited, spawnFailed, tail, stop } = server;

  const deadline = Date.now() + READY_TIMEOUT_MS;
  try {
    for (;;) {
      try {
        const connection = await Promise.race([
          Connection.connect({ address, connectTimeout: 2_000 }),
          spawnFailed,
          exited.then(({ code, signal }) => {
            throw new Error(`temporal exited (${signal ?? `code ${code}`}) while starting:\n${tail().join('\n')}`);
          }),
        ]);
        await connection.workflowService.getSystemInfo({});
        await connection.close();
        break;
      } catch (err) {
        if (!server.running()) throw err;
        o.abort?.throwIfAborted();
        if (Date.now() > deadline) throw new Error(`the Temporal dev server did not accept connections within ${READY_TIMEOUT_MS} ms`, { cause: err });
        await new Promise((r) => setTimeout(r, 250)); // between connection attempts, bounded by the deadline
      }
    }
  } catch (err) {
    await stop();
    throw err;
  }
  const record = readPidRecord(pidFile); // written by the supervisor once it spawned
  if (!record) throw new Error(`the Temporal dev server runs but its supervisor wrote no ${pidFile}`);
  return { address, uiUrl: `http://${host}:${uiPort}`, pid: record.pid, stop };
}

function isListening(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = netConnect({ host, port });
    socket.setTimeout(1_000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}
