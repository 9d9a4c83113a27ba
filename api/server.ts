// Listens: builds the API's dependencies from the config and serves the app.
import type { AddressInfo } from 'node:net';
import { Client, Connection } from '@temporalio/client';
import type { Config } from '../config/config.js';
import type { Logger } from '../config/logger.js';
import { createDb } from '../db/client.js';
import { TemplateCatalog } from '../channels/templates.js';
import { DefinitionStore } from '../service/definitions.js';
import { JourneyService } from '../service/journeys.js';
import { createApp } from './app.js';
import { twilioStatusRouter } from './twilio-status.js';

/** `listening` is the address the API is bound to, as a URL (http://0.0.0.0:… or http://[::]:… on every interface);
 * `url` is where this machine reaches it (the loopback address when it listens on every interface). */
export async function startApiServer(config: Config, logger: Logger): Promise<{ url: string; listening: string; close(): Promise<void> }> {
  const db = createDb(config.databaseUrl, config.databasePoolSize);
  const connection = await Connection.connect({ address: config.temporal.address });
  const temporal = new Client({ connection, namespace: config.temporal.namespace });
  const templates = new TemplateCatalog(db);
  await templates.seed();
  const definitions = new DefinitionStore(db, templates);
  const seeded = await definitions.seedBuiltIns();
  if (seeded.length) logger.info({ seeded }, 'built-in journeys loaded');
  const service = new JourneyService({ db, temporal, taskQueue: config.temporal.taskQueue, definitions });

  const readiness = async () => {
    const settle = (p: Promise<unknown>) =>
      p.then(() => 'ok' as const, (err: unknown) => (err instanceof Error ? err.message : String(err)));
    const [temporalCheck, postgres] = await Promise.all([
      settle(connection.workflowService.getSystemInfo({})),
      settle(db.$queryRaw`SELECT 1`),
    ]);
    return { temporal: temporalCheck, postgres };
  };

  let listeningUrl = '';
  const twilioStatus = twilioStatusRouter({ db, authToken: config.twilio.authToken, publicBaseUrl: () => config.publicBaseUrl ?? listeningUrl, logger });
  const app = createApp({ service, definitions, templates, twilioStatus, logger, readiness });
  const server = config.host !== undefined ? app.listen(config.port, config.host) : app.listen(config.port);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { address, port, family } = server.address() as AddressInfo;
  const hostPart = (a: string) => (family === 'IPv6' ? `[${a}]` : a);
  const everywhere = address === '0.0.0.0' || address === '::';
  const listening = `http://${hostPart(address)}:${port}`;
  const url = everywhere ? `http://127.0.0.1:${port}` : listening;
  listeningUrl = url;
  logger.info({ url: listening }, 'API listening');
  return {
    url,
    listening,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await connection.close();
      await db.$disconnect();
    },
  };
}
