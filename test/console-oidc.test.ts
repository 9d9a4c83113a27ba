// Signing in to the console through the identity provider, in Chromium: the authorization-code flow with PKCE in the
// browser against a local identity provider (discovery document, authorize and token endpoints, JWKS) that checks
// the code verifier against the challenge, and the API as it runs (startApiServer) accepting the access token it
// issues. The console offers the button only when a console client is configured.
import { createHash, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer } from '../api/server.js';
import { loadConfig } from '../config/config.js';
import { createLogger } from '../config/logger.js';
import { createTestDb, type TestDb } from './support/db.js';

const AUDIENCE = 'journeys-api';
const CLIENT_ID = 'journeys-console';
let testDb: TestDb;
let idp: http.Server;
let issuer: string;
let api: Awaited<ReturnType<typeof startApiServer>>;
let browser: Browser;
let signingKey: CryptoKey;
/** What the identity provider saw: each authorization request and each code exchange, and its answer. */
const seen: { authorize: Record<string, string>[]; token: { verifierMatched: boolean }[] } = { authorize: [], token: [] };

const b64url = (b: Buffer) => b.toString('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

beforeAll(async () => {
  const pair = await generateKeyPair('RS256');
  signingKey = pair.privateKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  const codes = new Map<string, { challenge: string; redirectUri: string }>();
  idp = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', issuer);
    // The browser calls discovery and the token endpoint from the console's origin.
    const cors = { 'access-control-allow-origin': '*', 'access-control-allow-headers': 'content-type' };
    const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json', ...cors }).end(JSON.stringify(body));
    if (req.method === 'OPTIONS') return res.writeHead(204, { ...cors, 'access-control-allow-methods': 'POST' }).end();
    if (url.pathname === '/.well-known/openid-configuration')
      return json(200, { issuer, jwks_uri: `${issuer}/jwks`, authorization_endpoint: `${issuer}/authorize`, token_endpoint: `${issuer}/token` });
    if (url.pathname === '/jwks') return json(200, { keys: [jwk] });
    if (url.pathname === '/authorize') {
      const q = Object.fromEntries(url.searchParams);
      seen.authorize.push(q);
      if (q.client_id !== CLIENT_ID || q.response_type !== 'code' || q.code_challenge_method !== 'S256' || !q.code_challenge) return json(400, { error: 'invalid_request' });
      const code = randomUUID();
      codes.set(code, { challenge: q.code_challenge, redirectUri: q.redirect_uri! });
      return res.writeHead(302, { location: `${q.redirect_uri}?code=${code}&state=${encodeURIComponent(q.state ?? '')}` }).end();
    }
    if (url.pathname === '/token' && req.method === 'POST') {
      let raw = '';
      req.on('data', (c: Buffer) => (raw += c.toString()));
      req.on('end', () => {
        const form = new URLSearchParams(raw);
        const grant = codes.get(form.get('code') ?? '');
        const verifierMatched =
          !!grant &&
          b64url(
            createHash('sha256')
              .update(form.get('code_verifier') ?? '')
              .digest(),
          ) === grant.challenge;
        seen.token.push({ verifierMatched });
        if (!grant || !verifierMatched || form.get('redirect_uri') !== grant.redirectUri || form.get('client_id') !== CLIENT_ID) return json(400, { error: 'invalid_grant' });
        codes.delete(form.get('code')!);
        void new SignJWT({ sub: 'u-7', groups: 'rm', rm_id: 'rm-7' })
          .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
          .setIssuer(issuer)
          .setAudience(AUDIENCE)
          .setIssuedAt()
          .setExpirationTime('5m')
          .sign(signingKey)
          .then((accessToken) => json(200, { access_token: accessToken, token_type: 'Bearer', expires_in: 300 }));
      });
      return;
    }
    json(404, {});
  });
  await new Promise<void>((resolve) => idp.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(idp.address() as AddressInfo).port}`;
  testDb = await createTestDb();
  await testDb.db.customer.createMany({
    data: [
      { id: 'o-own', name: '周明', rmId: 'rm-7' },
      { id: 'o-other', name: 'Other', rmId: 'rm-8' },
    ],
  });
  const config = loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: testDb.url,
    // Nothing here needs Temporal: the API starts without it and these routes never call it.
    TEMPORAL_ADDRESS: '127.0.0.1:9',
    HOST: '127.0.0.1',
    PORT: '0',
    OIDC_ISSUER: issuer,
    OIDC_AUDIENCE: AUDIENCE,
    OIDC_ROLE_CLAIM: 'groups',
    OIDC_CONSOLE_CLIENT_ID: CLIENT_ID,
  });
  api = await startApiServer(config, createLogger({ logLevel: process.env.TEST_LOG_LEVEL ?? 'warn' }, 'test-api'));
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await api?.close();
  await new Promise((r) => idp?.close(r));
  await testDb?.drop();
});

describe('console sign-in through the identity provider', () => {
  it('config.json names the issuer and the console client, and the page may reach the issuer under its Content-Security-Policy', async () => {
    const res = await fetch(`${api.url}/console/config.json`);
    expect(await res.json()).toEqual({ oidc: { issuer, clientId: CLIENT_ID, scopes: 'openid profile', audience: AUDIENCE } });
    expect((await fetch(`${api.url}/console/`)).headers.get('content-security-policy')).toContain(`connect-src 'self' ${issuer}`);
  });

  it('the button runs the authorization-code flow with PKCE; the access token signs the RM in and they see only their customers', async () => {
    const context = await browser.newContext({ locale: 'en' });
    const page = await context.newPage();
    const refused: string[] = [];
    page.on('console', (m) => /Content Security Policy/i.test(m.text()) && refused.push(m.text()));
    await page.goto(`${api.url}/console/`);
    await page.click('#idp');
    await page.waitForSelector('#customers tbody tr');
    expect(await page.$$eval('#customers tbody tr', (rows) => rows.map((r) => r.getAttribute('data-customer')))).toEqual(['o-own']);
    expect(await page.textContent('#who')).toBe('rm-7 · rm');
    // The code never stays in the address bar, and the verifier the browser sent matched its challenge.
    expect(page.url()).toBe(`${api.url}/console/#/customers`);
    expect(seen.authorize).toHaveLength(1);
    expect(seen.authorize[0]).toMatchObject({ client_id: CLIENT_ID, redirect_uri: `${api.url}/console/`, scope: 'openid profile', audience: AUDIENCE });
    expect(seen.token).toEqual([{ verifierMatched: true }]);
    expect(refused).toEqual([]);
    await context.close();
  });
});
