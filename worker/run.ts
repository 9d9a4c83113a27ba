// Runs the worker: its parts (database, channel adapters, the Temporal client of the chorus, activities) come from the
// composition root (composition/deps.ts); here, the SDK's runtime, the worker's own connection, and the worker.
import { NativeConnection, Runtime, Worker, makeTelemetryFilterString, DefaultLogger, type LogLevel, MetricsBuffer } from '@temporalio/worker';
import { bridgeTemporalMetrics } from './temporal-metrics.js';
import { createDeps } from '../composition/deps.js';
import { dataConverterFor } from '../service/payload-codec.js';
import { temporalConnectionOptions } from '../service/temporal-client.js';
import type { Config } from '../config/config.js';
import type { Logger } from '../config/logger.js';
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
      // Core drops updates once its buffer is full, and an update whose metric's first (creating) event was dropped
      // makes the next read of the buffer panic: room for a minute of a busy worker, read every second.
      metrics: { buffer: new MetricsBuffer({ useSecondsForDurations: true, maxBufferSize: METRICS_BUFFER_SIZE }) },
    },
  });
  const buffer = Runtime.instance().metricsBuffer;
  if (buffer) bridgeTemporalMetrics(buffer, logger);
}

/** Metric updates the SDK's core holds between two reads of its buffer (each ~100 bytes). */
const METRICS_BUFFER_SIZE = 500_000;

export async function runWorker(config: Config, logger: Logger): Promise<{ shutdown(): Promise<void> }> {
  installRuntimeLogger(logger);
  // Before any connection: a missing prebuilt bundle is a deployment mistake, said at once.
  const code = workflowCode(config, logger);
  const deps = createDeps(config);
  const connection = await NativeConnection.connect(temporalConnectionOptions(config.temporal));
  if (!config.payloadKeys) logger.warn('TEMPORAL_PAYLOAD_KEYS is not set: customer data travels to Temporal in plain text (refused in production)');
  const worker = await Worker.create({
    connection,
    dataConverter: dataConverterFor(config.payloadKeys),
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    ...code,
    activities: deps.activities(),
    // Cache size, concurrency and V8 context sharing: configured (config/config.ts), else the SDK's defaults.
    ...config.worker,
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
