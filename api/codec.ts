// The codec server: the Temporal UI (and `temporal` CLI) send the encrypted payloads of a history here and show what
// comes back, so ops can read journeys in the UI while Temporal itself holds ciphertext only. The protocol is the UI's:
// POST <endpoint>/decode (and /encode) with JSON `{"payloads": [{"metadata": {"<key>": "<base64>"}, "data": "<base64>"}]}`,
// answered in the same shape; the UI adds `X-Namespace`, and `Authorization` when it is set to pass its user's token.
//
// Who may call it: ops and admin (`allow('ops')`), by bearer token like every other route; in production the Temporal
// UI, logged in through the bank's identity provider, forwards its user's access token ("pass access token"), which
// the authenticator verifies as an OIDC token. The local UI of `npm start` has no login and so no token: it calls
// /codec/<token>/…, where <token> is a random segment made at each start (TEMPORAL_UI_CODEC_TOKEN, refused in
// production) and known only to that process and the dev server it started. That segment opens these two routes and
// nothing else.
import { timingSafeEqual, createHash } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import express, { type RequestHandler, type Router } from 'express';
import { z } from 'zod';
import { Unprocessable } from '../service/errors.js';
import { jsonBody, parse } from './http.js';
import { allow } from './principal.js';
import { doc } from './openapi.js';

export interface CodecServerOptions {
  codec: PayloadCodec;
  /** Browser origins (the Temporal UI) allowed to call the codec routes. */
  uiOrigins: string[];
  /** The path segment of the local UI's routes (`npm start`); unset: none. */
  uiToken?: string;
}

const base64 = z
  .string()
  .max(8_000_000)
  .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'base64');
const CodecBody = z.object({
  payloads: z.array(z.object({ metadata: z.record(z.string().max(256), base64).nullish(), data: base64.nullish() })).max(1_000),
});
type JsonPayload = { metadata: Record<string, string>; data: string };

const fromJson = (p: z.infer<typeof CodecBody>['payloads'][number]): Payload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
  data: Buffer.from(p.data ?? '', 'base64'),
});
const toJson = (p: Payload): JsonPayload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? new Uint8Array()).toString('base64')])),
  data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
});

const ALLOWED_HEADERS = 'Authorization, Content-Type, X-Namespace';

/** CORS for the codec routes: the configured UI origins only; preflights are answered without authentication (a
 * browser sends them without credentials), everything else goes on to the authenticator. */
export function codecCors(uiOrigins: readonly string[]): RequestHandler {
  const allowed = new Set(uiOrigins);
  return (req, res, next) => {
    const origin = req.headers.origin;
    res.vary('Origin');
    if (origin && allowed.has(origin)) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Allow-Credentials', 'true');
    }
    if (req.method !== 'OPTIONS') return next();
    if (origin && allowed.has(origin)) {
      res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
      res.setHeader('Access-Control-Allow-Headers', ALLOWED_HEADERS);
      res.setHeader('Access-Control-Max-Age', '600');
    }
    res.status(204).end();
  };
}

function codecRoutes(codec: PayloadCodec): Router {
  const router = express.Router();
  // Histories hold large payloads; one UI request carries the payloads of one event.
  router.use(jsonBody({ limit: '8mb', maxDepth: 6 }));
  for (const op of ['encode', 'decode'] as const) {
    router.post(
      `/${op}`,
      doc({
        summary: `${op === 'decode' ? 'Decrypt' : 'Encrypt'} Temporal payloads (the Temporal UI's codec server)`,
        tag: 'codec',
        body: CodecBody,
        responses: { 200: CodecBody },
        errors: [422],
      }),
      async (req, res) => {
        const { payloads } = parse(CodecBody, req.body ?? {}, 'body');
        let out: Payload[];
        try {
          out = await codec[op](payloads.map(fromJson));
        } catch (err) {
          throw new Unprocessable(`cannot_${op}`, `a payload could not be ${op}d: ${err instanceof Error ? err.message : String(err)}`);
        }
        res.json({ payloads: out.map(toJson) });
      },
    );
  }
  return router;
}

/** Routes for the local Temporal UI, mounted before the authenticator: /codec/<uiToken>/encode|decode. */
export function codecUiRouter(o: CodecServerOptions): Router {
  const router = express.Router();
  if (!o.uiToken) return router;
  const expected = createHash('sha256').update(o.uiToken).digest();
  const routes = codecRoutes(o.codec);
  router.use('/codec/:token', (req, res, next) => {
    const given = createHash('sha256').update(String(req.params.token)).digest();
    // Not the token: on to the authenticator (which answers 401 without a key), no hint that a token exists.
    if (!timingSafeEqual(given, expected)) return next('router');
    // Metrics name the route by its pattern: the token is a secret, and new each start.
    res.locals.routeBase = '/codec/:token';
    routes(req, res, next);
  });
  return router;
}

/** The codec routes behind the authenticator: /codec/encode and /codec/decode, ops and admin only. */
export function codecRouter(o: CodecServerOptions): Router {
  const router = express.Router();
  router.use('/codec', allow('ops'), codecRoutes(o.codec));
  return router;
}
