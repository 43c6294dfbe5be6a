// Carrier-grade NAT lookups (part of `npm run bench`, see run.ts; also alone: `tsx bench/nat.ts`).
// On PostgreSQL, in a fresh database migrated by the project's runner: RADIUS sessions of the
// inside addresses and the port-block bindings of the public ones, built by set-based SQL with
// every constraint and trigger in place, then vacuumed and analysed. Measured in the same run on
// the same data: the server's own lookup statement sent raw with `pg`, split as whoHadBatch splits
// a request's 10,000 lookups (four statements at once on four connections, with the server's
// session settings), then the real server (its own process, NODE_ENV=production) answering
// whoHadMany with ports over HTTP. Prints a Markdown section on the last lines of stdout, and
// replaces the NAT section of BENCHMARKS.md with it (or adds it before "Figures behind design choices").
//
//   BENCH_NAT_BINDINGS=1000000 (port-block bindings)  BENCH_NAT_SESSIONS=200000 (inside sessions)
//   BENCH_SECONDS=10 (per timed loop)  BENCH_NAT_MAX_REQUESTS=50 (per timed loop, 10,000 lookups each)
//   BENCH_ATTRIBUTE_ROWS=1000000 (rows of the one POST /attribute, and of its raw counterpart)
//   BENCH_DATABASE_URL (PostgreSQL server; the run uses a database ipdr_bench_nat on it)
//   BENCH_NAT_REUSE=1: measure again on the database a previous run of the same sizes left, without
//   building it; such a run prints its section and writes nothing to BENCHMARKS.md
//   BENCH_SERVER_NODE_OPTIONS: NODE_OPTIONS of the server process (e.g. --cpu-prof, to profile it)
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { writeRatios } from './ratios.js';
import pg from 'pg';
import { startServer, stopServer } from '../test/server-process.js';
import { checkContextName, checkUsername } from '../src/domain/names.js';
import { checkTokenFormat } from '../src/access/tokens.js';
import { explainPrepared } from './prepared-plan.js';

const serverUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const BINDINGS = Number(process.env.BENCH_NAT_BINDINGS ?? 1_000_000);
const SESSIONS = Number(process.env.BENCH_NAT_SESSIONS ?? 200_000);
const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const maxRequests = Number(process.env.BENCH_NAT_MAX_REQUESTS ?? 50);
const ATTRIBUTE_ROWS = Number(process.env.BENCH_ATTRIBUTE_ROWS ?? 1_000_000);
const TOKEN = 'bench-token-0123456789abcdefghij';
const LOOKUPS_PER_REQUEST = 10_000;

// The layout. Public addresses from 198.18.0.0 (one /32 each), each with BLOCKS blocks of PORTS
// ports from FIRST_PORT, each block held PERIODS times back to back over a day (T0 on), each time
// on behalf of another inside address: binding j is period j % 2 of block (j / 2) % 250 of public
// address j / 500, for the inside address of session j % SESSIONS. Session i: customer u<i>, address
// 100.64.0.0 + i, one closed RADIUS session an hour either side of that day.
const BLOCKS = 250;
const PORTS = 256;
const FIRST_PORT = 1024;
const PERIODS = 2;
const PERIOD_SECONDS = 43_200;
const T0 = 1_780_000_000;
const ADDRESSES = Math.ceil(BINDINGS / (BLOCKS * PERIODS));
if (SESSIONS > 2 ** 22) throw new Error('BENCH_NAT_SESSIONS: at most 4,194,304 (100.64.0.0/10)');
if (ADDRESSES > 2 ** 17) throw new Error('BENCH_NAT_BINDINGS: too many for 198.18.0.0/15');
const dotted = (value: number) => `${value >>> 24}.${(value >> 16) & 255}.${(value >> 8) & 255}.${value & 255}`;
const PUBLIC_BASE = 0xc6120000; // 198.18.0.0

const REUSE = process.env.BENCH_NAT_REUSE === '1';
if (!REUSE) {
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query('DROP DATABASE IF EXISTS ipdr_bench_nat WITH (FORCE)');
  await admin.query('CREATE DATABASE ipdr_bench_nat');
  await admin.end();
}
const url = new URL(serverUrl);
url.pathname = '/ipdr_bench_nat';
const databaseUrl = url.toString();

