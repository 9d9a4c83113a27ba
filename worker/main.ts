// `npm run worker`: the Temporal worker alone, against TEMPORAL_ADDRESS and DATABASE_URL.
import { loadConfigOrExit } from '../config/config.js';
import { createLogger } from '../config/logger.js';
import { migrate } from '../db/migrate.js';
import { runWorker } from './run.js';
import { startWorkerMetricsServer } from './metrics-server.js';

const config = loadConfigOrExit();
const logger = createLogger(config, 'worker');
await migrate(config.databaseUrl, logger);
const worker = await runWorker(config, logger);
const metrics =
  config.workerMetricsPort !== undefined
    ? await startWorkerMetricsServer({ port: config.workerMetricsPort, ...(config.host !== undefined ? { host: config.host } : {}), token: config.metricsToken!, logger })
    : undefined;
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => {
    logger.info({ signal }, 'stopping worker');
    void worker
      .shutdown()
      .then(() => metrics?.close())
      .then(() => process.exit(0));
  });
