// Who is calling: the principal a request (or a command line) acts as, and the roles of least privilege. The service
// decides what a principal may see with these (service/scope.ts); the API finds the principal (api/auth.ts) and checks
// roles per route (api/principal.ts).

export const ROLES = ['system', 'rm', 'designer', 'ops', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface Principal {
  /** A stable id: the API key's id, or the token's subject (`oidc:{sub}`). Audit entries name it. */
  id: string;
  role: Role;
  /** The relationship manager an `rm` principal is; their customers are those whose `rmId` is this. */
  rmId?: string;
  name?: string;
  via: 'api_key' | 'oidc';
}
