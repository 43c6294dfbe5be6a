// Issue 18's cost curve: bench/engine.ts on PostgreSQL at several sizes, one after the other, in
// one fresh database (each size drops and makes it again; the last is left for inspection), and
// BENCHMARKS.md's "## Cost curve" section written from them: import and lookup rates beside their
// ceilings, table and index sizes, and the memory that keeps lookups index-only in cache.
// Run by `npm run bench` with BENCH_MODULES including curve, or alone: `npx tsx bench/curve.ts`.
//
//   BENCH_CURVE_MAPPINGS=100000,1000000,5000000 (about 5 mappings per customer)
//   BENCH_SECONDS=10 (per lookup measurement)  BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres
//   BENCH_CURVE_DATABASE=ipdr_bench_curve
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import pg from 'pg';
// Types only: engine.ts is a script, run as a child process below, never imported.
import type { ScanNode } from './engine.js';
import { type RatioRow, withRatios } from './ratios.js';

interface RelationSize {
  name: string;
  kind: string;
  table: string;
  bytes: number;
}
interface EngineRun {
  customers: number;
  mappings: number;
  results: { name: string; ratio?: Omit<RatioRow, 'measurement'> }[];
  rates: {
    importRate: number;
    ceilingRate: number;
    manyRate: number;
    rawManyRate: number;
    whoHadRate: number;
    rawWhoHadRate: number;
    rawWhoHadUnbatchedRate: number;
    rawLookupsPerStatement: number;
    listsRate: number;
    serverLookupsPerStatement: number | null;
  };
  relationSizes: RelationSize[];
  buffers: {
    lookups: number;
    planKind: string;
    sharedHit: number;
    sharedRead: number;
    executionMs: number;
    indexes: string[];
    scans: ScanNode[];
  };
}
interface SizeRun {
  run: EngineRun;
  seconds: number;
  loadBefore: number;
  loadAfter: number;
}

const MAPPINGS_PER_CUSTOMER = 5; // engine.ts's dataset: 5 mappings a customer, 3 fewer in all
const sizes = (process.env.BENCH_CURVE_MAPPINGS ?? '100000,1000000,5000000').split(',').map((text) => {
  const mappings = Number(text);
  if (!Number.isInteger(mappings) || mappings < 1000)
    throw new Error(`BENCH_CURVE_MAPPINGS: ${text} is not a whole number of mappings of at least 1000`);
  return mappings;
});
const seconds = process.env.BENCH_SECONDS ?? '10';
const serverUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const database = process.env.BENCH_CURVE_DATABASE ?? 'ipdr_bench_curve';
if (!/^ipdr_bench\w*$/.test(database))
  throw new Error(`BENCH_CURVE_DATABASE: ${database} does not start with ipdr_bench`);

