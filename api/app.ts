// Builds the Express app (no listening here: tests drive it with supertest). Route → validate → service.
import express, { type Request, type RequestHandler } from 'express';
import { rateLimit, type RateLimitInfo } from 'express-rate-limit';
import type { Logger } from '../config/logger.js';
import { cleanStrings, errorHandler, jsonBody, MAX_DEPTH, parse, unknownRoute } from './http.js';
import { Content } from '../channels/templates.js';
import { NotFound } from '../service/errors.js';
import { z } from 'zod';
import { JourneyDefinition } from '../engine/definition.js';
import type { DefinitionStore } from '../service/definitions.js';
import type { JourneyService } from '../service/journeys.js';
import { MigrationBody, type MigrationService } from '../service/migrations.js';
import { EnrolmentBody, EnrolmentListQuery, EnrolmentPage, type EnrolmentService } from '../service/enrolments.js';
import { CompleteTaskBody, CustomerBody, MessageQuery, EventBody, id, SimulateBody, TaskQuery, WorkflowId } from '../service/schemas.js';
import { ExitBody, ListQuery, StartJourneyBody, TemplateParams } from './schemas.js';
import { runSimulation, type Simulator } from '../service/simulation.js';
import { TimelineQuery } from '../service/timeline.js';
import { checkUpload, PreviewBody, previewTemplate, publishTemplate, type TemplateCatalog } from '../service/templates.js';
import { ApiKeyStore, KeySpec } from '../service/api-keys.js';
import { RateLimited } from '../service/errors.js';
import { AuditQuery, type AuditLog } from '../service/audit.js';
import { type Analytics, type AnalyticsFilters, AnalyticsQuery, JourneyListQuery } from '../service/analytics.js';
import { auditNote, auditTrail, requestIdOf, requestIds } from './audit.js';
import type { RmScope } from '../service/scope.js';
import { allow, principalOf } from './principal.js';
import { ROLES } from '../service/principal.js';
import { consoleRouter } from './console.js';
import type { OidcConfig } from './oidc.js';
import { codecCors, codecRouter, type CodecServerOptions, codecUiRouter } from './codec.js';
import { preferencesRouter } from './preferences.js';
import type { PreferenceLinks } from '../service/preference-links.js';
import type { PreferenceService } from '../service/preferences.js';
import { doc, openApiRouter } from './openapi.js';
import { httpMetrics, scraperToken, serveMetrics } from './metrics.js';
import * as R from './responses.js';

export interface AppDeps {
  service: JourneyService;
  /** Migrations of running journeys to a new definition version. */
  migrations: MigrationService;
  /** Bulk enrolments of an audience into a journey. */
  enrolments: EnrolmentService;
  definitions: DefinitionStore;
  templates: TemplateCatalog;
  logger: Logger;
  /** Twilio's delivery callbacks, mounted before the JSON routes (they are form-encoded). */
  twilioStatus?: express.Router;
  /** Reports whether Temporal and Postgres answer; throws with the reason when one does not. */
  readiness: () => Promise<Record<string, 'ok' | string>>;
  /** The thread pool simulations run in (the engine never runs on the request thread). */
  simulator: Simulator;
  /** Puts the caller's principal on `res.locals` or answers 401 (api/auth.ts); every route but the health checks and
   * the signed Twilio callback is behind it. */
  authenticate: RequestHandler;
  /** The API keys, for the admin's key routes. */
  keys: ApiKeyStore;
  /** What an rm may see (its customers, their journeys and messages, its tasks). */
  scope: RmScope;
  /** Requests per minute per principal (default 1200). */
  rateLimitPerMinute?: number;
  /** The codec server for the Temporal UI (api/codec.ts); unset when payloads are not encrypted. */
  codec?: CodecServerOptions;
  /** Where every change and every read of personal data is recorded. */
  audit: AuditLog;
  /** The identity provider, when configured: the console offers sign-in through it (api/console.ts). */
  oidc?: OidcConfig;
  /** Funnels, breakpoints, feedback, message outcomes, lift and the journey map over the read model; the journey list. */
  analytics: Analytics;
  /** The customer's unsubscribe and preference links (api/preferences.ts): signed links, open without a key. */
  preferences?: { links: PreferenceLinks; service: PreferenceService };
  /** The bearer token of the Prometheus scraper at /metrics (METRICS_TOKEN); ops and admin keys work there too. */
  metricsToken?: string;
}

