// The `=` form of the mapping table's exclusion (issue 18): today's constraint folds the context
// into the extent's y coordinate (context * 2^38 + time); partitioning by context (PostgreSQL 17)
// or Citus distributed by context needs `context_id WITH =` in the constraint instead. On the bench
// database engine.ts leaves, the same rows are inserted by one INSERT … SELECT into two copies of
// the table that differ only in that constraint (no keys or triggers on either, so the difference
// is the constraint's), each in the same run, then vacuumed.
//
//   BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/ipdr_bench)
import pg from 'pg';
import { postgresSettings } from '../src/db/connection.js';

const databaseUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/ipdr_bench';
const client = new pg.Client(postgresSettings(databaseUrl));
await client.connect();
const forms = {
  folded: `ipdr_mapping_extent(context_id, network, starttime, endtime) WITH &&, ipdr_mapping_low_bits(network) WITH &&`,
  equals: `context_id WITH =, ipdr_mapping_extent(0, network, starttime, endtime) WITH &&, ipdr_mapping_low_bits(network) WITH &&`,
};
await client.query('CREATE EXTENSION IF NOT EXISTS btree_gist');
await client.query('DROP TABLE IF EXISTS exclusion_rows');
await client.query('CREATE TABLE exclusion_rows AS SELECT * FROM ipdr_customers_mapping ORDER BY id');
const rows = Number((await client.query('SELECT count(*) AS n FROM exclusion_rows')).rows[0].n);
const results: Record<string, { seconds: number; indexBytes: number }> = {};
// Twice each, alternating, the better of two kept: the machine is shared.
for (const round of [0, 1])
  for (const [form, exclusion] of Object.entries(forms)) {
    const table = `exclusion_${form}`;
    await client.query(`DROP TABLE IF EXISTS ${table}`);
    await client.query(`CREATE TABLE ${table} (LIKE ipdr_customers_mapping INCLUDING DEFAULTS)`);
    await client.query(`ALTER TABLE ${table} ADD CONSTRAINT ${table}_no_overlap EXCLUDE USING gist (${exclusion})`);
    const started = performance.now();
    await client.query(`INSERT INTO ${table} SELECT * FROM exclusion_rows ORDER BY id`);
    const seconds = (performance.now() - started) / 1000;
    const indexBytes = Number((await client.query(`SELECT pg_relation_size('${table}_no_overlap') AS b`)).rows[0].b);
    if (!results[form] || seconds < results[form].seconds) results[form] = { seconds, indexBytes };
    console.error(`round ${round} ${form}: ${seconds.toFixed(1)} s`);
  }
for (const form of Object.keys(forms)) await client.query(`DROP TABLE exclusion_${form}`);
await client.query('DROP TABLE exclusion_rows');
await client.end();
console.log(JSON.stringify({ rows, results, ratio: results.folded!.seconds / results.equals!.seconds }));
