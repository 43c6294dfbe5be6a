import { databaseUrl } from '../setup/app.js';
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer, stopServer } from '../server-process.js';
import { ADMIN_TOKEN } from '../setup/credentials.js';
import { freePort, startRedis, stopRedis } from '../redis-server.js';
import { newDataDir } from '../setup/data-dir.js';

// The server as production runs it, sharing its rate limits through a Redis of this file's own,
// which is then stopped (SIGSTOP) mid-run: its connection stays open and ioredis keeps calling it
// ready, so nothing but an unanswered command shows the outage. Requests must not wait for it
// (beyond the first one of each limiter, whose command times out after 0.5 s), and counting must
// move back to Redis once it runs again (SIGCONT).

const COMMAND_TIMEOUT_MS = 500;
/** How long the server may take to find Redis back: its probes back off up to 5 s. */
const RECOVERY_WITHIN_MS = 20_000;
const dataDir = newDataDir('ipdr-redis-stalled');
let redisServer: ChildProcess | undefined;
let redis: Redis | undefined;
let server: RunningServer | undefined;

beforeAll(async () => {
  const port = await freePort();
  redisServer = await startRedis(port);
  redis = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 1 });
  server = await startServer({
    DATA_DIR: dataDir,
    DATABASE_URL: databaseUrl,
    NODE_ENV: 'production',
    IPDR_ADMIN_TOKEN: ADMIN_TOKEN,
    REDIS_URL: `redis://127.0.0.1:${port}`,
    RATE_LIMIT_PER_MINUTE: '100000',
    AUTH_FAILURES_PER_MINUTE: '100000',
  });
});

afterAll(async () => {
  // A stopped process is killed as well as a running one.
  if (redisServer) await stopRedis(redisServer);
  redis?.disconnect();
  if (server) expect(await stopServer(server)).toBe(0);
  rmSync(dataDir, { recursive: true, force: true });
});

interface Answer {
  status: number;
  ms: number;
}

async function graphql(token: string): Promise<Answer> {
  const started = performance.now();
  const response = await fetch(server!.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: '{ __typename }' }),
    signal: AbortSignal.timeout(30_000),
  });
  await response.arrayBuffer();
  return { status: response.status, ms: performance.now() - started };
}

async function sequence(token: string, times: number): Promise<Answer[]> {
  const answers: Answer[] = [];
  for (let i = 0; i < times; i++) answers.push(await graphql(token));
  return answers;
}

const total = (answers: Answer[]) => Math.round(answers.reduce((sum, answer) => sum + answer.ms, 0));
const list = (answers: Answer[]) => answers.map((answer) => Math.round(answer.ms)).join(', ');

/** What the counters in Redis hold, by key: `prefix:key` to points used. */
async function countersInRedis(): Promise<Record<string, number>> {
  const keys = (await redis!.keys('ipdr-*')).sort();
  const values = keys.length ? await redis!.mget(...keys) : [];
  return Object.fromEntries(keys.map((key, i) => [key, Number(values[i])]));
}

/** The one counter under `prefix` (this server has one token and one client address). */
async function counter(prefix: string): Promise<number> {
  const counters = Object.entries(await countersInRedis()).filter(([key]) => key.startsWith(`${prefix}:`));
  expect(counters.length, JSON.stringify(counters)).toBeLessThanOrEqual(1);
  return counters[0]?.[1] ?? 0;
}

async function sharedGauge(): Promise<Record<string, number>> {
  const text = await (await fetch(server!.url.replace(/\/graphql$/, '/metrics'))).text();
  return Object.fromEntries(
    [...text.matchAll(/^ipdr_rate_limit_shared\{limit="(\w+)"\} (\d)$/gm)].map((match) => [
      match[1]!,
      Number(match[2]),
    ]),
  );
}

