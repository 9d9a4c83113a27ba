// A child server of `npm start` (the Temporal dev server, the embedded Postgres) that never outlives the process that
// started it.
//
// Node cannot ask the kernel to signal a child when its parent dies (Linux's PR_SET_PDEATHSIG is not exposed, and
// macOS has nothing like it), and a SIGKILLed parent runs no exit handler. So the server is started through a small
// supervisor process (plain Node, the script below) that holds the read end of a pipe whose write end only the parent
// holds: when the parent dies, however it dies, the kernel closes that end, the supervisor reads end-of-file and
// stops the server (its stop signal, then SIGKILL after a grace period). The supervisor also forwards
// SIGTERM/SIGINT/SIGHUP, so a clean stop goes through it too.
//
// Should the supervisor itself be killed with the parent (e.g. `kill -9` of a whole session), the server survives
// it; for that case the supervisor records the server's pid, its own pid and the command line in a pid file, and the
// next start stops a server that file names (`stopLeftover`), once it has checked that the process is still alive and
// is the same server on the same data.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** What the supervisor writes once the server is spawned (and removes when the server exits). */
export type PidRecord = { pid: number; supervisor?: number; command: string[] };

type SupervisorArgs = { pidFile: string; stopSignal: NodeJS.Signals; graceMs: number; uid?: number; gid?: number };

/** argv after `node -e`: the options (JSON), then the command and its arguments. Output is relayed (and dropped once
 * the parent is gone, rather than failing the server on a broken pipe). */
const SUPERVISOR = `
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const [options, command, ...args] = process.argv.slice(1);
const { pidFile, stopSignal, graceMs, uid, gid } = JSON.parse(options);
const server = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(uid === undefined ? {} : { uid, gid }) });
for (const s of [process.stdout, process.stderr]) s.on('error', () => {});
server.stdout.on('data', (c) => process.stdout.writable && process.stdout.write(c));
server.stderr.on('data', (c) => process.stderr.writable && process.stderr.write(c));
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  server.kill(stopSignal);
  setTimeout(() => server.kill('SIGKILL'), graceMs).unref();
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

export type SuperviseOptions = {
  command: string;
  args: string[];
  /** Where the supervisor records the server (PidRecord). */
  pidFile: string;
  env: NodeJS.ProcessEnv;
  /** How the server is asked to stop (Postgres: SIGINT, its fast shutdown). */
  stopSignal: NodeJS.Signals;
  /** Then SIGKILL after this long. */
  graceMs: number;
  /** Run the server as this user (a root parent starting a server that refuses root). */
  user?: { uid: number; gid: number };
  /** Each line the server writes; `stopping` once stop() was asked. */
  onLine: (line: string, stream: 'stdout' | 'stderr', stopping: boolean) => void;
};

export type Supervised = {
  /** The supervisor's exit (it exits with the server's status). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Rejects when the supervisor could not be spawned; never resolves. */
  spawnFailed: Promise<never>;
  running(): boolean;
  /** The server's last lines of output, for error messages. */
  tail(): string[];
  /** Asks the supervisor to stop the server and resolves once both are gone. */
  stop(): Promise<void>;
};

/** Starts `command` under the supervisor, in its own process group: a terminal Ctrl-C reaches only the parent, which
 * stops its servers in its own order. The supervisor's stdin is the pipe whose end-of-file means "the parent is gone". */
export function supervise(o: SuperviseOptions): Supervised {
  const args: SupervisorArgs = { pidFile: o.pidFile, stopSignal: o.stopSignal, graceMs: o.graceMs, ...(o.user ?? {}) };
  const child = spawn(process.execPath, ['-e', SUPERVISOR, JSON.stringify(args), o.command, ...o.args], {
    env: o.env,
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const spawnFailed = new Promise<never>((_, reject) => child.once('error', reject));
  spawnFailed.catch(() => undefined);
  let stopRequested = false;
  const tail = pipeLines(child, (line, stream) => o.onLine(line, stream, stopRequested));
  // An orderly exit of this process without stop() (an uncaught crash): ask the supervisor now rather than at pipe close.
  const stopOnExit = () => child.kill('SIGTERM');
  process.once('exit', stopOnExit);
  const running = () => child.exitCode === null && child.signalCode === null;
  return {
    exited,
    spawnFailed,
    running,
    tail,
    async stop() {
      process.off('exit', stopOnExit);
      if (!running()) return;
      stopRequested = true;
      child.kill('SIGTERM'); // the supervisor stops the server (SIGKILL after its grace period) and then exits
      await exited;
    },
  };
}

export function readPidRecord(file: string): PidRecord | undefined {
  try {
    const record = JSON.parse(readFileSync(file, 'utf8')) as PidRecord;
    return Number.isInteger(record.pid) && record.pid > 0 ? record : undefined;
  } catch {
    return undefined; // no file (the usual case), or not ours to read
  }
}

/** Whether the server the record names is still under its supervisor, i.e. a start is running now (a supervisor
 * stops its server when its own parent dies). */
export function stillSupervised(record: PidRecord): boolean {
  return record.supervisor !== undefined && isAlive(record.pid) && parentOf(record.pid) === record.supervisor && isAlive(record.supervisor);
}

/** Stops a server an earlier start left running: `signal`, then SIGKILL after `graceMs`. */
export async function stopLeftover(pid: number, signal: NodeJS.Signals, graceMs: number, what: string): Promise<void> {
  process.kill(pid, signal);
  if (await exitedWithin(pid, graceMs)) return;
  process.kill(pid, 'SIGKILL');
  if (!(await exitedWithin(pid, 5_000))) throw new Error(`the ${what} left running (pid ${pid}) does not stop`);
}

/** A process's command line (from /proc, else ps); undefined when it is gone or not ours to read. */
export function commandLine(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    const ps = spawnSync('ps', ['-o', 'args=', '-p', String(pid)], { encoding: 'utf8' });
    return ps.status === 0 ? ps.stdout.trim().split(/\s+/) : undefined;
  }
}

export function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8'); // "pid (comm) state ppid …"; comm may hold spaces
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    const ps = spawnSync('ps', ['-o', 'ppid=', '-p', String(pid)], { encoding: 'utf8' });
    return ps.status === 0 ? Number(ps.stdout.trim()) : undefined;
  }
}

export function isAlive(pid: number): boolean {
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
