// The service as the bench drives it: API and worker in one process (as `npm start` runs them), configured from the
// environment. Prints READY when both are up; SIGTERM stops it.
import { loadConfig } from '../config/config.js';
import { createLogger } from '../config/logger.js';
import { migrate } from '../db/migrate.js';
import { startApiServer } from '../api/server.js';
import { runWorker } from '../worker/run.js';

const config = loadConfig();
const logger = createLogger(config, 'bench-service');
await migrate(config.databaseUrl, logger);
const api = await startApiServer(config, logger);
const worker = await runWorker(config, logger);
process.stdout.write(`READY ${api.url}\n`);
process.once('SIGTERM', () => void Promise.all([api.close(), worker.shutdown()]).then(() => process.exit(0)));
