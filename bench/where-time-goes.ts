// Where one whoHadMany request of 10,000 lookups spends its time, each step measured alone in
// this process on the bench database (run after engine.ts, which leaves it): reading the body
// (JSON.parse), coercing the variables (graphql-js' getVariableValues against the server's
// schema; and the same questions as whoHadMany's parallel lists, ips and ats), the database (the server's statement sent raw with `pg`, split as whoHadBatch splits
// it), writing the answer (JSON.stringify of the same answer shape). What the request costs over
// HTTP besides these (resolving, completing 10,000 results, authentication, the log) is the rest.
//
//   BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/ipdr_bench)  BENCH_CUSTOMERS=200000
import { getVariableValues, parse, type OperationDefinitionNode } from 'graphql';
import pg from 'pg';
import { postgresSettings } from '../src/db/connection.js';
import { lookupColumns, whoHadSql } from '../src/lookups/store.js';
import { schema } from '../src/schema/index.js';

const databaseUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/ipdr_bench';
const customers = Number(process.env.BENCH_CUSTOMERS ?? 200_000);
const ROUNDS = 10;
const LOOKUPS = 10_000;
const T1 = 1_700_000_000;
const T2 = 1_750_000_000;
// As engine.ts makes its lookups (the /29s of every tenth customer left out: the same statement).
const v4 = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
const randomLookup = () => {
  const i = Math.floor(Math.random() * customers);
  const period = Math.floor(Math.random() * 3);
  return { ip: v4(i), at: [T1 - 5, T1 + 5, T2 + 5][period]! };
};
const QUERY = 'query($l: [WhoHadLookup!]!) { whoHadMany(lookups: $l) { id customer { userId } } }';
const operation = parse(QUERY).definitions[0] as OperationDefinitionNode;
// The same questions as whoHadMany's parallel lists: coerced as three lists of scalars.
const LISTS_QUERY =
  'query($ips: [IPAddressInput!], $ats: [UnixTimeInput]) { whoHadMany(ips: $ips, ats: $ats) { id customer { userId } } }';
const listsOperation = parse(LISTS_QUERY).definitions[0] as OperationDefinitionNode;
const requests = Array.from({ length: ROUNDS + 1 }, () => {
  const lookups = Array.from({ length: LOOKUPS }, randomLookup);
  return { lookups, body: JSON.stringify({ query: QUERY, variables: { l: lookups } }) };
});

const settings = postgresSettings(databaseUrl);
const pool = new pg.Pool({ ...settings, max: 4 });
const SQL = whoHadSql(lookupColumns({ mapping: new Set(['id']), customer: new Set(['userId']) }));
const partSize = Math.max(1000, Math.ceil(LOOKUPS / 4));
const steps: Record<string, number[]> = {
  body: [],
  coercion: [],
  listsCoercion: [],
  database: [],
  serialisation: [],
};
const time = async <T>(step: string, run: () => T | Promise<T>): Promise<T> => {
  const started = performance.now();
  const result = await run();
  steps[step]!.push(performance.now() - started);
  return result;
};
for (const [round, { lookups, body }] of requests.entries()) {
  const { variables } = await time('body', () => JSON.parse(body) as { variables: Record<string, unknown> });
  const coerced = await time('coercion', () =>
    getVariableValues(schema, operation.variableDefinitions ?? [], variables),
  );
  if ('errors' in coerced && coerced.errors) throw new Error(coerced.errors[0]!.message);
  const lists = { ips: lookups.map((l) => l.ip), ats: lookups.map((l) => l.at) };
  const listsCoerced = await time('listsCoercion', () =>
    getVariableValues(schema, listsOperation.variableDefinitions ?? [], lists),
  );
  if ('errors' in listsCoerced && listsCoerced.errors) throw new Error(listsCoerced.errors[0]!.message);
  const parts: { ip: string; at: number }[][] = [];
  for (let offset = 0; offset < LOOKUPS; offset += partSize) parts.push(lookups.slice(offset, offset + partSize));
  const rows = await time('database', async () =>
    (
      await Promise.all(
        parts.map((part) =>
          pool.query(SQL, [1, `{${part.map((l) => l.ip).join(',')}}`, `{${part.map((l) => l.at).join(',')}}`, null]),
        ),
      )
    ).flatMap((result) => result.rows as { found: boolean; id: string; userId: string }[]),
  );
  const answer = {
    data: {
      whoHadMany: rows.map((row) => (row.found ? { id: String(row.id), customer: { userId: row.userId } } : null)),
    },
  };
  await time('serialisation', () => JSON.stringify(answer));
  if (round === 0) for (const list of Object.values(steps)) list.length = 0; // the first round warms up
}
await pool.end();
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
console.log(JSON.stringify(Object.fromEntries(Object.entries(steps).map(([step, ms]) => [step, median(ms)]))));
