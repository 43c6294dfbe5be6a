import { openDatabase } from './db/connection.js';
import { env } from './env.js';
import { PrismaClient } from './generated/prisma/client.js';

/** The one database handle and Prisma client of this process. */
export const database = openDatabase({
  databaseUrl: env.DATABASE_URL,
  poolSize: env.DATABASE_POOL_SIZE,
  dataDir: env.DATA_DIR,
});

export const prisma = new PrismaClient({
  adapter: database.adapter,
  // Emitted, not printed: tests count statements; nothing listens otherwise.
  log: [{ emit: 'event', level: 'query' }],
});

export async function closeDatabase(): Promise<void> {
  await prisma.$disconnect();
  await database.close();
}
