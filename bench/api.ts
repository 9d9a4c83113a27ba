// The service's API as the bench drives it: a process of its own (as `npm run api` runs it). The worker's process has
// migrated the database before this one starts. Prints READY <url> when it listens; SIGTERM stops it.
import { loadConfig } from '../config/config.js';
import { createLogger } from '../config/logger.js';
import { startApiServer } from '../api/server.js';

const config = loadConfig();
const logger = createLogger(config, 'bench-api');
const api = await startApiServer(config, logger);
process.stdout.write(`READY ${api.url}\n`);
process.once('SIGTERM', () => void api.close().then(() => process.exit(0)));
