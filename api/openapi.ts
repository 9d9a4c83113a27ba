// The OpenAPI 3.1 document of the API, made from the app itself. Each route carries its documentation as its first
// handler, `doc({...})` (a pass-through): what it is, the zod schemas it validates its params, query and body with,
// and what it answers. Everything else is read off Express' route stack: the method and path, whether the route sits
// behind the authenticator, and the roles its `allow(...)` lets through — the same handler that enforces them, so the
// document cannot promise a role the route refuses. Served at GET /openapi.json, with Swagger UI at /docs (served
// from swagger-ui-dist, no CDN: bank networks are closed).
import { readFileSync } from 'node:fs';
import { OpenAPIRegistry, OpenApiGeneratorV31, type RouteConfig } from '@asteasolutions/zod-to-openapi';
import express, { type RequestHandler, type Router } from 'express';
import swaggerUiDist from 'swagger-ui-dist';
import { z } from 'zod';
import { ErrorBody } from './responses.js';
import { rolesOf } from './principal.js';
import type { Role } from '../service/principal.js';

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

export interface RouteDoc {
  summary: string;
  description?: string;
  /** Defaults to the path's first segment after /v1 (customers, journeys, tasks…). */
  tag?: string;
  /** Path params: the schema the route parses them with. Params not named here are documented as strings. */
  params?: z.ZodObject;
  query?: z.ZodObject;
  /** A JSON body (its schema), or a form-encoded one (`{ form: schema }`). */
  body?: z.ZodType | { form: z.ZodObject };
  /** Success answers by status: a zod schema of the JSON (preferred), a description of JSON whose shape is not written
   * down yet, or a content type and description (HTML, Prometheus text). */
  responses: Record<number, z.ZodType | string | { type: string; description: string }>;
  /** Refusals this route answers beyond the ones every route may (400, 401, 403, 404, 429, 503 are added as they
   * apply): e.g. 409 for a conflict, 422 for a document that does not hold together. */
  errors?: number[];
}

const DOC = Symbol('openapi route doc');
type Documented = RequestHandler & { [DOC]: RouteDoc };

/** The route's documentation, as its first handler: `app.get('/v1/x', doc({...}), allow('ops'), handler)`. */
export function doc(d: RouteDoc): RequestHandler {
  const passThrough: RequestHandler = (_req, _res, next) => next();
  return Object.assign(passThrough, { [DOC]: d }) as Documented;
}
const docOf = (handler: unknown): RouteDoc | undefined => (handler as Partial<Documented> | undefined)?.[DOC];

/** One route of the app as Express holds it. */
export interface AppRoute {
  method: string;
  /** The Express pattern, e.g. /v1/customers/:customerId. */
  path: string;
  doc?: RouteDoc;
  /** The roles its `allow` lets through; undefined: no role check (any authenticated caller, or a public route). */
  roles?: readonly Role[];
  /** Behind the authenticator (registered after it, or with it in its own handlers). */
  authenticated: boolean;
}

type Layer = { route?: { path: string; methods: Record<string, boolean>; stack: { handle: unknown; method?: string }[] }; handle: unknown; rawPath?: unknown };
type WithStack = { stack?: Layer[] };

const join = (prefix: string, path: string) => (prefix + (path === '/' ? '' : path) || '/').replace(/\/{2,}/g, '/');

/** Every route of the app (mounted routers included, with their mount paths), in the order Express matches them. */
export function appRoutes(app: express.Express, authenticate: RequestHandler): AppRoute[] {
  const out: AppRoute[] = [];
  let behindAuth = false;
  // `inherited`: the roles an `allow` mounted beside this router checks (`router.use('/codec', allow('ops'), routes)`).
  const walk = (stack: Layer[], prefix: string, inherited: readonly Role[] | undefined) => {
    const guards = new Map<string, readonly Role[]>();
    for (const layer of stack) {
      const raw = typeof layer.rawPath === 'string' ? layer.rawPath : '/';
      if (layer.handle === authenticate) behindAuth = true;
      if (layer.route) {
        const handlers = layer.route.stack.map((l) => l.handle);
        const roles = handlers.map(rolesOf).find((r) => r !== undefined) ?? inherited;
        const d = handlers.map(docOf).find((x) => x !== undefined);
        for (const method of Object.keys(layer.route.methods).filter((m) => m !== '_all'))
          out.push({
            method: method.toUpperCase(),
            path: join(prefix, layer.route.path),
            ...(d ? { doc: d } : {}),
            ...(roles ? { roles } : {}),
            authenticated: behindAuth || handlers.includes(authenticate),
          });
      } else if (Array.isArray((layer.handle as WithStack).stack)) {
        walk((layer.handle as WithStack).stack!, join(prefix, raw), guards.get(raw) ?? inherited);
      } else if (rolesOf(layer.handle)) {
        guards.set(raw, rolesOf(layer.handle)!);
      }
    }
  };
  walk((app as unknown as { router: WithStack }).router.stack ?? [], '', undefined);
  return out;
}

