// Which failures are a peer not answering (Postgres, Temporal) rather than a bug: decided here once, so the API
// answers them 503 with Retry-After, the journey read falls back to the read model, and the sweeper backs off.
import { Prisma } from '../db/client.js';
import { Unavailable } from './errors.js';

/** gRPC status codes meaning "the server did not answer": UNAVAILABLE, DEADLINE_EXCEEDED. */
const GRPC_UNANSWERED = new Set([14, 4]);
/** Prisma: database unreachable, timed out, closed the connection; pool timeout; a transaction could not start. */
const PRISMA_UNAVAILABLE = new Set(['P1001', 'P1002', 'P1017', 'P2024', 'P2028']);
/** What the Postgres driver adapter reports when it cannot reach or keep the server. */
const ADAPTER_UNAVAILABLE = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout', 'TooManyConnections', 'TransactionAlreadyClosed']);
/** Socket errors, and Postgres's own "shutting down / not accepting connections / too many" (57P01–03, 53300, 08xxx). */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  '57P01',
  '57P02',
  '57P03',
  '53300',
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
]);
/** node-postgres words for a connection that did not open in time or went away. */
const PG_MESSAGES = /Connection terminated|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error/i;

export type Peer = 'database' | 'temporal' | 'network';

/** The peer an error says did not answer, or undefined when the error is something else. */
export function unansweredPeer(err: unknown): Peer | undefined {
  for (let e: unknown = err, depth = 0; e !== null && typeof e === 'object' && depth < 6; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof Prisma.PrismaClientInitializationError) return 'database';
    if (e instanceof Prisma.PrismaClientKnownRequestError) {
      if (PRISMA_UNAVAILABLE.has(e.code)) return 'database';
      const kind = (e.meta as { driverAdapterError?: { cause?: { kind?: unknown } } } | undefined)?.driverAdapterError?.cause?.kind;
      if (typeof kind === 'string' && ADAPTER_UNAVAILABLE.has(kind)) return 'database';
      return undefined; // a constraint, a missing row: the database answered
    }
    const { code, message, name } = e as { code?: unknown; message?: unknown; name?: unknown };
    // A gRPC ServiceError (Temporal's client wraps it in its own ServiceError, so the walk reaches it as a cause).
    if (typeof code === 'number' && GRPC_UNANSWERED.has(code) && typeof (e as { details?: unknown }).details === 'string') return 'temporal';
    if (name === 'ServiceError' && typeof message === 'string' && /Failed to connect to Temporal server/.test(message)) return 'temporal';
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return /^[0-9]/.test(code) ? 'database' : 'network';
    if (typeof message === 'string' && PG_MESSAGES.test(message)) return 'database';
  }
  return undefined;
}

/** An `Unavailable` when `err` means a peer did not answer in time; undefined for anything else. */
export function classifyFault(err: unknown): Unavailable | undefined {
  switch (unansweredPeer(err)) {
    case 'database':
      return new Unavailable('unavailable', 'the database is not answering; try again shortly', 5);
    case 'temporal':
      return new Unavailable('unavailable', 'the workflow service is not answering; try again shortly', 5);
    case 'network':
      return new Unavailable('unavailable', 'a service it depends on is not answering; try again shortly', 5);
    case undefined:
      return undefined;
  }
}
