import { EventEmitter } from 'node:events';
import { PrismaClient } from '../generated/prisma/client.js';
import type { Database, StatementOptions } from './connection.js';

/** The app's database: the connection, its Prisma client, and reads sent below Prisma. */
export interface Db {
  database: Database;
  prisma: PrismaClient;
  /** One read statement below Prisma (see Database.read): for lookup batches. */
  readRows<Row>(sql: string, params: readonly unknown[], options?: StatementOptions): Promise<Row[]>;
  /** Told of each statement `readRows` sends, as Prisma's 'query' events are of its own (tests count both). */
  events: EventEmitter<{ read: [] }>;
  close(): Promise<void>;
}

export function createDb(database: Database): Db {
  const prisma = new PrismaClient({
    adapter: database.adapter,
    // Emitted, not printed: tests count statements; nothing listens otherwise.
    log: [{ emit: 'event', level: 'query' }],
  });
  const events = new EventEmitter<{ read: [] }>();
  return {
    database,
    prisma,
    events,
    readRows<Row>(sql: string, params: readonly unknown[], options?: StatementOptions) {
      events.emit('read');
      return database.read<Row>(sql, params, options);
    },
    async close() {
      await prisma.$disconnect();
      await database.close();
    },
  };
}