// Path params: what each route parses them with, and what the OpenAPI document says they are.
const Version = z.coerce.number().int().min(1);
const DefinitionKey = z.string().min(1).max(64);
const P = {
  customer: z.object({ customerId: id }),
  journey: z.object({ workflowId: WorkflowId }),
  task: z.object({ taskId: id }),
  definition: z.object({ key: DefinitionKey, version: Version }),
  template: TemplateParams,
  templateVersion: TemplateParams.extend({ version: Version }),
  message: z.object({ messageId: z.uuid() }),
  apiKey: z.object({ keyId: z.uuid() }),
  analytics: z.object({ key: DefinitionKey }),
  migrations: z.object({ key: DefinitionKey }),
  migration: z.object({ key: DefinitionKey, migrationId: z.uuid() }),
  enrolment: z.object({ enrolmentId: z.uuid() }),
};
const param = (req: Request, name: string) => parse(id, req.params[name], 'params');
const journeyParam = (req: Request) => parse(WorkflowId, req.params.workflowId, 'params');
const body = (req: Request) => req.body ?? {};

/** Who made a change and in which request: a consent change keeps it. */
const actorOf = (res: express.Response) => ({ principalId: principalOf(res).id, ...(requestIdOf(res) !== undefined ? { requestId: requestIdOf(res)! } : {}) });

