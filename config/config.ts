// The one place that reads process.env. Everything else receives a Config.
import { z } from 'zod';
import { DEFAULT_DURATION_LIMITS, type DurationLimits, isMaxDuration } from '../engine/duration.js';
import { ConfiguredKey } from '../service/api-keys.js';
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
  /** Where push/app messages (the webhook channel) are POSTed, signed with WEBHOOK_SECRET. */
  WEBHOOK_URL: z.string().url().default('http://127.0.0.1:3098/push'),
  WEBHOOK_SECRET: z.string().min(16).default('local-webhook-secret-change-me'),
  /** The API's address as providers see it: Twilio's delivery callbacks are sent to, and signed for, this URL. */
  PUBLIC_BASE_URL: z.string().url().optional(),
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
  /** Requests per minute one principal may make; more are answered 429 with Retry-After. */
  RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).max(1_000_000).default(1200),
});

export type Config = {
  env: 'development' | 'test' | 'production';
  logLevel: string;
  port: number;
  /** Unset: every interface. */
  host?: string;
  databaseUrl: string;
  databasePoolSize: number;
  temporal: { address: string; namespace: string; taskQueue: string };
  smtp: { url: string; from: string };
  twilio: { accountSid: string; authToken: string; from: string; apiBaseUrl?: string };
  webhook: { url: string; secret: string };
  /** Set only when PUBLIC_BASE_URL is: the API otherwise uses the address it listens on. */
  publicBaseUrl?: string;
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
  /** Set when OIDC_ISSUER is: bearer tokens from that identity provider are accepted. */
  oidc?: OidcConfig;
};

export class ConfigError extends Error {}

/** Secrets that must be real in production: the Twilio auth token verifies delivery callbacks (a known token lets
 * anyone forge them), the webhook secret signs app pushes. Missing, one of the built-in defaults, or an obvious
 * placeholder ("change-me", "placeholder", "example") is refused. */
const PRODUCTION_SECRETS = [
  ['TWILIO_AUTH_TOKEN', 'local-sink-token'],
  ['WEBHOOK_SECRET', 'local-webhook-secret-change-me'],
] as const;
const PLACEHOLDER = /change[-_ ]?me|placeholder|example|^(x+|0+|secret|token|test|dummy|changeit)$/i;

function productionProblems(given: Record<string, string | undefined>): string[] {
  const problems: string[] = [];
  for (const [name, builtIn] of PRODUCTION_SECRETS) {
    const value = given[name]?.trim();
    if (value === undefined) problems.push(`${name} is not set`);
    else if (value === builtIn || PLACEHOLDER.test(value)) problems.push(`${name} is a placeholder`);
  }
  return problems;
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
  if (e.OIDC_ISSUER !== undefined && e.OIDC_AUDIENCE === undefined) throw new ConfigError('invalid configuration: OIDC_AUDIENCE: required when OIDC_ISSUER is set');
  if (e.NODE_ENV === 'production') {
    const problems = productionProblems(given);
    if (problems.length)
      throw new ConfigError(`refusing to start with NODE_ENV=production: ${problems.join('; ')}. Set them to the real Twilio auth token and a long random webhook secret.`);
  }
  return {
    env: e.NODE_ENV,
    logLevel: e.LOG_LEVEL,
    port: e.PORT,
    ...(e.HOST !== undefined ? { host: e.HOST } : {}),
    databaseUrl: e.DATABASE_URL,
    databasePoolSize: e.DATABASE_POOL_SIZE,
    temporal: { address: e.TEMPORAL_ADDRESS, namespace: e.TEMPORAL_NAMESPACE, taskQueue: e.TEMPORAL_TASK_QUEUE },
    smtp: { url: e.SMTP_URL, from: e.MAIL_FROM },
    twilio: {
      accountSid: e.TWILIO_ACCOUNT_SID,
      authToken: e.TWILIO_AUTH_TOKEN,
      from: e.TWILIO_FROM,
      apiBaseUrl: e.TWILIO_API_BASE_URL,
    },
    webhook: { url: e.WEBHOOK_URL, secret: e.WEBHOOK_SECRET },
    ...(e.PUBLIC_BASE_URL !== undefined ? { publicBaseUrl: e.PUBLIC_BASE_URL.replace(/\/$/, '') } : {}),
    ...(e.CONTACT_POLICY !== undefined ? { contactPolicy: e.CONTACT_POLICY } : {}),
    simulation: { timeoutMs: e.SIMULATION_TIMEOUT_MS, threads: e.SIMULATION_THREADS },
    temporalCallTimeoutMs: e.TEMPORAL_CALL_TIMEOUT_MS,
    eventSweep: { intervalMs: e.EVENT_SWEEP_INTERVAL_MS, afterMs: e.EVENT_SWEEP_AFTER_MS },
    durationLimits: { ...DEFAULT_DURATION_LIMITS, max: e.JOURNEY_MAX_DURATION },
    apiKeys: e.API_KEYS ?? [],
    rateLimitPerMinute: e.RATE_LIMIT_PER_MINUTE,
    ...(e.OIDC_ISSUER !== undefined
      ? {
          oidc: {
            issuer: e.OIDC_ISSUER,
            audience: e.OIDC_AUDIENCE!,
            ...(e.OIDC_JWKS_URL !== undefined ? { jwksUrl: e.OIDC_JWKS_URL } : {}),
            roleClaim: e.OIDC_ROLE_CLAIM,
            rmIdClaim: e.OIDC_RM_ID_CLAIM,
            algorithms: e.OIDC_ALGORITHMS,
          },
        }
      : {}),
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