// The schema by the project's migration runner, and the context and admin token the server would bootstrap.
const { openDatabase, postgresSettings } = await import('../src/db/connection.js');
const { createDb } = await import('../src/db/handle.js');
const { migrate } = await import('../src/db/migrate.js');
const { bootstrapAccess } = await import('../src/access/store.js');
if (!REUSE) {
  const db = createDb(openDatabase({ databaseUrl, poolSize: 2, dataDir: 'memory://' }));
  await migrate(db.database);
  await bootstrapAccess(db, {
    contexts: [checkContextName('default')],
    adminUser: checkUsername('bench'),
    adminToken: checkTokenFormat(TOKEN),
  });
  await db.close();
}

// The data, by INSERT … SELECT, every constraint and trigger of the tables in place.
const seed = new pg.Client({ connectionString: databaseUrl });
await seed.connect();
const contextId = Number(
  (await seed.query<{ id: number }>(`SELECT id FROM contexts WHERE name = 'default'`)).rows[0]!.id,
);
const timed = async (sql: string, params: unknown[] = []) => {
  const started = performance.now();
  await seed.query(sql, params);
  return (performance.now() - started) / 1000;
};
// The bindings' INSERT runs under EXPLAIN ANALYZE (it inserts all the same), for its triggers' and
// foreign keys' shares of the time.
let bindingTriggers: string[] = [];
const explained = async (sql: string, params: unknown[]) => {
  const started = performance.now();
  const { rows } = await seed.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, COSTS OFF) ${sql}`, params);
  bindingTriggers = rows.map((row) => row['QUERY PLAN']).filter((line) => line.startsWith('Trigger'));
  return (performance.now() - started) / 1000;
};
const build = REUSE
  ? { customers: 0, sessions: 0, bindings: 0, vacuum: 0 }
  : {
      customers: await timed(
        `INSERT INTO ipdr_customers (context_id, user_id, name, source, updated_at)
     SELECT $1, 'u' || g, 'Subscriber ' || g, 'API', now() FROM generate_series(0, $2 - 1) g`,
        [contextId, SESSIONS],
      ),
      sessions: await timed(
        `WITH session AS (
       INSERT INTO radius_sessions (context_id, session_key, user_name, acct_session_id, nas_key, nas_ip_address,
         started_at, last_seen, ended_at, end_kind, updated_at)
       SELECT $1, md5('nat ' || g), 'u' || g, 's' || g, '127.0.0.1', '127.0.0.1', $3::int8, $4::int8, $4::int8, 'REPORTED', now()
       FROM generate_series(0, $2 - 1) g
       RETURNING id, context_id, user_name
     )
     INSERT INTO ipdr_customers_mapping (context_id, ipdr_customer_id, user_id, ipsubnet, network, ip_first, ip_last,
       starttime, endtime, source, radius_session_id, end_kind, updated_at)
     SELECT s.context_id, cu.id, cu.user_id, host(a.address), a.address, a.key, a.key, $3::int8, $4::int8, 'RADIUS', s.id, 'REPORTED', now()
     FROM session s
     JOIN ipdr_customers cu ON cu.context_id = s.context_id AND cu.user_id = s.user_name
     CROSS JOIN LATERAL (SELECT '100.64.0.0'::inet + substr(s.user_name, 2)::int AS address) n
     CROSS JOIN LATERAL (SELECT n.address, '4' || lpad(to_hex(n.address - '0.0.0.0'::inet), 8, '0') AS key) a`,
        [contextId, SESSIONS, T0 - 3_600, T0 + PERIODS * PERIOD_SECONDS + 3_600],
      ),
      bindings: await explained(
        `INSERT INTO nat_port_blocks (context_id, public_address, port_first, port_last, starttime, endtime, end_kind,
       last_seen, inside_address, inside_context_id, source, device, updated_at)
     SELECT $1, '198.18.0.0'::inet + (j / ($3::int * $4::int)), $5::int + ((j / $4::int) % $3::int) * $6::int,
       $5::int + ((j / $4::int) % $3::int) * $6::int + $6::int - 1,
       $7::int8 + (j % $4::int) * $8::int, $7::int8 + (j % $4::int) * $8::int + $8::int - 1, 'RELEASED',
       $7::int8 + (j % $4::int) * $8::int, '100.64.0.0'::inet + (j % $9::int), $1, 'SYSLOG', '127.0.0.1', now()
     FROM generate_series(0, $2::int - 1) j`,
        [contextId, BINDINGS, BLOCKS, PERIODS, FIRST_PORT, PORTS, T0, PERIOD_SECONDS, SESSIONS],
      ),
      vacuum: await timed('VACUUM ANALYZE'),
    };
console.error(bindingTriggers.join('\n'));
console.error(
  `built: ${SESSIONS} customers ${build.customers.toFixed(1)} s, sessions and mappings ${build.sessions.toFixed(1)} s, ` +
    `${BINDINGS} bindings ${build.bindings.toFixed(1)} s, VACUUM ANALYZE ${build.vacuum.toFixed(1)} s`,
);
const { server_version: version } = (await seed.query('SHOW server_version')).rows[0] as { server_version: string };
await seed.end();

// Lookups that hit bindings: a random binding, a random port of its block, a random instant of its period.
interface Lookup {
  ip: string;
  port: number;
  at: number;
}
const randomLookup = (): Lookup => {
  const j = Math.floor(Math.random() * BINDINGS);
  const block = Math.floor(j / PERIODS) % BLOCKS;
  return {
    ip: dotted(PUBLIC_BASE + Math.floor(j / (BLOCKS * PERIODS))),
    port: FIRST_PORT + block * PORTS + Math.floor(Math.random() * PORTS),
    at: T0 + (j % PERIODS) * PERIOD_SECONDS + Math.floor(Math.random() * PERIOD_SECONDS),
  };
};
// One warm-up request and up to maxRequests timed ones, the same lookups on both sides.
const batches = Array.from({ length: maxRequests + 1 }, () =>
  Array.from({ length: LOOKUPS_PER_REQUEST }, randomLookup),
);

// 1. Raw: the statement the server runs for `id customer { userId } nat { insideAddress }` (nat
// reads no column), in parts as whoHadBatch makes them, all sent at once on their own connections.
const { lookupColumns, whoHadSql } = await import('../src/lookups/store.js');
const SQL = whoHadSql(lookupColumns({ mapping: new Set(['id']), customer: new Set(['userId']) }));
// whoHadBatch's parts: at least 1,000 lookups each, at most four.
const partSize = Math.max(1000, Math.ceil(LOOKUPS_PER_REQUEST / 4));
const PARTS = Math.ceil(LOOKUPS_PER_REQUEST / partSize);
const REQUEST_TIMEOUT_MS = 30_000; // the server's default, its statement_timeout (Database.limitStatements)
const settings = postgresSettings(databaseUrl);
const rawPool = new pg.Pool({
  ...settings,
  options: `${settings.options} -c statement_timeout=${REQUEST_TIMEOUT_MS} -c idle_in_transaction_session_timeout=${REQUEST_TIMEOUT_MS}`,
  max: PARTS,
});
// As the server reads int8 columns (src/db/connection.ts).
const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === pg.types.builtins.INT8 ? BigInt : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};
const arrayLiteral = (elements: readonly (string | number)[]) => `{${elements.join(',')}}`;
// The parameters as whoHadBatch sends them, made before the clock starts.
const rawParams = batches.map((batch) =>
  Array.from({ length: PARTS }, (_, p) => {
    const part = batch.slice(p * partSize, (p + 1) * partSize);
    return [
      contextId,
      arrayLiteral(part.map((l) => l.ip)),
      arrayLiteral(part.map((l) => l.at)),
      arrayLiteral(part.map((l) => l.port)),
    ];
  }),
);
const rawBatch = async (parts: unknown[][]) =>
  (await Promise.all(parts.map((values) => rawPool.query({ name: 'who_had', text: SQL, values, types })))).reduce(
    (found, result) => found + result.rows.filter((row: { found: boolean }) => row.found).length,
    0,
  );
// Warm-up: opens the four connections and fills the caches.
await rawBatch(rawParams[0]!);
// One part's plan, as PostgreSQL ran it (after the warm-up, in the same settings).
const planClient = await rawPool.connect();
const { rows: planRows, kind: planKind } = await explainPrepared(
  planClient,
  SQL,
  rawParams[1]![0]!,
  'ANALYZE, BUFFERS',
);
const plan = (planRows as { 'QUERY PLAN': string }[]).map((row) => row['QUERY PLAN']);
planClient.release();
console.error(plan.join('\n'));

/** CPU seconds (user and system) a process has used, from /proc; null when it is gone. */
const CLOCK_TICKS = 100;
function cpuSecondsOf(pid: number | string): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return null;
  }
}
/**
 * CPU seconds used so far by the PostgreSQL backends serving the bench database (by their process
 * titles), so that other work on the same cluster is not counted. A backend that has exited is not.
 */
function databaseCpuSeconds(): number {
  let total = 0;
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const title = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!title.startsWith('postgres: ') || !title.includes(' ipdr_bench_nat ')) continue;
    } catch {
      continue;
    }
    total += cpuSecondsOf(pid) ?? 0;
  }
  return total;
}

// 1b. Raw counterpart of POST /attribute: the statement attribution sends (its own columns), for
// the same rows in batches of 10,000 split as whoHadBatch splits them, PIPELINE_DEPTH batches at
// once as attributeRows keeps them. Parameters made before the clock starts.
const { ATTRIBUTION_COLUMNS, PIPELINE_DEPTH } = await import('../src/attribution/attribute.js');
const ATTRIBUTION_SQL = whoHadSql(ATTRIBUTION_COLUMNS);
const attributeLookups = Array.from({ length: ATTRIBUTE_ROWS }, randomLookup);
const attributeParams: unknown[][][] = [];
for (let offset = 0; offset < ATTRIBUTE_ROWS; offset += LOOKUPS_PER_REQUEST) {
  const batch = attributeLookups.slice(offset, offset + LOOKUPS_PER_REQUEST);
  const size = Math.max(1000, Math.ceil(batch.length / 4));
  const parts: unknown[][] = [];
  for (let p = 0; p < batch.length; p += size) {
    const part = batch.slice(p, p + size);
    parts.push([
      contextId,
      arrayLiteral(part.map((l) => l.ip)),
      arrayLiteral(part.map((l) => l.at)),
      arrayLiteral(part.map((l) => l.port)),
    ]);
  }
  attributeParams.push(parts);
}
const attributePool = new pg.Pool({ ...settings, options: rawPool.options.options, max: PARTS * PIPELINE_DEPTH });
interface Timed {
  seconds: number;
  found: number;
  cpu: { client: number; server: number; database: number };
}
/** The raw counterpart over `batches`, PIPELINE_DEPTH at once, timed with its CPU seconds. */
async function rawAttribution(batches: readonly unknown[][][]): Promise<Timed> {
  const cpu = { client: process.cpuUsage(), database: databaseCpuSeconds() };
  const started = performance.now();
  let found = 0;
  let next = 0;
  const worker = async () => {
    while (next < batches.length) {
      const parts = batches[next++]!;
      const results = await Promise.all(
        parts.map((values) => attributePool.query({ name: 'attribution', text: ATTRIBUTION_SQL, values, types })),
      );
      for (const result of results) found += result.rows.filter((row: { found: boolean }) => row.found).length;
    }
  };
  await Promise.all(Array.from({ length: PIPELINE_DEPTH }, worker));
  const client = process.cpuUsage(cpu.client);
  return {
    seconds: (performance.now() - started) / 1000,
    found,
    cpu: { client: (client.user + client.system) / 1e6, server: 0, database: databaseCpuSeconds() - cpu.database },
  };
}
// Timed in two halves, one before the server starts and one after its request: the machine's
// other load, which changes over minutes on a shared 2-core machine, then weighs on both sides.
await Promise.all(
  attributeParams[0]!.map((values) =>
    attributePool.query({ name: 'attribution', text: ATTRIBUTION_SQL, values, types }),
  ),
);
const attributeHalf = Math.ceil(attributeParams.length / 2);
const attributeRawFirst = await rawAttribution(attributeParams.slice(0, attributeHalf));

/** Runs `request` over the timed batches, one at a time, for `seconds` or until they run out. */
async function timedLoop(request: (index: number) => Promise<number>) {
  let requests = 0;
  let found = 0;
  const started = performance.now();
  while (requests < maxRequests && performance.now() - started < seconds * 1000) {
    found += await request(1 + requests);
    requests++;
  }
  const elapsed = (performance.now() - started) / 1000;
  return {
    requests,
    lookups: requests * LOOKUPS_PER_REQUEST,
    found,
    perSecond: (requests * LOOKUPS_PER_REQUEST) / elapsed,
    seconds: elapsed,
  };
}
type Loop = Awaited<ReturnType<typeof timedLoop>>;
/** Two timed loops as one: the lookups of both over the time of both. */
const bothLoops = (first: Loop, second: Loop): Loop => ({
  requests: first.requests + second.requests,
  lookups: first.lookups + second.lookups,
  found: first.found + second.found,
  seconds: first.seconds + second.seconds,
  perSecond: (first.lookups + second.lookups) / (first.seconds + second.seconds),
});
// Raw lookups are timed before the server starts and again after its whoHadMany loops, as raw
// attribution is (see there).
const rawFirst = await timedLoop((index) => rawBatch(rawParams[index]!));

// 2. The server, in its own process with its production settings, started as `npm start` starts it.
const server = await startServer({
  DATABASE_URL: databaseUrl,
  NODE_ENV: 'production',
  DATABASE_POOL_SIZE: '16',
  RATE_LIMIT_PER_MINUTE: '0',
  IPDR_ADMIN_USER: 'bench',
  IPDR_ADMIN_TOKEN: TOKEN,
  LOG_LEVEL: 'info',
  PORT: '0',
  ...(process.env.BENCH_SERVER_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_SERVER_NODE_OPTIONS } : {}),
});
const headers = { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` };
const QUERY =
  'query($l: [WhoHadLookup!]!) { whoHadMany(lookups: $l) { id customer { userId } nat { insideAddress } } }';
