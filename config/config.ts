// The one place that reads process.env. Everything else receives a Config.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { DEFAULT_DURATION_LIMITS, type DurationLimits, isMaxDuration } from '../engine/duration.js';
import { ConfiguredKey } from '../service/api-keys.js';
import { type ControlGroup, DEFAULT_HOLDOUT_SALT } from '../service/holdouts.js';
import type { OidcConfig } from '../api/oidc.js';

/** API_KEYS: a JSON list of keys given by configuration. Never echoed in an error (it holds secrets). */
const ApiKeysJson = z.string().transform((raw, ctx) => {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'not valid JSON (a list of {"key", "role", "rmId"?, "name"?})' });
    return z.NEVER;
  }
  const r = z.array(ConfiguredKey).max(1000).safeParse(value);
  if (!r.success) {
    for (const i of r.error.issues) ctx.addIssue({ code: 'custom', message: `${i.path.join('.') || '(list)'}: ${i.message}` });
    return z.NEVER;
  }
  return r.data;
});

const schema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  /** The address the API listens on; unset means every interface (`npm start` sets 127.0.0.1 unless given). */
  HOST: z.string().optional(),
  DATABASE_URL: z.string().url().default('postgresql://postgres@127.0.0.1:5432/journeys'),
  /** Connections per process. (The embedded database of `npm start` accepts several but runs them one at a time.) */
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(100).default(10),
  TEMPORAL_ADDRESS: z.string().default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().default('default'),
  TEMPORAL_TASK_QUEUE: z.string().default('journeys'),
  SMTP_URL: z.string().url().default('smtp://127.0.0.1:1025'),
  MAIL_FROM: z.string().default('Journeys <journeys@localhost>'),
  TWILIO_ACCOUNT_SID: z.string().default('AC00000000000000000000000000000000'),
  TWILIO_AUTH_TOKEN: z.string().default('local-sink-token'),
  TWILIO_FROM: z.string().default('+15005550006'),
  /** Where the Twilio client sends its requests. Unset means Twilio itself; set it to a Twilio-compatible server. */
  TWILIO_API_BASE_URL: z.string().url().optional(),
  /** The bank's WeChat official account (the wechat channel, optional): its app id and secret, and where its API is
   * (unset: WeChat itself; the local sink in development and tests). The channel is configured when WECHAT_APP_ID is
   * set — outside production it defaults to the local sink's, whose secret is then the default — and then needs its
   * secret (any app id but the sink's, in every environment); unset in production, the channel is "not configured":
   * definitions that send on it are not published, and a send on it fails for good. */
  WECHAT_APP_ID: z.string().min(1).max(64).optional(),
  WECHAT_APP_SECRET: z.string().min(1).max(128).optional(),
  WECHAT_API_BASE_URL: z.string().url().default('https://api.weixin.qq.com'),
  /** Where push/app messages (the webhook channel) are POSTed, signed with WEBHOOK_SECRET. */
  WEBHOOK_URL: z.string().url().default('http://127.0.0.1:3098/push'),
  WEBHOOK_SECRET: z.string().min(16).default('local-webhook-secret-change-me'),
  /** The API's address as providers and customers see it: Twilio's delivery callbacks are sent to, and signed for, this
   * URL, and the unsubscribe and preference links of marketing emails point at it. */
  PUBLIC_BASE_URL: z.string().url().optional(),
  /** HMAC key of the customers' unsubscribe and preference links (a link's signature is its only authentication). */
  PREFERENCES_SECRET: z.string().min(32).default('local-preferences-secret-change-me'),
  /** How long such a link works after its email was sent, in days. */
  PREFERENCES_LINK_DAYS: z.coerce.number().int().min(1).max(366).default(30),
  /** Contact policy as JSON (see policy/policy.ts: quiet hours per channel, frequency caps per class); unset → the
   * defaults there. */
  CONTACT_POLICY: z.string().optional(),
  /** Wall-clock budget of one simulation, in its own thread; over it the request is answered 422. */
  SIMULATION_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(5_000),
  /** Threads simulations run on, at most: a runaway definition can hold no more cores than these. */
  SIMULATION_THREADS: z.coerce.number().int().min(1).max(16).default(1),
  /** Deadline of each call the service makes to Temporal (retries included): past it, the API answers 503. */
  TEMPORAL_CALL_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(2_500),
  /** How often the API delivers events recorded but not delivered (Temporal was down), and how old they must be. */
  EVENT_SWEEP_INTERVAL_MS: z.coerce.number().int().min(50).max(3_600_000).default(5_000),
  EVENT_SWEEP_AFTER_MS: z.coerce.number().int().min(0).max(3_600_000).default(15_000),
  /** The longest duration a journey definition or a start request's params may use (an ISO-8601 duration, ≤ P100Y). */
  JOURNEY_MAX_DURATION: z.string().refine(isMaxDuration, 'an ISO-8601 duration from PT1S to P100Y').default(DEFAULT_DURATION_LIMITS.max),
  /** Keys that encrypt Temporal payloads: JSON `{"<keyId>": "<base64 of 32 random bytes>", …}`; several for rotation. */
  TEMPORAL_PAYLOAD_KEYS: z.string().optional(),
  /** Which of them seals new payloads (may be omitted when there is only one). */
  TEMPORAL_PAYLOAD_KEY_ID: z.string().optional(),
  /** The origin(s) of the Temporal UI allowed to call the codec server from the browser (CORS), comma-separated, e.g.
   * https://temporal-ui.bank.internal. */
  TEMPORAL_UI_ORIGIN: z
    .string()
    .refine((v) => v.split(',').every((o) => URL.canParse(o.trim())), 'one or more URLs, comma-separated')
    .optional(),
  /** Outside production only: a random path segment that lets the Temporal UI of `npm start` (which has no login and
   * so no token to forward) call /codec/<token>/decode without a bearer key. `npm start` makes a new one each start. */
  TEMPORAL_UI_CODEC_TOKEN: z
    .string()
    .min(32)
    .max(128)
    .regex(/^[A-Za-z0-9_-]+$/, 'URL-safe characters')
    .optional(),
  /** The worker's prebuilt workflow bundle (`npm run build` writes dist/workflow-bundle.js; a relative path is taken
   * from the working directory). Unset: with NODE_ENV=production the one beside the compiled worker, otherwise the
   * worker bundles the workflow code from its sources at start. */
  WORKFLOW_BUNDLE: z.string().min(1).optional(),
  /** The bearer token a Prometheus scraper presents at /metrics (ops and admin keys are accepted there too). A token of
   * its own, not an API key: a scraper needs the counters and nothing else — an ops key would also read customers. */
  METRICS_TOKEN: z.string().min(32, 'at least 32 characters').max(256).optional(),
  /** A worker run on its own (`npm run worker`) serves /metrics on this port (needs METRICS_TOKEN); unset: not served. */
  WORKER_METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  /** The worker's tuning (worker/run.ts); unset: the SDK's defaults, which the bench measured as good as any other
   * choice on a 2-core box (BENCHMARKS.md, "Fewer round trips"). Workflows kept in memory between their tasks (an
   * evicted one replays its history on its next task): */
  WORKER_MAX_CACHED_WORKFLOWS: z.coerce.number().int().min(0).max(1_000_000).optional(),
  /** Workflow tasks, activities and local activities (the read model's writes) run at once, at most. */
  WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: z.coerce.number().int().min(2).max(10_000).optional(),
  WORKER_MAX_CONCURRENT_ACTIVITIES: z.coerce.number().int().min(1).max(10_000).optional(),
  WORKER_MAX_CONCURRENT_LOCAL_ACTIVITIES: z.coerce.number().int().min(1).max(10_000).optional(),
  /** One V8 context shared by the cached workflows (the SDK's default, less memory per workflow) or one each. */
  WORKER_REUSE_V8_CONTEXT: z.enum(['true', 'false']).optional(),
  /** Workflow starts a bulk enrolment keeps in flight at once (service/enrolments.ts): its only per-customer cost left is
   * that Temporal call, so it is the Temporal server's capacity that bounds it (BENCHMARKS.md, "Bulk enrolment"). */
  ENROLMENT_START_CONCURRENCY: z.coerce.number().int().min(1).max(1_000).default(64),
  /** TLS to Temporal: on by default when TEMPORAL_API_KEY or a TLS file is set; `false` forces plain TCP. */
  TEMPORAL_TLS: z.enum(['true', 'false']).optional(),
  /** mTLS client certificate and key, and the CA that signed the server's certificate: a PEM file path or PEM text. */
  TEMPORAL_TLS_CERT: z.string().optional(),
  TEMPORAL_TLS_KEY: z.string().optional(),
  TEMPORAL_TLS_CA: z.string().optional(),
  /** The server name the certificate is checked against, when it differs from TEMPORAL_ADDRESS's host. */
  TEMPORAL_TLS_SERVER_NAME: z.string().optional(),
  /** An API key for Temporal Cloud or a cluster that authenticates callers by bearer token. */
  TEMPORAL_API_KEY: z.string().optional(),
  /** Keys the API accepts from start-up: a JSON list of {"key", "role", "rmId"?, "name"?}, each key ≥ 24 characters;
   * stored hashed (by hash, so a key given again is updated, not duplicated). */
  API_KEYS: ApiKeysJson.optional(),
  /** OIDC bearer tokens: accepted when OIDC_ISSUER is set (then OIDC_AUDIENCE is required). */
  OIDC_ISSUER: z.string().url().optional(),
  OIDC_AUDIENCE: z.string().min(1).optional(),
  /** Unset: the jwks_uri of the issuer's /.well-known/openid-configuration. */
  OIDC_JWKS_URL: z.string().url().optional(),
  /** The claims the role and the RM id are read from (a dotted path reaches into an object, e.g. realm_access.roles). */
  OIDC_ROLE_CLAIM: z.string().min(1).default('role'),
  OIDC_RM_ID_CLAIM: z.string().min(1).default('rm_id'),
  /** The console's public client at the identity provider (authorization code + PKCE in the browser); unset: the
   * console offers API-key sign-in only. */
  OIDC_CONSOLE_CLIENT_ID: z.string().min(1).max(200).optional(),
  OIDC_CONSOLE_SCOPES: z.string().min(1).max(500).default('openid profile'),
  /** The signature algorithms accepted, comma-separated. */
  OIDC_ALGORITHMS: z
    .string()
    .transform((s) =>
      s
        .split(',')
        .map((a) => a.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.enum(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'])).min(1))
    .default(['RS256', 'ES256']),
  /** The global control group: this per cent of customers (0–50, decimals allowed) is held out of every journey tagged
   * `marketing` — the same waits and stages, no sends, no tasks — so lift can be measured. 0: no global group. */
  CONTROL_GROUP_PERCENT: z.coerce.number().min(0).max(50).default(0),
  /** Salts the holdout draws (global and per journey); a new salt draws new groups. */
  HOLDOUT_SALT: z.string().min(1).max(200).default(DEFAULT_HOLDOUT_SALT),
  /** Requests per minute one principal may make; more are answered 429 with Retry-After. */
  RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).max(1_000_000).default(1200),
});

