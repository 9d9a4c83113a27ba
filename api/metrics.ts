// HTTP metrics and the /metrics route. Requests are counted by the Express route pattern they matched
// (/v1/customers/:customerId), never the raw path: a path carries customer ids, and every distinct one would be a new
// series. Who may scrape: a Prometheus scraper with METRICS_TOKEN, a token that opens this route and nothing else (an
// ops key would also read customers' data, more than a scraper needs), or an ops or admin key (a person looking).
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import { httpDuration, httpRequests, scrape } from '../service/metrics.js';

/** The route label of a request: the pattern it matched, under the pattern of the router it was mounted at. Requests
 * that matched no route (refused before one, or unknown) share one label. */
export function routeLabel(req: Request, res: Response): string {
  const pattern = (req.route as { path?: unknown } | undefined)?.path;
  if (typeof pattern !== 'string') return '(unmatched)';
  const base = (res.locals as { routeBase?: string }).routeBase ?? req.baseUrl;
  return `${base}${pattern === '/' && base ? '' : pattern}`;
}

export const httpMetrics: RequestHandler = (req, res, next) => {
  const end = httpDuration.startTimer();
  res.on('finish', () => {
    const labels = { method: req.method, route: routeLabel(req, res), status: String(res.statusCode) };
    end(labels);
    httpRequests.inc(labels);
  });
  next();
};

const digest = (s: string) => createHash('sha256').update(s).digest();
const BEARER = /^Bearer +(\S+) *$/i;

/** Answers a scraper presenting METRICS_TOKEN; anyone else goes on to the authenticator and the role check. */
export function scraperToken(token: string | undefined): RequestHandler {
  const expected = token ? digest(token) : undefined;
  return (req, res, next) => {
    const given = BEARER.exec(req.headers.authorization ?? '')?.[1];
    if (!expected || !given || !timingSafeEqual(digest(given), expected)) return next();
    serveMetrics(req, res, next);
  };
}

export const serveMetrics: RequestHandler = (_req, res, next) => {
  scrape().then((text) => {
    res.type('text/plain; version=0.0.4; charset=utf-8').send(text);
  }, next);
};
