// Once per run, for the embedded engine: one PGlite migrated and bootstrapped, dumped to a file
// that every test file's database loads (test/setup/app.ts), so no file pays for initdb and the
// migrations again. The PostgreSQL run makes a fresh database per file instead.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { bootstrapAccess } from '../../src/access/store.js';
import { openDatabase } from '../../src/db/connection.js';
import { createDb } from '../../src/db/handle.js';
import { migrate } from '../../src/db/migrate.js';
import { ADMIN_TOKEN } from './credentials.js';

export default async function setup(project: TestProject) {
  if (process.env.TEST_DATABASE_URL) return;
  const dir = mkdtempSync(join(tmpdir(), 'ipdr-test-template-'));
  const db = createDb(openDatabase({ poolSize: 1, dataDir: 'memory://' }));
  await migrate(db.database);
  await bootstrapAccess(db, { contexts: ['default'], adminUser: 'admin', adminToken: ADMIN_TOKEN });
  const dump = await db.database.dumpDataDir!();
  await db.close();
  const path = join(dir, 'template.tar');
  writeFileSync(path, Buffer.from(await dump.arrayBuffer()));
  project.provide('pgliteTemplate', path);
  return () => rmSync(dir, { recursive: true, force: true });
}
