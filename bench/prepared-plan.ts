// The plan PostgreSQL runs for a prepared statement, as the server's lookups are prepared
// (StatementOptions in src/db/connection.ts): prepared on one session, run a few times so that
// its plan cache settles (PostgreSQL plans the first five runs for their values, then keeps a
// generic plan if it is not estimated dearer), then explained as it runs. The parameters are
// written into the statement as literals: EXPLAIN EXECUTE takes no bound ones.
import type pg from 'pg';

const literal = (value: unknown) => (value === null ? 'NULL' : `'${String(value).replaceAll("'", "''")}'`);

export interface PreparedPlan {
  /** EXPLAIN's rows (text) or its one JSON document. */
  rows: unknown[];
  /** Which plan PostgreSQL's plan cache had come to (pg_prepared_statements: generic once any run was). */
  kind: 'generic' | 'custom';
}

export async function explainPrepared(
  client: pg.PoolClient | pg.Client,
  sql: string,
  params: readonly unknown[],
  explainOptions: string,
): Promise<PreparedPlan> {
  const name = 'bench_explained';
  await client.query(`PREPARE ${name} AS ${sql}`);
  try {
    const execute = `EXECUTE ${name}(${params.map(literal).join(', ')})`;
    for (let run = 0; run < 6; run++) await client.query(execute);
    const { rows } = await client.query(`EXPLAIN (${explainOptions}) ${execute}`);
    const counts = await client.query<{ generic_plans: string }>(
      'SELECT generic_plans FROM pg_prepared_statements WHERE name = $1',
      [name],
    );
    return { rows, kind: Number(counts.rows[0]!.generic_plans) > 0 ? 'generic' : 'custom' };
  } finally {
    await client.query(`DEALLOCATE ${name}`);
  }
}
