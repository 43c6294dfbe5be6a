// npm run bench: seeds a PostgreSQL database and measures the report workloads side by side with
// the database's own ceiling and raw `pg`, then writes BENCHMARKS.md. Not part of the tests.
//
//   BENCH_CUSTOMERS=200000 (5 mappings each)  BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres
//   BENCH_SECONDS=10 (per HTTP measurement)
import { writeFileSync, createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import autocannon from 'autocannon';
import pg from 'pg';

const customers = Number(process.env.BENCH_CUSTOMERS ?? 200_000);
const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const serverUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const TOKEN = 'bench-token-0123456789abcdefghij';
const T1 = 1_700_000_000;
const T2 = 1_750_000_000;

// A fresh database for the run.
const admin = new pg.Client({ connectionString: serverUrl });
await admin.connect();
await admin.query('DROP DATABASE IF EXISTS ipdr_bench WITH (FORCE)');
await admin.query('CREATE DATABASE ipdr_bench');
await admin.end();
const url = new URL(serverUrl);
url.pathname = '/ipdr_bench';
Object.assign(process.env, {
  DATABASE_URL: url.toString(),
  RATE_LIMIT_PER_MINUTE: '0',
  LOG_LEVEL: 'silent',
  NODE_ENV: 'production',
  DATABASE_POOL_SIZE: '16',
});

let peakRss = 0;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);

const { database, closeDatabase } = await import('../src/db.js');
const { migrate } = await import('../src/db/migrate.js');
const { bootstrapAccess } = await import('../src/store/access.js');
const { importCsv } = await import('../src/cli/csv.js');
const { yoga } = await import('../src/yoga.js');
await migrate(database);
await bootstrapAccess({ contexts: ['default'], adminUser: 'bench', adminToken: TOKEN });

// Addresses: customer i holds v4(i) in period 1, v4(i-1) in period 2 and v4(i-2) in period 3 (so
// each address has a history of three owners), an IPv6 /64 in period 1 and a /56 in period 2.
const v4 = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
const v6of64 = (i: number) => `2001:db8:${(i >> 16).toString(16)}:${(i & 0xffff).toString(16)}::/64`;
const v6of56 = (i: number) => `2001:db9:${(i >> 8).toString(16)}:${((i & 255) << 8).toString(16)}::/56`;
const date = (t: number) => {
  const d = new Date(t * 1000);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(d.getUTCDate())}-${two(d.getUTCMonth() + 1)}-${d.getUTCFullYear()} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`;
};

const dir = mkdtempSync(join(tmpdir(), 'ipdr-bench-'));
const csvPath = join(dir, 'customers.csv');
const csv = createWriteStream(csvPath);
csv.write('Subnet/IP,Cust Name,Address,Email,Phone No,Alt Phone No,User/Cust ID,Valid From,Valid To,Terminal ID\n');
for (let i = 0; i < customers; i++) {
  const base = `Customer ${i},Street ${i},c${i}@example.net,+1${i},,U${i}`;
  const rows = [
    `"${v4(i)},${v6of64(i)}",${base},${date(0)},${date(T1)},T${i}`,
    `"${i >= 1 ? `${v4(i - 1)},` : ''}${v6of56(i)}",${base},${date(T1 + 1)},${date(T2)},`,
    ...(i >= 2 ? [`${v4(i - 2)},${base},${date(T2 + 1)},,`] : []),
  ];
  if (!csv.write(`${rows.join('\n')}\n`)) await once(csv, 'drain');
}
csv.end();
await once(csv, 'finish');

const results: { name: string; value: string; target: string; met?: boolean }[] = [];

// 1. Import through the CSV importer, and the database's own ceiling for the same rows.
let started = performance.now();
const summary = await importCsv(csvPath, 'default', false);
const importSeconds = (performance.now() - started) / 1000;
const raw = new pg.Pool({ connectionString: url.toString(), max: 32 });
await raw.query('CREATE TABLE ceiling (LIKE ipdr_customers_mapping INCLUDING ALL)');
started = performance.now();
await raw.query('INSERT INTO ceiling SELECT * FROM ipdr_customers_mapping');
const ceilingSeconds = (performance.now() - started) / 1000;
await raw.query('DROP TABLE ceiling');
const mappings = summary.mappingsCreated;
results.push({
  name: `CSV import of ${mappings} mappings (${summary.customersCreated} customers)`,
  value: `${Math.round(mappings / importSeconds)} mappings/s (${importSeconds.toFixed(1)} s); INSERT … SELECT ceiling ${Math.round(mappings / ceilingSeconds)} rows/s`,
  target: '≥ 50,000 rows/s',
  met: mappings / importSeconds >= 50_000,
});

const server = createServer(yoga);
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const headers = { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` };
const randomLookup = () => {
  const i = Math.floor(Math.random() * customers);
  return { ip: v4(i), at: [T1 - 5, T1 + 5, T2 + 5][Math.floor(Math.random() * 3)]! };
};

