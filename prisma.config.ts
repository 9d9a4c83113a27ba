// Prisma CLI settings (used when authoring migrations and generating the client; the service itself applies
// migrations with db/migrate.ts and needs no Prisma CLI at run time).
import { defineConfig } from 'prisma/config';

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/journeys' },
});