// The same questions as parallel lists, which the server reads without coercing an object a lookup.
const LISTS_QUERY =
  'query($ips: [IPAddressInput!], $ats: [UnixTimeInput], $ports: [Int]) { whoHadMany(ips: $ips, ats: $ats, ports: $ports) { id customer { userId } nat { insideAddress } } }';
// The request bodies, made before the clock starts: the client's own work is not the server's.
const bodies = batches.map((batch) => JSON.stringify({ query: QUERY, variables: { l: batch } }));
const listsBodies = batches.map((batch) =>
  JSON.stringify({
    query: LISTS_QUERY,
    variables: { ips: batch.map((l) => l.ip), ats: batch.map((l) => l.at), ports: batch.map((l) => l.port) },
  }),
);
const whoHadMany = async (body: string) => {
  const response = await fetch(server.url, { method: 'POST', headers, body });
  const result = (await response.json()) as {
    data?: { whoHadMany: ({ nat: { insideAddress: string } | null } | null)[] };
    errors?: unknown[];
  };
  if (!result.data || result.errors) throw new Error(`whoHadMany failed: ${JSON.stringify(result).slice(0, 500)}`);
  return result.data.whoHadMany.filter((r) => r?.nat).length;
};
await whoHadMany(bodies[0]!);
const http = await timedLoop((index) => whoHadMany(bodies[index]!));
console.error(`HTTP: ${Math.round(http.perSecond)} lookups/s (${http.found} of ${http.lookups} found)`);
await whoHadMany(listsBodies[0]!);
const httpLists = await timedLoop((index) => whoHadMany(listsBodies[index]!));
console.error(`HTTP, parallel lists: ${Math.round(httpLists.perSecond)} lookups/s (${httpLists.found} found)`);
const raw = bothLoops(rawFirst, await timedLoop((index) => rawBatch(rawParams[index]!)));
await rawPool.end();
console.error(`raw: ${Math.round(raw.perSecond)} lookups/s (${raw.found} of ${raw.lookups} found)`);
// 3. POST /attribute: the same rows as raw attribution's, one CSV request, timed to its last byte.
const attributeBody = `ip,time,port\n${attributeLookups.map((l) => `${l.ip},${l.at},${l.port}`).join('\n')}\n`;
const attributeHttp = await (async () => {
  const cpu = {
    client: process.cpuUsage(),
    server: cpuSecondsOf(server.process.pid!) ?? 0,
    database: databaseCpuSeconds(),
  };
  const started = performance.now();
  const response = await fetch(`${server.url.replace(/\/graphql$/, '')}/attribute?reason=BENCH`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'text/csv' },
    body: attributeBody,
  });
  if (response.status !== 200) throw new Error(`/attribute failed: ${response.status} ${await response.text()}`);
  const decoder = new TextDecoder();
  let rows = -1;
  let found = 0;
  let tail = '';
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    const lines = (tail + decoder.decode(chunk, { stream: true })).split('\n');
    tail = lines.pop()!;
    for (const line of lines) {
      rows++;
      // ip,time,port,userid,…: an answered row has its UserID (u<i>) in the fourth column.
      if (rows > 0 && line.split(',', 4)[3] !== '') found++;
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const client = process.cpuUsage(cpu.client);
  return {
    seconds,
    rows,
    found,
    cpu: {
      client: (client.user + client.system) / 1e6,
      server: (cpuSecondsOf(server.process.pid!) ?? 0) - cpu.server,
      database: databaseCpuSeconds() - cpu.database,
    },
  };
})();
console.error(
  `HTTP attribution: ${Math.round(attributeHttp.rows / attributeHttp.seconds)} rows/s (${attributeHttp.found} of ${attributeHttp.rows} found)`,
);
const cpuLine = ({ seconds, cpu }: { seconds: number; cpu: { client: number; server: number; database: number } }) =>
  `${seconds.toFixed(1)} s wall; CPU s: database ${cpu.database.toFixed(1)}, server ${cpu.server.toFixed(1)}, client ${cpu.client.toFixed(1)}`;
