// Who is calling, at the edge: the authenticator (API keys, OIDC bearer tokens) puts the principal
// (service/principal.ts) on `res.locals`; routes ask for it with `principalOf` and say who may call them with `allow`.
import type { RequestHandler, Response } from 'express';
import { Forbidden } from '../service/errors.js';
import { ROLES, type Principal, type Role } from '../service/principal.js';

/** The authenticated principal of a request that passed the authenticator. */
export function principalOf(res: Response): Principal {
  const p = (res.locals as { principal?: Principal }).principal;
  if (!p) throw new Error('no principal on this request: the route is not behind the authenticator');
  return p;
}

/** Only these roles may call the route (admin may call every route); anyone else gets 403 `forbidden`. The handler
 * carries its roles (`rolesOf`), so the OpenAPI document states what this check enforces, not a second list. */
export function allow(...roles: Role[]): RequestHandler & { allowedRoles: readonly Role[] } {
  const allowedRoles = ROLES.filter((r) => r === 'admin' || roles.includes(r));
  const check: RequestHandler = (_req, res, next) => {
    const { role } = principalOf(res);
    next(role === 'admin' || roles.includes(role) ? undefined : new Forbidden('forbidden', `the ${role} role may not do this`));
  };
  return Object.assign(check, { allowedRoles });
}

/** The roles an `allow` handler lets through; undefined for any other handler. */
export const rolesOf = (handler: unknown): readonly Role[] | undefined => (handler as { allowedRoles?: readonly Role[] } | undefined)?.allowedRoles;
