// Listens: builds the API's dependencies from the config and serves the app. The composition root of the API: the
// Temporal client with deadlines, the database pool with timeouts, the simulation threads and the event sweeper are
// made here once and closed here.
import type { AddressInfo } from 'node:net';
import type { Config } from '../config/config.js';
import type { Logger } from '../config/logger.js';
import { createDb } from '../db/client.js';
import { TemplateCatalog } from '../channels/templates.js';
import { AuditLog } from '../service/audit.js';
import { DefinitionStore } from '../service/definitions.js';
import { classifyFault } from '../service/faults.js';
import { JourneyService } from '../service/journeys.js';
import { MigrationService } from '../service/migrations.js';
import { Simulator } from '../service/simulation.js';
import { startEventSweeper } from '../service/sweeper.js';
import { createTemporalClient } from '../service/temporal-client.js';
import { ApiKeyStore } from '../service/api-keys.js';
import { Analytics } from '../service/analytics.js';
import { RmScope } from '../service/scope.js';
import { createApp } from './app.js';
import type { CodecServerOptions } from './codec.js';
import { AesGcmPayloadCodec, type PayloadKeys } from '../service/payload-codec.js';
import { authenticator } from './auth.js';
import { oidcVerifier } from './oidc.js';
import { twilioStatusRouter } from './twilio-status.js';
import { PreferenceLinks } from '../service/preference-links.js';
import { PreferenceService } from '../service/preferences.js';

/** A readiness check answers within this, whatever the peer does. */
const READINESS_TIMEOUT_MS = 4_000;

/** `listening` is the address the API is bound to, as a URL (http://0.0.0.0:… or http://[::]:… on every interface);
 * `url` is where this machine reaches it (the loopback address when it listens on every interface). */
export async function startApiServer(config: Config, logger: Logger): Promise<{ url: string; listening: string; close(): Promise<void> }> {
  // A query the server stops answering fails before the API's 5 s promise; a dead server fails at connect.
  const db = createDb(config.databaseUrl, { poolSize: config.databasePoolSize, connectTimeoutMs: 2_000, queryTimeoutMs: 4_000 });
  // Lazy: the API starts while Temporal is down, answers 503 for what needs it, and says so at /readyz.
  const { connection, client: temporal, withDeadline } = createTemporalClient({ ...config.temporal, payloadKeys: config.payloadKeys, callTimeoutMs: config.temporalCallTimeoutMs });
  const templates = new TemplateCatalog(db);
  await templates.seed();
  const definitions = new DefinitionStore(db, templates, undefined, config.durationLimits);
  const seeded = await definitions.seedBuiltIns();
  if (seeded.length) logger.info({ seeded }, 'built-in journeys loaded');
  const service = new JourneyService({ db, temporal, taskQueue: config.temporal.taskQueue, definitions, controlGroup: config.controlGroup });

  const readiness = async () => {
    const settle = (p: Promise<unknown>) =>
      Promise.race([p, new Promise((_resolve, reject) => setTimeout(() => reject(new Error(`no answer within ${READINESS_TIMEOUT_MS} ms`)), READINESS_TIMEOUT_MS).unref())]).then(
        () => 'ok' as const,
        (err: unknown) => classifyFault(err)?.message ?? (err instanceof Error ? err.message : String(err)),
      );
    const [temporalCheck, postgres] = await Promise.all([settle(withDeadline(() => connection.workflowService.getSystemInfo({}))), settle(db.$queryRaw`SELECT 1`)]);
    return { temporal: temporalCheck, postgres };
  };

  const keys = new ApiKeyStore(db);
  await keys.upsertConfigured(config.apiKeys);
  if (config.apiKeys.length) logger.info({ keys: config.apiKeys.length }, 'API keys from configuration stored');
  const authenticate = authenticator([...(config.oidc ? [oidcVerifier(config.oidc, logger)] : []), (token) => keys.authenticate(token)]);

  const simulator = new Simulator(config.simulation);
  const sweeper = startEventSweeper({ db, service, logger }, config.eventSweep);
  let listeningUrl = '';
  const twilioStatus = twilioStatusRouter({ db, authToken: config.twilio.authToken, publicBaseUrl: () => config.publicBaseUrl ?? listeningUrl, logger });
  const app = createApp({
    service,
    migrations: new MigrationService({ db, temporal, taskQueue: config.temporal.taskQueue, definitions }),
    definitions,
    templates,
    twilioStatus,
    logger,
    readiness,
    simulator,
    authenticate,
    keys,
    scope: new RmScope(db),
    analytics: new Analytics(db, definitions),
    rateLimitPerMinute: config.rateLimitPerMinute,
    ...(config.payloadKeys ? { codec: codecServerOptions(config, config.payloadKeys) } : {}),
    audit: new AuditLog(db),
    ...(config.oidc ? { oidc: config.oidc } : {}),
    preferences: {
      links: new PreferenceLinks({ ...config.preferences, baseUrl: () => config.publicBaseUrl ?? listeningUrl }),
      service: new PreferenceService({ db, journeys: service, definitions }),
    },
    ...(config.metricsToken !== undefined ? { metricsToken: config.metricsToken } : {}),
  });
  const server = config.host !== undefined ? app.listen(config.port, config.host) : app.listen(config.port);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { address, port, family } = server.address() as AddressInfo;
  const hostPart = (a: string) => (family === 'IPv6' ? `[${a}]` : a);
  const everywhere = address === '0.0.0.0' || address === '::';
  const listening = `http://${hostPart(address)}:${port}`;
  const url = everywhere ? `http://127.0.0.1:${port}` : listening;
  listeningUrl = url;
  logger.info({ url: listening }, 'API listening');
  return {
    url,
    listening,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await closed;
      await (app.locals.flushAudit as () => Promise<void>)();
      await sweeper.stop();
      await simulator.close();
      await connection.close();
      await db.$disconnect();
    },
  };
}

/** The codec server of a config with payload keys: the same keys as the clients and workers, the UI's origins. */
export function codecServerOptions(config: Config, keys: PayloadKeys): CodecServerOptions {
  return { codec: new AesGcmPayloadCodec(keys), uiOrigins: config.temporalUiOrigins, ...(config.codecUiToken ? { uiToken: config.codecUiToken } : {}) };
}