const logLines = (message: string) =>
  server!
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{') && line.includes(`"msg":"${message}`))
    .map((line) => JSON.parse(line) as { keyPrefix?: string });

describe('rate limits in production with a Redis that stops answering', () => {
  it('shares counters, counts in memory at once when Redis stalls, and shares them again when it answers', async () => {
    // The server connects to Redis in the background: wait for it, bounded.
    const connectedBy = Date.now() + RECOVERY_WITHIN_MS;
    while ((await sharedGauge()).requests !== 1 && Date.now() < connectedBy)
      await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await sharedGauge()).toEqual({ requests: 1, auth_failures: 1 });

    // Shared: every request is a point in Redis, and so is every failed authentication.
    const beforeStall = await sequence(ADMIN_TOKEN, 20);
    expect(beforeStall.map((answer) => answer.status)).toEqual(Array(20).fill(200));
    expect(await counter('ipdr-rate')).toBe(20);
    const refusedBefore = await sequence('wrong-token-0123456789abcdef', 5);
    expect(refusedBefore.map((answer) => answer.status)).toEqual(Array(5).fill(401));
    expect(await counter('ipdr-auth-failures')).toBe(5);

    redisServer!.kill('SIGSTOP');
    const stalled = await sequence(ADMIN_TOKEN, 20);
    const refusedStalled = await sequence('wrong-token-0123456789abcdef', 5);
    expect(stalled.map((answer) => answer.status)).toEqual(Array(20).fill(200));
    expect(refusedStalled.map((answer) => answer.status)).toEqual(Array(5).fill(401));
    // Only the first request of each limiter may wait for Redis' command timeout. Had every
    // request waited, these would take 10 s and 2.5 s (or twice that: a failed authentication
    // asks Redis twice); the bound allows the one wait, twice the same requests' time before the
    // stall and 2 s more for load.
    expect(
      total(stalled),
      `with Redis stalled: ${list(stalled)} ms; before: ${list(beforeStall)} ms`,
    ).toBeLessThanOrEqual(COMMAND_TIMEOUT_MS + 2 * total(beforeStall) + 2_000);
    expect(
      total(refusedStalled),
      `with Redis stalled: ${list(refusedStalled)} ms; before: ${list(refusedBefore)} ms`,
    ).toBeLessThanOrEqual(COMMAND_TIMEOUT_MS + 2 * total(refusedBefore) + 2_000);
    expect(await sharedGauge()).toEqual({ requests: 0, auth_failures: 0 });
    const unreachable = logLines('rate limit store unreachable');
    expect(unreachable.map((line) => line.keyPrefix).sort()).toEqual(['ipdr-auth-failures', 'ipdr-rate']);

    redisServer!.kill('SIGCONT');
    const recoveredBy = Date.now() + RECOVERY_WITHIN_MS;
    let gauge = await sharedGauge();
    while ((gauge.requests !== 1 || gauge.auth_failures !== 1) && Date.now() < recoveredBy) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      gauge = await sharedGauge();
    }
    expect(gauge, `not shared again within ${RECOVERY_WITHIN_MS} ms`).toEqual({ requests: 1, auth_failures: 1 });
    // Counted in Redis again. (The commands that timed out were carried out when Redis resumed.)
    const points = await counter('ipdr-rate');
    const failures = await counter('ipdr-auth-failures');
    expect((await sequence(ADMIN_TOKEN, 5)).map((answer) => answer.status)).toEqual(Array(5).fill(200));
    expect((await sequence('wrong-token-0123456789abcdef', 3)).map((answer) => answer.status)).toEqual([401, 401, 401]);
    expect(await counter('ipdr-rate')).toBe(points + 5);
    expect(await counter('ipdr-auth-failures')).toBe(failures + 3);
    // The outage ends, once per limiter, when a command is answered (an answered PING only lets
    // commands be tried again).
    expect(
      logLines('rate limit store reachable again')
        .map((line) => line.keyPrefix)
        .sort(),
    ).toEqual(['ipdr-auth-failures', 'ipdr-rate']);
    // One outage, one warning per limiter.
    expect(logLines('rate limit store unreachable')).toHaveLength(2);
  });
});