/** How the service reaches a secured Temporal: TLS (server CA, SNI, mTLS client pair) and/or an API key. */
export interface TemporalSecurity {
  /** Undefined: plain TCP. */
  tls?: { serverRootCACertificate?: string; serverNameOverride?: string; clientCertPair?: { crt: string; key: string } };
  apiKey?: string;
}

export type Config = {
  env: 'development' | 'test' | 'production';
  logLevel: string;
  port: number;
  /** Unset: every interface. */
  host?: string;
  databaseUrl: string;
  databasePoolSize: number;
  temporal: { address: string; namespace: string; taskQueue: string } & TemporalSecurity;
  /** Payload encryption keys; undefined only outside production when none are configured (payloads travel plain). */
  payloadKeys?: { currentKeyId: string; keys: Record<string, Uint8Array> };
  /** The Temporal UI's origins, allowed to call /codec/* from the browser. */
  temporalUiOrigins: string[];
  /** The codec server's path segment for the local Temporal UI (never in production). */
  codecUiToken?: string;
  smtp: { url: string; from: string };
  twilio: { accountSid: string; authToken: string; from: string; apiBaseUrl?: string };
  webhook: { url: string; secret: string };
  /** Unset: the bank has not configured WeChat (no WECHAT_APP_ID in production); the channel is "not configured". */
  wechat?: { appId: string; appSecret: string; apiBaseUrl: string };
  /** Set only when PUBLIC_BASE_URL is: the API otherwise uses the address it listens on. */
  publicBaseUrl?: string;
  /** The signing key and lifetime of the unsubscribe and preference links in marketing emails. */
  preferences: { secret: string; linkDays: number };
  /** Raw CONTACT_POLICY JSON, parsed by the policy module. */
  contactPolicy?: string;
  simulation: { timeoutMs: number; threads: number };
  /** Deadline of each call to Temporal from the service, in ms. */
  temporalCallTimeoutMs: number;
  eventSweep: { intervalMs: number; afterMs: number };
  /** Bounds on journey durations, checked when a definition is validated and when a journey starts. */
  durationLimits: DurationLimits;
  /** Keys given by configuration (API_KEYS), stored at start-up. */
  apiKeys: ConfiguredKey[];
  /** Requests per minute per principal. */
  rateLimitPerMinute: number;
  /** The global control group and the salt of every holdout draw (service/holdouts.ts). */
  controlGroup: ControlGroup;
  /** Set when OIDC_ISSUER is: bearer tokens from that identity provider are accepted. */
  oidc?: OidcConfig;
  /** The scraper's bearer token for /metrics. */
  metricsToken?: string;
  /** Where a lone worker serves /metrics. */
  workerMetricsPort?: number;
  /** WORKFLOW_BUNDLE as an absolute path: the prebuilt workflow bundle the worker loads (worker/workflow-code.ts). */
  workflowBundle?: string;
  /** The worker's tuning; each unset field is the SDK's default. */
  worker: WorkerTuning;
  /** Workflow starts a bulk enrolment keeps in flight. */
  enrolmentStartConcurrency: number;
};

