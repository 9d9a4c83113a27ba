// The composition root: the one place the service's parts are built from the config and wired together. The worker
// (worker/run.ts), the API (api/server.ts), `npm start` and the bench (through those two), and the tests
// (test/support/stack.ts, test/activities.test.ts) all build their parts here; a test swaps a part with an override
// (its own database, a Temporal client on its test server, a channel that fails), never a module.
//
// Everything is built on first use and closed by `close()` only if it was built here: an override belongs to whoever
// passed it. Two processes' worth of parts (the worker's and the API's, as `npm start` runs them) are two `createDeps`
// calls, each with its own pool and Temporal connection, as when they run apart.
import type { Config } from '../config/config.js';
import type { AppDeps } from '../api/app.js';
import { twilioStatusRouter } from '../api/twilio-status.js';
import { createDb, type Db, type DbOptions } from '../db/client.js';
import { createActivities, type ActivityDeps, type ChorusPort, type JourneyActivities } from '../activities/index.js';
import { createMigrationActivities, type MigrationActivities } from '../activities/migration.js';
import { createEnrolmentActivities, type EnrolmentActivities } from '../activities/enrolment.js';
import type { Channel, ChannelName } from '../channels/channel.js';
import { channelsNotConfigured, createChannel } from '../channels/registry.js';
import { CHANNEL_NAMES, perChannel } from '../engine/channels.js';
import { loadPolicy, type ContactPolicy } from '../policy/policy.js';
import { Analytics } from '../service/analytics.js';
import { ApiKeyStore } from '../service/api-keys.js';
import { AuditLog } from '../service/audit.js';
import { DefinitionStore } from '../service/definitions.js';
import { EnrolmentService } from '../service/enrolments.js';
import { MessageDeliveries } from '../service/deliveries.js';
import { JourneyService } from '../service/journeys.js';
import { MigrationService } from '../service/migrations.js';
import { PreferenceLinks } from '../service/preference-links.js';
import { PreferenceService } from '../service/preferences.js';
import { RmScope } from '../service/scope.js';
import { Simulator } from '../service/simulation.js';
import { createTemporalClient, type TemporalClient } from '../service/temporal-client.js';
import { TemplateCatalog } from '../service/templates.js';

/** Parts a caller brings instead of the ones the config would build (tests, mostly). */
export interface DepsOverrides {
  /** A database client of the caller's (not disconnected by `close()`). */
  db?: Db;
  /** Timeouts of the pool built from DATABASE_URL (the API asks for short ones, to answer 503 within its promise). */
  dbTimeouts?: Omit<DbOptions, 'poolSize'>;
  /** A Temporal client of the caller's (not closed by `close()`). */
  temporal?: TemporalClient;
  /** Channel adapters in place of the configured ones. */
  channels?: Partial<Record<ChannelName, Channel>>;
  /** What the chorus activities start and signal journeys through (default: the journey service). */
  chorus?: ChorusPort;
  /** How long a template snapshot is reused (default 5 s; tests read their own writes at once with 0). */
  templateCacheMs?: number;
  /** Where the customers' unsubscribe and preference links point: the API's public address, possibly known only once
   * it listens (a function). Default: PUBLIC_BASE_URL, else this host at PORT (npm start runs both here). */
  linkBaseUrl?: string | (() => string | undefined);
}

export interface Deps {
  readonly config: Config;
  readonly db: Db;
  /** The Temporal client the API and the chorus activities use, with a deadline on every call; lazy (the API starts,
   * and says it is not ready, while Temporal is down). */
  readonly temporal: TemporalClient;
  readonly channels: Record<ChannelName, Channel>;
  readonly policy: ContactPolicy;
  readonly templates: TemplateCatalog;
  readonly definitions: DefinitionStore;
  readonly journeys: JourneyService;
  /** Moves running journeys to a new definition version (the API plans and starts it, the worker's activities run it). */
  readonly migrations: MigrationService;
  /** Enrols an audience into a journey in bulk (the API stores and starts it, the worker's activities run it). */
  readonly enrolments: EnrolmentService;
  readonly links: PreferenceLinks;
  readonly preferences: PreferenceService;
  readonly deliveries: MessageDeliveries;
  readonly keys: ApiKeyStore;
  readonly audit: AuditLog;
  readonly scope: RmScope;
  readonly analytics: Analytics;
  /** The thread pool simulations run in (the engine never runs on the request thread). */
  readonly simulator: Simulator;
  /** The worker's activities over these parts; `replace` swaps any of their dependencies (a test's impatient SMS
   * channel, a template set read from files). */
  activities(replace?: Partial<ActivityDeps>): JourneyActivities & MigrationActivities & EnrolmentActivities;
  /** Loads the built-in templates and journeys that are not stored yet; returns the journeys loaded. */
  seed(): Promise<string[]>;
  /** Closes what was built here (pools, connections, threads), in reverse order of need. */
  close(): Promise<void>;
}

