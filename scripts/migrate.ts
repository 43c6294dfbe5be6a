// `npm run migrate`: applies pending migrations to DATABASE_URL, or to the embedded database.
import { closeDatabase, database } from '../src/db.js';
import { migrate } from '../src/db/migrate.js';

try {
  const applied = await migrate(database);
  console.log(applied.length > 0 ? `applied: ${applied.join(', ')}` : 'database is up to date');
} finally {
  await closeDatabase();
}