const runSize = (mappings: number): SizeRun => {
  const customers = Math.ceil(mappings / MAPPINGS_PER_CUSTOMER);
  console.error(`== cost curve: ${mappings} mappings (${customers} customers)`);
  const loadBefore = loadavg()[0]!;
  const started = performance.now();
  const output = execFileSync(process.execPath, ['--import', 'tsx', 'bench/engine.ts'], {
    env: {
      ...process.env,
      BENCH_ENGINE: 'postgresql',
      BENCH_CUSTOMERS: String(customers),
      BENCH_SECONDS: seconds,
      BENCH_DATABASE: database,
      BENCH_REST: '0',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 * 2 ** 20,
    encoding: 'utf8',
  });
  return {
    run: JSON.parse(output.trim().split('\n').at(-1)!) as EngineRun,
    seconds: (performance.now() - started) / 1000,
    loadBefore,
    loadAfter: loadavg()[0]!,
  };
};
const runs = sizes.map(runSize);

const client = new pg.Client({ connectionString: serverUrl });
await client.connect();
const setting = async (name: string) =>
  ((await client.query('SELECT setting, unit FROM pg_settings WHERE name = $1', [name])).rows[0] as {
    setting: string;
    unit: string | null;
  }) ?? { setting: '?', unit: null };
const { server_version: version } = (await client.query('SHOW server_version')).rows[0] as { server_version: string };
const sharedBuffers = await setting('shared_buffers');
const blockSize = Number((await setting('block_size')).setting);
await client.end();
const sharedBuffersBytes = Number(sharedBuffers.setting) * (sharedBuffers.unit === '8kB' ? 8192 : blockSize);

const MiB = 2 ** 20;
const mib = (bytes: number) =>
  bytes < MiB ? `${Math.round(bytes / 1024)} KiB` : `${(bytes / MiB).toFixed(bytes < 10 * MiB ? 1 : 0)} MiB`;
const n = (value: number) => Math.round(value).toLocaleString('en-US');
const ratio = (product: number, ceiling: number) => `${(product / ceiling).toFixed(2)}×`;
const LOOKUP_INDEX = 'ipdr_customers_mapping_lookup_idx';

// What a lookup reads, from the plan of one part: the index of each index-only scan (the table's
// heap only where it fetched rows from it, and the mappings' visibility map, which an index-only
// scan checks for every row), index and table of each index scan, the table of each sequential
// scan. Nodes that never ran (loops 0: the NAT hops of an address a mapping holds) read nothing.
const touched = (run: EngineRun) => {
  const sizeOf = (name: string) => run.relationSizes.find((relation) => relation.name === name)?.bytes ?? 0;
  const names = new Set<string>();
  for (const scan of run.buffers.scans.filter((node) => node.loops > 0)) {
    if (scan.index) names.add(scan.index);
    if (scan.nodeType === 'Index Only Scan') {
      if (scan.relation === 'ipdr_customers_mapping') names.add('ipdr_customers_mapping (visibility map)');
      if ((scan.heapFetches ?? 0) > 0) names.add(scan.relation);
    } else names.add(scan.relation);
  }
  const relations = [...names].map((name) => ({ name, bytes: sizeOf(name) }));
  return { relations, bytes: relations.reduce((sum, relation) => sum + relation.bytes, 0) };
};
const indexOnly = (run: EngineRun) => {
  const mappingScans = run.buffers.scans.filter((scan) => scan.relation === 'ipdr_customers_mapping' && scan.loops > 0);
  const heapFetches = mappingScans.reduce((sum, scan) => sum + (scan.heapFetches ?? 0), 0);
  return {
    all: mappingScans.length > 0 && mappingScans.every((scan) => scan.nodeType === 'Index Only Scan'),
    heapFetches,
  };
};

const largest = runs.at(-1)!.run;
const perMapping = (run: EngineRun) => touched(run).bytes / run.mappings;
const lookupIndexPerMapping = (run: EngineRun) =>
  (run.relationSizes.find((relation) => relation.name === LOOKUP_INDEX)?.bytes ?? 0) / run.mappings;
const everyIndexOnly = runs.every(({ run }) => indexOnly(run).all && indexOnly(run).heapFetches === 0);

const curveTable = [
  '| mappings (customers) | CSV import: rows/s, INSERT … SELECT ceiling, ratio | whoHadMany: lookups/s over HTTP (as parallel lists), raw `pg`, ratio | whoHad c=32: req/s over HTTP, raw `pg` one statement a lookup, ratio; raw batched (the capacity of the database), ratio | load average before → after |',
  '| --- | --- | --- | --- | --- |',
  ...runs.map(({ run, loadBefore, loadAfter }) => {
    const r = run.rates;
    return `| ${n(run.mappings)} (${n(run.customers)}) | ${n(r.importRate)}, ${n(r.ceilingRate)}: ${ratio(r.importRate, r.ceilingRate)} | ${n(r.manyRate)} (${n(r.listsRate)}), ${n(r.rawManyRate)}: ${ratio(r.manyRate, r.rawManyRate)} (${ratio(r.listsRate, r.rawManyRate)}) | ${n(r.whoHadRate)}, ${n(r.rawWhoHadUnbatchedRate)}: ${ratio(r.whoHadRate, r.rawWhoHadUnbatchedRate)}; ${n(r.rawWhoHadRate)} (${r.rawLookupsPerStatement.toFixed(1)} lookups a statement${r.serverLookupsPerStatement === null ? '' : `, the server's ${r.serverLookupsPerStatement.toFixed(1)}`}): ${ratio(r.whoHadRate, r.rawWhoHadRate)} | ${loadBefore.toFixed(1)} → ${loadAfter.toFixed(1)} |`;
  }),
].join('\n');

const sizeTable = [
  '| mappings | table | lookup index | other indexes of the table | visibility map | customers (table + indexes) | what a lookup reads (index-only) | per mapping |',
  '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ...runs.map(({ run }) => {
    const of = (test: (relation: RelationSize) => boolean) =>
      run.relationSizes.filter(test).reduce((sum, relation) => sum + relation.bytes, 0);
    const mappingTable = of((r) => r.name === 'ipdr_customers_mapping');
    const lookupIndex = of((r) => r.name === LOOKUP_INDEX);
    const otherIndexes = of((r) => r.table === 'ipdr_customers_mapping' && r.kind === 'i' && r.name !== LOOKUP_INDEX);
    const vm = of((r) => r.kind === 'vm');
    const customers = of((r) => r.table === 'ipdr_customers');
    const reads = touched(run);
    return `| ${n(run.mappings)} | ${mib(mappingTable)} | ${mib(lookupIndex)} | ${mib(otherIndexes)} | ${mib(vm)} | ${mib(customers)} | ${mib(reads.bytes)} | ${perMapping(run).toFixed(1)} B |`;
  }),
].join('\n');

const planTable = [
  '| mappings | scan (loops) | heap fetches | buffers hit / read | one part of 2,500 lookups |',
  '| --- | --- | --- | --- | --- |',
  ...runs.map(({ run }) => {
    const ran = run.buffers.scans.filter((scan) => scan.loops > 0);
    const scans = ran
      .map(
        (scan) => `${scan.nodeType} on ${scan.relation}${scan.index ? ` using ${scan.index}` : ''} (${n(scan.loops)})`,
      )
      .join('; ');
    const fetches = ran
      .filter((scan) => scan.heapFetches !== null)
      .map((scan) => n(scan.heapFetches!))
      .join(', ');
    return `| ${n(run.mappings)} | ${scans} | ${fetches} | ${n(run.buffers.sharedHit)} / ${n(run.buffers.sharedRead)} | ${run.buffers.executionMs.toFixed(1)} ms |`;
  }),
].join('\n');

