import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';
import type { Config } from './config.js';

export type { Logger };

/** The application logger. Customer PII (names, addresses, numbers, message bodies) is never logged: redact paths
 * cover the fields that could carry it if a caller passes a whole object by mistake. */
export function createLogger(config: Pick<Config, 'logLevel'>, name = 'journeys', opts: { pretty?: boolean } = {}): Logger {
  const options = {
    name,
    level: config.logLevel,
    redact: {
      paths: ['*.email', '*.phone', '*.to', '*.body', '*.name', 'customer', 'req.headers.authorization'],
      censor: '[redacted]',
    },
  };
  // Pretty lines for a person at a terminal (`npm start`); JSON lines for everything that collects logs. Redaction
  // happens before either. Synchronous, in this thread: no worker thread to lose the last lines when the process exits.
  return opts.pretty ? pino(options, pretty({ colorize: true, sync: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' })) : pino(options);
}
