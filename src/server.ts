import type { AddressInfo } from 'node:net';
import { closeDatabase, database } from './db.js';
import { DatabaseUnreachableError, describeDatabaseUrl, waitForDatabase } from './db/connection.js';
import { migrate } from './db/migrate.js';
import { env } from './env.js';
import { createHttpServer } from './http/node-handler.js';
import { logger } from './logger.js';
import { authFailureLimiter, rateLimiter } from './rate-limit.js';
import { bootstrapAccess } from './store/access.js';
import { yoga } from './yoga.js';

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

const adminToken = await bootstrapAccess({
  contexts: env.IPDR_CONTEXTS,
  adminUser: env.IPDR_ADMIN_USER,
  adminToken: env.IPDR_ADMIN_TOKEN,
});
if (adminToken !== null) {
  // Plain stdout, once: the only copy of this token. It is never logged or shown again.
  console.log(`Created admin user "${env.IPDR_ADMIN_USER}" with access to: ${env.IPDR_CONTEXTS.join(', ')}`);
  console.log(`Admin API token (shown once, store it now): ${adminToken}`);
}

const server = createHttpServer(yoga, {
  bodyLimitBytes: env.BODY_LIMIT_BYTES,
  headersTimeoutMs: env.HEADERS_TIMEOUT_MS,
  receiveTimeoutMs: env.RECEIVE_TIMEOUT_MS,
  keepAliveTimeoutMs: env.KEEP_ALIVE_TIMEOUT_MS,
});

server.listen(env.PORT, env.HOST, () => {
  const { port } = server.address() as AddressInfo;
  const where = env.DATABASE_URL ? 'PostgreSQL' : `embedded database in ${env.DATA_DIR}`;
  logger.info({ port, database: where }, `ipdr-gateway listening on http://${env.HOST}:${port}/graphql`);
});

/**
 * Stops accepting connections and closes idle ones; requests in flight finish, then the
 * database closes. (Node's close() ends each keep-alive connection once its response is sent.)
 */
function shutdown(signal: string) {
  logger.info({ signal }, 'shutting down');
  server.close(async () => {
    await rateLimiter.close();
    await authFailureLimiter.close();
    await closeDatabase();
    logger.info('stopped');
    process.exit(0);
  });
}
process.once('SIGTERM', () => shutdown('SIGTERM'));
process.once('SIGINT', () => shutdown('SIGINT'));
