// The OpenAPI document against the app it describes: every route Express would dispatch (walked here from the route
// stack, independently of the generator) is an operation of the document and every operation is a route; each states
// its roles as the role check enforces them, its bearer security and its refusals in the one error shape; and real
// answers of a running stack parse with the schemas the document publishes for them. /docs serves Swagger UI from
// the service itself.
import { randomUUID } from 'node:crypto';
import type express from 'express';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { appRoutes } from '../api/openapi.js';
import { ErrorBody } from '../api/responses.js';
import { api, createStackApp, eventually, RM_ID, startStack, type Stack } from './support/stack.js';

let stack: Stack;
let app: express.Express;
type Operation = {
  security?: Record<string, string[]>[];
  parameters?: { name: string; in: string }[];
  responses: Record<string, { content?: Record<string, { schema: { $ref?: string } }> }>;
  'x-roles': string[] | string;
};
let document: { openapi: string; paths: Record<string, Record<string, Operation>>; components: { securitySchemes: Record<string, { type: string; scheme: string }> } };

beforeAll(async () => {
  stack = await startStack();
  await stack.startWorker();
  app = createStackApp(stack);
  document = (await request(app).get('/openapi.json').expect(200)).body;
}, 120_000);
afterAll(async () => {
  await stack?.stop();
});