export interface WorkerTuning {
  maxCachedWorkflows?: number;
  maxConcurrentWorkflowTaskExecutions?: number;
  maxConcurrentActivityTaskExecutions?: number;
  maxConcurrentLocalActivityExecutions?: number;
  reuseV8Context?: boolean;
}

export class ConfigError extends Error {}

/** The local WeChat sink's app id and secret (dev/wechat-sink.ts): WeChat's settings outside production when none
 * are given, so `npm start` and the tests send to the sink. */
const DEV_WECHAT = { appId: 'wx00000000000000dev', appSecret: 'local-wechat-sink-secret' } as const;

/** Secrets that must be real in production: the Twilio auth token verifies delivery callbacks (a known token lets
 * anyone forge them), the webhook secret signs app pushes, the preferences secret signs the links that opt a customer
 * out (a known one lets anyone unsubscribe anyone), and — only when the bank configures WeChat (WECHAT_APP_ID) — the
 * WeChat app secret, which gets the official account's access tokens. Missing, one of the built-in defaults, or an
 * obvious placeholder ("change-me", "placeholder", "example") is refused. */
const PRODUCTION_SECRETS = [
  ['TWILIO_AUTH_TOKEN', 'local-sink-token'],
  ['WEBHOOK_SECRET', 'local-webhook-secret-change-me'],
  ['PREFERENCES_SECRET', 'local-preferences-secret-change-me'],
] as const;
const PLACEHOLDER = /change[-_ ]?me|placeholder|example|^(x+|0+|secret|token|test|dummy|changeit)$/i;

