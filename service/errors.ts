// Errors the service raises on purpose, each with the HTTP status and code the API answers with.
/** An error the API answers with its own status; anything else is a 500 and is logged. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export const notFound = (what: string, id: string) => new ApiError(404, 'not_found', `${what} "${id}" not found`);
export const conflict = (code: string, message: string) => new ApiError(409, code, message);

