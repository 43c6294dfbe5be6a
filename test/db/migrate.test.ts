import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/connection.js';
import { MIGRATIONS_DIR, MigrationError, migrate, readMigrationFiles } from '../../src/db/migrate.js';
import { database, prisma } from '../setup/app.js';
import { env } from '../setup/app.js';

interface MigrationRow {
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
  started_at: Date;
  logs: string | null;
  rolled_back_at: Date | null;
  applied_steps_count: number;
}

const history = () =>
  prisma.$queryRawUnsafe<MigrationRow[]>('SELECT * FROM "_prisma_migrations" ORDER BY started_at, migration_name');

function extraMigration(name: string, script: string) {
  return { name, script, checksum: createHash('sha256').update(script).digest('hex') };
}

const tableExists = async (table: string) =>
  (await prisma.$queryRawUnsafe<{ found: string | null }[]>('SELECT to_regclass($1)::text AS found', table))[0]
    ?.found != null;

describe('migration runner', () => {
  it('recorded every migration as Prisma does: SHA-256 of the file, times, one applied step', async () => {
    const files = readMigrationFiles();
    expect(files.length).toBeGreaterThan(0);
    const rows = await history();
    expect(rows.map((row) => row.migration_name)).toEqual(files.map((file) => file.name));
    for (const row of rows) {
      const bytes = readFileSync(join(MIGRATIONS_DIR, row.migration_name, 'migration.sql'));
      expect(row.checksum).toBe(createHash('sha256').update(bytes).digest('hex'));
      expect(row.finished_at).not.toBeNull();
      expect(row.finished_at!.getTime()).toBeGreaterThanOrEqual(row.started_at.getTime());
      expect(row.applied_steps_count).toBe(1);
      expect(row.logs).toBeNull();
      expect(row.rolled_back_at).toBeNull();
    }
  });

  it('creates the default context in the first migration', async () => {
    expect(await prisma.context.findMany({ select: { name: true } })).toEqual([{ name: 'default' }]);
  });

  it('does nothing when the database is up to date', async () => {
    expect(await migrate(database)).toEqual([]);
  });

  it('refuses to run when an applied migration was edited or is missing', async () => {
    const files = readMigrationFiles();
    const edited = files.map((file, i) => (i === 0 ? extraMigration(file.name, `${file.script}\n-- edited`) : file));
    await expect(migrate(database, edited)).rejects.toThrow(MigrationError);
    await expect(migrate(database, edited)).rejects.toThrow(/was modified after it was applied/);
    await expect(migrate(database, files.slice(1))).rejects.toThrow(/is missing/);
  });

  it('rolls a failing migration back whole and records nothing', async () => {
    const failing = extraMigration('29990101000000_failing', 'CREATE TABLE half_done (id int); SELECT 1/0;');
    await expect(migrate(database, [...readMigrationFiles(), failing])).rejects.toThrow(
      /29990101000000_failing failed/,
    );
    expect(await tableExists('half_done')).toBe(false);
    expect((await history()).map((row) => row.migration_name)).not.toContain(failing.name);
  });

  it('applies a new migration once when two instances start together', async () => {
    const added = extraMigration('29990102000000_added', 'CREATE TABLE added_later (id int PRIMARY KEY);');
    const files = [...readMigrationFiles(), added];
    // On PostgreSQL the second instance has its own pool, as a second server process would;
    // PGlite is one connection in one process, so both runs share it.
    const second =
      database.kind === 'postgresql'
        ? openDatabase({ databaseUrl: env.DATABASE_URL, poolSize: 2, dataDir: env.DATA_DIR })
        : database;
    try {
      const [a, b] = await Promise.all([migrate(database, files), migrate(second, files)]);
      expect([...a, ...b]).toEqual([added.name]);
    } finally {
      if (second !== database) await second.close();
    }
    expect(await tableExists('added_later')).toBe(true);
    expect((await history()).filter((row) => row.migration_name === added.name)).toHaveLength(1);
  });
});
