// The request id and the audit trail, as middleware. Every response carries an `x-request-id` (the caller's, when it
// sent a sane one, else a new one). When a response to an authenticated request is finished, the route it matched
// names the action: every state-changing route and every read of a customer's personal data writes one audit entry
// (who, role, action, target, outcome, status, request id); other reads write none. Entries carry ids only.
import { randomUUID } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import type { Logger } from '../config/logger.js';
import { type AuditEntry, type AuditLog, outcomeOf } from '../service/audit.js';
import type { Principal } from '../service/principal.js';

/** What a route's requests are recorded as. `target` names the target's type and how to read its id from the
 * route's params; a handler may name the target better (`auditNote`). `false`: the route changes nothing and reads
 * nothing personal (validation, simulation, previews), so it is not recorded. */
export type AuditedRoute = { action: string; target?: [type: string, id?: (p: Record<string, string>) => string | undefined] } | false;

const byParam = (name: string) => (p: Record<string, string>) => p[name];

/** Every route of the API that is recorded, by method and pattern. A state-changing route missing here is still
 * recorded, under `<method> <pattern>` (a test keeps this table complete). */
export const AUDITED_ROUTES: Record<string, AuditedRoute> = {
  'GET /v1/customers': { action: 'customer.list', target: ['customer'] },
  'PUT /v1/customers/:customerId': { action: 'customer.put', target: ['customer', byParam('customerId')] },
  'GET /v1/customers/:customerId': { action: 'customer.read', target: ['customer', byParam('customerId')] },
  'DELETE /v1/customers/:customerId': { action: 'customer.erase', target: ['customer', byParam('customerId')] },
  'POST /v1/customers/:customerId/events': { action: 'event.receive', target: ['customer', byParam('customerId')] },
  'GET /v1/customers/:customerId/journeys': { action: 'customer.journeys.read', target: ['customer', byParam('customerId')] },
  'GET /v1/customers/:customerId/messages': { action: 'customer.messages.read', target: ['customer', byParam('customerId')] },
  'GET /v1/customers/:customerId/timeline': { action: 'customer.timeline.read', target: ['customer', byParam('customerId')] },
  'POST /v1/journeys': { action: 'journey.start', target: ['journey'] },
  'GET /v1/journeys/:workflowId': { action: 'journey.read', target: ['journey', byParam('workflowId')] },
  'POST /v1/journeys/:workflowId/events': { action: 'journey.event', target: ['journey', byParam('workflowId')] },
  'POST /v1/journeys/:workflowId/exit': { action: 'journey.exit', target: ['journey', byParam('workflowId')] },
  'GET /v1/journeys': { action: 'journey.list', target: ['journey'] },
  // Analytics answer aggregates: no customer's data in them.
  'GET /v1/analytics/journeys/:key/funnel': false,
  'GET /v1/analytics/journeys/:key/time-in-stage': false,
  'GET /v1/analytics/journeys/:key/breakpoints': false,
  'GET /v1/analytics/journeys/:key/feedback': false,
  'GET /v1/analytics/journeys/:key/messages': false,
  'GET /v1/analytics/journeys/:key/lift': false,
  'GET /v1/analytics/journeys/:key/map': false,
  'GET /v1/tasks': { action: 'task.list', target: ['task'] },
  'GET /v1/tasks/:taskId': { action: 'task.read', target: ['task', byParam('taskId')] },
  'POST /v1/tasks/:taskId/complete': { action: 'task.complete', target: ['task', byParam('taskId')] },
  'GET /v1/messages/:messageId': { action: 'message.read', target: ['message', byParam('messageId')] },
  'POST /v1/journey-definitions': { action: 'definition.draft', target: ['definition'] },
  'POST /v1/journey-definitions/:key/versions/:version/publish': { action: 'definition.publish', target: ['definition', (p) => `${p.key}@${p.version}`] },
  'POST /v1/journey-definitions/:key/versions/:version/retire': { action: 'definition.retire', target: ['definition', (p) => `${p.key}@${p.version}`] },
  'POST /v1/journey-definitions/:key/migrations': { action: 'definition.migrate', target: ['definition', byParam('key')] },
  // A migration's progress names no customer (counts and reasons only).
  'GET /v1/journey-definitions/:key/migrations/:migrationId': false,
  // Bulk enrolments: the entries carry counts and the filter, never the customers' ids; progress is counts only.
  'POST /v1/enrolments': { action: 'enrolment.create', target: ['enrolment'] },
  'POST /v1/enrolments/:enrolmentId/customers': { action: 'enrolment.customers.add', target: ['enrolment', byParam('enrolmentId')] },
  'POST /v1/enrolments/:enrolmentId/start': { action: 'enrolment.start', target: ['enrolment', byParam('enrolmentId')] },
  'POST /v1/enrolments/:enrolmentId/pause': { action: 'enrolment.pause', target: ['enrolment', byParam('enrolmentId')] },
  'POST /v1/enrolments/:enrolmentId/resume': { action: 'enrolment.resume', target: ['enrolment', byParam('enrolmentId')] },
  'POST /v1/enrolments/:enrolmentId/cancel': { action: 'enrolment.cancel', target: ['enrolment', byParam('enrolmentId')] },
  'GET /v1/enrolments': false,
  'GET /v1/enrolments/:enrolmentId': false,
  'POST /v1/journey-definitions/validate': false,
  'POST /v1/journey-definitions/simulate': false,
  'PUT /v1/templates/:key/:channel/:locale': { action: 'template.draft', target: ['template', (p) => `${p.key}/${p.channel}/${p.locale}`] },
  'POST /v1/templates/:key/:channel/:locale/versions/:version/publish': {
    action: 'template.publish',
    target: ['template', (p) => `${p.key}/${p.channel}/${p.locale}@${p.version}`],
  },
  'POST /v1/templates/preview': false,
  'POST /v1/api-keys': { action: 'api_key.create', target: ['api_key'] },
  'DELETE /v1/api-keys/:keyId': { action: 'api_key.revoke', target: ['api_key', byParam('keyId')] },
  // The codec server's routes (mounted under /codec, so Express names them by their own path): a decode reads
  // customer data out of Temporal's history.
  'POST /decode': { action: 'codec.decode', target: ['payloads'] },
  'POST /encode': { action: 'codec.encode', target: ['payloads'] },
};

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** A handler names its target (the journey it started, the version it drafted) and adds ids to the entry. */
export function auditNote(res: Response, note: { targetId?: string; detail?: Record<string, unknown> }): void {
  const locals = res.locals as { audit?: { targetId?: string; detail?: Record<string, unknown> } };
  locals.audit = { ...locals.audit, ...note, detail: { ...locals.audit?.detail, ...note.detail } };
}