function secretProblem(name: string, value: string | undefined, builtIn: string): string | undefined {
  if (value === undefined) return `${name} is not set`;
  if (value === builtIn || PLACEHOLDER.test(value)) return `${name} is a placeholder`;
  return undefined;
}

function productionProblems(given: Record<string, string | undefined>): string[] {
  const problems: string[] = [];
  for (const [name, builtIn] of PRODUCTION_SECRETS) {
    const problem = secretProblem(name, given[name]?.trim(), builtIn);
    if (problem) problems.push(problem);
  }
  // WeChat is optional: without WECHAT_APP_ID it is not configured and needs no secret. A secret without its app id
  // is a half-done configuration that would leave the channel off without a word: refused.
  if (given.WECHAT_APP_ID !== undefined) {
    const problem = secretProblem('WECHAT_APP_SECRET', given.WECHAT_APP_SECRET?.trim(), DEV_WECHAT.appSecret);
    if (problem) problems.push(`${problem} (required when WECHAT_APP_ID is)`);
  } else if (given.WECHAT_APP_SECRET !== undefined) problems.push('WECHAT_APP_SECRET is set but WECHAT_APP_ID is not (without its app id WeChat stays off)');
  return problems;
}

/** WeChat's settings: configured when WECHAT_APP_ID is given (outside production: unless given, the local sink's). The
 * sink's secret is the default only for the sink's app id: a real app id paired with it would fail at WeChat on the
 * first send (or talk to the sink as the bank's account), so a real app id needs its own secret in every environment. */
