// HTTP plumbing: request validation and the one error handler that maps errors to status codes.
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { z } from 'zod';
import type { Logger } from '../config/logger.js';
import { classifyFault } from '../service/faults.js';
import { ApiError, Conflict, DomainError, Forbidden, Invalid, NotFound, RateLimited, Unavailable, Unprocessable } from '../service/errors.js';

export function validationError(error: z.ZodError, where: 'body' | 'query' | 'params'): ApiError {
  const details = error.issues.map((i) => ({ path: [where, ...i.path].join('.'), message: i.message }));
  return new ApiError(400, 'invalid_request', `invalid ${where}: ${details.map((d) => `${d.path}: ${d.message}`).join('; ')}`, details);
}

export function parse<S extends z.ZodType>(schema: S, value: unknown, where: 'body' | 'query' | 'params'): z.infer<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw validationError(r.error, where);
  return r.data;
}

export const unknownRoute: RequestHandler = (req, _res, next) =>
  next(new ApiError(404, 'not_found', `no route for ${req.method} ${req.path}`));

/** The one place a domain error becomes an HTTP status. */
export function statusOf(err: DomainError): number {
  if (err instanceof Invalid) return 400;
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
      if (err instanceof Unavailable || err instanceof RateLimited) res.setHeader('Retry-After', String(err.retryAfterSeconds));
      res.status(statusOf(err)).json({ error: { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) } });
      return;
    }
    if (err instanceof ApiError) {
      res.status(err.status).json({ error: { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) } });
      return;
    }
    // body-parser's own errors carry a 4xx status and a type.
    const e = err as { status?: number; type?: string; message?: string };
    if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
      const code = e.type === 'entity.parse.failed' ? 'invalid_json' : e.type === 'entity.too.large' ? 'payload_too_large' : 'bad_request';
      res.status(e.status).json({ error: { code, message: e.type === 'entity.parse.failed' ? 'request body is not valid JSON' : (e.message ?? 'bad request') } });
      return;
    }
    // A peer that does not answer (Postgres, Temporal) is an outage, not a bug: 503 with when to come back.
    const fault = classifyFault(err);
    if (fault) {
      logger.warn({ code: fault.code, reason: fault.message, error: (err as { name?: string })?.name, method: req.method, path: req.path }, 'peer unavailable');
      res.setHeader('Retry-After', String(fault.retryAfterSeconds));
      res.status(statusOf(fault)).json({ error: { code: fault.code, message: fault.message } });
      return;
    }
    logger.error({ err, method: req.method, path: req.path }, 'request failed');
    res.status(500).json({ error: { code: 'internal', message: 'internal error' } });
  };
}
