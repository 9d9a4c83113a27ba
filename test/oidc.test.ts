// OIDC bearer tokens, through the API as it runs (startApiServer) against a local identity provider on 127.0.0.1 that
// serves a discovery document and a JWKS: a valid token authenticates with the role and RM id of its claims; an
// expired one, one for another audience or from another issuer, one signed by a key not in the JWKS, one with no known
// role, and an rm token without an RM id are 401. API keys keep working beside it.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer } from '../api/server.js';
import { loadConfig } from '../config/config.js';
import { createLogger } from '../config/logger.js';
import { ApiKeyStore } from '../service/api-keys.js';
import { createTestDb, type TestDb } from './support/db.js';

const AUDIENCE = 'journeys-api';
let testDb: TestDb;
let idp: http.Server;
let issuer: string;
let api: Awaited<ReturnType<typeof startApiServer>>;
let signingKey: CryptoKey;
let strangerKey: CryptoKey;
let adminKey: string;

beforeAll(async () => {
  const [pair, stranger] = await Promise.all([generateKeyPair('RS256'), generateKeyPair('RS256')]);
  signingKey = pair.privateKey;
  strangerKey = stranger.privateKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  idp = http.createServer((req, res) => {
    const body = req.url === '/.well-known/openid-configuration' ? { issuer, jwks_uri: `${issuer}/jwks` } : req.url === '/jwks' ? { keys: [jwk] } : undefined;
    res.writeHead(body ? 200 : 404, { 'content-type': 'application/json' }).end(JSON.stringify(body ?? {}));
  });
  await new Promise<void>((resolve) => idp.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(idp.address() as AddressInfo).port}`;

  testDb = await createTestDb();
  adminKey = (await new ApiKeyStore(testDb.db).create({ role: 'admin' }, 'test')).key;
  await testDb.db.customer.createMany({
    data: [
      { id: 'o-own', name: 'Own', rmId: 'rm-7' },
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
  });
  api = await startApiServer(config, createLogger({ logLevel: process.env.TEST_LOG_LEVEL ?? 'warn' }, 'test-api'));
}, 60_000);
afterAll(async () => {
  await api?.close();
  await new Promise((r) => idp?.close(r));
  await testDb?.drop();
});

async function token(claims: JWTPayload, o: { key?: CryptoKey; issuer?: string; audience?: string; expiresIn?: string | number } = {}) {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
    .setIssuer(o.issuer ?? issuer)
    .setAudience(o.audience ?? AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(o.expiresIn ?? '5m')
    .sign(o.key ?? signingKey);
}

const get = (path: string, bearer: string) => fetch(`${api.url}${path}`, { headers: { authorization: `Bearer ${bearer}` } });

describe('OIDC bearer tokens', () => {
  it('a valid token authenticates with the role of its claim (the first known one of a list) and the RM id of rm_id', async () => {
    const rm = await token({ sub: 'u-7', groups: ['staff', 'rm'], rm_id: 'rm-7' });
    expect((await get('/v1/customers/o-own', rm)).status).toBe(200);
    const other = await get('/v1/customers/o-other', rm);
    expect(other.status).toBe(404);
    expect(((await other.json()) as { error: { code: string } }).error.code).toBe('not_found');
    // The role decides: an rm may not put customers, a designer reads templates and not customers.
    expect((await fetch(`${api.url}/v1/customers/o-own`, { method: 'PUT', headers: { authorization: `Bearer ${rm}` } })).status).toBe(403);
    const designer = await token({ sub: 'u-d', groups: 'designer' });
    expect((await get('/v1/templates', designer)).status).toBe(200);
    expect((await get('/v1/customers/o-own', designer)).status).toBe(403);
  });

  it.each([
    ['expired', () => token({ sub: 'u', groups: 'ops' }, { expiresIn: Math.floor(Date.now() / 1000) - 120 })],
    ['for another audience', () => token({ sub: 'u', groups: 'ops' }, { audience: 'someone-else' })],
    ['from another issuer', () => token({ sub: 'u', groups: 'ops' }, { issuer: 'https://idp.example.com' })],
    ['signed by a key not in the JWKS', () => token({ sub: 'u', groups: 'ops' }, { key: strangerKey })],
    ['with no role we know', () => token({ sub: 'u', groups: ['staff', 'root'] })],
    ['an rm without an RM id', () => token({ sub: 'u', groups: 'rm' })],
    ['without a subject', () => token({ groups: 'ops' })],
  ])('a token %s answers 401 unauthenticated', async (_name, make) => {
    const res = await get('/v1/templates', await make());
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unauthenticated');
  });

  it('a tampered token (claims changed after signing) answers 401', async () => {
    const [h, , s] = (await token({ sub: 'u', groups: 'designer' })).split('.');
    const forged = Buffer.from(JSON.stringify({ sub: 'u', groups: 'admin', iss: issuer, aud: AUDIENCE, exp: Math.floor(Date.now() / 1000) + 300 })).toString('base64url');
    expect((await get('/v1/api-keys', `${h}.${forged}.${s}`)).status).toBe(401);
  });

  it('API keys work beside OIDC', async () => {
    expect((await get('/v1/api-keys', adminKey)).status).toBe(200);
  });
});
