// The worker's composition root: config → connections → channel adapters → activities → worker.
import { fileURLToPath } from 'node:url';
import { NativeConnection, Runtime, Worker, makeTelemetryFilterString, DefaultLogger, type LogLevel, MetricsBuffer } from '@temporalio/worker';
import { bridgeTemporalMetrics } from './temporal-metrics.js';
import { createActivities, type ActivityDeps } from '../activities/index.js';
import { createChannels } from '../channels/registry.js';
import { DefinitionStore } from '../service/definitions.js';
import { JourneyService } from '../service/journeys.js';
import { dataConverterFor } from '../service/payload-codec.js';
import { createTemporalClient, temporalConnectionOptions } from '../service/temporal-client.js';
import { TemplateCatalog } from '../channels/templates.js';
import { loadPolicy } from '../policy/policy.js';
import type { Config } from '../config/config.js';
import type { Logger } from '../config/logger.js';
import { createDb } from '../db/client.js';
import { PreferenceLinks } from '../service/preference-links.js';

export const workflowsPath = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

let runtimeInstalled = false;

/** Routes the SDK's own logs (worker, workflow and activity loggers) to the app logger, and its metrics into the
 * service's registry (worker/temporal-metrics.ts), once per process. */
export function installRuntimeLogger(logger: Logger): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  const level = (['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'] as const).find((l) => l.toLowerCase() === logger.level) ?? 'INFO';
  Runtime.install({
    logger: new DefaultLogger(level as LogLevel, (entry) => {
      const { message, level: l, meta } = entry;
      const fn = l === 'ERROR' ? 'error' : l === 'WARN' ? 'warn' : l === 'DEBUG' || l === 'TRACE' ? 'debug' : 'info';
      logger[fn](meta ?? {}, message);
    }),
    telemetryOptions: {
      logging: { filter: makeTelemetryFilterString({ core: 'WARN' }), forward: {} },
      metrics: { buffer: new MetricsBuffer({ useSecondsForDurations: true }) },
    },
  });
  const buffer = Runtime.instance().metricsBuffer;
  if (buffer) bridgeTemporalMetrics(buffer);
}

export async function createProductionDeps(config: Config): Promise<ActivityDeps & { close(): Promise<void> }> {
  const db = createDb(config.databaseUrl, config.databasePoolSize);
  // Delivery callbacks go to the API: at PUBLIC_BASE_URL, or on this host at PORT (npm start runs both here).
  const apiBase = config.publicBaseUrl ?? (config.port > 0 ? `http://127.0.0.1:${config.port}` : undefined);
  // Every channel of the registry (channels/registry.ts), each built from its part of the config.
  const channels = createChannels(config, apiBase ? { apiBase } : {});
  const templates = new TemplateCatalog(db);
  // The chorus activities start and signal journeys through the same service the API uses, with the same deadlines
  // on every Temporal call (a call past its deadline fails the activity, which is retried).
  const { connection, client: temporal } = createTemporalClient({ ...config.temporal, payloadKeys: config.payloadKeys, callTimeoutMs: config.temporalCallTimeoutMs });
  const chorus = new JourneyService({
    db,
    temporal,
    taskQueue: config.temporal.taskQueue,
    definitions: new DefinitionStore(db, templates, undefined, config.durationLimits),
    // A journey starting another (the chorus) decides the cohort the same way the API does.
    controlGroup: config.controlGroup,
  });
  return {
    db,
    channels,
    templates,
    policy: loadPolicy(config.contactPolicy),
    chorus,
    // Marketing emails link the customer's preferences at the API's public address (the same as Twilio's callbacks).
    links: new PreferenceLinks({ ...config.preferences, ...(apiBase ? { baseUrl: apiBase } : {}) }),
    async close() {
      for (const channel of Object.values(channels)) channel.close?.();
      await connection.close();
      await db.$disconnect();
    },
  };
}

export async function runWorker(config: Config, logger: Logger): Promise<{ shutdown(): Promise<void> }> {
  installRuntimeLogger(logger);
  const deps = await createProductionDeps(config);
  const connection = await NativeConnection.connect(temporalConnectionOptions(config.temporal));
  if (!config.payloadKeys) logger.warn('TEMPORAL_PAYLOAD_KEYS is not set: customer data travels to Temporal in plain text (refused in production)');
  const worker = await Worker.create({
    connection,
    dataConverter: dataConverterFor(config.payloadKeys),
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    workflowsPath,
    activities: createActivities(deps),
  });
  const running = worker.run();
  logger.info({ taskQueue: config.temporal.taskQueue }, 'worker running');
  return {
    async shutdown() {
      // The SDK's runtime also reacts to SIGINT/SIGTERM and may already be draining the worker.
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await connection.close();
      await deps.close();
    },
  };
}
