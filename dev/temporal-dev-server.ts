// The Temporal dev server, started one way everywhere: by `npm start` (on a SQLite file in its data folder, with the
// UI), by the tests (test/support/temporal.ts) and by the bench (bench/run.ts) (both in memory, headless). The command
// line is built here once (the service's search attributes, the namespace, the dynamic config), and the server is
// supervised so that it never outlives the process that started it.
//
// Node cannot ask the kernel to signal a child when its parent dies (Linux's PR_SET_PDEATHSIG is not exposed, and
// macOS has nothing like it), and a SIGKILLed parent runs no exit handler. So the server is started through a small
// supervisor process (plain Node, the script below) that holds the read end of a pipe whose write end only the parent
// holds: when the parent dies, however it dies, the kernel closes that end, the supervisor reads end-of-file and
// stops the server (SIGTERM, then SIGKILL after a grace period). The supervisor also forwards SIGTERM/SIGINT, so a
// clean stop goes through it too.
//
// Should the supervisor itself be killed with the parent (e.g. `kill -9` of a whole session), the server survives
// it; for that case the supervisor records the server's pid and command line in `<dataDir>/temporal-dev-server.pid`,
// and the next start stops a server that file names, if that process is still alive and its command line is our
// `temporal server start-dev` on the same database file. (A server in memory keeps its pid file in a folder of its own
// that goes with it; nothing of it outlives a stop.)
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import type { Logger } from '../config/logger.js';
import { SEARCH_ATTRIBUTES } from '../workflows/messages.js';
import { resolveTemporalCli } from './temporal-cli.js';

export const PID_FILE = 'temporal-dev-server.pid';
const READY_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 10_000;

/** argv after `node -e`: the pid file, then the command and its arguments. Output is relayed (and dropped once the
 * parent is gone, rather than failing the server on a broken pipe). */
const SUPERVISOR = `
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const [pidFile, command, ...args] = process.argv.slice(1);
const server = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
for (const s of [process.stdout, process.stderr]) s.on('error', () => {});
server.stdout.on('data', (c) => process.stdout.writable && process.stdout.write(c));
server.stderr.on('data', (c) => process.stderr.writable && process.stderr.write(c));
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  server.kill('SIGTERM');
  setTimeout(() => server.kill('SIGKILL'), ${STOP_GRACE_MS}).unref();
};
server.once('spawn', () => fs.writeFileSync(pidFile, JSON.stringify({ pid: server.pid, supervisor: process.pid, command: [command, ...args] })));
server.once('error', (err) => { process.stderr.write('cannot start ' + command + ': ' + err.message + '\\n'); process.exit(127); });
server.once('exit', (code, signal) => {
  try { if (JSON.parse(fs.readFileSync(pidFile, 'utf8')).pid === server.pid) fs.rmSync(pidFile); } catch {}
  process.exit(code ?? 128 + (require('node:os').constants.signals[signal] ?? 0));
});
process.stdin.on('data', () => {});
process.stdin.once('end', stop);
process.stdin.once('error', stop);
for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(s, stop);
`;

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

/** The dynamic config of every dev server (the SDK's test servers set the same): no call home for a version check, and
 * workflow updates on. */
const DYNAMIC_CONFIG = ['frontend.enableServerVersionCheck=false', 'frontend.enableUpdateWorkflowExecution=true', 'frontend.enableUpdateWorkflowExecutionAsyncAccepted=true'];

export interface DevServer {
  address: string;
  /** The UI's address; undefined when headless. */
  uiUrl: string | undefined;
  /** The server's own pid (not the supervisor's). */
  pid: number;
  stop(): Promise<void>;
}

type PidRecord = { pid: number; supervisor?: number; command: string[] };

/** Stops a dev server an earlier start left running on this data folder (named by its pid file); returns its pid. */
export async function stopStaleDevServer(dataDir: string, logger: Logger): Promise<number | undefined> {
  const file = path.join(dataDir, PID_FILE);
  let record: PidRecord;
  try {
    record = JSON.parse(readFileSync(file, 'utf8')) as PidRecord;
  } catch {
    return undefined; // no file (the usual case), or not ours to read
  }
  const dbFile = path.join(dataDir, 'temporal.db');
  const pid = Number(record.pid);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid) || !isOurServer(pid, dbFile)) {
    rmSync(file, { force: true });
    return undefined;
  }
  // Still under its supervisor: a supervisor stops its server when its own parent dies, so a start is running now.
  if (record.supervisor !== undefined && parentOf(pid) === record.supervisor && isAlive(record.supervisor))
    throw new Error(`another \`npm start\` is running on ${dataDir} (its Temporal dev server is pid ${pid}): stop it first, or set DATA_DIR to another folder`);
  logger.warn({ pid }, 'stopping a Temporal dev server an earlier start left running');
  process.kill(pid, 'SIGTERM');
  if (!(await exitedWithin(pid, STOP_GRACE_MS))) {
    process.kill(pid, 'SIGKILL');
    if (!(await exitedWithin(pid, 5_000))) throw new Error(`the Temporal dev server left running (pid ${pid}) does not stop`);
  }
  rmSync(file, { force: true });
  return pid;
}