const ERROR_TEXT: Record<number, string> = {
  400: 'Invalid input (path, query or body), named field by field in `error.details`',
  401: 'No valid bearer token (an API key or an OIDC access token)',
  403: "The caller's role may not call this route",
  404: 'Not found (for an rm: also anything that is not one of their customers)',
  409: 'Conflicts with the current state',
  413: 'The body is larger than the limit',
  422: 'Well-formed, but does not hold together',
  429: 'More requests a minute than this caller may make (see Retry-After)',
  503: 'Temporal or Postgres does not answer (see Retry-After)',
};

const version = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** The OpenAPI 3.1 document of these routes. Undocumented routes are left out (test/openapi.test.ts fails on one). */
export function openApiDocument(routes: AppRoute[]): ReturnType<OpenApiGeneratorV31['generateDocument']> {
  const registry = new OpenAPIRegistry();
  const bearer = registry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    description: 'An API key (`npm run keys`, API_KEYS) or, when OIDC is configured, an access token from the identity provider. Each carries one role.',
  });
  const error = (status: number) => ({ description: ERROR_TEXT[status] ?? 'Refused', content: { 'application/json': { schema: ErrorBody } } });

  for (const r of routes) {
    const d = r.doc;
    if (!d) continue;
    const names = [...r.path.matchAll(/:(\w+)/g)].map((m) => m[1]!);
    const params = names.length ? z.object(Object.fromEntries(names.map((n) => [n, (d.params?.shape[n] as z.ZodType | undefined) ?? z.string()]))) : undefined;
    const body = d.body
      ? 'form' in d.body && !(d.body instanceof z.ZodType)
        ? { content: { 'application/x-www-form-urlencoded': { schema: d.body.form } } }
        : { content: { 'application/json': { schema: d.body as z.ZodType } } }
      : undefined;
    const responses: RouteConfig['responses'] = {};
    for (const [status, answer] of Object.entries(d.responses))
      responses[status] =
        answer instanceof z.ZodType
          ? { description: answer.description ?? 'OK', content: { 'application/json': { schema: answer } } }
          : typeof answer === 'string'
            ? { description: answer, content: { 'application/json': { schema: { type: 'object' } } } }
            : { description: answer.description, content: { [answer.type]: { schema: { type: 'string' } } } };
    const refusals = new Set(d.errors ?? []);
    if (r.authenticated) [400, 401, 429, 503].forEach((s) => refusals.add(s));
    if (d.params || d.query || d.body) refusals.add(400);
    if (r.roles && r.roles.length < 5) refusals.add(403);
    if (names.length) refusals.add(404);
    for (const s of [...refusals].sort()) responses[s] = error(s);

    const who = !r.authenticated ? 'Open: no token needed.' : r.roles ? `**Roles:** ${r.roles.join(', ')}.` : 'Any authenticated caller.';
    registry.registerPath({
      method: r.method.toLowerCase() as Method,
      path: r.path.replace(/:(\w+)/g, '{$1}'),
      summary: d.summary,
      description: [d.description, who].filter(Boolean).join('\n\n'),
      tags: [d.tag ?? r.path.split('/').filter((s) => s && s !== 'v1')[0] ?? 'service'],
      security: r.authenticated ? [{ [bearer.name]: [] }] : [],
      'x-roles': r.roles ?? (r.authenticated ? 'any' : 'open'),
      request: { ...(params ? { params } : {}), ...(d.query ? { query: d.query } : {}), ...(body ? { body } : {}) },
      responses,
    } as RouteConfig);
  }
  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'Journeys API',
      version,
      description:
        'Customer journey orchestration on Temporal. Every refusal answers `{"error": {"code", "message"}}`. Who may call an operation is stated on it (`x-roles`; admin may call every one); an rm sees only its own customers.',
    },
  });
}

/** GET /openapi.json (built once, on first request, when every route is registered) and the Swagger UI at /docs. */
export function openApiRouter(app: express.Express, authenticate: RequestHandler): Router {
  const router = express.Router();
  let document: unknown;
  router.get(
    '/openapi.json',
    doc({ summary: 'This OpenAPI document', tag: 'service', responses: { 200: z.record(z.string(), z.unknown()).meta({ description: 'OpenAPI 3.1' }) } }),
    (_req, res) => {
      res.json((document ??= openApiDocument(appRoutes(app, authenticate))));
    },
  );
  router.get('/docs', doc({ summary: 'The API documentation (Swagger UI)', tag: 'service', responses: { 200: { type: 'text/html', description: 'Swagger UI' } } }), (_req, res) => {
    res.type('html').send(DOCS_PAGE);
  });
  router.get(
    '/docs/init.js',
    doc({ summary: "Swagger UI's start-up script", tag: 'service', responses: { 200: { type: 'text/javascript', description: 'script' } } }),
    (_req, res) => {
      res.type('text/javascript').send(DOCS_INIT);
    },
  );
  // Swagger UI's own files, from the installed package.
  router.use('/docs', express.static(swaggerUiDist.getAbsoluteFSPath(), { index: false, maxAge: '1h' }));
  return router;
}

const DOCS_PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Journeys API</title><link rel="stylesheet" href="/docs/swagger-ui.css"></head>
<body><div id="swagger-ui"></div><script src="/docs/swagger-ui-bundle.js"></script><script src="/docs/init.js"></script></body>
</html>
`;
// The key typed into "Authorize" stays in this page only (not persisted in the browser's storage).
const DOCS_INIT = `window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui', deepLinking: true, persistAuthorization: false });\n`;
