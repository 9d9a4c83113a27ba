// The whole service on real parts for a test file: Temporal dev server, a fresh Postgres database, the SMTP catcher,
// the Twilio-compatible sink, the push receiver, the WeChat sink, and a worker running the real activities.
import { randomBytes } from 'node:crypto';
import type express from 'express';
import request from 'supertest';
import { bundleWorkflowCode, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Client } from '@temporalio/client';
import type { TemplateCatalog } from '../../service/templates.js';
import { appDeps, createDeps, type Deps } from '../../composition/deps.js';
import { loadConfig, type Config } from '../../config/config.js';
import { startSmtpCatcher, type SmtpCatcher } from '../../dev/smtp-catcher.js';
import { startTwilioSink, type TwilioSink } from '../../dev/twilio-sink.js';
import { installRuntimeLogger } from '../../worker/run.js';
import { workflowBundleOptions } from '../../worker/workflow-code.js';
import { createLogger } from '../../config/logger.js';
import { createApp } from '../../api/app.js';
import { codecServerOptions } from '../../api/server.js';
import { authenticator, type TokenVerifier } from '../../api/auth.js';
import { ROLES, type Role } from '../../service/principal.js';
import type { ApiKeyStore } from '../../service/api-keys.js';
import { startWebhookSink, type WebhookSink } from '../../dev/webhook-sink.js';
import { startWeChatSink, type WeChatSink } from '../../dev/wechat-sink.js';
import type { AuditLog } from '../../service/audit.js';
import type { DefinitionStore } from '../../service/definitions.js';
import type { JourneyService } from '../../service/journeys.js';
import type { MigrationService } from '../../service/migrations.js';
import type { Simulator } from '../../service/simulation.js';
import { dataConverterFor } from '../../service/payload-codec.js';
import { createTestDb, type TestDb } from './db.js';
import type { PreferenceLinks } from '../../service/preference-links.js';
import { startDevServer, startTimeSkippingServer } from './temporal.js';

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
/** Bundling the workflow code takes seconds: once per test process. Built with the options of `npm run build`'s
 * prebuilt bundle (the failure converter that encodes failures' messages, as every worker with payload keys has). */
export const workflowBundle = () => (bundle ??= bundleWorkflowCode({ ...workflowBundleOptions, logger: quietBundlerLogger }));

const noop = () => undefined;
const quietBundlerLogger = { trace: noop, debug: noop, info: noop, warn: noop, error: noop, log: noop };

/** The payload keys of every test stack: fixed, so histories recorded by a test stack replay in the replay test. (A
 * test key, never a deployment's.) */
export const TEST_PAYLOAD_KEYS = { test1: 'dGVzdC1wYXlsb2FkLWtleS1ub3QtZm9yLXByb2R1Y3Q=' };
export const TEST_PAYLOAD_KEY_ID = 'test1';
/** The payload key settings of every test stack, for a service process a test starts on the stack's Temporal. */
export const TEST_PAYLOAD_ENV = { TEMPORAL_PAYLOAD_KEYS: JSON.stringify(TEST_PAYLOAD_KEYS), TEMPORAL_PAYLOAD_KEY_ID: TEST_PAYLOAD_KEY_ID };
/** The data converter of every test stack's clients and worker (and of a replay of what they recorded). */
export const testDataConverter = () =>
  dataConverterFor({ currentKeyId: TEST_PAYLOAD_KEY_ID, keys: Object.fromEntries(Object.entries(TEST_PAYLOAD_KEYS).map(([id, k]) => [id, Buffer.from(k, 'base64')])) });