/** Whether the process runs `temporal server start-dev` on this database file (its command line, from /proc or ps). */
function isOurServer(pid: number, dbFile: string): boolean {
  let argv: string[] | undefined;
  try {
    argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    const ps = spawnSync('ps', ['-o', 'args=', '-p', String(pid)], { encoding: 'utf8' });
    if (ps.status === 0) argv = ps.stdout.trim().split(/\s+/);
  }
  if (!argv) return false;
  const db = argv.indexOf('--db-filename');
  return argv[1] === 'server' && argv[2] === 'start-dev' && db > 0 && path.resolve(argv[db + 1] ?? '') === path.resolve(dbFile);
}

function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8'); // "pid (comm) state ppid …"; comm may hold spaces
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    const ps = spawnSync('ps', ['-o', 'ppid=', '-p', String(pid)], { encoding: 'utf8' });
    return ps.status === 0 ? Number(ps.stdout.trim()) : undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function exitedWithin(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (isAlive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100)); // polling a pid that is not our child: nothing to await
  }
  return true;
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
  // Own process group: a terminal Ctrl-C reaches only the parent, which stops Temporal last, after the worker. The
  // supervisor's stdin is the pipe whose end-of-file means "the parent is gone".
  const child = spawn(process.execPath, ['-e', SUPERVISOR, pidFile, cli, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const spawnFailed = new Promise<never>((_, reject) => child.once('error', reject));
  spawnFailed.catch(() => undefined);
  // Its stdout is the start-up summary (debug); stderr carries its warnings, which are noise once it is stopping.
  let stopRequested = false;
  const tail = pipeLines(child, (line, stream) => {
    if (stream === 'stderr' && !stopRequested) logger.warn({ source: 'temporal' }, line);
    else logger.debug({ source: 'temporal' }, line);
  });
  // An orderly exit of this process without stop() (an uncaught crash): ask the supervisor now rather than at pipe close.
  const stopOnExit = () => child.kill('SIGTERM');
  process.once('exit', stopOnExit);

  const removePidDir = () => {
    if (!o.dataDir) rmSync(pidDir, { recursive: true, force: true });
  };
  const stop = async () => {
    process.off('exit', stopOnExit);
    if (child.exitCode === null && child.signalCode === null) {
      stopRequested = true;
      child.kill('SIGTERM'); // the supervisor stops the server (SIGKILL after its grace period) and then exits
      await exited;
    }
    removePidDir();
  };

  const deadline = Date.now() + READY_TIMEOUT_MS;
  let stillRunning = true;
  void exited.then(() => (stillRunning = false));
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
        if (!stillRunning || child.exitCode !== null) throw err;
        o.abort?.throwIfAborted();
        if (Date.now() > deadline) throw new Error(`the Temporal dev server did not accept connections within ${READY_TIMEOUT_MS} ms`, { cause: err });
        await new Promise((r) => setTimeout(r, 250)); // between connection attempts, bounded by the deadline
      }
    }
  } catch (err) {
    await stop();
    throw err;
  }
  const record = JSON.parse(readFileSync(pidFile, 'utf8')) as PidRecord; // written by the supervisor once it spawned
  return { address, uiUrl: uiPort !== undefined ? `http://${host}:${uiPort}` : undefined, pid: record.pid, stop };
}

/** Forwards a child's output line by line; returns a function giving the last lines (for error messages). */
function pipeLines(child: ChildProcess, onLine: (line: string, stream: 'stdout' | 'stderr') => void): () => string[] {
  const last: string[] = [];
  for (const [name, stream] of [
    ['stdout', child.stdout],
    ['stderr', child.stderr],
  ] as const) {
    let partial = '';
    stream?.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString('utf8')).split(/\r?\n/);
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.trim()) continue;
        onLine(line, name);
        last.push(line);
        if (last.length > 30) last.shift();
      }
    });
  }
  return () => [...last];
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