type Layer = { route?: { path: string; methods: Record<string, boolean> }; handle: { stack?: Layer[] }; rawPath?: unknown };
/** Every `METHOD /path` Express can dispatch to a route, mounted routers included. */
function expressRoutes(a: express.Express): string[] {
  const out: string[] = [];
  const walk = (stack: Layer[], prefix: string) => {
    for (const layer of stack) {
      const mount = typeof layer.rawPath === 'string' && layer.rawPath !== '/' ? layer.rawPath : '';
      if (layer.route) for (const m of Object.keys(layer.route.methods)) out.push(`${m.toUpperCase()} ${prefix}${layer.route.path}`);
      else if (Array.isArray(layer.handle.stack)) walk(layer.handle.stack, prefix + mount);
    }
  };
  walk((a as unknown as { router: { stack: Layer[] } }).router.stack, '');
  return out;
}
const documented = () => Object.entries(document.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`));
const op = (method: string, path: string) => document.paths[path.replace(/:(\w+)/g, '{$1}')]![method.toLowerCase()]!;

describe('the document covers the app', () => {
  it('is OpenAPI 3.1 with a bearer security scheme', () => {
    expect(document.openapi).toBe('3.1.0');
    expect(document.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
  });

  it('every route of the app is an operation of the document, and every operation is a route of the app', () => {
    const routes = expressRoutes(app);
    expect(routes.length).toBeGreaterThan(30);
    expect(routes).toContain('POST /codec/decode');
    expect(routes).toContain('GET /metrics');
    expect(documented().filter((r) => !routes.includes(r))).toEqual([]);
    expect(routes.filter((r) => !documented().includes(r))).toEqual([]);
  });

  it("each operation's roles are the ones its role check enforces", async () => {
    expect(op('POST', '/v1/journeys')['x-roles']).toEqual(['system', 'admin']);
    expect(op('GET', '/v1/customers/:customerId')['x-roles']).toEqual(['system', 'rm', 'ops', 'admin']);
    expect(op('DELETE', '/v1/customers/:customerId')['x-roles']).toEqual(['admin']);
    // The codec routes are guarded by an `allow` mounted beside their router, not on each route.
    expect(op('POST', '/codec/decode')['x-roles']).toEqual(['ops', 'admin']);
    expect(op('GET', '/healthz')['x-roles']).toBe('open');
    // And the API does what the document says, for every role on an operation that needs no fixture.
    const roles = op('GET', '/v1/journey-definitions')['x-roles'] as string[];
    for (const role of ['system', 'rm', 'designer', 'ops', 'admin'] as const) {
      const res = await api(app, role).get('/v1/journey-definitions');
      expect(res.status, role).toBe(roles.includes(role) ? 200 : 403);
    }
  });

  it('authenticated operations require the bearer scheme and answer refusals in the error shape; open ones need no token', () => {
    for (const [path, ops] of Object.entries(document.paths))
      for (const [method, o] of Object.entries(ops)) {
        const name = `${method} ${path}`;
        const open = o['x-roles'] === 'open';
        expect(o.security, name).toEqual(open ? [] : [{ bearer: [] }]);
        const refusals = Object.entries(o.responses).filter(([s]) => Number(s) >= 400);
        if (!open) expect(refusals.map(([s]) => s).sort(), name).toEqual(expect.arrayContaining(['400', '401', '429', '503']));
        // /readyz answers 503 with its checks (what is down), which is its documented answer, not a refusal.
        for (const [status, r] of refusals.filter(([s]) => !(path === '/readyz' && s === '503')))
          expect(r.content?.['application/json']?.schema.$ref, `${name} ${status}`).toBe('#/components/schemas/Error');
        for (const p of path.match(/\{\w+\}/g) ?? [])
          expect(
            o.parameters?.some((x) => x.in === 'path' && `{${x.name}}` === p),
            `${name} ${p}`,
          ).toBe(true);
      }
    expect(op('GET', '/healthz').security).toEqual([]);
    expect(op('POST', '/v1/channels/twilio/status').security).toEqual([]);
    expect(op('POST', '/v1/journeys').responses['403']).toBeDefined();
  });
});

describe('real answers match the documented schemas', () => {
  /** The zod schema the document publishes for this route's answer with this status. */
  const schemaOf = (method: string, path: string, status: number) => {
    const route = appRoutes(app, () => undefined).find((r) => r.method === method && r.path === path);
    const s = route?.doc?.responses[status];
    if (!s || typeof s !== 'object' || !('safeParse' in s)) throw new Error(`no documented ${status} schema for ${method} ${path}`);
    return s as z.ZodType;
  };
  const conforms = (method: string, path: string, res: request.Response) => {
    const r = schemaOf(method, path, res.status).safeParse(res.body);
    expect(r.success, `${method} ${path} ${res.status}: ${JSON.stringify(r.error?.issues)}`).toBe(true);
  };

  it('customers, events, journeys, tasks, messages, definitions, templates, keys, audit and errors', async () => {
    const admin = api(app);
    const id = `openapi-${randomUUID().slice(0, 8)}`;
    conforms('PUT', '/v1/customers/:customerId', await admin.put(`/v1/customers/${id}`).send({ name: 'O', email: 'o@example.com', rmId: RM_ID }).expect(201));
    conforms('GET', '/v1/customers/:customerId', await admin.get(`/v1/customers/${id}`).expect(200));
    const started = await admin.post('/v1/journeys').send({ journeyKey: 'lifecycle', customerId: id }).expect(201);
    conforms('POST', '/v1/journeys', started);
    conforms(
      'POST',
      '/v1/customers/:customerId/events',
      await admin
        .post(`/v1/customers/${id}/events`)
        .send({ eventId: `${id}-1`, type: 'product.purchased' })
        .expect(202),
    );
    conforms('GET', '/v1/journeys/:workflowId', await admin.get(`/v1/journeys/${started.body.workflowId}`).expect(200));
    conforms('GET', '/v1/customers/:customerId/journeys', await admin.get(`/v1/customers/${id}/journeys`).expect(200));
    // The purchase's thank-you email.
    const messages = await eventually(
      () => admin.get(`/v1/customers/${id}/messages`).expect(200),
      (r) => r.body.messages.length > 0,
    );
    conforms('GET', '/v1/customers/:customerId/messages', messages);
    conforms('GET', '/v1/messages/:messageId', await admin.get(`/v1/messages/${messages.body.messages[0].id}`).expect(200));
    conforms('GET', '/v1/customers/:customerId/timeline', await admin.get(`/v1/customers/${id}/timeline`).expect(200));
    conforms('GET', '/v1/tasks', await admin.get('/v1/tasks').expect(200));
    conforms('GET', '/v1/journey-definitions', await admin.get('/v1/journey-definitions').expect(200));
    conforms('GET', '/v1/journey-definitions/:key/versions/:version', await admin.get('/v1/journey-definitions/lifecycle/versions/1').expect(200));
    conforms('GET', '/v1/templates', await admin.get('/v1/templates').expect(200));
    conforms('GET', '/v1/templates/:key/:channel/:locale/versions', await admin.get('/v1/templates/lifecycle-ces/sms/en/versions').expect(200));
    const key = await admin.post('/v1/api-keys').send({ role: 'ops', name: 'openapi' }).expect(201);
    conforms('POST', '/v1/api-keys', key);
    conforms('GET', '/v1/api-keys', await admin.get('/v1/api-keys').expect(200));
    conforms('DELETE', '/v1/api-keys/:keyId', await admin.delete(`/v1/api-keys/${key.body.id}`).expect(200));
    conforms('POST', '/v1/journeys/:workflowId/exit', await admin.post(`/v1/journeys/${started.body.workflowId}/exit`).send({ reason: 'openapi' }).expect(202));
    conforms('GET', '/v1/audit', await admin.get('/v1/audit?limit=5').expect(200));
    conforms('GET', '/healthz', await request(app).get('/healthz').expect(200));
    // Refusals: the error shape the document names for every one (the Error component).
    for (const res of [
      await admin.get('/v1/customers/nobody-here').expect(404),
      await request(app).get('/v1/tasks').expect(401),
      await api(app, 'rm').post('/v1/journeys').send({}).expect(403),
      await admin.put(`/v1/customers/${id}`).send({ email: 'not an address' }).expect(400),
    ])
      expect(ErrorBody.safeParse(res.body).success, JSON.stringify(res.body)).toBe(true);
  }, 60_000);
});

describe('/docs', () => {
  it('serves Swagger UI from the service (no other origin), pointed at /openapi.json, without a token', async () => {
    const page = await request(app).get('/docs').expect(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.text).not.toMatch(/https?:\/\//);
    const assets = [...page.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(assets).toEqual(expect.arrayContaining(['/docs/swagger-ui.css', '/docs/swagger-ui-bundle.js', '/docs/init.js']));
    for (const asset of assets) expect((await request(app).get(asset)).status, asset).toBe(200);
    expect((await request(app).get('/docs/swagger-ui-bundle.js')).headers['content-type']).toMatch(/javascript/);
    expect((await request(app).get('/docs/init.js')).text).toContain("url: '/openapi.json'");
  });
});
