// The one start of the server: reads the environment, opens the database and Redis, builds the
// app, serves it over HTTP, starts the app's other listeners, and owns shutdown.
import type { AddressInfo } from 'node:net';
import { createRateLimiter } from './access/rate-limit.js';
import { bootstrapAccess } from './access/store.js';
import { type AppModule, createApp } from './app.js';
import { DatabaseUnreachableError, describeDatabaseUrl, openDatabase, waitForDatabase } from './db/connection.js';
import { DataDirInUseError, DataDirLockError } from './db/data-dir-lock.js';
import { createDb } from './db/handle.js';
import { createReadRouter, primaryOnly } from './db/replicas.js';
import { migrate } from './db/migrate.js';
import { type Env, InvalidEnvironmentError, readEnv } from './env.js';
import { createRedisFeedBus } from './feed/redis-bus.js';
import { createHttpServer } from './http/node-handler.js';
import { createLogger } from './logger.js';
import { NatSyslogSourceContextError, natSyslogModule } from './nat/module.js';
import { RadiusClientContextError, radiusAccountingModule } from './radius/module.js';
import { retentionScheduleModule } from './retention/module.js';

/** The sources of data beside HTTP, started once it listens (see app.ts AppModule). */
const appModules: readonly AppModule[] = [radiusAccountingModule, natSyslogModule, retentionScheduleModule];

function loadEnv(): Env {
  try {
    return readEnv(process.env);
  } catch (error) {
    if (!(error instanceof InvalidEnvironmentError)) throw error;
    // A configuration mistake is the operator's to fix: say what is wrong, without a stack trace.
    console.error(error.message);
    process.exit(1);
  }
}

const env = loadEnv();
const logger = createLogger(env);
function openDb() {
  try {
    return createDb(
      openDatabase({ databaseUrl: env.DATABASE_URL, poolSize: env.DATABASE_POOL_SIZE, dataDir: env.DATA_DIR }),
    );
  } catch (error) {
    if (!(error instanceof DataDirInUseError || error instanceof DataDirLockError)) throw error;
    // The operator's to fix, as an unreachable database is: one line saying what, no stack trace.
    console.error(error.message);
    process.exit(1);
  }
}

const db = openDb();
const { database } = db;

try {
  await waitForDatabase(database, {
    timeoutMs: env.DATABASE_CONNECT_TIMEOUT_MS,
    where: env.DATABASE_URL ? describeDatabaseUrl(env.DATABASE_URL) : env.DATA_DIR,
    onRetry: (attempt) => logger.warn(attempt, 'database not reachable yet, retrying'),
  });
} catch (error) {
  if (!(error instanceof DatabaseUnreachableError)) throw error;
  // The operator's to fix, as an invalid environment is: one line saying what, no stack trace.
  console.error(error.message);
  await database.close().catch(() => {});
  process.exit(1);
}

const applied = await migrate(database);
if (applied.length > 0) logger.info({ migrations: applied }, 'applied migrations');
// After the migrations, which may run longer than a request may.
database.limitStatements(env.REQUEST_TIMEOUT_MS);

// Replicas are opened once the primary is up and migrated: they replay its schema. One that is not
// reachable yet is skipped until a probe finds it (db/replicas.ts), never waited for.
const readRouter = env.DATABASE_REPLICA_URLS
  ? createReadRouter({
      primary: db,
      replicas: env.DATABASE_REPLICA_URLS.map((url) => {
        const replica = openDatabase({
          databaseUrl: url,
          poolSize: env.DATABASE_POOL_SIZE,
          dataDir: env.DATA_DIR,
          // A replica that hangs fails its reads on this side, and they go to the primary.
          clientTimeouts: {
            connectMs: Math.max(1000, env.REPLICA_MAX_LAG_SECONDS * 1000),
            queryMs: env.REQUEST_TIMEOUT_MS,
          },
        });
        replica.limitStatements(env.REQUEST_TIMEOUT_MS);
        return { name: describeDatabaseUrl(url), db: createDb(replica) };
      }),
      maxLagSeconds: env.REPLICA_MAX_LAG_SECONDS,
      probeIntervalMs: Math.min(1000, env.REPLICA_MAX_LAG_SECONDS * 500),
      logger,
    })
  : primaryOnly(db);

const adminToken = await bootstrapAccess(db, {
  contexts: env.IPDR_CONTEXTS,
  adminUser: env.IPDR_ADMIN_USER,
  adminToken: env.IPDR_ADMIN_TOKEN,
});
if (adminToken !== null) {
  // Plain stdout, once: the only copy of this token. It is never logged or shown again.
  console.log(`Created admin user "${env.IPDR_ADMIN_USER}" with access to: ${env.IPDR_CONTEXTS.join(', ')}`);
  console.log(`Admin API token (shown once, store it now): ${adminToken}`);
}

const app = createApp({
  env,
  db,
  readRouter,
  logger,
  rateLimiter: createRateLimiter({ perMinute: env.RATE_LIMIT_PER_MINUTE, redisUrl: env.REDIS_URL, logger }),
  authFailureLimiter: createRateLimiter({
    perMinute: env.AUTH_FAILURES_PER_MINUTE,
    redisUrl: env.REDIS_URL,
    keyPrefix: 'ipdr-auth-failures',
    logger,
  }),
  ...(env.REDIS_URL ? { feedBus: createRedisFeedBus(env.REDIS_URL, logger) } : {}),
});

const server = createHttpServer(app, {
  bodyLimitBytes: env.BODY_LIMIT_BYTES,
  headersTimeoutMs: env.HEADERS_TIMEOUT_MS,
  receiveTimeoutMs: env.RECEIVE_TIMEOUT_MS,
  keepAliveTimeoutMs: env.KEEP_ALIVE_TIMEOUT_MS,
});

const running: { name: string; stop(): Promise<void> }[] = [];

server.listen(env.PORT, env.HOST, async () => {
  const { port } = server.address() as AddressInfo;
  const where = env.DATABASE_URL ? 'PostgreSQL' : `embedded database in ${env.DATA_DIR}`;
  const replicas = env.DATABASE_REPLICA_URLS?.map(describeDatabaseUrl);
  logger.info(
    { port, database: where, ...(replicas ? { replicas } : {}) },
    `ipdr-gateway listening on http://${env.HOST}:${port}/graphql`,
  );
  for (const module of appModules) {
    try {
      running.push({ name: module.name, ...(await module.start(app)) });
    } catch (error) {
      if (!(error instanceof RadiusClientContextError || error instanceof NatSyslogSourceContextError)) throw error;
      // A configuration mistake, as an invalid environment is: one line, no stack trace.
      console.error(error.message);
      process.exit(1);
    }
  }
});

/**
 * Stops accepting connections and closes idle ones; requests in flight finish, then the other
 * listeners stop and the database closes. (Node's close() ends each keep-alive connection once
 * its response is sent.)
 */
function shutdown(signal: string) {
  logger.info({ signal }, 'shutting down');
  // Live feed streams never finish by themselves: end them, or close() would wait for them.
  void app.feed.close();
  server.close(async () => {
    for (const module of running.reverse()) await module.stop();
    await app.rateLimiter.close();
    await app.authFailureLimiter.close();
    await readRouter.close();
    await db.close();
    logger.info('stopped');
    process.exit(0);
  });
}
process.once('SIGTERM', () => shutdown('SIGTERM'));
process.once('SIGINT', () => shutdown('SIGINT'));
