// /metrics of a worker run on its own (`npm run worker`, WORKER_METRICS_PORT): the same registry the API serves in
// `npm start` — sends, policy decisions, journey ends, activity latency and the Temporal SDK's worker metrics. The
// worker keeps no API keys, so only the scraper's METRICS_TOKEN opens it; nothing else is served on this port.
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../config/logger.js';
import { scrape } from '../service/metrics.js';

const digest = (s: string) => createHash('sha256').update(s).digest();
const BEARER = /^Bearer +(\S+) *$/i;

export async function startWorkerMetricsServer(opts: { port: number; host?: string; token: string; logger: Logger }): Promise<{ url: string; close(): Promise<void> }> {
  const expected = digest(opts.token);
  const server = createServer((req, res) => {
    const answer = (status: number, code: string, message: string) => {
      res.writeHead(status, { 'content-type': 'application/json', ...(status === 401 ? { 'www-authenticate': 'Bearer' } : {}) });
      res.end(JSON.stringify({ error: { code, message } }));
    };
    // The path compared as text: parsing a request line such as `GET //[` would throw, outside any handler.
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') return answer(404, 'not_found', 'the only route here is GET /metrics');
    const given = BEARER.exec(req.headers.authorization ?? '')?.[1];
    if (!given || !timingSafeEqual(digest(given), expected)) return answer(401, 'unauthenticated', 'this route needs Authorization: Bearer <METRICS_TOKEN>');
    scrape().then(
      (text) => {
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
        res.end(text);
      },
      (err: unknown) => {
        opts.logger.error({ err }, 'metrics scrape failed');
        answer(500, 'internal', 'internal error');
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${opts.host ?? '127.0.0.1'}:${port}/metrics`;
  opts.logger.info({ url }, 'worker metrics listening');
  return { url, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