export function createApp({
  service,
  migrations,
  enrolments,
  definitions,
  templates,
  twilioStatus,
  logger,
  readiness,
  simulator,
  authenticate,
  keys,
  scope,
  rateLimitPerMinute = 1200,
  codec,
  audit,
  oidc,
  analytics,
  preferences,
  metricsToken,
}: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(httpMetrics);
  // Every response names its request; every change and every read of personal data is recorded once it is answered.
  const trail = auditTrail(audit, logger);
  app.locals.flushAudit = trail.flush;
  app.use(requestIds);
  app.use(trail);
  // Open to anyone who reaches the port: the health checks, Twilio's callback and the customers' links from their
  // emails (their own signatures are their checks).
  if (twilioStatus) app.use(twilioStatus);
  if (preferences) app.use(preferencesRouter({ links: preferences.links, preferences: preferences.service, audit, logger }));
  // Documenting a route: `doc({ summary, params?, query?, body?, responses })` as its first handler (api/openapi.ts);
  // its roles come from its `allow(...)`. test/openapi.test.ts fails on a route without one.
  app.use(openApiRouter(app, authenticate));
  app.get('/healthz', doc({ summary: 'Liveness', tag: 'service', responses: { 200: R.Health } }), (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', doc({ summary: 'Readiness: Temporal and Postgres answer', tag: 'service', responses: { 200: R.Readiness, 503: R.Readiness } }), async (_req, res) => {
    const checks = await readiness();
    const ready = Object.values(checks).every((v) => v === 'ok');
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not_ready', checks });
  });

  // Prometheus: the scraper's own token, or an ops or admin key (api/metrics.ts says why).
  const metricsDoc = doc({
    summary: 'Prometheus metrics',
    description: 'Bearer METRICS_TOKEN (a scraper), or an ops or admin key.',
    tag: 'service',
    responses: { 200: { type: 'text/plain', description: 'Prometheus text format' } },
  });
  app.get('/metrics', metricsDoc, scraperToken(metricsToken), authenticate, allow('ops'), serveMetrics);

  // The codec server's CORS preflights (browsers send them without credentials), and its routes for the local UI of
  // `npm start`, which carry their own random path segment instead of a key.
  if (codec) {
    app.use('/codec', codecCors(codec.uiOrigins));
    app.use(codecUiRouter(codec));
  }

  // The console's page and scripts (no data in them: the page calls the API below with the signed-in caller's token).
  app.use(consoleRouter(oidc));

  // Everything else: who is calling first (before a body is read), then at most so many requests a minute each.
  app.use(authenticate);
  app.use(
    rateLimit({
      windowMs: 60_000,
      limit: rateLimitPerMinute,
      standardHeaders: 'draft-8',
      legacyHeaders: false,
      keyGenerator: (_req, res) => principalOf(res).id,
      handler: (req, _res, next, options) => {
        const reset = (req as Request & { rateLimit?: RateLimitInfo }).rateLimit?.resetTime?.getTime() ?? Date.now() + 60_000;
        const retryAfter = Math.max(1, Math.ceil((reset - Date.now()) / 1000));
        next(new RateLimited('rate_limited', `more than ${options.limit} requests a minute from this caller; try again in ${retryAfter} s`, retryAfter));
      },
    }),
  );
  if (codec) app.use(codecRouter(codec));
  // Definitions and simulation scripts are larger and deeper documents than events; both limits hold before parsing.
  app.use('/v1/journey-definitions', jsonBody({ limit: '1mb', maxDepth: MAX_DEPTH.definitions }));
  // A page of an enrolment's customers: up to 10 000 ids of up to 128 characters (service/enrolments.ts), ~1.3 MB at
  // most; a bigger audience comes in more pages, or as a filter resolved in SQL.
  app.use('/v1/enrolments', jsonBody({ limit: '1600kb', maxDepth: MAX_DEPTH.default }));
  app.use(jsonBody({ limit: '64kb', maxDepth: MAX_DEPTH.default }));
  app.use(cleanStrings);

  // Who may do what: the role matrix of the README (admin may do everything; `allow` lets it through). An rm sees only
  // its own customers, their journeys and messages, and its own tasks (service/scope.ts); anything else reads as 404.
  const READERS = ['rm', 'ops'] as const;
  const DEFINITION_READERS = ['designer', 'ops'] as const;
  // A definition document as the OpenAPI document shows it: GET /v1/journey-definitions/schema has the whole language.
  const JourneyDefinitionDoc = z.record(z.string(), z.unknown()).meta({ description: 'A journey definition (JSON Schema at /v1/journey-definitions/schema)' });

  // Who the caller is, so the console shows what the role may see.
  app.get(
    '/v1/me',
    doc({ summary: 'Who the caller is: principal, role, RM id', tag: 'me', responses: { 200: 'JSON {principalId, role, rmId?, name?, via}' } }),
    allow(...ROLES),
    (_req, res) => {
      const p = principalOf(res);
      res.json({ principalId: p.id, role: p.role, ...(p.rmId !== undefined ? { rmId: p.rmId } : {}), ...(p.name !== undefined ? { name: p.name } : {}), via: p.via });
    },
  );
  // An RM's book of customers (every customer for ops): journeys, stages and the next open task of each.
  app.get(
    '/v1/customers',
    doc({ summary: "An RM's customers (every customer for ops): journeys, stages, next open task", query: ListQuery, responses: { 200: 'JSON {customers: [...]}' } }),
    allow(...READERS),
    async (req, res) => {
      const { limit } = parse(ListQuery, req.query, 'query');
      res.json({ customers: await service.listCustomers({ limit, ...scope.listFilter(principalOf(res)) }) });
    },
  );
  app.put(
    '/v1/customers/:customerId',
    doc({ summary: 'Create or update a customer', params: P.customer, body: CustomerBody, responses: { 200: R.Customer, 201: R.Customer } }),
    allow('system'),
    async (req, res) => {
      const customerId = param(req, 'customerId');
      const { created, customer } = await service.upsertCustomer(customerId, parse(CustomerBody, body(req), 'body'), actorOf(res));
      res.status(created ? 201 : 200).json(customer);
    },
  );
  app.delete(
    '/v1/customers/:customerId',
    doc({ summary: 'Erase a customer (personal data out, facts kept)', params: P.customer, responses: { 202: R.Erasure } }),
    allow(),
    async (req, res) => {
      const erased = await service.eraseCustomer(param(req, 'customerId'), actorOf(res));
      auditNote(res, { detail: { journeysExited: erased.journeysExited } });
      res.status(202).json(erased);
    },
  );
  app.get('/v1/customers/:customerId', doc({ summary: 'A customer', params: P.customer, responses: { 200: R.Customer } }), allow('system', ...READERS), async (req, res) => {
    const customerId = param(req, 'customerId');
    await scope.customer(principalOf(res), customerId);
    res.json(await service.getCustomer(customerId));
  });
  app.post(
    '/v1/customers/:customerId/events',
    doc({ summary: 'Send a business event about a customer', params: P.customer, body: EventBody, responses: { 202: R.EventReceipt }, errors: [409] }),
    allow('system'),
    async (req, res) => {
      const customerId = param(req, 'customerId');
      const event = parse(EventBody, body(req), 'body');
      await service.getCustomer(customerId);
      auditNote(res, { detail: { eventId: event.eventId, type: event.type } });
      res.status(202).json(await service.receiveEvent(customerId, event, undefined, actorOf(res)));
    },
  );
  app.get(
    '/v1/customers/:customerId/journeys',
    doc({ summary: "A customer's journeys", params: P.customer, responses: { 200: R.CustomerJourneys } }),
    allow(...READERS),
    async (req, res) => {
      const customerId = param(req, 'customerId');
      await scope.customer(principalOf(res), customerId);
      res.json({ journeys: await service.listCustomerJourneys(customerId) });
    },
  );
  app.get(
    '/v1/customers/:customerId/messages',
    doc({ summary: "A customer's messages, each with its story", params: P.customer, query: ListQuery, responses: { 200: R.Messages } }),
    allow(...READERS),
    async (req, res) => {
      const customerId = param(req, 'customerId');
      const { limit } = parse(ListQuery, req.query, 'query');
      await scope.customer(principalOf(res), customerId);
      res.json({ messages: await service.listCustomerMessages(customerId, limit) });
    },
  );

  // Why did (or didn't) this customer get that message: events, stages, decisions, sends with every policy decision,
  // tasks, in time order (service/timeline.ts). Paged by time: `from`, `to`, `limit`; `nextFrom` continues.
  app.get(
    '/v1/customers/:customerId/timeline',
    doc({
      summary: "A customer's timeline: events, stages, decisions, sends and why, tasks, in time order",
      params: P.customer,
      query: TimelineQuery,
      responses: { 200: R.Timeline },
    }),
    allow(...READERS),
    async (req, res) => {
      const customerId = param(req, 'customerId');
      const q = parse(TimelineQuery, req.query, 'query');
      await scope.customer(principalOf(res), customerId);
      res.json(await service.customerTimeline(customerId, q));
    },
  );

  // Ops and BI list journeys by key, stage, status and cohort; an rm lists its own customers' journeys only.
  app.get(
    '/v1/journeys',
    doc({ summary: 'Journeys by key, stage, status and cohort, newest first (paged)', query: JourneyListQuery, responses: { 200: 'A page of journeys: {items, nextCursor}' } }),
    allow(...READERS),
    async (req, res) => {
      const q = parse(JourneyListQuery, req.query, 'query');
      const page = await analytics.listJourneys(q, scope.rmIdOf(principalOf(res)));
      auditNote(res, {
        detail: {
          count: page.items.length,
          ...(q.journeyKey !== undefined ? { journeyKey: q.journeyKey } : {}),
          ...(q.customerId !== undefined ? { customerId: q.customerId } : {}),
        },
      });
      res.json(page);
    },
  );

  app.post(
    '/v1/journeys',
    doc({ summary: 'Start a journey', body: StartJourneyBody, responses: { 200: R.JourneySummary, 201: R.JourneySummary }, errors: [404, 409, 422] }),
    allow('system'),
    async (req, res) => {
      const start = parse(StartJourneyBody, body(req), 'body');
      auditNote(res, { detail: { journeyKey: start.journeyKey, customerId: start.customerId } });
      const { created, journey } = await service.startJourney({ ...start, via: 'api' });
      auditNote(res, { targetId: journey.workflowId, detail: { created } });
      res.status(created ? 201 : 200).json(journey);
    },
  );
  app.get(
    '/v1/journeys/:workflowId',
    doc({ summary: 'A journey: stage, history, goals, what it waits for', params: P.journey, responses: { 200: R.Journey } }),
    allow(...READERS),
    async (req, res) => {
      const workflowId = journeyParam(req);
      await scope.journey(principalOf(res), workflowId);
      res.json(await service.getJourney(workflowId));
    },
  );
  app.post(
    '/v1/journeys/:workflowId/events',
    doc({ summary: 'Send a business event to one journey', params: P.journey, body: EventBody, responses: { 202: R.EventReceipt }, errors: [409] }),
    allow('system'),
    async (req, res) => {
      const event = parse(EventBody, body(req), 'body');
      auditNote(res, { detail: { eventId: event.eventId, type: event.type } });
      res.status(202).json(await service.receiveJourneyEvent(journeyParam(req), event, actorOf(res)));
    },
  );
  app.post(
    '/v1/journeys/:workflowId/exit',
    doc({ summary: 'End a journey (exit)', params: P.journey, body: ExitBody, responses: { 202: R.Exiting }, errors: [409] }),
    allow('system', 'ops'),
    async (req, res) => {
      const { reason } = parse(ExitBody, body(req), 'body');
      res.status(202).json(await service.exitJourney(journeyParam(req), reason));
    },
  );

  app.get(
    '/v1/tasks',
    doc({ summary: 'RM tasks (an rm: its own and those escalated to it)', query: TaskQuery, responses: { 200: R.Tasks } }),
    allow(...READERS),
    async (req, res) => {
      const q = scope.taskFilter(principalOf(res), parse(TaskQuery, req.query, 'query'));
      if (q) auditNote(res, { detail: { ...(q.rmId !== undefined ? { rmId: q.rmId } : {}), ...(q.customerId !== undefined ? { customerId: q.customerId } : {}) } });
      res.json({ tasks: q ? await service.listTasks(q) : [] });
    },
  );
  app.get(
    '/v1/tasks/:taskId',
    doc({ summary: 'A task: the customer, why it exists (journey, stage, events) and the outcomes the journey accepts', params: P.task, responses: { 200: 'JSON: the task' } }),
    allow(...READERS),
    async (req, res) => {
      const taskId = param(req, 'taskId');
      await scope.task(principalOf(res), taskId);
      res.json(await service.getTask(taskId));
    },
  );
  app.post(
    '/v1/tasks/:taskId/complete',
    doc({ summary: 'Complete a task with an outcome', params: P.task, body: CompleteTaskBody, responses: { 200: R.Task }, errors: [409, 422] }),
    allow(...READERS),
    async (req, res) => {
      const taskId = param(req, 'taskId');
      const done = parse(CompleteTaskBody, body(req), 'body');
      await scope.task(principalOf(res), taskId);
      auditNote(res, { detail: { outcome: done.outcome } });
      res.json(await service.completeTask(taskId, done));
    },
  );

  const version = (req: Request) => parse(Version, req.params.version, 'params');
  const definitionKey = (req: Request) => parse(DefinitionKey, req.params.key, 'params');
  app.get(
    '/v1/journey-definitions/schema',
    doc({ summary: 'The definition language as JSON Schema', responses: { 200: R.JsonSchema } }),
    allow(...DEFINITION_READERS),
    (_req, res) => {
      res.json(definitionJsonSchema());
    },
  );
  app.post(
    '/v1/journey-definitions/validate',
    doc({ summary: 'Validate a journey definition', body: JourneyDefinitionDoc, responses: { 200: R.Validation } }),
    allow('designer'),
    async (req, res) => {
      res.json(await definitions.validate(req.body));
    },
  );
  app.post(
    '/v1/journey-definitions/simulate',
    doc({ summary: 'Simulate a journey in virtual time', body: SimulateBody, responses: { 200: R.Simulation }, errors: [404, 422] }),
    allow('designer'),
    async (req, res) => {
      res.json(await runSimulation(definitions, simulator, parse(SimulateBody, body(req), 'body')));
    },
  );
  app.get(
    '/v1/journey-definitions',
    doc({ summary: 'Journey definitions and their versions', responses: { 200: R.Definitions } }),
    allow(...DEFINITION_READERS),
    async (_req, res) => {
      res.json({ definitions: await definitions.list() });
    },
  );
  app.post(
    '/v1/journey-definitions',
    doc({ summary: 'Store a definition as a new draft version', body: JourneyDefinitionDoc, responses: { 201: R.DefinitionVersion }, errors: [409, 422] }),
    allow('designer'),
    async (req, res) => {
      const draft = await definitions.createDraft(req.body, principalOf(res).id);
      auditNote(res, { targetId: `${draft.key}@${draft.version}` });
      res.status(201).json(draft);
    },
  );
  app.get(
    '/v1/journey-definitions/:key/versions/:version',
    doc({ summary: 'One version of a definition', params: P.definition, responses: { 200: R.DefinitionVersion } }),
    allow(...DEFINITION_READERS),
    async (req, res) => {
      res.json(await definitions.get(definitionKey(req), version(req)));
    },
  );
  app.post(
    '/v1/journey-definitions/:key/versions/:version/publish',
    doc({ summary: 'Publish a draft (by someone other than its author)', params: P.definition, responses: { 200: R.Publication }, errors: [409, 422] }),
    allow('ops'),
    async (req, res) => {
      const published = await definitions.publish(definitionKey(req), version(req), principalOf(res).id);
      auditNote(res, { detail: { previousVersion: published.previousVersion, changes: published.diff.length } });
      res.json(published);
    },
  );
  app.post(
    '/v1/journey-definitions/:key/versions/:version/retire',
    doc({ summary: 'Retire a published version', params: P.definition, responses: { 200: R.DefinitionVersion }, errors: [409] }),
    allow('ops'),
    async (req, res) => {
      res.json(await definitions.retire(definitionKey(req), version(req), principalOf(res).id));
    },
  );

  // Moving running journeys to a new version: a privileged change, for those who publish (ops, admin). A dry run says
  // where each journey lands or refuses the map (422); applying it answers 202 with the migration's id.
  app.post(
    '/v1/journey-definitions/:key/migrations',
    doc({
      summary: 'Migrate running journeys to another version (dry run, or apply)',
      params: P.migrations,
      body: MigrationBody,
      responses: { 200: R.MigrationPlan, 202: R.MigrationStarted },
      errors: [409, 422],
    }),
    allow('ops'),
    async (req, res) => {
      const key = definitionKey(req);
      const b = parse(MigrationBody, body(req), 'body');
      auditNote(res, { detail: { fromVersion: b.fromVersion, toVersion: b.toVersion, dryRun: b.dryRun } });
      if (b.dryRun) {
        const plan = await migrations.plan(key, b);
        auditNote(res, { detail: { total: plan.total } });
        res.json({ dryRun: true, ...plan });
        return;
      }
      const started = await migrations.apply(key, b, principalOf(res).id);
      auditNote(res, { detail: { migrationId: started.migrationId, total: started.total } });
      res.status(202).json({ migrationId: started.migrationId, total: started.total, status: 'running' });
    },
  );
  app.get(
    '/v1/journey-definitions/:key/migrations/:migrationId',
    doc({ summary: "A migration's progress: total, migrated, skipped (with reasons), failed", params: P.migration, responses: { 200: R.MigrationProgress } }),
    allow('ops'),
    async (req, res) => {
      const { key, migrationId } = parse(P.migration, req.params, 'params');
      res.json(await migrations.progress(key, migrationId));
    },
  );

  // Bulk enrolment of an audience into a journey (service/enrolments.ts): privileged like publishing (ops, admin), and
  // audited with counts only (no customer id in the entry). 202 with the enrolment; its progress by id.
  const enrolmentId = (req: Request) => parse(P.enrolment, req.params, 'params').enrolmentId;
  app.post(
    '/v1/enrolments',
    doc({
      summary: 'Enrol customers into a journey in bulk: a page of ids (more with …/customers, then …/start) or a segment filter',
      body: EnrolmentBody,
      responses: { 202: R.EnrolmentProgress },
      errors: [404, 409, 413, 422],
    }),
    allow('ops'),
    async (req, res) => {
      const b = parse(EnrolmentBody, body(req), 'body');
      auditNote(res, { detail: { journeyKey: b.journeyKey, ...(b.customers ? { customers: b.customers.length } : { filter: b.filter }) } });
      const e = await enrolments.create(b, principalOf(res).id);
      auditNote(res, { targetId: e.id, detail: { total: e.total } });
      res.status(202).json(e);
    },
  );
  app.get(
    '/v1/enrolments',
    doc({ summary: 'The newest enrolments with their progress', query: EnrolmentListQuery, responses: { 200: R.Enrolments } }),
    allow('ops'),
    async (req, res) => {
      res.json({ enrolments: await enrolments.list(parse(EnrolmentListQuery, req.query, 'query').limit) });
    },
  );
  app.get(
    '/v1/enrolments/:enrolmentId',
    doc({ summary: "An enrolment's progress: total, started, skipped by reason, failed", params: P.enrolment, responses: { 200: R.EnrolmentProgress } }),
    allow('ops'),
    async (req, res) => {
      res.json(await enrolments.progress(enrolmentId(req)));
    },
  );
  app.post(
    '/v1/enrolments/:enrolmentId/customers',
    doc({
      summary: 'Add a page of up to 10 000 customer ids to an enrolment that has not started',
      params: P.enrolment,
      body: EnrolmentPage,
      responses: { 200: R.EnrolmentPageAdded },
      errors: [409, 413, 422],
    }),
    allow('ops'),
    async (req, res) => {
      const page = parse(EnrolmentPage, body(req), 'body');
      const added = await enrolments.addCustomers(enrolmentId(req), page.customers);
      auditNote(res, { detail: { added: added.added, total: added.total } });
      res.json(added);
    },
  );
  const controls = {
    start: (id: string) => enrolments.start(id),
    pause: (id: string) => enrolments.control(id, 'pause'),
    resume: (id: string) => enrolments.control(id, 'resume'),
    cancel: (id: string) => enrolments.control(id, 'cancel'),
  } satisfies Record<string, (id: string) => Promise<unknown>>;
  for (const [action, run] of Object.entries(controls))
    app.post(
      `/v1/enrolments/:enrolmentId/${action}`,
      doc({
        summary: `${action[0]!.toUpperCase()}${action.slice(1)} an enrolment`,
        description: action === 'start' ? 'Starts an enrolment made with `start: false`; again, makes sure it runs.' : 'Takes effect between batches; the progress tells when.',
        params: P.enrolment,
        responses: { 202: R.EnrolmentProgress },
        errors: [409],
      }),
      allow('ops'),
      async (req, res) => {
        res.status(202).json(await run(enrolmentId(req)));
      },
    );

  app.get('/v1/templates', doc({ summary: 'Message templates', responses: { 200: R.Templates } }), allow(...DEFINITION_READERS), async (_req, res) => {
    res.json({ templates: await templates.list() });
  });
  app.put(
    '/v1/templates/:key/:channel/:locale',
    doc({ summary: 'Store a template as a new draft version', params: P.template, body: Content, responses: { 201: R.Template }, errors: [422] }),
    allow('designer'),
    async (req, res) => {
      const { key, channel, locale } = parse(TemplateParams, req.params, 'params');
      const content = parse(Content, body(req), 'body');
      checkUpload(channel, locale, content);
      const row = await templates.put(key, channel, locale, content, principalOf(res).id);
      auditNote(res, { targetId: `${key}/${channel}/${locale}@${row.version}` });
      res.status(201).json(row);
    },
  );
  app.get(
    '/v1/templates/:key/:channel/:locale/versions',
    doc({ summary: "A template's versions", params: P.template, responses: { 200: R.TemplateVersions } }),
    allow(...DEFINITION_READERS),
    async (req, res) => {
      const { key, channel, locale } = parse(TemplateParams, req.params, 'params');
      const versions = await templates.versions(key, channel, locale);
      if (versions.length === 0) throw new NotFound('not_found', `no ${channel} template "${key}" in ${locale}`);
      res.json({ versions });
    },
  );
  app.post(
    '/v1/templates/:key/:channel/:locale/versions/:version/publish',
    doc({ summary: 'Publish a template draft (by someone other than its author)', params: P.templateVersion, responses: { 200: R.TemplatePublication }, errors: [409] }),
    allow('ops'),
    async (req, res) => {
      const t = parse(TemplateParams, { key: req.params.key, channel: req.params.channel, locale: req.params.locale }, 'params');
      const published = await publishTemplate(templates, t, version(req), principalOf(res).id);
      auditNote(res, { detail: { previousVersion: published.previousVersion, changes: published.diff.length } });
      res.json({ ...published.template, previousVersion: published.previousVersion, diff: published.diff });
    },
  );
  // Journey analytics: aggregates only (no customer in them), for journey managers and BI tools through ops keys.
  const analyticsKey = (req: Request) => parse(DefinitionKey, req.params.key, 'params');
  const figures = {
    funnel: (k: string, f: AnalyticsFilters) => analytics.funnel(k, f),
    'time-in-stage': (k: string, f: AnalyticsFilters) => analytics.timeInStage(k, f),
    breakpoints: (k: string, f: AnalyticsFilters) => analytics.breakpoints(k, f),
    feedback: (k: string, f: AnalyticsFilters) => analytics.feedback(k, f),
    messages: (k: string, f: AnalyticsFilters) => analytics.messages(k, f),
    lift: (k: string, f: AnalyticsFilters) => analytics.lift(k, f),
    map: (k: string, f: AnalyticsFilters) => analytics.map(k, f),
  } satisfies Record<string, (k: string, f: AnalyticsFilters) => Promise<unknown>>;
  for (const [name, figure] of Object.entries(figures))
    app.get(
      `/v1/analytics/journeys/:key/${name}`,
      doc({ summary: `Journey analytics: ${name}`, params: P.analytics, query: AnalyticsQuery, responses: { 200: `The ${name} figure (see the README's "Journey analytics")` } }),
      allow('ops'),
      async (req, res) => {
        res.json(await figure(analyticsKey(req), parse(AnalyticsQuery, req.query, 'query')));
      },
    );

  app.get('/v1/audit', doc({ summary: 'The audit log', query: AuditQuery, responses: { 200: R.AuditEntries } }), allow('ops'), async (req, res) => {
    res.json({ entries: await audit.query(parse(AuditQuery, req.query, 'query')) });
  });
  app.post(
    '/v1/templates/preview',
    doc({ summary: 'Render a template with sample data', body: PreviewBody, responses: { 200: R.Preview }, errors: [422] }),
    allow('designer'),
    async (req, res) => {
      res.json(await previewTemplate(templates, parse(PreviewBody, body(req), 'body')));
    },
  );
  // Operations' view of sends by status (deferred ones waiting out quiet hours or a cap): ids, channel and template,
  // never recipients or bodies.
  app.get(
    '/v1/messages',
    doc({ summary: 'Sends by status (e.g. deferred): ids, channel, template, reason; no recipients or bodies', query: MessageQuery, responses: { 200: 'JSON {messages: [...]}' } }),
    allow('ops'),
    async (req, res) => {
      res.json({ messages: await service.listMessages(parse(MessageQuery, req.query, 'query')) });
    },
  );
  app.get('/v1/messages/:messageId', doc({ summary: 'A message and its story', params: P.message, responses: { 200: R.Message } }), allow(...READERS), async (req, res) => {
    const messageId = parse(z.uuid(), req.params.messageId, 'params');
    await scope.message(principalOf(res), messageId);
    res.json(await service.getMessage(messageId));
  });

  app.post('/v1/api-keys', doc({ summary: 'Make an API key (shown once)', body: KeySpec, responses: { 201: R.ApiKeyMade } }), allow('admin'), async (req, res) => {
    const made = await keys.create(parse(KeySpec, body(req), 'body'), principalOf(res).id);
    auditNote(res, { targetId: made.id, detail: { role: made.role } });
    res.status(201).json(made);
  });
  app.get('/v1/api-keys', doc({ summary: 'API keys (never the keys themselves)', responses: { 200: R.ApiKeys } }), allow('admin'), async (_req, res) => {
    res.json({ keys: await keys.list() });
  });
  app.delete('/v1/api-keys/:keyId', doc({ summary: 'Revoke an API key', params: P.apiKey, responses: { 200: R.ApiKeyInfo } }), allow('admin'), async (req, res) => {
    res.json(await keys.revoke(req.params.keyId as string));
  });

  app.use(unknownRoute);
  app.use(errorHandler(logger));
  return app;
}

let jsonSchema: unknown;
/** The definition language as JSON Schema, for editors to validate and autocomplete with. */
export function definitionJsonSchema(): unknown {
  return (jsonSchema ??= {
    $id: 'https://journeys.local/schemas/journey-definition.json',
    title: 'Journey definition',
    ...(z.toJSONSchema(JourneyDefinition, { io: 'input', unrepresentable: 'any' }) as object),
  });
}
