import { defineConfig } from 'prisma/config';

// Only `prisma migrate deploy` (where Prisma's engines can be downloaded) needs a URL; the app
// applies the same migrations itself (src/db/migrate.ts).
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? '' },
});
