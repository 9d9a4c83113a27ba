import { pino, type Logger } from 'pino';
import type { Config } from './config.js';

export type { Logger };

/** The application logger. Customer PII (names, addresses, numbers, message bodies) is never logged: redact paths
 * cover the fields that could carry it if a caller passes a whole object by mistake. */
export function createLogger(config: Pick<Config, 'logLevel'>, name = 'journeys'): Logger {
  return pino({
    name,
    level: config.logLevel,
    redact: {
      paths: ['*.email', '*.phone', '*.to', '*.body', '*.name', 'customer', 'req.headers.authorization'],
      censor: '[redacted]',
    },
  });
}