const peakKiB = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${server.process.pid}/status`, 'utf8'))?.[1]);
await stopServer(server);
const attributeRawSecond = await rawAttribution(attributeParams.slice(attributeHalf));
await attributePool.end();
const attributeRaw: Timed = {
  seconds: attributeRawFirst.seconds + attributeRawSecond.seconds,
  found: attributeRawFirst.found + attributeRawSecond.found,
  cpu: {
    client: attributeRawFirst.cpu.client + attributeRawSecond.cpu.client,
    server: 0,
    database: attributeRawFirst.cpu.database + attributeRawSecond.cpu.database,
  },
};
console.error(
  `raw attribution: ${Math.round(ATTRIBUTE_ROWS / attributeRaw.seconds)} rows/s (${attributeRaw.found} of ${ATTRIBUTE_ROWS} found; halves ${Math.round((attributeHalf * LOOKUPS_PER_REQUEST) / attributeRawFirst.seconds)} and ${Math.round((ATTRIBUTE_ROWS - attributeHalf * LOOKUPS_PER_REQUEST) / attributeRawSecond.seconds)} rows/s)`,
);
console.error(`raw attribution: ${cpuLine(attributeRaw)}\nHTTP attribution: ${cpuLine(attributeHttp)}`);

const ratio = http.perSecond / raw.perSecond;
const listsRatio = httpLists.perSecond / raw.perSecond;
const attributeRawRate = ATTRIBUTE_ROWS / attributeRaw.seconds;
const attributeHttpRate = attributeHttp.rows / attributeHttp.seconds;
const attributeRatio = attributeHttpRate / attributeRawRate;
// The plan's nodes that ran (their conditions left out, but for the join filters), and its times.
const keyLines = plan.filter(
  (line, index) =>
    index === 0 ||
    (/^\s*->/.test(line) && !line.includes('(never executed)')) ||
    /Join Filter|Rows Removed by Join Filter|Execution Time/.test(line),
);
// Whether the blocks count (for lookups without a port) ran for every lookup, its condition a filter after it.
const countsEveryLookup = plan.some((line) => /Join Filter: .*q\.port IS NULL/.test(line));
// Its share of the part's time: the filtered join's time less its outer side's.
const countShare = (() => {
  const filter = plan.findIndex((line) => /Join Filter: .*q\.port IS NULL/.test(line));
  const total = (line: string | undefined) => Number(/actual time=[\d.]+\.\.([\d.]+)/.exec(line ?? '')?.[1]);
  const outer = plan.slice(filter + 1).find((line) => /^\s*->/.test(line));
  const execution = Number(
    /Execution Time: ([\d.]+)/.exec(plan.find((line) => line.startsWith('Execution')) ?? '')?.[1],
  );
  const share = (total(plan[filter - 1]) - total(outer)) / execution;
  return filter > 0 && Number.isFinite(share) ? share : null;
})();
const buildSeconds = build.customers + build.sessions + build.bindings + build.vacuum;
const n = (value: number) => value.toLocaleString('en');
const section = `## Carrier-grade NAT lookups on PostgreSQL ${version}

