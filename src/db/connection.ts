import { mkdirSync } from 'node:fs';
import { PGlite, type Transaction, types } from '@electric-sql/pglite';
import { btree_gist } from '@electric-sql/pglite/contrib/btree_gist';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import pg from 'pg';
import { lockDataDir } from './data-dir-lock.js';

/** Statements sent by the driver itself in one transaction, int8 columns as bigint (as Prisma gives them). */
export interface DriverSession {
  query<Row>(sql: string, params?: readonly unknown[]): Promise<Row[]>;
}

/** The statements the migration runner needs, below Prisma (multi-statement scripts, locks). */
export interface MigrationSession {
  query<Row>(sql: string, params?: unknown[]): Promise<Row[]>;
  exec(script: string): Promise<void>;
  release(): Promise<void>;
}

export interface Database {
  kind: 'pglite' | 'postgresql';
  adapter: PrismaPg | PrismaPGlite;
  /** A session of its own: PostgreSQL's advisory locks belong to one connection. */
  openMigrationSession(): Promise<MigrationSession>;
  /**
   * One read statement sent by the driver itself, below Prisma, int8 columns as bigint (as Prisma
   * gives them). For lookup batches: decoding a raw result of thousands of rows costs Prisma about
   * twice the driver's CPU (measured per 2,500 lookup rows: 9.7-12 ms against 4.8 ms).
   */
  read<Row>(sql: string, params: readonly unknown[]): Promise<Row[]>;
  /**
   * Runs `work` in one transaction of its own, below Prisma: committed when `work` resolves,
   * rolled back when it throws. For the CSV import, whose batches of column arrays cost Prisma
   * about 1 s of CPU to serialise per 200,000 mappings, while the database waited.
   */
  transaction<T>(work: (session: DriverSession) => Promise<T>): Promise<T>;
  /** Connections of the PostgreSQL pool; null for PGlite, which has one and no pool. */
  poolStats(): { total: number; idle: number; waiting: number } | null;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  databaseUrl?: string | undefined;
  poolSize: number;
  dataDir: string;
}

export function openDatabase(options: DatabaseOptions): Database {
  return options.databaseUrl ? openPostgres(options.databaseUrl, options.poolSize) : openPglite(options.dataDir);
}

/**
 * pg settings for a DATABASE_URL, with JIT off. JIT compiles a statement when its estimated cost
 * is high, as a batch of thousands of lookups or import rows is; the compile then costs more than
 * running the statement (measured: a 100,000-mapping import took 16 s with it, 10 s without).
 * The URL's own `options` are kept (pg would let them replace ours).
 */
export function postgresSettings(databaseUrl: string): { connectionString: string; options: string } {
  const url = new URL(databaseUrl);
  const options = [url.searchParams.get('options'), '-c jit=off'].filter(Boolean).join(' ');
  url.searchParams.delete('options');
  return { connectionString: url.toString(), options };
}

const int8AsBigint: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === pg.types.builtins.INT8 ? BigInt : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/** A statement on the pool or one of its clients, int8 columns as bigint. */
async function pgRows<Row>(on: pg.Pool | pg.PoolClient, sql: string, params: readonly unknown[]): Promise<Row[]> {
  return (await on.query({ text: sql, values: [...params], types: int8AsBigint })).rows as Row[];
}

function openPostgres(databaseUrl: string, poolSize: number): Database {
  const pool = new pg.Pool({ ...postgresSettings(databaseUrl), max: poolSize });
  // An idle pooled connection can be dropped by the server (restart, failover, admin kill); pg
  // reports that here, and without a listener it would crash the process. The pool replaces it.
  pool.on('error', (error) => console.error(`database connection lost: ${error.message}`));
  return {
    kind: 'postgresql',
    adapter: new PrismaPg(pool),
    async openMigrationSession() {
      const client = await pool.connect();
      return {
        query: async <Row>(sql: string, params?: unknown[]) => (await client.query(sql, params)).rows as Row[],
        exec: async (script) => {
          await client.query(script);
        },
        release: async () => client.release(),
      };
    },
    read: (sql, params) => pgRows(pool, sql, params),
    async transaction(work) {
      const client = await pool.connect();
      let reusable = true;
      try {
        await client.query('BEGIN');
        const result = await work({ query: (sql, params = []) => pgRows(client, sql, params) });
        await client.query('COMMIT');
        return result;
      } catch (error) {
        // A connection that cannot even roll back is dropped from the pool, not reused.
        await client.query('ROLLBACK').catch(() => (reusable = false));
        throw error;
      } finally {
        client.release(!reusable);
      }
    },
    poolStats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    close: () => pool.end(),
  };
}

/** A statement on PGlite or in one of its transactions, int8 columns as bigint. */
async function pgliteRows<Row>(on: PGlite | Transaction, sql: string, params: readonly unknown[]): Promise<Row[]> {
  return (await on.query<Row>(sql, [...params], { parsers: { [types.INT8]: (value: string) => BigInt(value) } })).rows;
}

function openPglite(dataDir: string): Database {
  const inMemory = dataDir.startsWith('memory://');
  if (!inMemory) mkdirSync(dataDir, { recursive: true });
  const unlock = inMemory ? () => {} : lockDataDir(dataDir);
  const pglite = new PGlite(dataDir, { extensions: { btree_gist } });
  return {
    kind: 'pglite',
    adapter: new PrismaPGlite(pglite),
    // PGlite is one connection in this process: every session is that connection.
    async openMigrationSession() {
      return {
        query: async <Row>(sql: string, params?: unknown[]) => (await pglite.query(sql, params)).rows as Row[],
        exec: async (script) => {
          await pglite.exec(script);
        },
        release: async () => {},
      };
    },
    // Waits, like any query, for a transaction in progress (Prisma's run in pglite.transaction).
    read: (sql, params) => pgliteRows(pglite, sql, params),
    // PGlite's own transaction: it holds the connection, so no other statement runs inside it.
    transaction: (work) =>
      pglite.transaction((tx) => work({ query: (sql, params = []) => pgliteRows(tx, sql, params) })),
    poolStats: () => null,
    close: async () => {
      await pglite.close();
      unlock();
    },
  };
}
