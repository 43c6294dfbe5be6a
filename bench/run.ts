// npm run bench: the report workloads on PostgreSQL (the full dataset) and on the embedded PGlite
// (a smaller one), each in a fresh database, measured side by side with the database's own
// ceiling and raw queries; writes BENCHMARKS.md, then bench/radius.ts adds RADIUS accounting's
// section and bench/nat.ts carrier-grade NAT lookups'. Not part of the tests. See engine.ts.
// By default (no BENCH_ENGINES or BENCH_MODULES) it runs both engines, radius and nat; the cost
// curve (bench/curve.ts: engine.ts at 100k, 1M and 5M mappings, the longest part) only when
// BENCH_MODULES names curve, after the others.
//
//   BENCH_CUSTOMERS=200000 (PostgreSQL; 5 mappings each)  BENCH_PGLITE_CUSTOMERS=20000
//   BENCH_SECONDS=10 (per HTTP measurement)  BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres
//   BENCH_ENGINES=postgresql,pglite (empty: none, the engines' sections kept)
//   BENCH_MODULES=radius,nat (which parts run, of radius, nat and curve; the sections of the parts
//   not run are kept as the file has them)  BENCH_CURVE_MAPPINGS (see curve.ts)
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { type RatioRow, withRatios } from './ratios.js';
import { cpus, totalmem } from 'node:os';
import pg from 'pg';

interface EngineRun {
  engine: string;
  customers: number;
  mappings: number;
  results: {
    name: string;
    value: string;
    target: string;
    met?: boolean;
    ratio?: { product: string; ceiling: string; ratio: number; target: number | null };
  }[];
}

const postgresCustomers = process.env.BENCH_CUSTOMERS ?? '200000';
const pgliteCustomers = process.env.BENCH_PGLITE_CUSTOMERS ?? '20000';
const seconds = process.env.BENCH_SECONDS ?? '10';
const serverUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

function run(engine: string, customers: string): EngineRun {
  console.error(`== ${engine}: ${customers} customers`);
  const output = execFileSync(process.execPath, ['--import', 'tsx', 'bench/engine.ts'], {
    env: { ...process.env, BENCH_ENGINE: engine, BENCH_CUSTOMERS: customers, BENCH_SECONDS: seconds },
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 * 2 ** 20,
    encoding: 'utf8',
  });
  return JSON.parse(output.trim().split('\n').at(-1)!) as EngineRun;
}

const listOf = (text: string) => text.split(',').filter((name) => name !== '');
const engines = listOf(process.env.BENCH_ENGINES ?? 'postgresql,pglite');
const modules = listOf(process.env.BENCH_MODULES ?? 'radius,nat');
const runs = engines.map((engine) => run(engine, engine === 'pglite' ? pgliteCustomers : postgresCustomers));

const client = new pg.Client({ connectionString: serverUrl });
await client.connect();
const { server_version: version } = (await client.query('SHOW server_version')).rows[0] as { server_version: string };
await client.end();

const table = (run: EngineRun) =>
  [
    `## ${run.engine === 'postgresql' ? `PostgreSQL ${version}` : 'PGlite (embedded)'}: ${run.customers} customers, ${run.mappings} mappings`,
    '',
    '| measurement | result | target | met |',
    '| --- | --- | --- | --- |',
    ...run.results.map(
      (r) => `| ${r.name} | ${r.value} | ${r.target} | ${r.met === undefined ? '' : r.met ? 'yes' : '**no**'} |`,
    ),
  ].join('\n');

// The sections this run does not write (RADIUS, NAT, and any other script's), kept as they are.
const reportFile = new URL('../BENCHMARKS.md', import.meta.url);
const previous = existsSync(reportFile) ? readFileSync(reportFile, 'utf8') : '';
const ownSection = (heading: string) =>
  heading.startsWith('## Ratios to the ceiling') ||
  heading.startsWith('## Figures behind design choices') ||
  (engines.includes('postgresql') && heading.startsWith('## PostgreSQL')) ||
  (engines.includes('pglite') && heading.startsWith('## PGlite'));
