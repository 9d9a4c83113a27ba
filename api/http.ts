// HTTP plumbing: request validation and the one error handler that maps errors to status codes.
import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import { z } from 'zod';
import type { Logger } from '../config/logger.js';
import { classifyFault } from '../service/faults.js';
import { isCleanString } from '../service/schemas.js';
import { routeLabel } from './metrics.js';
import { Conflict, DomainError, Forbidden, Invalid, NotFound, RateLimited, Unauthenticated, Unavailable, Unprocessable } from '../service/errors.js';

export function validationError(error: z.ZodError, where: 'body' | 'query' | 'params'): Invalid {
  const details = error.issues.map((i) => ({ path: [where, ...i.path].join('.'), message: i.message }));
  return new Invalid('invalid_request', `invalid ${where}: ${details.map((d) => `${d.path}: ${d.message}`).join('; ')}`, details);
}

export function parse<S extends z.ZodType>(schema: S, value: unknown, where: 'body' | 'query' | 'params'): z.infer<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw validationError(r.error, where);
  return r.data;
}

/** How deep a JSON body may nest: events and customers are shallow; definitions (and simulation requests carrying one)
 * nest steps in branches (the built-in journeys reach 12). */
export const MAX_DEPTH = { default: 32, definitions: 100 } as const;

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * The deepest nesting of objects and arrays in a JSON text, counted on the raw bytes before anything is parsed (so a
 * body nested thousands deep never reaches a recursive parser or validator); stops as soon as `max` is passed. The
 * bytes of `{ [ ] } " \` never occur inside a multi-byte UTF-8 sequence, so scanning bytes is exact.
 */
export function jsonDepthExceeds(text: Uint8Array, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > max) return true;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) depth--;
  }
  return false;
}

/** A JSON body parser with a size limit and a nesting limit, both checked before the text is parsed. */
export function jsonBody(opts: { limit: string; maxDepth: number }): RequestHandler {
  return express.json({
    limit: opts.limit,
    verify: (_req, _res, buf, encoding) => {
      const bytes = encoding && encoding.toLowerCase() !== 'utf-8' ? new TextEncoder().encode(new TextDecoder(encoding).decode(buf)) : buf;
      if (jsonDepthExceeds(bytes, opts.maxDepth)) throw new Invalid('too_deep', `the request body nests deeper than ${opts.maxDepth} levels`);
    },
  });
}

const CLEAN_STRING_MESSAGE = 'must not contain NUL (\\u0000) or an unpaired surrogate';

type Unclean = { path: string; reason: 'string' | 'key' };

/**
 * The first string (value or key) in a parsed body or query that is not clean, with its path (e.g. `body.data.a.b`);
 * also a key `__proto__`, which no document of ours uses and which a validator's record or a spread would turn into a
 * prototype instead of a name.
 */
export function findUnclean(value: unknown, path: string): Unclean | undefined {
  if (typeof value === 'string') return isCleanString(value) ? undefined : { path, reason: 'string' };
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      const bad = findUnclean(item, `${path}.${i}`);
      if (bad) return bad;
    }
    return undefined;
  }
  if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      // A bad key is named escaped: the path must itself be a clean string.
      const at = `${path}.${isCleanString(k) ? k : JSON.stringify(k)}`;
      if (!isCleanString(k)) return { path: at, reason: 'string' };
      if (k === '__proto__') return { path: at, reason: 'key' };
      const bad = findUnclean(v, at);
      if (bad) return bad;
    }
  }
  return undefined;
}

const KEY_MESSAGE = '"__proto__" is not accepted as a name';
const refusal = ({ path, reason }: Unclean) =>
  reason === 'key'
    ? new Invalid('reserved_key', `${path}: ${KEY_MESSAGE}`, [{ path, message: KEY_MESSAGE }])
    : new Invalid('invalid_string', `${path}: ${CLEAN_STRING_MESSAGE}`, [{ path, message: CLEAN_STRING_MESSAGE }]);

/** Refuses NUL and unpaired surrogates anywhere in the path, the query or the body, naming where (before any route). */
export const cleanStrings: RequestHandler = (req, _res, next) => {
  for (const [i, raw] of req.path.split('/').entries()) {
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      return next(new Invalid('invalid_path', 'the request path is not valid percent-encoded UTF-8'));
    }
    if (!isCleanString(segment)) return next(refusal({ path: `path.${i}`, reason: 'string' }));
  }
  const bad = findUnclean(req.query, 'query') ?? findUnclean(req.body, 'body');
  next(bad ? refusal(bad) : undefined);
};

export const unknownRoute: RequestHandler = (req, _res, next) => next(new NotFound('not_found', `no route for ${req.method} ${req.path}`));

/** The one place a domain error becomes an HTTP status. */
export function statusOf(err: DomainError): number {
  if (err instanceof Invalid) return 400;
  if (err instanceof Unauthenticated) return 401;
  if (err instanceof Forbidden) return 403;
  if (err instanceof NotFound) return 404;
  if (err instanceof Conflict) return 409;
  if (err instanceof Unprocessable) return 422;
  if (err instanceof RateLimited) return 429;
  if (err instanceof Unavailable) return 503;
  return 500;
}

export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    if (err instanceof DomainError) {
      // The audit trail records a refusal's code (never its message, which may quote input).
      res.locals.errorCode = err.code;
      if (err instanceof Unavailable || err instanceof RateLimited) res.setHeader('Retry-After', String(err.retryAfterSeconds));
      res.status(statusOf(err)).json({ error: { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) } });
      return;
    }
    // body-parser's own errors carry a 4xx status and a type.
    const e = err as { status?: number; type?: string; message?: string };
    if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
      const code = e.type === 'entity.parse.failed' ? 'invalid_json' : e.type === 'entity.too.large' ? 'payload_too_large' : 'bad_request';
      res.locals.errorCode = code;
      res.status(e.status).json({ error: { code, message: e.type === 'entity.parse.failed' ? 'request body is not valid JSON' : (e.message ?? 'bad request') } });
      return;
    }
    // A peer that does not answer (Postgres, Temporal) is an outage, not a bug: 503 with when to come back.
    const fault = classifyFault(err);
    if (fault) {
      logger.warn({ code: fault.code, reason: fault.message, error: (err as { name?: string })?.name, method: req.method, route: routeLabel(req, res) }, 'peer unavailable');
      res.setHeader('Retry-After', String(fault.retryAfterSeconds));
      res.locals.errorCode = fault.code;
      res.status(statusOf(fault)).json({ error: { code: fault.code, message: fault.message } });
      return;
    }
    // The route's pattern, never the path: a path can hold a customer's signed link or the dev codec token.
    logger.error({ err, method: req.method, route: routeLabel(req, res) }, 'request failed');
    res.locals.errorCode = 'internal';
    res.status(500).json({ error: { code: 'internal', message: 'internal error' } });
  };
}
