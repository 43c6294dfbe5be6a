// RADIUS accounting under load (part of `npm run bench`, see run.ts; also alone: `tsx bench/radius.ts`).
// On PostgreSQL, in a fresh database: the real server (its own process) is the accounting server;
// this process is the NASes, sending Accounting-Request Starts and then Stops from many sockets
// at rising rates, and timing each Accounting-Response. The ceiling, in the same run on the same
// database: the same mapping rows inserted by multi-row INSERTs of the batch size the server
// reached, one transaction each. Prints a Markdown section on the last lines of stdout, and
// replaces the RADIUS section of BENCHMARKS.md with it.
//
//   BENCH_DATABASE_URL (PostgreSQL server; the run uses a database ipdr_bench_radius on it)
//   BENCH_RADIUS_STEP_SECONDS=3 (per rate)
import { createSocket, type Socket } from 'node:dgram';
import { readFileSync, writeFileSync } from 'node:fs';
import { writeRatios } from './ratios.js';
import pg from 'pg';
import radius from 'radius';
import { radiusPort, startServer, stopServer } from '../test/server-process.js';

const serverUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const stepSeconds = Number(process.env.BENCH_RADIUS_STEP_SECONDS ?? 3);
const SECRET = 'bench-secret';
const TOKEN = 'bench-token-0123456789abcdefghij';
const T0 = 1_780_000_000;

const admin = new pg.Client({ connectionString: serverUrl });
await admin.connect();
await admin.query('DROP DATABASE IF EXISTS ipdr_bench_radius WITH (FORCE)');
await admin.query('CREATE DATABASE ipdr_bench_radius');
await admin.end();
const url = new URL(serverUrl);
url.pathname = '/ipdr_bench_radius';
const databaseUrl = url.toString();

const server = await startServer({
  DATABASE_URL: databaseUrl,
  NODE_ENV: 'production',
  IPDR_ADMIN_USER: 'bench',
  IPDR_ADMIN_TOKEN: TOKEN,
  RATE_LIMIT_PER_MINUTE: '0',
  RADIUS_ACCOUNTING_PORT: '0',
  RADIUS_CLIENTS: JSON.stringify([{ address: '127.0.0.1', secret: SECRET, context: 'default' }]),
});
const port = await radiusPort(server);
const metricsUrl = `${server.url.replace('/graphql', '')}/metrics`;
const readMetrics = () =>
  fetch(metricsUrl, { headers: { authorization: `Bearer ${TOKEN}` } }).then((response) => response.text());

/** The server's own count of answers by time from arrival (its histogram's buckets, cumulative). */
const responseBuckets = (text: string) =>
  [...text.matchAll(/ipdr_radius_response_seconds_bucket\{le="([^"]+)"\} (\S+)/g)].map(
    ([, le, count]) => [Number(le), Number(count)] as const,
  );
/** The bucket bound under which 99 % of the answers between two readings went out, in ms. */
function serverP99(before: string, after: string): number {
  const start = new Map(responseBuckets(before));
  const deltas = responseBuckets(after).map(([le, count]) => [le, count - (start.get(le) ?? 0)] as const);
  const total = deltas.at(-1)?.[1] ?? 0;
  return (deltas.find(([, count]) => count >= total * 0.99)?.[0] ?? NaN) * 1000;
}

