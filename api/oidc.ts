// OIDC bearer tokens from the bank's identity provider: a JWT signed by one of the issuer's keys (its JWKS, found in
// the issuer's discovery document unless OIDC_JWKS_URL names it), for our audience, not expired. The role and the RM id
// come from claims the deployment names (a claim may be a dotted path, e.g. `realm_access.roles`; a role claim may be a
// string or a list, the first role we know wins). The principal is `oidc:{sub}`.
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from 'jose';
import type { Logger } from '../config/logger.js';
import { Unavailable } from '../service/errors.js';
import type { TokenVerifier } from './auth.js';
import { ROLES, type Principal, type Role } from '../service/principal.js';

export interface OidcConfig {
  issuer: string;
  audience: string;
  /** Unset: the `jwks_uri` of the issuer's `/.well-known/openid-configuration`. */
  jwksUrl?: string;
  roleClaim: string;
  rmIdClaim: string;
  algorithms: string[];
  /** The console's public client id and the scopes it asks for (the browser's sign-in through the identity provider). */
  consoleClientId?: string;
  consoleScopes?: string;
}

/** A JWT is three base64url parts; anything else is not ours to check (an API key). */
const LOOKS_LIKE_JWT = /^[\w-]+\.[\w-]+\.[\w-]+$/;
const DISCOVERY_TIMEOUT_MS = 5_000;

const claimAt = (payload: JWTPayload, path: string): unknown =>
  path.split('.').reduce<unknown>((v, k) => (v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), payload);

/** The first known role in the claim (a string, or a list of strings). */
export function roleOf(claim: unknown): Role | undefined {
  const names = Array.isArray(claim) ? claim : [claim];
  return names.find((r): r is Role => typeof r === 'string' && (ROLES as readonly string[]).includes(r));
}

export function oidcVerifier(config: OidcConfig, logger: Logger): TokenVerifier {
  let jwks: Promise<ReturnType<typeof createRemoteJWKSet>> | undefined;
  const keySet = () =>
    (jwks ??= (async () => {
      if (config.jwksUrl) return createRemoteJWKSet(new URL(config.jwksUrl));
      const url = `${config.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
      const res = await fetch(url, { signal: AbortSignal.timeout(DISCOVERY_TIMEOUT_MS) });
      if (!res.ok) throw new Error(`the issuer's discovery document answered ${res.status}`);
      const { jwks_uri } = (await res.json()) as { jwks_uri?: unknown };
      if (typeof jwks_uri !== 'string') throw new Error("the issuer's discovery document has no jwks_uri");
      return createRemoteJWKSet(new URL(jwks_uri));
    })().catch((err: unknown) => {
      jwks = undefined; // try discovery again on the next token
      throw err;
    }));

  return async (token): Promise<Principal | undefined> => {
    if (!LOOKS_LIKE_JWT.test(token)) return undefined;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, await keySet(), { issuer: config.issuer, audience: config.audience, algorithms: config.algorithms }));
    } catch (err) {
      // The identity provider unreachable is an outage (try again), not a bad token.
      if (err instanceof errors.JWKSTimeout || !(err instanceof errors.JOSEError)) {
        logger.warn({ reason: err instanceof Error ? err.message : String(err) }, 'identity provider keys unavailable');
        throw new Unavailable('unavailable', 'the identity provider is not answering; try again later');
      }
      return undefined; // expired, wrong issuer or audience, bad signature, unknown key: 401
    }
    const role = roleOf(claimAt(payload, config.roleClaim));
    const rmIdClaim = claimAt(payload, config.rmIdClaim);
    const rmId = typeof rmIdClaim === 'string' && rmIdClaim.trim() ? rmIdClaim.trim() : undefined;
    // No role we know, or an RM the token does not name: nobody we can give rights to.
    if (!payload.sub || !role || (role === 'rm' && !rmId)) return undefined;
    return { id: `oidc:${payload.sub}`, role, ...(role === 'rm' ? { rmId } : {}), via: 'oidc' };
  };
}