const reads = touched(largest);
const section = `## Cost curve: ${runs.map(({ run }) => n(run.mappings)).join(', ')} mappings on PostgreSQL ${version}

Reproduce: \`BENCH_CURVE_MAPPINGS=${sizes.join(',')} BENCH_SECONDS=${seconds} npx tsx bench/curve.ts\` (or
\`BENCH_ENGINES= BENCH_MODULES=curve npm run bench\`). Each size is one run of bench/engine.ts as this file's
introduction describes (the same dataset, about ${MAPPINGS_PER_CUSTOMER} mappings a customer, REST list left
out), in a database \`${database}\` made afresh for it; the last is left for inspection. PostgreSQL runs with
shared_buffers = ${mib(sharedBuffersBytes)}. Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, run on ${new Date().toISOString().slice(0, 10)}
(${runs.map(({ run, seconds: s }) => `${n(run.mappings)}: ${Math.round(s)} s`).join(', ')}); the load average is the machine's, other work included.

Every rate beside its ceiling, measured in the same run on the same data:

${curveTable}

Raw whoHad is the server's statement, prepared as the server prepares it, sent at the same concurrency one a lookup
(issue 18's comparison: clients asking the database themselves), and batched as the server batches concurrent single
lookups (those started in the same turn of the event loop go as one statement, whoHadShared): that loop has no
per-request work at all, so it shows the database's capacity for this load, not a ceiling one server process reaches.

Sizes (\`pg_relation_size\`, after the importer's and the ceiling's \`VACUUM ANALYZE\`). "What a lookup reads" is the
union of what the plan below scans: the lookup index, the mappings' visibility map, \`mapping_prefix_lengths\`, and
the table's heap only where a scan fetched from it:

${sizeTable}

One part's plan (\`EXPLAIN (ANALYZE, BUFFERS)\` of the prepared statement for 2,500 of whoHadMany's lookups, after
the warm-up; PostgreSQL's ${runs.map(({ run }) => run.buffers.planKind).join(', ')} plan at these sizes), the scans that
ran; "read" is pages PostgreSQL did not find in shared_buffers (from the page cache or the disk):

${planTable}

${
  everyIndexOnly
    ? 'At every size the mappings are read by index-only scans with zero heap fetches.'
    : '**Not index-only at every size**: the plan above scans the mappings other than by an index-only scan, or fetches heap rows (a page not all-visible: the visibility map not set after the load).'
} To keep lookups in memory, shared_buffers (or, behind it, the page cache) must hold what they read:
${mib(reads.bytes)} at ${n(largest.mappings)} mappings, ${perMapping(largest).toFixed(1)} bytes a mapping (the lookup index alone ${lookupIndexPerMapping(largest).toFixed(1)});
the README's shared_buffers advice is derived from these figures.
`;

// BENCHMARKS.md: this section replaced (first time: before "Figures behind design choices"), the
// others untouched; in the leading table, the largest size's three ratios as bench `curve`.
const reportFile = new URL('../BENCHMARKS.md', import.meta.url);
const previous = existsSync(reportFile) ? readFileSync(reportFile, 'utf8') : '# Benchmarks\n';
const parts = previous.split(/\n(?=## )/);
const at = parts.findIndex((part) => part.startsWith('## Cost curve'));
const figuresAt = parts.findIndex((part) => part.startsWith('## Figures behind design choices'));
if (at !== -1) parts[at] = section;
else parts.splice(figuresAt === -1 ? parts.length : figuresAt, 0, section);
const report = parts.map((part) => part.replace(/\n*$/, '\n')).join('\n');
const rows: RatioRow[] = largest.results.flatMap((result) =>
  result.ratio
    ? [
        {
          measurement: `${result.name.replace(/ of \d+ mappings.*/, '')} (${largest.mappings} mappings)`,
          ...result.ratio,
        },
      ]
    : [],
);
// withRatios keeps only the leading table's rows: the notes written under it are put back.
const RATIOS_HEADING = '## Ratios to the ceiling';
const ratioNotes = (text: string) => {
  const part = text.split(/\n(?=## )/).find((candidate) => candidate.startsWith(RATIOS_HEADING)) ?? '';
  const lines = part.replace(/\n*$/, '').split('\n');
  const lastRow = lines.findLastIndex((line) => line.startsWith('| '));
  return lastRow === -1
    ? ''
    : lines
        .slice(lastRow + 1)
        .join('\n')
        .trim();
};
const notes = ratioNotes(report);
const withRows = withRatios(report, 'curve', rows);
writeFileSync(
  reportFile,
  notes === ''
    ? withRows
    : withRows
        .split(/\n(?=## )/)
        .map((part) => (part.startsWith(RATIOS_HEADING) ? `${part.replace(/\n*$/, '')}\n\n${notes}\n` : part))
        .join('\n'),
);
console.log(section);