Reproduce: \`npm run bench\` (or \`tsx bench/nat.ts\` alone; \`BENCH_NAT_BINDINGS\`, default 1,000,000, \`BENCH_NAT_SESSIONS\`,
default 200,000, \`BENCH_SECONDS\` and \`BENCH_NAT_MAX_REQUESTS\`, default 10 s and 50 requests per timed loop).
A fresh database \`ipdr_bench_nat\`, migrated by the project's runner, holds ${n(SESSIONS)} customers, each with one closed
RADIUS session (a \`radius_sessions\` row and its \`RADIUS\` mapping) of an inside address in 100.64.0.0/10, a /32 each, from an
hour before a day to an hour after it; and ${n(BINDINGS)} port-block bindings in \`nat_port_blocks\`: ${n(ADDRESSES)} public
addresses from 198.18.0.0 × ${BLOCKS} blocks of ${PORTS} ports (${FIRST_PORT}-${FIRST_PORT + BLOCKS * PORTS - 1}) × ${PERIODS} periods of ${PERIOD_SECONDS / 3600} hours back to back in that
day, each binding given to the inside address of another session (binding j to session j mod ${n(SESSIONS)}, so each
inside address holds about ${Math.round(BINDINGS / SESSIONS)} blocks over the day). Built by \`INSERT … SELECT generate_series\` with every
constraint and trigger in place (the exclusion constraints, the per-row context lock and the cross-kind
statement triggers), then \`VACUUM ANALYZE\`: customers ${build.customers.toFixed(1)} s, sessions with their mappings
${build.sessions.toFixed(1)} s, bindings ${build.bindings.toFixed(1)} s (${n(Math.round(BINDINGS / build.bindings))} rows/s), vacuum ${build.vacuum.toFixed(1)} s; ${buildSeconds.toFixed(0)} s in all. Of the bindings' INSERT (EXPLAIN ANALYZE):
${bindingTriggers.map((line) => `\`${line.replace(/^Trigger (for constraint )?/, '').replace(/: time=([\d.]+) calls=(\d+)/, (_m, ms: string, calls: string) => `\` ${(Number(ms) / 1000).toFixed(1)} s (${n(Number(calls))} call${calls === '1' ? '' : 's'})`)}`).join(', ')}.

Each lookup is a random binding's public address, a random port of its block and a random instant of its
period, so it is found through the chain (binding, then the inside address's session). Requests of
10,000 lookups each, the same lookups on both sides, one at a time after one to warm up, for ${seconds} s or
${maxRequests} requests, whichever comes first. Raw: the server's own statement (\`whoHadSql\` for \`id customer { userId }\`,
which is what \`id customer { userId } nat { insideAddress }\` reads) sent with \`pg\` as \`whoHadBatch\` sends it, in
${PARTS} parts of ${n(partSize)} at once on ${PARTS} connections with the server's session settings (JIT off, its statement
timeout), parameters made before the clock starts. HTTP: the server as deployed (\`npm start\`'s node command, its own
process, \`NODE_ENV=production\`, request logging on), \`whoHadMany(lookups: [{ip, port, at}])\` asking
\`id customer { userId } nat { insideAddress }\`, bodies made before the clock starts; found is an answer with its \`nat\` hop. The same
lookups are then sent as parallel lists (\`whoHadMany(ips: […], ats: […], ports: […])\`, the same fields asked), and raw
lookups are timed before the server starts and again after these loops (the two together are the ceiling).
\`POST /attribute\`: ${n(ATTRIBUTE_ROWS)} more such lookups as one CSV body (\`ip,time,port\`), its answer read to the end; its raw
counterpart sends attribution's own statement (the columns of its answer: the mapping's, the customer's name) for the
same rows, in batches of 10,000 split in ${PARTS} parts as \`whoHadBatch\` splits them, ${PIPELINE_DEPTH} batches at once as
\`attributeRows\` keeps them (what the server adds besides: reading and writing the CSV, and a lookup log row a batch),
timed in two halves, one before the server starts and one after its request, so that the machine's other load, which
changes over minutes here, weighs on both sides. CPU seconds are read from \`/proc\` over each: the bench database's
backends (by their process titles), the server process, and this process (the client).

| measurement | result | target | met |
| --- | --- | --- | --- |
| whoHadMany with ports, 10,000 lookups a request (${n(BINDINGS)} bindings, ${n(SESSIONS)} inside sessions), end to end over HTTP | ${n(Math.round(http.perSecond))} lookups/s (${n(http.found)} of ${n(http.lookups)} found); raw \`pg\` ${n(Math.round(raw.perSecond))} lookups/s (${n(raw.found)} of ${n(raw.lookups)} found): ${ratio.toFixed(2)}× | ≥ 0.6× raw | ${ratio >= 0.6 ? 'yes' : '**no**'} |
| the same, the lookups as parallel lists (\`whoHadMany(ips:, ats:, ports:)\`) | ${n(Math.round(httpLists.perSecond))} lookups/s (${n(httpLists.found)} of ${n(httpLists.lookups)} found): ${listsRatio.toFixed(2)}× raw | ≥ 0.6× raw | ${listsRatio >= 0.6 ? 'yes' : '**no**'} |
| \`POST /attribute\`, ${n(ATTRIBUTE_ROWS)} rows of CSV in one request, streamed, timed to its last byte | ${n(Math.round(attributeHttpRate))} rows/s (${n(attributeHttp.found)} of ${n(attributeHttp.rows)} found); raw \`pg\` ${n(Math.round(attributeRawRate))} rows/s (${n(attributeRaw.found)} found): ${attributeRatio.toFixed(2)}× | ≥ 0.8× raw | ${attributeRatio >= 0.8 ? 'yes' : '**no**'} |
| where \`POST /attribute\`'s time goes (CPU seconds) | raw: ${cpuLine(attributeRaw)}; HTTP: ${cpuLine(attributeHttp)}; the server's own: ${((attributeHttp.cpu.server / attributeHttp.rows) * 1e6).toFixed(0)} µs a row | — | |
| peak resident memory of the server process (both measurements) | ${Math.round(peakKiB / 1024)} MiB | — | |

${
  countsEveryLookup
    ? `In the plan below, the count of the address's blocks that only a lookup without a port needs (the
