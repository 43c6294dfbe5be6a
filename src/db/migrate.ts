import { createHash, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Database, MigrationSession } from './connection.js';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../prisma/migrations', import.meta.url));

// The key `prisma migrate deploy` locks too, so our runner and Prisma's never interleave.
const PRISMA_ADVISORY_LOCK_KEY = 72707369;

// The bookkeeping table exactly as Prisma's schema engine creates it on PostgreSQL.
const CREATE_MIGRATIONS_TABLE = `
CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;

export interface MigrationFile {
  name: string;
  script: string;
  /** SHA-256 of the file, hex: what Prisma records and compares. */
  checksum: string;
}

interface AppliedMigration {
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
  rolled_back_at: Date | null;
}

export class MigrationError extends Error {
  override name = 'MigrationError';
}

export function readMigrationFiles(dir = MIGRATIONS_DIR): MigrationFile[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(dir, entry.name, 'migration.sql')))
    .map((entry) => entry.name)
    .sort()
    .map((name) => {
      const bytes = readFileSync(join(dir, name, 'migration.sql'));
      return { name, script: bytes.toString('utf8'), checksum: createHash('sha256').update(bytes).digest('hex') };
    });
}

/**
 * Applies the migrations not yet applied, each in its own transaction, under Prisma's advisory
 * lock. Refuses to run when the recorded history and the files disagree: an edited or missing
 * applied migration, or one that Prisma recorded as failed.
 */
export function migrate(database: Database, files = readMigrationFiles()): Promise<string[]> {
  // In one process the runs queue up (PGlite has a single connection that they would share);
  // across processes PostgreSQL's advisory lock orders them.
  const run = inProcessQueue.then(() => migrateLocked(database, files));
  inProcessQueue = run.catch(() => undefined);
  return run;
}

let inProcessQueue: Promise<unknown> = Promise.resolve();

async function migrateLocked(database: Database, files: MigrationFile[]): Promise<string[]> {
  const session = await database.openMigrationSession();
  try {
    await session.query('SELECT pg_advisory_lock($1)', [PRISMA_ADVISORY_LOCK_KEY]);
    try {
      return await applyPending(session, files);
    } finally {
      await session.query('SELECT pg_advisory_unlock($1)', [PRISMA_ADVISORY_LOCK_KEY]);
    }
  } finally {
    await session.release();
  }
}

async function applyPending(session: MigrationSession, files: MigrationFile[]): Promise<string[]> {
  await session.exec(CREATE_MIGRATIONS_TABLE);
  const applied = await session.query<AppliedMigration>(
    'SELECT migration_name, checksum, finished_at, rolled_back_at FROM "_prisma_migrations" WHERE rolled_back_at IS NULL',
  );
  const byName = new Map(files.map((file) => [file.name, file]));
  for (const row of applied) {
    const file = byName.get(row.migration_name);
    if (row.finished_at === null) {
      throw new MigrationError(`migration ${row.migration_name} failed earlier and was not resolved; fix it by hand`);
    }
    if (!file) throw new MigrationError(`applied migration ${row.migration_name} is missing from ${MIGRATIONS_DIR}`);
    if (file.checksum !== row.checksum) {
      throw new MigrationError(`applied migration ${row.migration_name} was modified after it was applied`);
    }
  }
  const appliedNames = new Set(applied.map((row) => row.migration_name));
  const pending = files.filter((file) => !appliedNames.has(file.name));
  for (const file of pending) {
    await session.exec('BEGIN');
    try {
      const id = randomUUID();
      await session.query(
        'INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at) VALUES ($1, $2, $3, now())',
        [id, file.checksum, file.name],
      );
      await session.exec(file.script);
      await session.query(
        'UPDATE "_prisma_migrations" SET finished_at = clock_timestamp(), applied_steps_count = 1 WHERE id = $1',
        [id],
      );
      await session.exec('COMMIT');
    } catch (error) {
      await session.exec('ROLLBACK');
      throw new MigrationError(`migration ${file.name} failed and was rolled back: ${(error as Error).message}`);
    }
  }
  return pending.map((file) => file.name);
}
