// Once per run, for the embedded engine: one PGlite migrated and bootstrapped, dumped to a file
// that every test file's database loads (test/setup/app.ts), so no file pays for initdb and the
// migrations again. The PostgreSQL run makes a fresh database per file instead.
// And once per run on either engine: an initialised, empty PGlite cluster on disk, which the
// servers and CLIs that tests start copy as their new data directory (./data-dir.ts). PGlite's
// initdb is most of what a first start costs; what a first start does after it (migrations,
// bootstrap) still runs in each of them.
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { btree_gist } from '@electric-sql/pglite/contrib/btree_gist';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { bootstrapAccess } from '../../src/access/store.js';
import { openDatabase } from '../../src/db/connection.js';
import { createDb } from '../../src/db/handle.js';
import { migrate } from '../../src/db/migrate.js';
import { ADMIN_TOKEN } from './credentials.js';
import { checkContextName, checkUsername } from '../../src/domain/names.js';
import { checkTokenFormat } from '../../src/access/tokens.js';

export default async function setup(project: TestProject) {
  const dir = mkdtempSync(join(tmpdir(), 'ipdr-test-template-'));
  const cleanUp = () => rmSync(dir, { recursive: true, force: true });
  // Opened as src/db/connection.ts opens an embedded database, so the copies are what a server would create.
  const emptyCluster = join(dir, 'empty-cluster');
  const cluster = new PGlite(emptyCluster, { extensions: { btree_gist } });
  await cluster.waitReady;
  await cluster.close();
  project.provide('pgliteEmptyCluster', emptyCluster);
  if (process.env.TEST_DATABASE_URL) return cleanUp;
  // Migrated in a copy of the empty cluster: one initdb per run, not two.
  const migrated = join(dir, 'migrated');
  cpSync(emptyCluster, migrated, { recursive: true });
  const db = createDb(openDatabase({ poolSize: 1, dataDir: migrated }));
  await migrate(db.database);
  await bootstrapAccess(db, {
    contexts: [checkContextName('default')],
    adminUser: checkUsername('admin'),
    adminToken: checkTokenFormat(ADMIN_TOKEN),
  });
  const dump = await db.database.dumpDataDir!();
  await db.close();
  const path = join(dir, 'template.tar');
  writeFileSync(path, Buffer.from(await dump.arrayBuffer()));
  project.provide('pgliteTemplate', path);
  return cleanUp;
}
