import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from './generated/client.js';

export type Db = InstanceType<typeof PrismaClient>;
export { Prisma } from './generated/client.js';

export interface DbOptions {
  /** Connections per process. */
  poolSize?: number;
  /** A connection that does not open within this is an error (a dead or unreachable server answers in time). */
  connectTimeoutMs?: number;
  /** A query with no answer within this fails on the client side (a server that stopped answering mid-query);
   * unset, a query waits as long as the server takes. */
  queryTimeoutMs?: number;
}

/** One Prisma client over a node-postgres pool, through the driver adapter: no native engine at run time. */
export function createDb(databaseUrl: string, poolSizeOrOptions: number | DbOptions = {}): Db {
  const o = typeof poolSizeOrOptions === 'number' ? { poolSize: poolSizeOrOptions } : poolSizeOrOptions;
  const adapter = new PrismaPg({
    connectionString: databaseUrl,
    max: o.poolSize ?? 10,
    connectionTimeoutMillis: o.connectTimeoutMs ?? 2_000,
    keepAlive: true,
    ...(o.queryTimeoutMs !== undefined ? { query_timeout: o.queryTimeoutMs } : {}),
  });
  return new PrismaClient({ adapter });
}
