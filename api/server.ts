// Listens: serves the app over the API's parts, built by the composition root (composition/deps.ts) with the API's
// own choices (a database pool with short timeouts, links at the address it listens on); the readiness check, the
// authenticator, the configured API keys and the event sweeper are the API's and are made here. All closed here.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '../config/config.js';
import type { Logger } from '../config/logger.js';
import { appDeps, createDeps } from '../composition/deps.js';
import { classifyFault } from '../service/faults.js';
import { startEventSweeper } from '../service/sweeper.js';
import { createApp } from './app.js';
import type { CodecServerOptions } from './codec.js';
import { AesGcmPayloadCodec, type PayloadKeys } from '../service/payload-codec.js';
import { authenticator } from './auth.js';
import { oidcVerifier } from './oidc.js';

/** A readiness check answers within this, whatever the peer does. */
const READINESS_TIMEOUT_MS = 4_000;

/** `listening` is the address the API is bound to, as a URL (http://0.0.0.0:… or http://[::]:… on every interface);
 * `url` is where this machine reaches it (the loopback address when it listens on every interface). */
export async function startApiServer(config: Config, logger: Logger): Promise<{ url: string; listening: string; close(): Promise<void> }> {
  // A query the server stops answering fails before the API's 5 s promise; a dead server fails at connect.
  let listeningUrl = '';
  const deps = createDeps(config, { dbTimeouts: { connectTimeoutMs: 2_000, queryTimeoutMs: 4_000 }, linkBaseUrl: () => config.publicBaseUrl ?? listeningUrl });
  const { db } = deps;
  // Lazy: the API starts while Temporal is down, answers 503 for what needs it, and says so at /readyz.
  const { connection, withDeadline } = deps.temporal;
  const seeded = await deps.seed();
  if (seeded.length) logger.info({ seeded }, 'built-in journeys loaded');

  const readiness = async () => {
    const settle = (p: Promise<unknown>) =>
      Promise.race([p, new Promise((_resolve, reject) => setTimeout(() => reject(new Error(`no answer within ${READINESS_TIMEOUT_MS} ms`)), READINESS_TIMEOUT_MS).unref())]).then(
        () => 'ok' as const,
        (err: unknown) => classifyFault(err)?.message ?? (err instanceof Error ? err.message : String(err)),
      );
    const [temporalCheck, postgres] = await Promise.all([settle(withDeadline(() => connection.workflowService.getSystemInfo({}))), settle(db.$queryRaw`SELECT 1`)]);
    return { temporal: temporalCheck, postgres };
  };

  await deps.keys.upsertConfigured(config.apiKeys);
  if (config.apiKeys.length) logger.info({ keys: config.apiKeys.length }, 'API keys from configuration stored');
  const authenticate = authenticator([...(config.oidc ? [oidcVerifier(config.oidc, logger)] : []), (token) => deps.keys.authenticate(token)]);

  const sweeper = startEventSweeper({ db, service: deps.journeys, logger }, config.eventSweep);
  const app = createApp(
    appDeps(deps, {
      logger,
      readiness,
      authenticate,
      publicBaseUrl: () => config.publicBaseUrl ?? listeningUrl,
      rateLimitPerMinute: config.rateLimitPerMinute,
      ...(config.payloadKeys ? { codec: codecServerOptions(config, config.payloadKeys) } : {}),
      ...(config.oidc ? { oidc: config.oidc } : {}),
      ...(config.metricsToken !== undefined ? { metricsToken: config.metricsToken } : {}),
    }),
  );
  const server = config.host !== undefined ? app.listen(config.port, config.host) : app.listen(config.port);
  // A balancer that keeps connections to the API open must be the one to close an idle one: if the API closes it first
  // (Node's default is 5 s), a request the balancer sends on it at that moment fails (a 502, and a POST is not tried
  // again). Load balancers commonly hold idle connections 60 s (AWS ALB, nginx's default), so the API holds them
  // longer; the headers' deadline must exceed the keep-alive one, or a slow first request on a reused connection is cut.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  // Shutting down does not wait that long: `server.close()` ends the idle connections only, and one whose request was
  // in flight would stay open its keep-alive time once answered. Such answers (and any request that still comes on a
  // kept connection) close their connection.
  let closing = false;
  server.on('request', (_req: IncomingMessage, res: ServerResponse) => {
    if (closing) res.setHeader('Connection', 'close');
    else
      res.once('finish', () => {
        if (closing) setImmediate(() => server.closeIdleConnections());
      });
  });
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
      closing = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await closed;
      await (app.locals.flushAudit as () => Promise<void>)();
      await sweeper.stop();
      await deps.close();
    },
  };
}

/** The codec server of a config with payload keys: the same keys as the clients and workers, the UI's origins. */
export function codecServerOptions(config: Config, keys: PayloadKeys): CodecServerOptions {
  return { codec: new AesGcmPayloadCodec(keys), uiOrigins: config.temporalUiOrigins, ...(config.codecUiToken ? { uiToken: config.codecUiToken } : {}) };
}
