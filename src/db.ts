import { EventEmitter } from 'node:events';
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

/** Told of each statement `readRows` sends, as Prisma's 'query' events are of its own (tests count both). */
export const readEvents = new EventEmitter<{ read: [] }>();

/** One read statement below Prisma (see Database.read): for lookup batches. */
export function readRows<Row>(sql: string, params: readonly unknown[]): Promise<Row[]> {
  readEvents.emit('read');
  return database.read<Row>(sql, params);
}

export async function closeDatabase(): Promise<void> {
  await prisma.$disconnect();
  await database.close();
}
