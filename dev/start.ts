// `npm start`: the whole service on one machine with nothing to set up. Every peer that is not configured runs
// embedded, its state under DATA_DIR (default .data/):
//   TEMPORAL_ADDRESS unset  → `temporal server start-dev` (child process, SQLite file .data/temporal.db, UI :8233)
//   DATABASE_URL unset      → PGlite served over TCP (.data/pg)
//   SMTP_URL unset          → the SMTP catcher (SMTP :1025, mail page :1080)
//   TWILIO_ACCOUNT_SID and TWILIO_API_BASE_URL unset → the Twilio sink (:3099, SMS page on the same port)
//   WEBHOOK_URL unset       → the webhook sink for app pushes (:3098, page on the same port)
// then migrates the database and runs the worker and the API in this process. Ctrl-C / SIGTERM stops everything
// in reverse order and exits 0.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Connection } from '@temporalio/client';
import { ConfigError, loadConfig } from '../config/config.js';
import { createLogger, type Logger } from '../config/logger.js';
import { startEmbeddedPostgres } from './embedded-postgres.js';
import { startSmtpCatcher } from './smtp-catcher.js';
import { resolveTemporalCli } from './temporal-cli.js';
import { startTwilioSink } from './twilio-sink.js';
import { startWebhookSink } from './webhook-sink.js';

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const HOST = '127.0.0.1';
const TEMPORAL_PORT = 7233;
const TEMPORAL_UI_PORT = 8233;
const POSTGRES_PORT = 5433; // next to a real Postgres on 5432; a free port is used when taken
const SMTP_PORT = 1025;
const MAIL_PAGE_PORT = 1080;
const TWILIO_SINK_PORT = 3099;
const WEBHOOK_SINK_PORT = 3098;
const EMBEDDED_POOL_SIZE = '5';
const SEARCH_ATTRIBUTES = ['CustomerId=Keyword', 'JourneyKey=Keyword', 'JourneyStage=Keyword'];
const TEMPORAL_READY_TIMEOUT_MS = 60_000;
const STOP_STEP_TIMEOUT_MS = 15_000;

type Stop = { name: string; stop: () => Promise<void> };