export function createDeps(config: Config, overrides: DepsOverrides = {}): Deps {
  const built = new Map<string, unknown>();
  const once = <T>(name: string, make: () => T): T => {
    if (!built.has(name)) built.set(name, make());
    return built.get(name) as T;
  };
  // Delivery callbacks and links go to the API: at PUBLIC_BASE_URL, or on this host at PORT (npm start runs both here).
  const apiBase = config.publicBaseUrl ?? (config.port > 0 ? `http://127.0.0.1:${config.port}` : undefined);
  const linkBaseUrl = overrides.linkBaseUrl ?? apiBase;

  const deps: Deps = {
    config,
    get db() {
      return overrides.db ?? once('db', () => createDb(config.databaseUrl, { poolSize: config.databasePoolSize, ...overrides.dbTimeouts }));
    },
    get temporal() {
      return (
        overrides.temporal ?? once('temporal', () => createTemporalClient({ ...config.temporal, payloadKeys: config.payloadKeys, callTimeoutMs: config.temporalCallTimeoutMs }))
      );
    },
    get channels() {
      // Every channel of the registry (channels/registry.ts), each built from its part of the config, unless overridden.
      const ctx = apiBase !== undefined ? { apiBase } : {};
      return once('channels', () => perChannel((c) => overrides.channels?.[c] ?? once(`channel:${c}`, () => createChannel(c, config, ctx))));
    },
    get policy() {
      return once('policy', () => loadPolicy(config.contactPolicy));
    },
    get templates() {
      return once('templates', () => new TemplateCatalog(deps.db, overrides.templateCacheMs));
    },
    get definitions() {
      return once('definitions', () => new DefinitionStore(deps.db, deps.templates, undefined, config.durationLimits, channelsNotConfigured(config)));
    },
    get journeys() {
      // A journey starting another (the chorus) decides the cohort the same way the API does, with the same deadlines.
      return once(
        'journeys',
        () =>
          new JourneyService({
            db: deps.db,
            temporal: deps.temporal.client,
            taskQueue: config.temporal.taskQueue,
            definitions: deps.definitions,
            controlGroup: config.controlGroup,
          }),
      );
    },
    get migrations() {
      return once('migrations', () => new MigrationService({ db: deps.db, temporal: deps.temporal.client, taskQueue: config.temporal.taskQueue, definitions: deps.definitions }));
    },
    get enrolments() {
      return once(
        'enrolments',
        () =>
          new EnrolmentService({
            db: deps.db,
            temporal: deps.temporal.client,
            taskQueue: config.temporal.taskQueue,
            definitions: deps.definitions,
            journeys: deps.journeys,
            startConcurrency: config.enrolmentStartConcurrency,
          }),
      );
    },
    get links() {
      return once('links', () => new PreferenceLinks({ ...config.preferences, ...(linkBaseUrl !== undefined ? { baseUrl: linkBaseUrl } : {}) }));
    },
    get preferences() {
      return once('preferences', () => new PreferenceService({ db: deps.db, journeys: deps.journeys, definitions: deps.definitions }));
    },
    get deliveries() {
      return once('deliveries', () => new MessageDeliveries(deps.db));
    },
    get keys() {
      return once('keys', () => new ApiKeyStore(deps.db));
    },
    get audit() {
      return once('audit', () => new AuditLog(deps.db));
    },
    get scope() {
      return once('scope', () => new RmScope(deps.db));
    },
    get analytics() {
      return once('analytics', () => new Analytics(deps.db, deps.definitions));
    },
    get simulator() {
      return once('simulator', () => new Simulator(config.simulation));
    },
    activities(replace = {}) {
      const journey = createActivities({
        db: deps.db,
        channels: deps.channels,
        templates: deps.templates,
        policy: deps.policy,
        chorus: overrides.chorus ?? deps.journeys,
        // Marketing emails link the customer's preferences at the API's public address (the same as Twilio's callbacks).
        links: deps.links,
        ...replace,
      });
      return { ...journey, ...createMigrationActivities({ migrations: deps.migrations }), ...createEnrolmentActivities({ enrolments: deps.enrolments }) };
    },
    async seed() {
      await deps.templates.seed();
      return deps.definitions.seedBuiltIns();
    },
    async close() {
      const simulator = built.get('simulator') as Simulator | undefined;
      if (simulator) await simulator.close();
      for (const c of CHANNEL_NAMES) (built.get(`channel:${c}`) as { close?(): void } | undefined)?.close?.();
      const temporal = built.get('temporal') as TemporalClient | undefined;
      if (temporal) await temporal.connection.close();
      const db = built.get('db') as Db | undefined;
      if (db) await db.$disconnect();
    },
  };
  return deps;
}

/** What only the API's edge has: who may call (the authenticator), how it reports readiness, its own limits. */
export type ApiEdge = Pick<AppDeps, 'logger' | 'readiness' | 'authenticate' | 'rateLimitPerMinute' | 'codec' | 'oidc' | 'metricsToken'> & {
  /** Where Twilio called (its signature covers the URL): the API's public address, possibly known only once it listens. */
  publicBaseUrl: string | (() => string);
};

/** The API app's dependencies: the service's parts from `deps`, the edge's own from `edge`. */
export function appDeps(deps: Deps, edge: ApiEdge): AppDeps {
  const { publicBaseUrl, ...rest } = edge;
  return {
    ...rest,
    service: deps.journeys,
    migrations: deps.migrations,
    enrolments: deps.enrolments,
    definitions: deps.definitions,
    templates: deps.templates,
    simulator: deps.simulator,
    keys: deps.keys,
    scope: deps.scope,
    audit: deps.audit,
    analytics: deps.analytics,
    twilioStatus: twilioStatusRouter({ deliveries: deps.deliveries, authToken: deps.config.twilio.authToken, publicBaseUrl, logger: edge.logger }),
    preferences: { links: deps.links, service: deps.preferences },
  };
}
