import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { closeDatabase, database } from './db.js';
import { migrate } from './db/migrate.js';
import { env } from './env.js';
import { yoga } from './yoga.js';

const applied = await migrate(database);
if (applied.length > 0) console.log(`applied migrations: ${applied.join(', ')}`);

const server = createServer(yoga);
server.listen(env.PORT, env.HOST, () => {
  const { port } = server.address() as AddressInfo;
  const where = env.DATABASE_URL ? 'PostgreSQL' : `embedded database in ${env.DATA_DIR}`;
  console.log(`ipdr-gateway listening on http://${env.HOST}:${port}/graphql (${where})`);
});

function shutdown(signal: string) {
  console.log(`${signal}: closing`);
  server.close(async () => {
    await closeDatabase();
    process.exit(0);
  });
  server.closeIdleConnections();
}
process.once('SIGTERM', () => shutdown('SIGTERM'));
process.once('SIGINT', () => shutdown('SIGINT'));
