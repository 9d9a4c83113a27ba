import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from './generated/client.js';

export type Db = InstanceType<typeof PrismaClient>;
export { Prisma } from './generated/client.js';

/** One Prisma client over a node-postgres pool, through the driver adapter: no native engine at run time. */
export function createDb(databaseUrl: string, poolSize = 10): Db {
  const adapter = new PrismaPg({ connectionString: databaseUrl, max: poolSize });
  return new PrismaClient({ adapter });
}
