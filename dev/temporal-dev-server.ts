// The Temporal dev server, started one way everywhere: by `npm start` (on a SQLite file in its data folder, with the
// UI), by the tests (test/support/temporal.ts) and by the bench (bench/run.ts) (both in memory, headless). The command
// line is built here once (the service's search attributes, the namespace, the dynamic config), and the server runs
// under the supervisor of dev/supervisor.ts so that it never outlives the process that started it. Its pid file is
// `<dataDir>/temporal-dev-server.pid`; the next start stops a server that file names, if that process is still alive
// and its command line is our `temporal server start-dev` on the same database file. (A server in memory keeps its pid
// file in a folder of its own that goes with it; nothing of it outlives a stop.)
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import type { Logger } from '../config/logger.js';
import { SEARCH_ATTRIBUTES } from '../workflows/messages.js';
import { commandLine, readPidRecord, stillSupervised, stopLeftover, supervise } from './supervisor.js';
import { resolveTemporalCli } from './temporal-cli.js';

export const PID_FILE = 'temporal-dev-server.pid';
const READY_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 10_000;

export interface DevServerOptions {
  projectRoot: string;
  /** Where its database file (`temporal.db`) and pid file live; unset: the server keeps its state in memory. */
  dataDir?: string;
  host: string;
  port: number;
  /** The UI's port; unset: no UI (headless). */
  uiPort?: number;
  /** Where the UI sends payloads to be decoded (the API's codec server), if anywhere. */
  uiCodecEndpoint?: string;
  /** The server's own log level (its warnings go to the logger as warnings). Default warn. */
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** More CLI arguments (a test's dynamic config values). */
  extraArgs?: string[];
  env?: NodeJS.ProcessEnv;
  logger: Logger;
  abort?: AbortSignal;
}

/** The service's search attributes as the CLI takes them: `Name=Type`. */
export const searchAttributeArgs = (): string[] => SEARCH_ATTRIBUTES.flatMap((a) => ['--search-attribute', `${a.name}=${TypedSearchAttributes.toMetadataType(a.type)}`]);

/** The dynamic config of every dev server (the SDK's test servers set the same): no call home for a version check,
 * workflow updates on, and eager activity execution — a workflow task's completion hands its activity tasks straight
 * back to the worker that asked for them (the SDK reserves up to 3 slots per task by default), instead of the worker
 * polling for each one. The server's default is off; README's deployment notes ask the same of a production cluster. */
const DYNAMIC_CONFIG = [
  'frontend.enableServerVersionCheck=false',
  'frontend.enableUpdateWorkflowExecution=true',
  'frontend.enableUpdateWorkflowExecutionAsyncAccepted=true',
  'system.enableActivityEagerExecution=true',
];

export interface DevServer {
  address: string;
  /** The UI's address; undefined when headless. */
  uiUrl: string | undefined;
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
  if (o.dataDir) await stopStaleDevServer(o.dataDir, logger);
  for (const p of uiPort !== undefined ? [port, uiPort] : [port]) {
    if (await isListening(host, p)) {
      throw new Error(
        `port ${p} on ${host} is already in use. Is a Temporal server already running? ` + `Stop it, or set TEMPORAL_ADDRESS=${address} to use it instead of starting one.`,
      );
    }
  }
  const env = o.env ?? process.env;
  const cli = await resolveTemporalCli({ projectRoot: o.projectRoot, env, install: true, log: (msg) => logger.info(msg) });
  const args = [
    'server',
    'start-dev',
    ...(o.dataDir ? ['--db-filename', path.join(o.dataDir, 'temporal.db')] : []),
    '--ip',
    host,
    '--port',
    String(port),
    ...(uiPort !== undefined ? ['--ui-port', String(uiPort)] : ['--headless']),
    ...(o.uiCodecEndpoint ? ['--ui-codec-endpoint', o.uiCodecEndpoint] : []),
    '--namespace',
    'default',
    ...searchAttributeArgs(),
    ...DYNAMIC_CONFIG.flatMap((v) => ['--dynamic-config-value', v]),
    '--log-level',
    o.logLevel ?? 'warn',
    ...(o.extraArgs ?? []),
  ];
  logger.info({ cli }, 'starting the Temporal dev server');
  // In memory: the pid file goes in a folder of its own, removed with the server.
  const pidDir = o.dataDir ?? mkdtempSync(path.join(tmpdir(), 'temporal-dev-'));
  const pidFile = path.join(pidDir, PID_FILE);
  // Its stdout is the start-up summary (debug); stderr carries its warnings, which are noise once it is stopping.
  const server = supervise({
    command: cli,
    args,
    pidFile,
    env,
    stopSignal: 'SIGTERM',
    graceMs: STOP_GRACE_MS,
    onLine: (line, stream, stopping) => {
      if (stream === 'stderr' && !stopping) logger.warn({ source: 'temporal' }, line);
      else logger.debug({ source: 'temporal' }, line);
    },
  });
  const { exited, spawnFailed, tail } = server;
  const stop = async () => {
    await server.stop();
    if (!o.dataDir) rmSync(pidDir, { recursive: true, force: true });
  };

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
  if (!record) {
    await stop();
    throw new Error(`the Temporal dev server runs but its supervisor wrote no ${pidFile}`);
  }
  return { address, uiUrl: uiPort !== undefined ? `http://${host}:${uiPort}` : undefined, pid: record.pid, stop };
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