// The database as in service: the ISP's subscribers are known before their sessions start (the
// CRM feeds them in), yesterday's sessions are on record, and the tables have statistics, as
// autovacuum keeps them (and has vacuumed them). A Start names a customer that exists (Starts of unknown User-Names
// create their customers too: test/radius). On tables the planner takes for empty, a plan a
// connection keeps (a foreign key's check among them) reads every row for a while, until
// autovacuum's first ANALYZE of them: that is a new deployment's first minute, not its service.
const SUBSCRIBERS = 200_000;
const HISTORY = 100_000;
{
  const seed = new pg.Client({ connectionString: databaseUrl });
  await seed.connect();
  await seed.query(
    `INSERT INTO ipdr_customers (context_id, user_id, name, source, updated_at)
     SELECT c.id, 'u' || g, 'Subscriber ' || g, 'API', now() FROM contexts c, generate_series(0, $1 - 1) g WHERE c.name = 'default'`,
    [SUBSCRIBERS],
  );
  // One closed session each of the last HISTORY subscribers, yesterday, in 10.0.0.0/8.
  await seed.query(
    `WITH session AS (
       INSERT INTO radius_sessions (context_id, session_key, user_name, acct_session_id, nas_key, nas_ip_address,
         started_at, last_seen, ended_at, end_kind, updated_at)
       SELECT c.id, md5('history ' || g), 'u' || g, 'h' || g, '127.0.0.1', '127.0.0.1', $2::int8, $3::int8, $3::int8, 'REPORTED', now()
       FROM contexts c, generate_series($1::int - ${HISTORY}, $1::int - 1) g WHERE c.name = 'default'
       RETURNING id, context_id, user_name
     )
     INSERT INTO ipdr_customers_mapping (context_id, ipdr_customer_id, user_id, ipsubnet, network, ip_first, ip_last,
       starttime, endtime, source, radius_session_id, end_kind, updated_at)
     SELECT s.context_id, cu.id, cu.user_id, host(a.address), a.address, a.key, a.key, $2::int8, $3::int8, 'RADIUS', s.id, 'REPORTED', now()
     FROM session s
     JOIN ipdr_customers cu ON cu.context_id = s.context_id AND cu.user_id = s.user_name
     CROSS JOIN LATERAL (SELECT '10.0.0.0'::inet + substr(s.user_name, 2)::int AS address) n
     CROSS JOIN LATERAL (SELECT n.address, '4' || lpad(to_hex(n.address - '0.0.0.0'::inet), 8, '0') AS key) a`,
    [SUBSCRIBERS, T0 - 86_400, T0 - 3_600],
  );
  await seed.query('VACUUM ANALYZE');
  await seed.end();
}

// Subscriber i: User-Name u<i>, an address in 100.64.0.0/10, session s<i>-<round>.
const addressOf = (i: number) => {
  const value = 0x64400000 + i;
  return `${value >>> 24}.${(value >> 16) & 255}.${(value >> 8) & 255}.${value & 255}`;
};

interface Sent {
  at: number;
}
// Each socket is a NAS port range of its own: 256 identifiers outstanding at most per socket.
const SOCKETS = 64;
const sockets: Socket[] = [];
const pending: Map<number, Sent>[] = [];
const latencies: number[] = [];
let answered = 0;
for (let s = 0; s < SOCKETS; s++) {
  const socket = createSocket('udp4');
  const waiting = new Map<number, Sent>();
  socket.on('message', (message) => {
    const sent = waiting.get(message[1]!);
    if (!sent) return;
    waiting.delete(message[1]!);
    latencies.push(performance.now() - sent.at);
    answered++;
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  sockets.push(socket);
  pending.push(waiting);
}

let nextSubscriber = 0;
const nextIdentifier = new Array<number>(SOCKETS).fill(0);
function packet(status: 'Start' | 'Stop', i: number, identifier: number) {
  return radius.encode({
    code: 'Accounting-Request',
    identifier,
    secret: SECRET,
    attributes: [
      ['User-Name', `u${i}`],
      ['Acct-Status-Type', status],
      ['Acct-Session-Id', `s${i}`],
      ['NAS-IP-Address', '127.0.0.1'],
      ['Framed-IP-Address', addressOf(i)],
      ['Event-Timestamp', new Date((T0 + (status === 'Stop' ? 600 : 0)) * 1000)],
      ...(status === 'Stop' ? ([['Acct-Session-Time', 600]] as [string, number][]) : []),
    ],
  });
}

/** Sends `rate` packets a second for `seconds` (Starts of subscribers not yet online, or Stops of those started). */
async function step(rate: number, seconds: number, status: 'Start' | 'Stop', stopFrom = 0) {
  const metricsBefore = await readMetrics();
  latencies.length = 0;
  answered = 0;
  for (const waiting of pending) waiting.clear();
  const total = Math.round(rate * seconds);
  let subscriber = status === 'Start' ? nextSubscriber : stopFrom;
  if (subscriber + total > SUBSCRIBERS) throw new Error(`the bench needs more than ${SUBSCRIBERS} subscribers`);
  // Encoded before the clock starts: the load generator shares the machine's cores with the
  // server and the database, and should spend as little of them as it can while it sends.
  const packets = Array.from({ length: total }, (_, i) => {
    const socketIndex = i % SOCKETS;
    const identifier = nextIdentifier[socketIndex]!++ % 256;
    return { socketIndex, identifier, bytes: packet(status, subscriber++, identifier) };
  });
  const started = performance.now();
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate) + 1);
    for (; sent < due; sent++) {
      const { socketIndex, identifier, bytes } = packets[sent]!;
      pending[socketIndex]!.set(identifier, { at: performance.now() });
      sockets[socketIndex]!.send(bytes, port, '127.0.0.1');
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  // Answers still on their way: wait up to a second for them.
  for (let waited = 0; answered < total && waited < 1000; waited += 10) await new Promise((r) => setTimeout(r, 10));
  const elapsed = (performance.now() - started) / 1000;
  if (status === 'Start') nextSubscriber = subscriber;
  const sorted = [...latencies].sort((a, b) => a - b);
  const quantile = (q: number) =>
    sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]! : NaN;
  const serverSideP99 = serverP99(metricsBefore, await readMetrics());
  return {
    rate,
    total,
    answered,
    perSecond: answered / elapsed,
    p50: quantile(0.5),
    p99: quantile(0.99),
    serverSideP99,
  };
}

