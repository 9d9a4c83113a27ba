// The console: static ES modules and CSS from the `console/` folder, ECharts and Mermaid from our own node_modules
// (bank networks are closed: the page loads nothing from elsewhere), and a tiny config document that tells the page
// whether to offer sign-in through the identity provider. None of it carries data: every figure the page shows comes
// from the API with the signed-in principal's bearer token, so these routes are open like the health checks.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type RequestHandler } from 'express';
import type { OidcConfig } from './oidc.js';
import { NotFound } from '../service/errors.js';
import { doc } from './openapi.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const CONSOLE_DIR = path.join(here, '..', 'console');
const distOf = (pkg: string) => path.join(path.dirname(require.resolve(`${pkg}/package.json`)), 'dist');

/** Only the files the page uses, by name: not a whole package directory. */
const VENDOR: Record<string, string> = {
  'echarts.min.js': path.join(distOf('echarts'), 'echarts.min.js'),
  'mermaid.min.js': path.join(distOf('mermaid'), 'mermaid.min.js'),
};

/** Scripts only from us; styles inline too, because ECharts and Mermaid style the elements they draw. The identity
 * provider is the one other origin the page may talk to (its discovery document and token endpoint). */
export function consoleCsp(oidc?: Pick<OidcConfig, 'issuer'>): string {
  const idp = oidc ? ` ${new URL(oidc.issuer).origin}` : '';
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self'",
    `connect-src 'self'${idp}`,
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

export function consoleRouter(oidc?: OidcConfig): express.Router {
  const router = express.Router();
  const csp = consoleCsp(oidc);
  const headers: RequestHandler = (_req, res, next) => {
    res.setHeader('Content-Security-Policy', csp);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    next();
  };
  router.use('/console', headers);
  router.get(
    '/console/config.json',
    doc({
      summary: "The console's settings: whether (and where) to offer sign-in through the identity provider",
      tag: 'console',
      responses: { 200: 'JSON {oidc: {issuer, clientId, scopes, audience} | null}' },
    }),
    (_req, res) => {
      res.setHeader('Cache-Control', 'no-store');
      res.json({
        oidc: oidc?.consoleClientId ? { issuer: oidc.issuer, clientId: oidc.consoleClientId, scopes: oidc.consoleScopes ?? 'openid', audience: oidc.audience } : null,
      });
    },
  );
  router.get(
    '/console/vendor/:file',
    doc({
      summary: "The console's charting and diagram libraries (ECharts, Mermaid), served by the service itself",
      tag: 'console',
      responses: { 200: { type: 'text/javascript', description: 'The library' } },
    }),
    (req, res, next) => {
      const name = String(req.params.file);
      const file = Object.hasOwn(VENDOR, name) ? VENDOR[name] : undefined;
      if (!file) return next();
      res.sendFile(file, { maxAge: '1h' });
    },
  );
  router.use('/console', express.static(CONSOLE_DIR, { index: 'index.html', redirect: true, fallthrough: true, dotfiles: 'ignore' }));
  // Nothing else lives under /console: a missing file is 404 here, not a sign-in challenge from the API behind.
  router.use('/console', (_req, _res, next) => next(new NotFound('not_found', 'no such file in the console')));
  return router;
}
