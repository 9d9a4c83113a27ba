// The service's worker as the bench drives it: a process of its own (as `npm run worker` runs it), so that its RSS and
// CPU time are its own. Migrates the database, prints READY when it polls; SIGTERM stops it.
import { loadConfig } from '../config/config.js';
import { createLogger } from '../config/logger.js';
import { migrate } from '../db/migrate.js';
import { runWorker } from '../worker/run.js';

const config = loadConfig();
const logger = createLogger(config, 'bench-worker');
await migrate(config.databaseUrl, logger);
const worker = await runWorker(config, logger);
process.stdout.write('READY\n');
process.once('SIGTERM', () => void worker.shutdown().then(() => process.exit(0)));