statement's \`s\` join) runs for every lookup, ports or not: PostgreSQL pulls that subquery up, and its
condition (\`q.port IS NULL\`) becomes a join filter applied after the count (the Bitmap Heap Scan's
${n(partSize)} loops)${countShare === null ? '' : `, ${Math.round(countShare * 100)} % of the part's execution time`}.

`
    : ''
}One raw part's plan (EXPLAIN (ANALYZE, BUFFERS) of the prepared statement, ${n(partSize)} lookups, after the warm-up; PostgreSQL's ${planKind} plan), the nodes that ran:

\`\`\`
${keyLines.join('\n')}
\`\`\`
`;

if (REUSE) {
  console.log(section);
  process.exit(0);
}
const file = new URL('../BENCHMARKS.md', import.meta.url);
const current = readFileSync(file, 'utf8');
const at = current.indexOf('## Carrier-grade NAT lookups');
const next = at === -1 ? -1 : current.indexOf('\n## ', at + 1);
// Its own section only, a blank line before it and before the next: run.ts writes the rest.
const updated =
  at === -1
    ? current.replace(/\n+## Figures behind design choices/, () => `\n\n${section}\n## Figures behind design choices`)
    : `${current.slice(0, at).replace(/\n*$/, '\n\n')}${section}${next === -1 ? '' : current.slice(next)}`;
writeFileSync(file, updated);
writeRatios('nat', [
  {
    measurement: 'whoHadMany with ports, 10,000 lookups a request',
    product: `${n(Math.round(http.perSecond))} lookups/s`,
    ceiling: `${n(Math.round(raw.perSecond))} lookups/s (the same statements raw with \`pg\`, same split)`,
    ratio,
    target: 0.6,
  },
  {
    measurement: 'whoHadMany with ports, the lookups as parallel lists (`ips`, `ats`, `ports`)',
    product: `${n(Math.round(httpLists.perSecond))} lookups/s`,
    ceiling: `${n(Math.round(raw.perSecond))} lookups/s (the same statements raw with \`pg\`, same split)`,
    ratio: listsRatio,
    target: 0.6,
  },
  {
    measurement: `\`POST /attribute\`, ${n(ATTRIBUTE_ROWS)} rows`,
    product: `${n(Math.round(attributeHttpRate))} rows/s`,
    ceiling: `${n(Math.round(attributeRawRate))} rows/s (the same statements raw with \`pg\`, same batches)`,
    ratio: attributeRatio,
    target: 0.8,
  },
]);
console.log(section);
process.exit(0);
