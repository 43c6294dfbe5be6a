// `npm run migrate`: applies pending migrations to DATABASE_URL, or to the embedded database.
import { openDatabase } from '../src/db/connection.js';
import { migrate } from '../src/db/migrate.js';
import { readEnv } from '../src/env.js';

const env = readEnv(process.env);
const database = openDatabase({
  databaseUrl: env.DATABASE_URL,
  poolSize: env.DATABASE_POOL_SIZE,
  dataDir: env.DATA_DIR,
});
try {
  const applied = await migrate(database);
  console.log(applied.length > 0 ? `applied: ${applied.join(', ')}` : 'database is up to date');
} finally {
  await database.close();
}
