// Errors the service raises on purpose: domain words inside, HTTP at the edge (api/http.ts maps each class to a status).
// Transient vs permanent is decided here, where the error is born: only `Unavailable` is worth retrying.

/** A refusal or a fault the service names; `code` is the stable machine-readable word the API answers with. */
export abstract class DomainError extends Error {
  /** Whether trying the same thing again later can succeed (a peer down), or never will (bad input, a rule). */
  abstract readonly transient: boolean;
  constructor(
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** The request itself is wrong (400). */
export class Invalid extends DomainError {
  readonly transient = false;
}
/** The request does not say who is calling, or says it with a token that does not check out (401). */
export class Unauthenticated extends DomainError {
  readonly transient = false;
}
/** The caller may not (403). */
export class Forbidden extends DomainError {
  readonly transient = false;
}
/** What it names does not exist (404). */
export class NotFound extends DomainError {
  readonly transient = false;
}
/** It exists, but a rule refuses the change in its current state (409). */
export class Conflict extends DomainError {
  readonly transient = false;
}
/** Well-formed, but it cannot be done: over a budget, an engine error in a definition (422). */
export class Unprocessable extends DomainError {
  readonly transient = false;
}
/** Too many requests (429). */
export class RateLimited extends DomainError {
  readonly transient = true;
  constructor(
    code: string,
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(code, message);
  }
}
/** A peer (Postgres, Temporal) does not answer in time (503): try again after `retryAfterSeconds`. */
export class Unavailable extends DomainError {
  readonly transient = true;
  constructor(
    code: string,
    message: string,
    readonly retryAfterSeconds = 5,
  ) {
    super(code, message);
  }
}

export const notFound = (what: string, id: string) => new NotFound('not_found', `${what} "${id}" not found`);
export const conflict = (code: string, message: string) => new Conflict(code, message);
