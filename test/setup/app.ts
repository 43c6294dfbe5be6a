// The test file's database and app, built explicitly (no process.env), for the files that import
// this module: with TEST_DATABASE_URL a
// new PostgreSQL database of its own (migrated and bootstrapped here, dropped afterwards); without
// it, an in-memory PGlite loaded from the migrated, bootstrapped dump test/setup/global.ts made.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { afterAll, inject } from 'vitest';
import { createRateLimiter } from '../../src/access/rate-limit.js';
import { bootstrapAccess } from '../../src/access/store.js';
import { type App, createApp } from '../../src/app.js';
import { openDatabase } from '../../src/db/connection.js';
import { createDb } from '../../src/db/handle.js';
import { migrate } from '../../src/db/migrate.js';
import { type Env, readEnv } from '../../src/env.js';
import { createLogger } from '../../src/logger.js';
import { TEST_SETTINGS } from './child-env.js';
import { ADMIN_TOKEN } from './credentials.js';
import { checkContextName, checkUsername } from '../../src/domain/names.js';
import { checkTokenFormat } from '../../src/access/tokens.js';

const serverUrl = process.env.TEST_DATABASE_URL;

/** This file's own database: a PostgreSQL connection string, or undefined for PGlite. */
export let databaseUrl: string | undefined;
let dropDatabase: (() => Promise<void>) | undefined;

if (serverUrl) {
  const name = `ipdr_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  databaseUrl = url.toString();
  dropDatabase = async () => {
    const client = new pg.Client({ connectionString: serverUrl });
    await client.connect();
    // pg's pool.end() resolves before its sockets close; give the server a moment to see them go.
    for (let attempt = 0; ; attempt++) {
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name}`);
        break;
      } catch (error) {
        if (attempt === 50) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    await client.end();
  };
}

/** The environment of a test app: the test settings (./child-env.ts) on this file's database. */
export function testEnv(overrides: Record<string, string | undefined> = {}): Env {
  return readEnv({ ...TEST_SETTINGS, DATABASE_URL: databaseUrl, ...overrides });
}

const template = serverUrl ? undefined : inject('pgliteTemplate');

export const env = testEnv();
export const db = createDb(
  openDatabase({
    databaseUrl,
    poolSize: env.DATABASE_POOL_SIZE,
    dataDir: 'memory://',
    loadDataDir: template ? new Blob([readFileSync(template)]) : undefined,
  }),
);
export const { prisma, database } = db;
if (!template) {
  await migrate(database);
  await bootstrapAccess(db, {
    contexts: [checkContextName('default')],
    adminUser: checkUsername('admin'),
    adminToken: checkTokenFormat(ADMIN_TOKEN),
  });
}

/** Another app on this file's database, with other settings (`testEnv(overrides)`). */
export function createTestApp(overrides: Record<string, string | undefined> = {}): App {
  const appEnv = testEnv(overrides);
  const logger = createLogger(appEnv);
  return createApp({
    env: appEnv,
    db,
    logger,
    rateLimiter: createRateLimiter({ perMinute: appEnv.RATE_LIMIT_PER_MINUTE, redisUrl: appEnv.REDIS_URL, logger }),
    authFailureLimiter: createRateLimiter({
      perMinute: appEnv.AUTH_FAILURES_PER_MINUTE,
      redisUrl: appEnv.REDIS_URL,
      keyPrefix: 'ipdr-auth-failures',
      logger,
    }),
  });
}

/** The file's default app. */
export const app = createTestApp();
export const { yoga, logger } = app;

export async function closeTestDatabase() {
  await db.close();
  await dropDatabase?.();
}

// Registered while the importing test file is collected: its database closes after its tests.
afterAll(closeTestDatabase);

declare module 'vitest' {
  export interface ProvidedContext {
    /** The path of a dumped PGlite data directory, migrated and bootstrapped (test/setup/global.ts). */
    pgliteTemplate: string;
    /** An initialised PGlite data directory with nothing in it yet, to copy (test/setup/data-dir.ts). */
    pgliteEmptyCluster: string;
  }
}
export const { readRows } = db;