/** Waits until the server has answered everything it took in: no answer for a whole second. */
async function settle() {
  for (let last = -1; last !== answered;) {
    last = answered;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

// Warm-up (not reported): the server's first requests compile its code paths.
await step(100, 2, 'Start');
await settle();
const rates = [250, 500, 1000, 1500, 2000, 3000, 4000, 5000, 6000, 8000];
const steps = [];
for (const rate of rates) {
  const result = await step(rate, stepSeconds, 'Start');
  steps.push({ ...result, status: 'Start' });
  console.error(
    `Start ${rate}/s: ${result.answered}/${result.total} answered, p50 ${result.p50.toFixed(1)} ms, p99 ${result.p99.toFixed(1)} ms (server ≤ ${result.serverSideP99} ms)`,
  );
  if (result.answered < result.total * 0.98) break;
}
// An overloaded step leaves a queue behind (and NASes would back off): let it drain first.
await settle();
const kept = steps.filter((s) => s.answered >= s.total * 0.98);
const peak = Math.max(...kept.map((s) => s.perSecond), 0);
const half = await step(Math.max(1, Math.round(peak / 2)), stepSeconds, 'Start');
console.error(
  `Start at half the peak (${half.rate}/s): p99 ${half.p99.toFixed(1)} ms (server ≤ ${half.serverSideP99} ms)`,
);
await settle();
const stops = await step(Math.max(1, Math.round(peak / 2)), stepSeconds, 'Stop', 0);
console.error(
  `Stop at half the peak: ${stops.answered}/${stops.total}, p99 ${stops.p99.toFixed(1)} ms (server ≤ ${stops.serverSideP99} ms)`,
);

const db = new pg.Client({ connectionString: databaseUrl });
await db.connect();
const metricsText = await readMetrics();
const batchSum = Number(/ipdr_radius_batch_size_sum (\S+)/.exec(metricsText)?.[1] ?? 0);
const batchCount = Number(/ipdr_radius_batch_size_count (\S+)/.exec(metricsText)?.[1] ?? 1);
const meanBatch = Math.max(1, Math.round(batchSum / batchCount));
await stopServer(server);
for (const socket of sockets) socket.close();

// The ceiling: the Starts' mapping rows again, by multi-row INSERTs of the mean batch size, one
// transaction each, into the same table (the RADIUS ones removed first), with all its constraints.
// Yesterday's sessions stay: the ceiling writes into the same table as the server did.
await db.query(
  `CREATE TABLE ceiling_rows AS SELECT * FROM ipdr_customers_mapping WHERE starttime >= ${T0} ORDER BY id`,
);
const { rows: sample } = await db.query<{ count: string }>(`SELECT count(*) FROM ceiling_rows`);
const rowCount = Number(sample[0]!.count);
await db.query(`DELETE FROM ipdr_customers_mapping WHERE starttime >= ${T0}`);
const columns = (
  await db.query<{ column_name: string }>(
    `SELECT column_name FROM information_schema.columns WHERE table_name = 'ceiling_rows' AND column_name <> 'id' ORDER BY ordinal_position`,
  )
).rows.map((row) => row.column_name);
const all = (await db.query(`SELECT ${columns.map((c) => `"${c}"`).join(', ')} FROM ceiling_rows ORDER BY id`)).rows;
const startedCeiling = performance.now();
for (let at = 0; at < all.length; at += meanBatch) {
  const chunk = all.slice(at, at + meanBatch);
  const values: unknown[] = [];
  const tuples = chunk.map((row) => `(${columns.map((column) => `$${values.push(row[column])}`).join(', ')})`);
  await db.query('BEGIN');
  await db.query(
    `INSERT INTO ipdr_customers_mapping (${columns.map((c) => `"${c}"`).join(', ')}) VALUES ${tuples.join(', ')}`,
    values,
  );
  await db.query('COMMIT');
}
const ceilingPerSecond = all.length / ((performance.now() - startedCeiling) / 1000);
await db.query('DROP TABLE ceiling_rows');
const { server_version: version } = (await db.query('SHOW server_version')).rows[0] as { server_version: string };
await db.end();

const ratio = peak / ceilingPerSecond;
// Subscribers a peak sustains: each sends an Interim-Update every 15 minutes; a mass reconnect
// after an outage sends every subscriber's Start (and a Stop or Accounting-On) at once.
const holds = (value: number) => value <= 50;
const section = `## RADIUS accounting on PostgreSQL ${version}

Reproduce: \`npm run bench\` (or \`tsx bench/radius.ts\` alone; \`BENCH_RADIUS_STEP_SECONDS\`, default 3 s per rate).
The server runs as deployed (its own process, \`NODE_ENV=production\`) with \`RADIUS_ACCOUNTING_PORT\`, on a
database as in service: ${SUBSCRIBERS.toLocaleString('en')} customers (the subscribers, known before they connect) and
${HISTORY.toLocaleString('en')} closed sessions of yesterday with their mappings, vacuumed and analysed. The bench process
is the NASes: ${SOCKETS} UDP sockets sending Accounting-Request Starts of subscribers not yet online (one IPv4
address each: a mass reconnect) at rising rates, ${stepSeconds} s each, until fewer than 98 % are answered within a
second of the step, then Starts and Stops at half the peak. Times are to the Accounting-Response as the NAS
sees it; "server" is the server's own histogram (\`ipdr_radius_response_seconds\`, arrival to answer), the
bound of the bucket holding its 99th percentile. The ceiling is the same ${rowCount.toLocaleString('en')} mapping rows inserted
again into the same table (yesterday's rows kept) by multi-row INSERTs of the mean batch the server committed
(${meanBatch} rows), one transaction each, in the same run on the same database.

| rate sent (Starts/s) | answered | answered/s | p50 | p99 | p99, server |
| --- | --- | --- | --- | --- | --- |
${steps
  .map(
    (s) =>
      `| ${s.rate} | ${s.answered}/${s.total} | ${Math.round(s.perSecond)} | ${s.p50.toFixed(1)} ms | ${s.p99.toFixed(1)} ms | ≤ ${s.serverSideP99} ms |`,
  )
  .join('\n')}

| measurement | result | target | met |
| --- | --- | --- | --- |
| peak Starts answered | ${Math.round(peak)}/s; the ceiling ${Math.round(ceilingPerSecond)} rows/s: ${ratio.toFixed(2)}× | ≥ 0.5× the ceiling | ${ratio >= 0.5 ? 'yes' : '**no**'} |
| p99 at half the peak, Starts (${half.rate}/s) | ${half.p99.toFixed(1)} ms (p50 ${half.p50.toFixed(1)} ms; server ≤ ${half.serverSideP99} ms; ${half.answered}/${half.total} answered) | ≤ 50 ms | ${holds(half.p99) ? 'yes' : '**no**'} |
| p99 at half the peak, Stops (${stops.rate}/s) | ${stops.p99.toFixed(1)} ms (p50 ${stops.p50.toFixed(1)} ms; server ≤ ${stops.serverSideP99} ms; ${stops.answered}/${stops.total} answered) | ≤ 50 ms | ${holds(stops.p99) ? 'yes' : '**no**'} |

In subscribers: a session sends an Interim-Update every 15 minutes (an update of its session, as a Stop
is), so ${Math.round(peak)} requests/s carry ${Math.round(peak * 900).toLocaleString('en')} online subscribers' interims at the peak rate
and ${Math.round((peak / 2) * 900).toLocaleString('en')} at half of it${holds(half.p99) && holds(stops.p99) ? ', where the p99 above holds' : ''}. A mass reconnect of 100,000
subscribers after an outage (a Start each) is answered in about ${Math.round(100_000 / Math.max(1, peak))} s, NASes retransmitting
what waits longer.
`;

const file = new URL('../BENCHMARKS.md', import.meta.url);
const current = readFileSync(file, 'utf8');
const at = current.indexOf('## RADIUS accounting');
const next = at === -1 ? -1 : current.indexOf('\n## ', at + 1);
const updated =
  at === -1
    ? current.replace('\n## Figures behind design choices', `\n${section}\n## Figures behind design choices`)
    : `${current.slice(0, at)}${section}${next === -1 ? '' : current.slice(next + 1)}`;
writeFileSync(file, updated);
writeRatios('radius', [
  {
    measurement: 'RADIUS Accounting-Request Starts answered at the peak',
    product: `${Math.round(peak)} Starts/s`,
    ceiling: `${Math.round(ceilingPerSecond)} rows/s (the same mapping rows by multi-row INSERTs of the server's mean batch)`,
    ratio,
    target: 0.5,
  },
]);
console.log(section);
