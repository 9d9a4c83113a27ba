// `npm run api`: the REST API alone, against TEMPORAL_ADDRESS and DATABASE_URL.
import { loadConfigOrExit } from '../config/config.js';
import { createLogger } from '../config/logger.js';
import { migrate } from '../db/migrate.js';
import { startApiServer } from './server.js';

const config = loadConfigOrExit();
const logger = createLogger(config, 'api');
await migrate(config.databaseUrl, logger);
const api = await startApiServer(config, logger);
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => {
    logger.info({ signal }, 'stopping API');
    void api.close().then(() => process.exit(0));
  });