async function main(): Promise<void> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  // Validate what the user did set before starting anything.
  const initial = loadConfig(env);
  const logger = createLogger(initial, 'dev');
  const dataDir = path.resolve(env.DATA_DIR?.trim() || path.join(projectRoot, '.data'));
  mkdirSync(dataDir, { recursive: true });

  const stops: Stop[] = []; // in start order; stopped in reverse
  const urls: [string, string][] = [];
  const abort = new AbortController(); // a signal during start-up: stop at the next step
  const stopAll = async (): Promise<void> => {
    for (let s = stops.pop(); s; s = stops.pop()) {
      try {
        await withTimeout(s.stop(), STOP_STEP_TIMEOUT_MS, `stopping ${s.name}`);
        logger.debug({ step: s.name }, 'stopped');
      } catch (err) {
        logger.error({ step: s.name, err }, 'could not stop cleanly');
      }
    }
  };
  let started = false;
  let firstSignalAt: number | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    // A terminal Ctrl-C reaches this process twice under tsx (from the terminal, and relayed by the tsx parent),
    // so only a signal well after the first one means "stop waiting, exit now".
    if (firstSignalAt !== undefined) {
      if (Date.now() - firstSignalAt < 2_000) return;
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    firstSignalAt = Date.now();
    logger.info({ signal }, 'stopping');
    abort.abort(new Error(`interrupted by ${signal}`));
    if (started) void stopAll().then(() => process.exit(0));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const checkpoint = () => abort.signal.throwIfAborted();

  try {
    // (a) Temporal
    if (!env.TEMPORAL_ADDRESS?.trim()) {
      const temporal = await startTemporalDevServer(dataDir, env, logger, abort.signal);
      stops.push({ name: 'temporal dev server', stop: temporal.stop });
      env.TEMPORAL_ADDRESS = temporal.address;
      urls.push(['Temporal', `${temporal.address} (embedded dev server, ${path.join(dataDir, 'temporal.db')})`]);
      urls.push(['Temporal UI', temporal.uiUrl]);
      checkpoint();
    } else {
      urls.push(['Temporal', env.TEMPORAL_ADDRESS]);
    }

    // (b) Postgres
    if (!env.DATABASE_URL?.trim()) {
      const pgDir = path.join(dataDir, 'pg');
      const pg = await startEmbeddedPostgresOnPreferredPort(pgDir, logger);
      stops.push({ name: 'embedded postgres', stop: () => pg.close() });
      env.DATABASE_URL = pg.url;
      env.DATABASE_POOL_SIZE ??= EMBEDDED_POOL_SIZE;
      urls.push(['Database', `${pg.url} (embedded PGlite, ${pgDir})`]);
      checkpoint();
    } else {
      urls.push(['Database', redactUrl(env.DATABASE_URL)]);
    }

    // (c) mail
    if (!env.SMTP_URL?.trim()) {
      const smtp = await startSmtpCatcher({
        smtpPort: SMTP_PORT,
        httpPort: MAIL_PAGE_PORT,
        host: HOST,
        log: (msg) => logger.debug(msg),
      });
      stops.push({ name: 'smtp catcher', stop: () => smtp.close() });
      env.SMTP_URL = smtp.smtpUrl;
      urls.push(['SMTP', `${smtp.smtpUrl} (catcher)`]);
      urls.push(['Mail page', smtp.httpUrl ?? '']);
      checkpoint();
    } else {
      urls.push(['SMTP', redactUrl(env.SMTP_URL)]);
    }

    // (d) SMS
    if (!env.TWILIO_ACCOUNT_SID?.trim() && !env.TWILIO_API_BASE_URL?.trim()) {
      const sink = await startTwilioSink({ port: TWILIO_SINK_PORT, host: HOST, log: (msg) => logger.debug(msg) });
      stops.push({ name: 'twilio sink', stop: () => sink.close() });
      env.TWILIO_API_BASE_URL = sink.url;
      urls.push(['SMS page', `${sink.url}/ (Twilio sink)`]);
      checkpoint();
    } else {
      urls.push(['SMS', env.TWILIO_API_BASE_URL?.trim() || 'Twilio (api.twilio.com)']);
    }

    // (e) app pushes (the webhook channel)
    if (!env.WEBHOOK_URL?.trim()) {
      const secret = env.WEBHOOK_SECRET?.trim() || 'local-webhook-secret-change-me';
      env.WEBHOOK_SECRET = secret;
      const sink = await startWebhookSink({ secret, port: WEBHOOK_SINK_PORT, host: HOST });
      stops.push({ name: 'webhook sink', stop: () => sink.close() });
      env.WEBHOOK_URL = sink.url;
      urls.push(['Push page', `${new URL(sink.url).origin}/ (webhook sink)`]);
      checkpoint();
    } else {
      urls.push(['Webhook', env.WEBHOOK_URL]);
    }

    // (f) the service, in this process, on the environment built above. Loaded lazily so that a broken service
    // module is reported as a start-up failure, with the peers above stopped cleanly.
    const config = loadConfig(env);
    const appLogger = createLogger(config, 'journeys');
    const { migrate } = await import('../db/migrate.js');
    const { runWorker } = await import('../worker/run.js');
    const { startApiServer } = await import('../api/server.js');
    await migrate(config.databaseUrl, appLogger);
    checkpoint();
    const worker = await runWorker(config, appLogger);
    stops.push({ name: 'worker', stop: () => worker.shutdown() });
    checkpoint();
    const api = await startApiServer(config, appLogger);
    stops.push({ name: 'api', stop: () => api.close() });
    checkpoint();
    urls.unshift(['API', api.url]);
    started = true;
  } catch (err) {
    if (!abort.signal.aborted) logger.error({ err }, 'start-up failed');
    await stopAll();
    process.exit(abort.signal.aborted ? 0 : 1);
  }

  urls.push(['Data folder', dataDir]);
  const width = Math.max(...urls.map(([k]) => k.length));
  const lines = urls.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`);
  process.stdout.write(`\nJourneys is running.\n${lines.join('\n')}\n\nCtrl-C stops it.\n\n`);
}

/** Starts `temporal server start-dev` and resolves once it accepts gRPC connections. */
async function startTemporalDevServer(dataDir: string, env: NodeJS.ProcessEnv, logger: Logger, abort: AbortSignal) {
  const address = `${HOST}:${TEMPORAL_PORT}`;
  for (const port of [TEMPORAL_PORT, TEMPORAL_UI_PORT]) {
    if (await isListening(HOST, port)) {
      throw new Error(
        `port ${port} on ${HOST} is already in use. Is a Temporal server already running? ` +
          `Stop it, or set TEMPORAL_ADDRESS=${address} to use it instead of starting one.`,
      );
    }
  }
  const cli = await resolveTemporalCli({ projectRoot, env, install: true, log: (msg) => logger.info(msg) });
  const args = [
    'server', 'start-dev',
    '--db-filename', path.join(dataDir, 'temporal.db'),
    '--ip', HOST,
    '--port', String(TEMPORAL_PORT),
    '--ui-port', String(TEMPORAL_UI_PORT),
    '--namespace', 'default',
    ...SEARCH_ATTRIBUTES.flatMap((sa) => ['--search-attribute', sa]),
    '--log-level', 'warn',
  ];
  logger.info({ cli }, 'starting the Temporal dev server');
  // Own process group: a terminal Ctrl-C reaches only this process, which stops Temporal last, after the worker.
  const child = spawn(cli, args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const spawnFailed = new Promise<never>((_, reject) => child.once('error', reject));
  spawnFailed.catch(() => undefined);
  // Its stdout is the start-up summary (debug); stderr carries its warnings, which are noise once it is stopping.
  let stopRequested = false;
  const tail = pipeLines(child, (line, stream) => {
    if (stream === 'stderr' && !stopRequested) logger.warn({ source: 'temporal' }, line);
    else logger.debug({ source: 'temporal' }, line);
  });
  // If this process dies without stopping it (an uncaught crash), do not leave the server behind.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  const stop = async () => {
    process.off('exit', killOnExit);
    if (child.exitCode !== null || child.signalCode !== null) return;
    stopRequested = true;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };

  const deadline = Date.now() + TEMPORAL_READY_TIMEOUT_MS;
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
        abort.throwIfAborted();
        if (Date.now() > deadline)
          throw new Error(`the Temporal dev server did not accept connections within ${TEMPORAL_READY_TIMEOUT_MS} ms`, { cause: err });
        await new Promise((r) => setTimeout(r, 250)); // between connection attempts, bounded by the deadline
      }
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { address, uiUrl: `http://${HOST}:${TEMPORAL_UI_PORT}`, stop };
}

async function startEmbeddedPostgresOnPreferredPort(dataDir: string, logger: Logger) {
  const log = (msg: string) => logger.debug(msg);
  try {
    return await startEmbeddedPostgres({ dataDir, host: HOST, port: POSTGRES_PORT, log });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    logger.warn(`port ${POSTGRES_PORT} is taken; the embedded Postgres uses a free port`);
    return startEmbeddedPostgres({ dataDir, host: HOST, port: 0, log });
  }
}

/** Forwards a child's output line by line; returns a function giving the last lines (for error messages). */
function pipeLines(child: ChildProcess, onLine: (line: string, stream: 'stdout' | 'stderr') => void): () => string[] {
  const last: string[] = [];
  for (const [name, stream] of [['stdout', child.stdout], ['stderr', child.stderr]] as const) {
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

function redactUrl(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return '(unparseable URL)';
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took more than ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof ConfigError ? err.message : (err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
