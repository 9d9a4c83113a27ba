import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from './generated/client.js';

export type Db = InstanceType<typeof PrismaClient>;
export { Prisma } from './generated/client.js';
export type { Customer, Journey } from './generated/client.js';

export interface DbOptions {
  /** Connections per process. */
  poolSize?: number;
  /** Waiting for a connection — a free one from a busy pool, or a new one from the server — past this is an error (a
   * dead or unreachable server answers in time). Default 5 s; the API asks for less, to answer 503 within its promise.
   * Interactive transactions wait as long for their connection. */
  connectTimeoutMs?: number;
  /** A query with no answer within this fails on the client side (a server that stopped answering mid-query);
   * unset, a query waits as long as the server takes. */
  queryTimeoutMs?: number;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;

/** One Prisma client over a node-postgres pool, through the driver adapter: no native engine at run time. */
export function createDb(databaseUrl: string, poolSizeOrOptions: number | DbOptions = {}): Db {
  const o = typeof poolSizeOrOptions === 'number' ? { poolSize: poolSizeOrOptions } : poolSizeOrOptions;
  const adapter = new PrismaPg({
    connectionString: databaseUrl,
    max: o.poolSize ?? 10,
    connectionTimeoutMillis: o.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    keepAlive: true,
    ...(o.queryTimeoutMs !== undefined ? { query_timeout: o.queryTimeoutMs } : {}),
  });
  // Prisma's own wait for a transaction's connection (2 s by default) would cut the pool's wait short.
  return new PrismaClient({ adapter, transactionOptions: { maxWait: o.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS } });
}