function wechatConfig(e: z.infer<typeof schema>): Config['wechat'] {
  const dev = e.NODE_ENV !== 'production';
  const appId = e.WECHAT_APP_ID ?? (dev ? DEV_WECHAT.appId : undefined);
  if (appId === undefined) return undefined;
  const appSecret = e.WECHAT_APP_SECRET ?? (dev && appId === DEV_WECHAT.appId ? DEV_WECHAT.appSecret : undefined);
  // In production productionProblems has refused this already; elsewhere a real app id without its secret gets here.
  if (appSecret === undefined)
    throw new ConfigError(
      `invalid configuration: WECHAT_APP_SECRET: required when WECHAT_APP_ID is set to an app other than the local sink's (${DEV_WECHAT.appId}); the sink's secret goes only with the sink's app id`,
    );
  return { appId, appSecret, apiBaseUrl: e.WECHAT_API_BASE_URL };
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // An empty variable (e.g. `TWILIO_ACCOUNT_SID=` in a compose file) means "not set".
  const given = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v.trim() !== ''));
  const parsed = schema.safeParse(given);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ConfigError(`invalid configuration: ${problems}`);
  }
  const e = parsed.data;
  if (e.WORKER_METRICS_PORT !== undefined && e.METRICS_TOKEN === undefined)
    throw new ConfigError('invalid configuration: METRICS_TOKEN: required when WORKER_METRICS_PORT is set (the worker has no API keys to check)');
  if (e.OIDC_ISSUER !== undefined && e.OIDC_AUDIENCE === undefined) throw new ConfigError('invalid configuration: OIDC_AUDIENCE: required when OIDC_ISSUER is set');
  const payloadKeys = parsePayloadKeys(e.TEMPORAL_PAYLOAD_KEYS, e.TEMPORAL_PAYLOAD_KEY_ID);
  const security = temporalSecurity(e);
  if (e.NODE_ENV === 'production') {
    const problems = productionProblems(given);
    if (!payloadKeys) problems.push('TEMPORAL_PAYLOAD_KEYS is not set (customer data would sit in plain text in Temporal)');
    if (e.PUBLIC_BASE_URL === undefined)
      problems.push("PUBLIC_BASE_URL is not set (the unsubscribe links of marketing emails, and Twilio's callbacks, would point at this host's loopback address)");
    if (e.TEMPORAL_UI_CODEC_TOKEN !== undefined)
      problems.push("TEMPORAL_UI_CODEC_TOKEN is for the local Temporal UI of npm start only (in production the UI forwards its users' access tokens)");
    if (problems.length)
      throw new ConfigError(
        `refusing to start with NODE_ENV=production: ${problems.join('; ')}. Set the real Twilio auth token (and WeChat app secret, if WeChat is used), long random webhook and preferences secrets, TEMPORAL_PAYLOAD_KEYS and PUBLIC_BASE_URL (see the README).`,
      );
  }
  const wechat = wechatConfig(e);
  return {
    env: e.NODE_ENV,
    logLevel: e.LOG_LEVEL,
    port: e.PORT,
    ...(e.HOST !== undefined ? { host: e.HOST } : {}),
    databaseUrl: e.DATABASE_URL,
    databasePoolSize: e.DATABASE_POOL_SIZE,
    temporal: { address: e.TEMPORAL_ADDRESS, namespace: e.TEMPORAL_NAMESPACE, taskQueue: e.TEMPORAL_TASK_QUEUE, ...security },
    ...(payloadKeys ? { payloadKeys } : {}),
    temporalUiOrigins: (e.TEMPORAL_UI_ORIGIN ?? '')
      .split(',')
      .filter((o) => o.trim())
      .map((o) => new URL(o.trim()).origin),
    ...(e.TEMPORAL_UI_CODEC_TOKEN !== undefined ? { codecUiToken: e.TEMPORAL_UI_CODEC_TOKEN } : {}),
    smtp: { url: e.SMTP_URL, from: e.MAIL_FROM },
    twilio: {
      accountSid: e.TWILIO_ACCOUNT_SID,
      authToken: e.TWILIO_AUTH_TOKEN,
      from: e.TWILIO_FROM,
      apiBaseUrl: e.TWILIO_API_BASE_URL,
    },
    webhook: { url: e.WEBHOOK_URL, secret: e.WEBHOOK_SECRET },
    ...(wechat ? { wechat } : {}),
    ...(e.PUBLIC_BASE_URL !== undefined ? { publicBaseUrl: e.PUBLIC_BASE_URL.replace(/\/$/, '') } : {}),
    preferences: { secret: e.PREFERENCES_SECRET, linkDays: e.PREFERENCES_LINK_DAYS },
    ...(e.CONTACT_POLICY !== undefined ? { contactPolicy: e.CONTACT_POLICY } : {}),
    simulation: { timeoutMs: e.SIMULATION_TIMEOUT_MS, threads: e.SIMULATION_THREADS },
    temporalCallTimeoutMs: e.TEMPORAL_CALL_TIMEOUT_MS,
    eventSweep: { intervalMs: e.EVENT_SWEEP_INTERVAL_MS, afterMs: e.EVENT_SWEEP_AFTER_MS },
    durationLimits: { ...DEFAULT_DURATION_LIMITS, max: e.JOURNEY_MAX_DURATION },
    apiKeys: e.API_KEYS ?? [],
    rateLimitPerMinute: e.RATE_LIMIT_PER_MINUTE,
    controlGroup: { percent: e.CONTROL_GROUP_PERCENT, salt: e.HOLDOUT_SALT },
    ...(e.METRICS_TOKEN !== undefined ? { metricsToken: e.METRICS_TOKEN } : {}),
    ...(e.WORKER_METRICS_PORT !== undefined ? { workerMetricsPort: e.WORKER_METRICS_PORT } : {}),
    ...(e.WORKFLOW_BUNDLE !== undefined ? { workflowBundle: path.resolve(e.WORKFLOW_BUNDLE) } : {}),
    enrolmentStartConcurrency: e.ENROLMENT_START_CONCURRENCY,
    worker: {
      ...(e.WORKER_MAX_CACHED_WORKFLOWS !== undefined ? { maxCachedWorkflows: e.WORKER_MAX_CACHED_WORKFLOWS } : {}),
      ...(e.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS !== undefined ? { maxConcurrentWorkflowTaskExecutions: e.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS } : {}),
      ...(e.WORKER_MAX_CONCURRENT_ACTIVITIES !== undefined ? { maxConcurrentActivityTaskExecutions: e.WORKER_MAX_CONCURRENT_ACTIVITIES } : {}),
      ...(e.WORKER_MAX_CONCURRENT_LOCAL_ACTIVITIES !== undefined ? { maxConcurrentLocalActivityExecutions: e.WORKER_MAX_CONCURRENT_LOCAL_ACTIVITIES } : {}),
      ...(e.WORKER_REUSE_V8_CONTEXT !== undefined ? { reuseV8Context: e.WORKER_REUSE_V8_CONTEXT === 'true' } : {}),
    },
    ...(e.OIDC_ISSUER !== undefined
      ? {
          oidc: {
            issuer: e.OIDC_ISSUER,
            audience: e.OIDC_AUDIENCE!,
            ...(e.OIDC_JWKS_URL !== undefined ? { jwksUrl: e.OIDC_JWKS_URL } : {}),
            roleClaim: e.OIDC_ROLE_CLAIM,
            rmIdClaim: e.OIDC_RM_ID_CLAIM,
            algorithms: e.OIDC_ALGORITHMS,
            ...(e.OIDC_CONSOLE_CLIENT_ID !== undefined ? { consoleClientId: e.OIDC_CONSOLE_CLIENT_ID, consoleScopes: e.OIDC_CONSOLE_SCOPES } : {}),
          },
        }
      : {}),
  };
}