/** The request's id (set by `requestIds`). */
export const requestIdOf = (res: Response): string | undefined => (res.locals as { requestId?: string }).requestId;

/** Takes the caller's `x-request-id` when it is a short plain token, else makes one; echoes it on the response. */
export const requestIds: RequestHandler = (req, res, next) => {
  const given = req.get('x-request-id');
  const id = given !== undefined && SANE_REQUEST_ID.test(given) ? given : randomUUID();
  (res.locals as { requestId?: string }).requestId = id;
  res.setHeader('x-request-id', id);
  next();
};

/** The params of a route pattern, read off the request's path (our patterns are plain `/segment/:name` paths). */
function paramsOf(pattern: string, path: string): Record<string, string> {
  const names = pattern.split('/');
  const values = path.split('/');
  const params: Record<string, string> = {};
  if (names.length !== values.length) return params;
  names.forEach((n, i) => {
    if (!n.startsWith(':')) return;
    try {
      params[n.slice(1)] = decodeURIComponent(values[i]!);
    } catch {
      // an undecodable segment names nothing
    }
  });
  return params;
}

/** What one finished request is recorded as, or undefined when it is not recorded. */
export function auditEntryOf(req: Request, res: Response) {
  const principal = (res.locals as { principal?: Principal }).principal;
  if (!principal) return undefined; // not authenticated: refused before anything could change or be read
  const pattern = (req.route as { path?: unknown } | undefined)?.path;
  const routed = typeof pattern === 'string';
  const key = `${req.method} ${routed ? pattern : ''}`;
  const route = routed ? AUDITED_ROUTES[key] : undefined;
  if (route === false) return undefined;
  // A read is recorded only when the table names it (a read of personal data); any other request always is.
  if (route === undefined && READS.has(req.method)) return undefined;
  const params = routed ? paramsOf(pattern, req.path) : {};
  const note = (res.locals as { audit?: { targetId?: string; detail?: Record<string, unknown> } }).audit;
  const errorCode = (res.locals as { errorCode?: string }).errorCode;
  const [targetType, targetIdOf] = route?.target ?? [];
  const targetId = note?.targetId ?? targetIdOf?.(params);
  return {
    principalId: principal.id,
    role: principal.role,
    action: route?.action ?? (routed ? key.toLowerCase() : `${req.method.toLowerCase()} (no route)`),
    ...(targetType !== undefined ? { targetType } : {}),
    ...(targetId !== undefined ? { targetId } : {}),
    outcome: outcomeOf(res.statusCode),
    status: res.statusCode,
    ...(requestIdOf(res) !== undefined ? { requestId: requestIdOf(res)! } : {}),
    detail: { ...note?.detail, ...(errorCode !== undefined ? { error: errorCode } : {}) },
  };
}

/**
 * Writes the entry of each finished request. Entries are written by one writer at a time, each write taking every
 * entry that finished meanwhile (one statement, one connection, however many requests run at once: a burst of
 * requests does not take the pool from the requests themselves). A failed write is tried twice more, then logged by
 * its actions and request ids.
 */
export function auditTrail(audit: AuditLog, logger: Logger): RequestHandler & { flush(): Promise<void> } {
  let pending: AuditEntry[] = [];
  let writing: Promise<void> | undefined;
  const writeBatch = async (batch: AuditEntry[]) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await audit.recordMany(batch);
      } catch (err) {
        if (attempt >= 3) {
          logger.error(
            { entries: batch.map((e) => ({ action: e.action, requestId: e.requestId })), error: (err as { name?: string })?.name, code: (err as { code?: string })?.code },
            'audit entries not written',
          );
          return;
        }
        await new Promise((r) => setTimeout(r, 250 * attempt));
      }
    }
  };
  const drain = async () => {
    while (pending.length) {
      const batch = pending;
      pending = [];
      await writeBatch(batch);
    }
    writing = undefined;
  };
  const handler: RequestHandler = (req, res, next) => {
    res.on('finish', () => {
      const entry = auditEntryOf(req, res);
      if (!entry) return;
      pending.push(entry);
      writing ??= drain();
    });
    next();
  };
  return Object.assign(handler, {
    /** Resolves once every entry of a finished request is written (or given up on). */
    async flush() {
      while (writing) await writing;
    },
  });
}