export interface Stack {
  /** The Temporal test environment. Its own `env.client` has no payload codec: use `client` to read journeys. */
  env: TestWorkflowEnvironment;
  /** A client on the environment's connection with the service's payload codec, as the API and the worker have. */
  client: Client;
  testDb: TestDb;
  smtp: SmtpCatcher;
  sms: TwilioSink;
  push: WebhookSink;
  wechat: WeChatSink;
  config: Config;
  /** The stack's parts, wired as the service wires them (composition/deps.ts). */
  deps: Deps;
  definitions: DefinitionStore;
  templates: TemplateCatalog;
  service: JourneyService;
  /** Migrations of running journeys to a new definition version. */
  migrations: MigrationService;
  /** The simulation thread pool the stack's apps share. */
  simulator: Simulator;
  /** The audit log the stack's apps write. */
  audit: AuditLog;
  /** Signs the unsubscribe and preference links of the worker's marketing emails (at PREFERENCES_BASE_URL) and
   * checks them in the stack's apps. */
  links: PreferenceLinks;
  taskQueue: string;
  /** The stack's API keys in Postgres. */
  keyStore: ApiKeyStore;
  /** One key per role, made when the stack starts; the `rm` key is bound to `RM_ID`. */
  keys: Record<Role, string>;
  /** A new key for a role (an `rm` key for `rmId`, default `RM_ID`). */
  keyFor(role: Role, rmId?: string): Promise<string>;
  startWorker(): Promise<{ stop(): Promise<void> }>;
  stop(): Promise<void>;
}

/** The public address the links in a test stack's marketing emails point at (a test posts their paths to its app). */
export const PREFERENCES_BASE_URL = 'https://journeys.test';

/** The relationship manager the stack's `rm` key speaks for. */
export const RM_ID = 'rm-001';

/** Tests of journeys run at any hour: no quiet hours and no caps unless a test asks for a policy. */
export const NO_LIMITS = JSON.stringify({ quietHours: {}, caps: { marketing: {}, service: {} } });

export async function startStack(
  opts: { extraServerArgs?: string[]; contactPolicy?: string; timeSkipping?: boolean; /** CONTROL_GROUP_PERCENT (default none). */ controlGroupPercent?: number } = {},
): Promise<Stack> {
  const logger = createLogger({ logLevel: process.env.TEST_LOG_LEVEL ?? 'warn' }, 'test');
  installRuntimeLogger(logger);
  const webhookSecret = 'test-webhook-secret-0123456789';
  const [env, testDb, smtp, sms, push, wechat] = await Promise.all([
    opts.timeSkipping ? startTimeSkippingServer() : startDevServer({ extraArgs: opts.extraServerArgs ?? [] }),
    createTestDb(),
    startSmtpCatcher(),
    startTwilioSink(),
    startWebhookSink({ secret: webhookSecret }),
    startWeChatSink(),
  ]);
  const taskQueue = `journeys-test-${randomBytes(3).toString('hex')}`;
  const config = loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: testDb.url,
    TEMPORAL_ADDRESS: env.address,
    TEMPORAL_TASK_QUEUE: taskQueue,
    SMTP_URL: smtp.smtpUrl,
    TWILIO_API_BASE_URL: sms.url,
    WEBHOOK_URL: push.url,
    WEBHOOK_SECRET: webhookSecret,
    WECHAT_API_BASE_URL: wechat.url,
    CONTACT_POLICY: opts.contactPolicy ?? NO_LIMITS,
    PORT: '0',
    ...(opts.controlGroupPercent !== undefined ? { CONTROL_GROUP_PERCENT: String(opts.controlGroupPercent) } : {}),
    ...TEST_PAYLOAD_ENV,
  });
  const dataConverter = testDataConverter();
  const client = new Client({ connection: env.connection, namespace: config.temporal.namespace, dataConverter });
  // The service's own wiring (composition/deps.ts), on the test's database and Temporal; templates read back at once.
  const deps = createDeps(config, {
    db: testDb.db,
    temporal: { connection: env.connection, client, withDeadline: (call) => call() },
    templateCacheMs: 0,
    linkBaseUrl: PREFERENCES_BASE_URL,
  });
  await deps.seed();
  const activities = deps.activities();
  const keyStore = deps.keys;
  const keyFor = async (role: Role, rmId?: string) => (await keyStore.create({ role, ...(role === 'rm' ? { rmId: rmId ?? RM_ID } : {}), name: `test ${role}` }, 'test')).key;
  const keys = Object.fromEntries(await Promise.all(ROLES.map(async (role) => [role, await keyFor(role)] as const))) as Record<Role, string>;
  const workers = new Set<{ stop(): Promise<void> }>();
  const startWorker = async () => {
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: await workflowBundle(),
      dataConverter,
      activities,
    });
    const running = worker.run();
    const handle = {
      async stop() {
        if (worker.getState() === 'RUNNING') worker.shutdown();
        await running;
        workers.delete(handle);
      },
    };
    workers.add(handle);
    return handle;
  };
  return {
    env,
    client,
    testDb,
    smtp,
    sms,
    push,
    wechat,
    config,
    taskQueue,
    startWorker,
    deps,
    definitions: deps.definitions,
    templates: deps.templates,
    service: deps.journeys,
    migrations: deps.migrations,
    simulator: deps.simulator,
    keyStore,
    keys,
    keyFor,
    links: deps.links,
    audit: deps.audit,
    async stop() {
      for (const w of [...workers]) await w.stop();
      await deps.close();
      await Promise.all([env.teardown(), smtp.close(), sms.close(), push.close(), wechat.close()]);
      await testDb.drop();
    },
  };
}