const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** TEMPORAL_PAYLOAD_KEYS / TEMPORAL_PAYLOAD_KEY_ID, checked: each key 32 bytes of base64, the current one among them.
 * The values never appear in an error. */
function parsePayloadKeys(raw: string | undefined, currentKeyId: string | undefined): Config['payloadKeys'] {
  if (raw === undefined) {
    if (currentKeyId !== undefined) throw new ConfigError('invalid configuration: TEMPORAL_PAYLOAD_KEY_ID is set but TEMPORAL_PAYLOAD_KEYS is not');
    return undefined;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigError('invalid configuration: TEMPORAL_PAYLOAD_KEYS: not JSON (expected {"<keyId>": "<base64 of 32 bytes>"})');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || Object.keys(parsed).length === 0)
    throw new ConfigError('invalid configuration: TEMPORAL_PAYLOAD_KEYS: expected a non-empty object {"<keyId>": "<base64 of 32 bytes>"}');
  const keys: Record<string, Uint8Array> = {};
  for (const [id, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (!KEY_ID.test(id)) throw new ConfigError(`invalid configuration: TEMPORAL_PAYLOAD_KEYS: key id "${id.slice(0, 64)}" must be 1-64 of A-Z a-z 0-9 . _ -`);
    const bytes = typeof value === 'string' && /^[A-Za-z0-9+/]+={0,2}$/.test(value.trim()) ? Buffer.from(value.trim(), 'base64') : undefined;
    if (bytes?.length !== 32) throw new ConfigError(`invalid configuration: TEMPORAL_PAYLOAD_KEYS: key "${id}" must be the base64 of 32 random bytes`);
    keys[id] = new Uint8Array(bytes);
  }
  const ids = Object.keys(keys);
  const current = currentKeyId ?? (ids.length === 1 ? ids[0] : undefined);
  if (current === undefined) throw new ConfigError('invalid configuration: TEMPORAL_PAYLOAD_KEY_ID: say which of the TEMPORAL_PAYLOAD_KEYS seals new payloads');
  if (!(current in keys)) throw new ConfigError(`invalid configuration: TEMPORAL_PAYLOAD_KEY_ID: "${current.slice(0, 64)}" is not among TEMPORAL_PAYLOAD_KEYS`);
  return { currentKeyId: current, keys };
}

/** PEM text as given, or the contents of the file it names. */
function pem(name: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (value.includes('-----BEGIN')) return value;
  try {
    return readFileSync(value, 'utf8');
  } catch (err) {
    throw new ConfigError(`invalid configuration: ${name}: cannot read ${value} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

function temporalSecurity(e: z.infer<typeof schema>): TemporalSecurity {
  if ((e.TEMPORAL_TLS_CERT === undefined) !== (e.TEMPORAL_TLS_KEY === undefined))
    throw new ConfigError('invalid configuration: TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together (the mTLS client certificate and its key)');
  const anyTls = [e.TEMPORAL_TLS_CERT, e.TEMPORAL_TLS_CA, e.TEMPORAL_TLS_SERVER_NAME].some((v) => v !== undefined);
  const tlsOn = e.TEMPORAL_TLS !== undefined ? e.TEMPORAL_TLS === 'true' : anyTls || e.TEMPORAL_API_KEY !== undefined;
  if (!tlsOn && anyTls) throw new ConfigError('invalid configuration: TEMPORAL_TLS=false contradicts the TEMPORAL_TLS_* settings');
  const ca = pem('TEMPORAL_TLS_CA', e.TEMPORAL_TLS_CA);
  const crt = pem('TEMPORAL_TLS_CERT', e.TEMPORAL_TLS_CERT);
  const key = pem('TEMPORAL_TLS_KEY', e.TEMPORAL_TLS_KEY);
  return {
    ...(tlsOn
      ? {
          tls: {
            ...(ca !== undefined ? { serverRootCACertificate: ca } : {}),
            ...(e.TEMPORAL_TLS_SERVER_NAME !== undefined ? { serverNameOverride: e.TEMPORAL_TLS_SERVER_NAME } : {}),
            ...(crt !== undefined && key !== undefined ? { clientCertPair: { crt, key } } : {}),
          },
        }
      : {}),
    ...(e.TEMPORAL_API_KEY !== undefined ? { apiKey: e.TEMPORAL_API_KEY } : {}),
  };
}

/** For a process's entry point: the config, or the problem on stderr and exit code 1 (no stack trace for a setting). */
export function loadConfigOrExit(env: Record<string, string | undefined> = process.env): Config {
  try {
    return loadConfig(env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
}
