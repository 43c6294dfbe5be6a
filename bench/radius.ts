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

/** Sends `rate` packets a second for `seconds` (Starts of new subscribers, or Stops of those started). */
async function step(rate: number, seconds: number, status: 'Start' | 'Stop', stopFrom = 0) {
  latencies.length = 0;
  answered = 0;
  for (const waiting of pending) waiting.clear();
  const total = Math.round(rate * seconds);
  const started = performance.now();
  let sent = 0;
  let subscriber = status === 'Start' ? nextSubscriber : stopFrom;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate) + 1);
    for (; sent < due; sent++) {
      const socketIndex = sent % SOCKETS;
      const identifier = nextIdentifier[socketIndex]!++ % 256;
      pending[socketIndex]!.set(identifier, { at: performance.now() });
      sockets[socketIndex]!.send(packet(status, subscriber++, identifier), port, '127.0.0.1');
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  // Answers still on their way: wait up to a second for them.
  for (let waited = 0; answered < total && waited < 1000; waited += 10) await new Promise((r) => setTimeout(r, 10));
  const elapsed = (performance.now() - started) / 1000;
  if (status === 'Start') nextSubscriber = subscriber;
  const sorted = [...latencies].sort((a, b) => a - b);
  const p99 = sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))]! : NaN;
  return { rate, total, answered, perSecond: answered / elapsed, p99 };
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
const rates = [250, 500, 1000, 2000, 4000, 8000];
const steps = [];
for (const rate of rates) {
  const result = await step(rate, stepSeconds, 'Start');
  steps.push({ ...result, status: 'Start' });
  console.error(`Start ${rate}/s: ${result.answered}/${result.total} answered, p99 ${result.p99.toFixed(1)} ms`);
  if (result.answered < result.total * 0.98) break;
}
// An overloaded step leaves a queue behind (and NASes would back off): let it drain first.
await settle();
const kept = steps.filter((s) => s.answered >= s.total * 0.98);
const peak = Math.max(...kept.map((s) => s.perSecond), 0);
const half = await step(Math.max(1, Math.round(peak / 2)), stepSeconds, 'Start');
console.error(`Start at half the peak (${half.rate}/s): p99 ${half.p99.toFixed(1)} ms`);
await settle();
const stops = await step(Math.max(1, Math.round(peak / 2)), stepSeconds, 'Stop', 0);
console.error(`Stop at half the peak: ${stops.answered}/${stops.total}, p99 ${stops.p99.toFixed(1)} ms`);

const db = new pg.Client({ connectionString: databaseUrl });
await db.connect();
const metricsText = await fetch(`${server.url.replace('/graphql', '')}/metrics`, {
  headers: { authorization: `Bearer ${TOKEN}` },
}).then((response) => response.text());
const batchSum = Number(/ipdr_radius_batch_size_sum (\S+)/.exec(metricsText)?.[1] ?? 0);
const batchCount = Number(/ipdr_radius_batch_size_count (\S+)/.exec(metricsText)?.[1] ?? 1);
const meanBatch = Math.max(1, Math.round(batchSum / batchCount));
await stopServer(server);
for (const socket of sockets) socket.close();

// The ceiling: the Starts' mapping rows again, by multi-row INSERTs of the mean batch size, one
// transaction each, into the same table (the RADIUS ones removed first), with all its constraints.
const { rows: sample } = await db.query<{ count: string }>(`SELECT count(*) FROM ipdr_customers_mapping`);
const rowCount = Number(sample[0]!.count);
await db.query('CREATE TABLE ceiling_rows AS SELECT * FROM ipdr_customers_mapping ORDER BY id');
await db.query('DELETE FROM ipdr_customers_mapping');
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
const section = `## RADIUS accounting on PostgreSQL ${version}

Reproduce: \`npm run bench\` (or \`tsx bench/radius.ts\` alone; \`BENCH_RADIUS_STEP_SECONDS\`, default 3 s per rate).
The server runs as deployed (its own process, \`NODE_ENV=production\`) with \`RADIUS_ACCOUNTING_PORT\`; the bench
process is the NASes: ${SOCKETS} UDP sockets sending Accounting-Request Starts of new subscribers (one IPv4
address each) at rising rates, ${stepSeconds} s each, until fewer than 98 % are answered within a second of the
step, then Starts and Stops at half the peak. The ceiling is the same ${rowCount} mapping rows inserted again into
the emptied table by multi-row INSERTs of the mean batch the server committed (${meanBatch} rows), one
transaction each, in the same run on the same database.

| rate sent (Starts/s) | answered | answered/s | p99 to Accounting-Response |
| --- | --- | --- | --- |
${steps.map((s) => `| ${s.rate} | ${s.answered}/${s.total} | ${Math.round(s.perSecond)} | ${s.p99.toFixed(1)} ms |`).join('\n')}

| measurement | result | target | met |
| --- | --- | --- | --- |
| peak Starts answered | ${Math.round(peak)}/s; the ceiling ${Math.round(ceilingPerSecond)} rows/s: ${ratio.toFixed(2)}× | ≥ 0.5× the ceiling | ${ratio >= 0.5 ? 'yes' : '**no**'} |
| p99 at half the peak, Starts (${half.rate}/s) | ${half.p99.toFixed(1)} ms (${half.answered}/${half.total} answered) | ≤ 50 ms | ${half.p99 <= 50 ? 'yes' : '**no**'} |
| p99 at half the peak, Stops (${stops.rate}/s) | ${stops.p99.toFixed(1)} ms (${stops.answered}/${stops.total} answered) | ≤ 50 ms | ${stops.p99 <= 50 ? 'yes' : '**no**'} |

In subscribers: with an Interim-Update every 15 minutes, ${Math.round(peak)} requests/s carry
${Math.round(peak * 900).toLocaleString('en')} online subscribers' interims at the peak rate
(${Math.round((peak / 2) * 900).toLocaleString('en')} at half of it, where the p99 above holds); a mass
reconnect of 100,000 subscribers after an outage (a Start each) is answered in about
${Math.round(100_000 / Math.max(1, peak))} s, NASes retransmitting what waits longer.
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
console.log(section);