// 2. whoHadMany, 10,000 lookups a request.
const batches = 10;
let answered = 0;
started = performance.now();
for (let b = 0; b < batches; b++) {
  const lookups = Array.from({ length: 10_000 }, randomLookup);
  const response = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      query: 'query($l: [WhoHadLookup!]!) { whoHadMany(lookups: $l) { id customer { userId } } }',
      variables: { l: lookups },
    }),
  });
  const body = (await response.json()) as { data: { whoHadMany: unknown[] } };
  answered += body.data.whoHadMany.filter((r) => r !== null).length;
}
const manySeconds = (performance.now() - started) / 1000;
results.push({
  name: 'whoHadMany, 10,000 lookups a request, end to end over HTTP',
  value: `${Math.round((batches * 10_000) / manySeconds)} lookups/s (${answered} of ${batches * 10_000} found)`,
  target: '≥ 100,000 lookups/s',
  met: (batches * 10_000) / manySeconds >= 100_000,
});

// 3. One whoHad per request at concurrency 32, against the same lookup with raw pg.
// Clients send the lookup as variables of one operation, so the server parses and validates it once.
const WHO_HAD = 'query WhoHad($ip: IPAddress!, $at: UnixTime) { whoHad(ip: $ip, at: $at) { id customer { userId } } }';
const requests = Array.from({ length: 1000 }, () => ({
  method: 'POST' as const,
  path: '/graphql',
  headers,
  body: JSON.stringify({ query: WHO_HAD, operationName: 'WhoHad', variables: randomLookup() }),
}));
const http = await autocannon({ url: base, connections: 32, duration: seconds, requests });
// The raw side sends the very statement the server runs for a lookup.
const { WHO_HAD_SQL } = await import('../src/store/lookups.js');
const latencies: number[] = [];
const deadline = performance.now() + seconds * 1000;
await Promise.all(
  Array.from({ length: 32 }, async () => {
    while (performance.now() < deadline) {
      const { ip, at } = randomLookup();
      const t = performance.now();
      await raw.query(WHO_HAD_SQL, [1, [ip], [String(at)]]);
      latencies.push(performance.now() - t);
    }
  }),
);
latencies.sort((a, b) => a - b);
const rawRate = latencies.length / seconds;
results.push({
  name: 'whoHad over HTTP, concurrency 32',
  value: `${Math.round(http.requests.average)} req/s, p50 ${http.latency.p50} ms, p99 ${http.latency.p99} ms; raw pg ${Math.round(rawRate)} req/s, p50 ${latencies[Math.floor(latencies.length / 2)]!.toFixed(1)} ms, p99 ${latencies[Math.floor(latencies.length * 0.99)]!.toFixed(1)} ms: ${(http.requests.average / rawRate).toFixed(2)}×`,
  target: '≥ 0.5× raw pg',
  met: http.requests.average / rawRate >= 0.5,
});

// 4. REST list against the same GraphQL query.
const timeIt = async (run: () => Promise<unknown>) => {
  const t = performance.now();
  await run();
  return performance.now() - t;
};
const restMs = await timeIt(async () => {
  const response = await fetch(`${base}/api/ipdrcustomers?api_token=${TOKEN}&username=bench`);
  await response.json();
});
const { documents } = await import('../src/rest/documents.js');
const graphqlMs = await timeIt(async () => {
  for (let after: string | null = null; ;) {
    const response: Response = await fetch(`${base}/graphql`, {
      method: 'POST',
      headers: { ...headers, 'x-context': 'default' },
      body: JSON.stringify({ query: documents.RestListCustomers, variables: { after } }),
    });
    const page: { pageInfo: { hasNextPage: boolean; endCursor: string } } = (
      (await response.json()) as { data: { page: { pageInfo: { hasNextPage: boolean; endCursor: string } } } }
    ).data.page;
    if (!page.pageInfo.hasNextPage) break;
    after = page.pageInfo.endCursor;
  }
});
results.push({
  name: `REST GET /api/ipdrcustomers (${summary.customersCreated} customers) against the same GraphQL query`,
  value: `${restMs.toFixed(0)} ms vs ${graphqlMs.toFixed(0)} ms: ${(restMs / graphqlMs).toFixed(2)}×`,
  target: '≤ 1.1×',
  met: restMs / graphqlMs <= 1.1,
});

clearInterval(sampler);
results.push({
  name: 'peak memory of the process (server, importer and load generator)',
  value: `${Math.round(peakRss / 2 ** 20)} MiB`,
  target: '—',
});

server.close();
await raw.end();
await closeDatabase();
rmSync(dir, { recursive: true, force: true });

const version = await (async () => {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  const row = (await client.query('SHOW server_version')).rows[0] as { server_version: string };
  await client.end();
  return row.server_version;
})();
const table = results
  .map((r) => `| ${r.name} | ${r.value} | ${r.target} | ${r.met === undefined ? '' : r.met ? 'yes' : '**no**'} |`)
  .join('\n');
const report = `# Benchmarks

Reproduce: \`BENCH_CUSTOMERS=${customers} BENCH_SECONDS=${seconds} npm run bench\` (PostgreSQL at \`BENCH_DATABASE_URL\`,
default \`postgres://postgres@127.0.0.1:5432/postgres\`; the run drops and recreates a database \`ipdr_bench\` and leaves it for inspection).

Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version},
PostgreSQL ${version}. Run on ${new Date().toISOString().slice(0, 10)} with ${customers} customers and ${mappings} mappings.
Server, importer, autocannon and the raw \`pg\` loops share this one process (and the machine's cores), so
both sides of each comparison run under the same load.

| measurement | result | target | met |
| --- | --- | --- | --- |
${table}
`;
writeFileSync(new URL('../BENCHMARKS.md', import.meta.url), report);
console.log(report);
process.exit(0);
