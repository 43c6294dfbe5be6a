// Runs before each test file, before it imports anything from src/: points the app at a fresh
// database of its own. With TEST_DATABASE_URL that is a new PostgreSQL database, dropped
// afterwards; without it, an in-memory PGlite.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll } from 'vitest';
import { ADMIN_TOKEN } from './credentials.js';

const serverUrl = process.env.TEST_DATABASE_URL;
process.env.NODE_ENV = 'test';
// Tests send many requests with one token; rate limiting has tests of its own.
process.env.RATE_LIMIT_PER_MINUTE = '0';
// In-process requests share one client address; failed authentications have tests of their own.
process.env.AUTH_FAILURES_PER_MINUTE = '0';
let dropDatabase: (() => Promise<void>) | undefined;

if (serverUrl) {
  const name = `ipdr_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  process.env.DATABASE_URL = url.toString();
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
} else {
  delete process.env.DATABASE_URL;
  process.env.DATA_DIR = 'memory://';
}

const { closeDatabase, database } = await import('../../src/db.js');
const { migrate } = await import('../../src/db/migrate.js');
const { bootstrapAccess } = await import('../../src/store/access.js');
await migrate(database);
await bootstrapAccess({ contexts: ['default'], adminUser: 'admin', adminToken: ADMIN_TOKEN });

afterAll(async () => {
  await closeDatabase();
  await dropDatabase?.();
});
