// `npm run migrate`: apply pending migrations to DATABASE_URL and exit.
import { loadConfig } from '../config/config.js';
import { createLogger } from '../config/logger.js';
import { migrate } from './migrate.js';

const config = loadConfig();
const logger = createLogger(config, 'migrate');
const applied = await migrate(config.databaseUrl, logger);
logger.info({ applied }, applied.length ? 'migrations applied' : 'database is up to date');
