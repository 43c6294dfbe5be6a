import type { AddressInfo } from 'node:net';
import { closeDatabase, database } from './db.js';
import { migrate } from './db/migrate.js';
import { env } from './env.js';
import { createHttpServer } from './http/node-handler.js';
import { logger } from './logger.js';
import { rateLimiter } from './rate-limit.js';
import { bootstrapAccess } from './store/access.js';
import { yoga } from './yoga.js';

const applied = await migrate(database);
if (applied.length > 0) logger.info({ migrations: applied }, 'applied migrations');

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

const server = createHttpServer(yoga, { bodyLimitBytes: env.BODY_LIMIT_BYTES });

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
    await closeDatabase();
    logger.info('stopped');
    process.exit(0);
  });
}
process.once('SIGTERM', () => shutdown('SIGTERM'));
process.once('SIGINT', () => shutdown('SIGINT'));
