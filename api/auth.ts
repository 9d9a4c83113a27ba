// The authenticator: every route behind it needs `Authorization: Bearer <token>`, an API key (looked up by hash in
// Postgres) or, when configured, an OIDC access token from the bank's identity provider. It puts the caller's
// principal on `res.locals.principal`; anything else is 401 `unauthenticated`, with the same answer for a missing, a
// malformed, an unknown, a revoked or an expired token (no hint which).
import type { RequestHandler } from 'express';
import type { Principal } from '../service/principal.js';
import { Unauthenticated } from '../service/errors.js';

/** Turns a bearer token into a principal, or undefined when the token is not one it knows. */
export type TokenVerifier = (token: string) => Promise<Principal | undefined>;

const BEARER = /^Bearer +(\S+) *$/i;

export function authenticator(verifiers: TokenVerifier[]): RequestHandler {
  return (req, res, next) => {
    const refuse = (message: string) => {
      res.setHeader('WWW-Authenticate', 'Bearer');
      next(new Unauthenticated('unauthenticated', message));
    };
    const token = BEARER.exec(req.headers.authorization ?? '')?.[1];
    if (!token) return refuse('this request needs an Authorization: Bearer header with an API key or an access token');
    void (async () => {
      for (const verify of verifiers) {
        const principal = await verify(token);
        if (principal) {
          res.locals.principal = principal;
          return next();
        }
      }
      refuse('the bearer token is not valid');
    })().catch(next);
  };
}