/** Waits for a condition that the service reaches asynchronously (a workflow applying a signal), checking it
 * after each short interval up to a deadline; fails with the last value seen. */
export async function eventually<T>(read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T;
  for (;;) {
    last = await read();
    if (ok(last)) return last;
    if (Date.now() > deadline)
      throw new Error(`condition not reached in ${timeoutMs} ms; last value: ${JSON.stringify(last, (_k, v) => (typeof v === 'bigint' ? String(v) : v)).slice(0, 2000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Array.fromAsync, which Node 20 lacks. */
export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

const stackOf = new WeakMap<express.Express, Stack>();

/** The API app over the stack's database and Temporal, for supertest; API keys are the stack's (`api(app, role)` calls
 * it with one), and `verifiers` may add token verifiers before them (OIDC). */
export function createStackApp(
  stack: Stack,
  opts: {
    rateLimitPerMinute?: number;
    verifiers?: TokenVerifier[];
    simulator?: Simulator;
    config?: Partial<Pick<Config, 'temporalUiOrigins' | 'codecUiToken' | 'metricsToken'>>;
  } = {},
): express.Express {
  const logger = createLogger({ logLevel: process.env.TEST_LOG_LEVEL ?? 'warn' }, 'test-api');
  const app = createApp({
    ...appDeps(stack.deps, {
      logger,
      readiness: async () => ({ temporal: 'ok', postgres: 'ok' }),
      publicBaseUrl: 'http://127.0.0.1',
      authenticate: authenticator([...(opts.verifiers ?? []), (token) => stack.keyStore.authenticate(token)]),
      ...(stack.config.payloadKeys ? { codec: codecServerOptions({ ...stack.config, ...opts.config }, stack.config.payloadKeys) } : {}),
      ...(opts.rateLimitPerMinute !== undefined ? { rateLimitPerMinute: opts.rateLimitPerMinute } : {}),
      ...(opts.config?.metricsToken !== undefined ? { metricsToken: opts.config.metricsToken } : {}),
    }),
    ...(opts.simulator ? { simulator: opts.simulator } : {}),
  });
  stackOf.set(app, stack);
  return app;
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete', 'head', 'options'] as const;
type Method = (typeof METHODS)[number];
/** Like supertest's `request(app)`, every request carrying `Authorization: Bearer <key>`. */
export type Api = Record<Method, (url: string) => request.Test>;

/** Requests to a stack app as a role (default admin: the stack's key for it) or with a given bearer token. A fresh
 * supertest request per call, as `request(app)` (an agent would share one listening server between concurrent calls). */
export function api(app: express.Express, who: Role | { token: string } = 'admin'): Api {
  let token: string;
  if (typeof who === 'string') {
    const stack = stackOf.get(app);
    if (!stack) throw new Error('api(app, role): the app was not made by createStackApp; pass { token }');
    token = stack.keys[who];
  } else token = who.token;
  return Object.fromEntries(METHODS.map((m) => [m, (url: string) => request(app)[m](url).set('authorization', `Bearer ${token}`)])) as Api;
}
