// The worker's composition root: config → connections → channel adapters → activities → worker.
import { NativeConnection, Runtime, Worker, makeTelemetryFilterString, DefaultLogger, type LogLevel, MetricsBuffer } from '@temporalio/worker';
import { bridgeTemporalMetrics } from './temporal-metrics.js';
import { createActivities, type ActivityDeps } from '../activities/index.js';
import { createMigrationActivities, type MigrationPort } from '../activities/migration.js';
import { MigrationService } from '../service/migrations.js';
import { createEmailChannel } from '../channels/email.js';
import { createSmsChannel, twilioStatusCallbackUrl } from '../channels/sms.js';
import { createWebhookChannel } from '../channels/webhook.js';
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
import { workflowCode } from './workflow-code.js';

export { workflowsPath } from './workflow-code.js';

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

export async function createProductionDeps(config: Config): Promise<ActivityDeps & { migrations: MigrationPort; close(): Promise<void> }> {
  const db = createDb(config.databaseUrl, config.databasePoolSize);
  const email = createEmailChannel({ smtpUrl: config.smtp.url, from: config.smtp.from });
  // Delivery callbacks go to the API: at PUBLIC_BASE_URL, or on this host at PORT (npm start runs both here).
  const apiBase = config.publicBaseUrl ?? (config.port > 0 ? `http://127.0.0.1:${config.port}` : undefined);
  const sms = createSmsChannel({ ...config.twilio, ...(apiBase ? { statusCallbackUrl: twilioStatusCallbackUrl(apiBase) } : {}) });
  const webhook = createWebhookChannel(config.webhook);
  const templates = new TemplateCatalog(db);
  // The chorus activities start and signal journeys through the same service the API uses, with the same deadlines
  // on every Temporal call (a call past its deadline fails the activity, which is retried).
  const { connection, client: temporal } = createTemporalClient({ ...config.temporal, payloadKeys: config.payloadKeys, callTimeoutMs: config.temporalCallTimeoutMs });
  const definitions = new DefinitionStore(db, templates, undefined, config.durationLimits);
  const chorus = new JourneyService({
    db,
    temporal,
    taskQueue: config.temporal.taskQueue,
    definitions,
    // A journey starting another (the chorus) decides the cohort the same way the API does.
    controlGroup: config.controlGroup,
  });
  return {
    db,
    channels: { email, sms, webhook },
    templates,
    policy: loadPolicy(config.contactPolicy),
    chorus,
    // The migration workflow's activities move running journeys to a new definition version through the same client.
    migrations: new MigrationService({ db, temporal, taskQueue: config.temporal.taskQueue, definitions }),
    // Marketing emails link the customer's preferences at the API's public address (the same as Twilio's callbacks).
    links: new PreferenceLinks({ ...config.preferences, ...(apiBase ? { baseUrl: apiBase } : {}) }),
    async close() {
      email.close();
      await connection.close();
      await db.$disconnect();
    },
  };
}

export async function runWorker(config: Config, logger: Logger): Promise<{ shutdown(): Promise<void> }> {
  installRuntimeLogger(logger);
  // Before any connection: a missing prebuilt bundle is a deployment mistake, said at once.
  const code = workflowCode(config, logger);
  const deps = await createProductionDeps(config);
  const connection = await NativeConnection.connect(temporalConnectionOptions(config.temporal));
  if (!config.payloadKeys) logger.warn('TEMPORAL_PAYLOAD_KEYS is not set: customer data travels to Temporal in plain text (refused in production)');
  const worker = await Worker.create({
    connection,
    dataConverter: dataConverterFor(config.payloadKeys),
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    ...code,
    activities: { ...createActivities(deps), ...createMigrationActivities(deps) },
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