const keptSections = previous
  .split(/\n(?=## )/)
  .slice(1)
  .filter((section) => !ownSection(section))
  .map((section) => `${section.replace(/\n*$/, '')}\n\n`)
  .join('');

const report = `# Benchmarks

Reproduce: \`BENCH_CUSTOMERS=${postgresCustomers} BENCH_PGLITE_CUSTOMERS=${pgliteCustomers} BENCH_SECONDS=${seconds} npm run bench\`
(PostgreSQL at \`BENCH_DATABASE_URL\`, default \`postgres://postgres@127.0.0.1:5432/postgres\`; the run drops and
recreates a database \`ipdr_bench\` there and leaves it for inspection).

Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, run on
${new Date().toISOString().slice(0, 10)}. The database, the server process and the load generator share these cores.

How each figure is taken (bench/engine.ts): the CSV (customers in UserID order, each with an IPv4 /32 or /29 and
an IPv6 /64 in a first period, the previous customer's IPv4 and an IPv6 /56 in a second, and the IPv4 of the
customer two before in a third, ongoing) is imported by the importer the CLI uses, in one transaction, its
closing \`VACUUM ANALYZE\` included; the ceiling is the same rows (the customers and the mappings the import
stored) inserted again, by one \`INSERT … SELECT\` each in one transaction, into the emptied tables with all their
constraints, and the tables are vacuumed again after it (as the importer leaves them). Raw lookups send the server's own lookup statement (for the same fields, \`id customer { userId }\`)
straight to the database at the same concurrency, with the server's session settings, before the server starts.
Then the server runs as deployed (\`npm start\`'s node command, its own process, \`NODE_ENV=production\`, request
logging on) and is measured over HTTP: whoHadMany with 10,000 random lookups a request, one request at a time
after one to warm up (bodies made before the clock starts), whoHad with autocannon at concurrency 32, and
REST's customer list against the same GraphQL operation paged by a client.

${runs.map(table).join('\n\n')}

${keptSections}## Figures behind design choices

Measured once, by hand, when each choice was made (not by this run):

- graphql-js' own executor instead of Yoga's default (src/app.ts): graphql-tools' executor copies every input
  object of the variables before coercing them; for whoHadMany's 10,000 lookups coercion cost 31 ms with that
  copy and 19 ms without (the variables alone).
- Lookup batches read below Prisma (Database.read, src/db/connection.ts): decoding 2,500 lookup rows cost Prisma
  9.7-12 ms against the driver's 4.8 ms.
- JIT off on PostgreSQL (postgresSettings, src/db/connection.ts): a 100,000-mapping import took 16 s with JIT
  and 10 s without.
- POST /attribute's own work per row (src/attribution/formats.ts, 200,000 rows of \`ip,time,port\`, one process):
  writing an answer row of 18 cells cost 18 µs with csv-stringify and 2 µs with the hand-written quoting; reading
  a row cost 11 µs when rows were handed on one promise each and 4 µs when taken as many as the parser had.
- CSV import by one statement a batch, the next queued behind it (src/csv/import.ts; 40,000 customers, 199,997
  mappings, PostgreSQL, the server's statement durations logged, other work on the machine): with two statements
  a batch, each sent once the last one's answer was read, the import took 10.6 s of which the database executed
  8.4 s; with one statement queued behind the other, 9.3 s of which it executed 8.6 s. Joining the batch's
  mappings to its customers by UserID was planned as a nested loop over both inputs (1.4 s of a batch's 1.6 s
  on a grown table); a jsonb map of the batch's UserIDs costs 1.5 ms a batch.
- The import's audit by runs of consecutive ids (audit_events.entity_id_last): one event an imported record
  cost as much as writing the record; by runs, the import went from 0.35× to 0.46× its ceiling.
- Lookups as prepared statements (whoHadBatch, src/lookups/store.ts; 100,000 mappings, PostgreSQL, one session):
  the lookup statement for one lookup took 1.46 ms planned for its values and 0.25 ms by its generic plan; for 32,
  4.43 and 0.45 ms; for 2,500, 22.6 and 15.7 ms. Under whoHad at concurrency 32 over HTTP, 12 s: unprepared, the
  database used 11.4 CPU s and the server 8.3 (1,452 req/s); prepared, 1.6 and 13.9 (3,654 req/s). PostgreSQL's
  own plan cache chooses (plan_cache_mode auto): forcing generic plans on the pool's sessions would reach
  Prisma's unnamed statements too, which it then planned generically every time (6.0 ms for one lookup).
`;
// The leading table: the kept rows of the parts not run, this run's engines' rows.
const previousRatios = previous.includes('## Ratios to the ceiling')
  ? previous.slice(previous.indexOf('## Ratios to the ceiling')).split(/\n(?=## )/)[0]!
  : '';
let withLead = withRatios(report.replace(/\n## /, `\n${previousRatios}\n## `), 'none', []);
for (const engineRun of runs) {
  const rows: RatioRow[] = engineRun.results.flatMap((r) =>
    r.ratio
      ? [{ measurement: r.name.replace(/ of \d+ mappings.*/, ` (${engineRun.mappings} mappings)`), ...r.ratio }]
      : [],
  );
  withLead = withRatios(withLead, engineRun.engine, rows);
}
// Without an engine run the file is left as it is (its introduction names the engines' settings).
if (runs.length > 0) {
  writeFileSync(reportFile, withLead);
  console.log(withLead);
}

// RADIUS accounting (bench/radius.ts) adds its section to the file just written.
if (modules.includes('radius')) {
  console.error('== RADIUS accounting (PostgreSQL)');
  execFileSync(process.execPath, ['--import', 'tsx', 'bench/radius.ts'], { stdio: ['ignore', 'inherit', 'inherit'] });
}

// Carrier-grade NAT lookups (bench/nat.ts) add theirs after it.
if (modules.includes('nat')) {
  console.error('== carrier-grade NAT lookups (PostgreSQL)');
  execFileSync(process.execPath, ['--import', 'tsx', 'bench/nat.ts'], { stdio: ['ignore', 'inherit', 'inherit'] });
}

// The cost curve (bench/curve.ts) replaces its own section last: it runs longest.
if (modules.includes('curve')) {
  console.error('== cost curve (PostgreSQL)');
  execFileSync(process.execPath, ['--import', 'tsx', 'bench/curve.ts'], { stdio: ['ignore', 'inherit', 'inherit'] });
}
