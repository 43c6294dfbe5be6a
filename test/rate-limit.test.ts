import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { type RateLimiter, createRateLimiter } from '../src/access/rate-limit.js';
import { createLogger } from '../src/logger.js';

const logger = createLogger({ NODE_ENV: 'test' });

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

async function takeTimes(limiter: ReturnType<typeof createRateLimiter>, key: string, times: number) {
  const decisions = [];
  for (let i = 0; i < times; i++) decisions.push(await limiter.take(key));
  return decisions.map((decision) => decision.allowed);
}

/** Waits, bounded, until the limiter counts in Redis. */
async function untilShared(limiter: RateLimiter, within = 8_000) {
  const deadline = Date.now() + within;
  while (!limiter.shared()) {
    if (Date.now() > deadline) throw new Error('the limiter did not reach Redis');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Each take, timed: none may wait on Redis. */
async function timedTakes(limiter: RateLimiter, key: string, times: number) {
  const allowed: boolean[] = [];
  let slowest = 0;
  for (let i = 0; i < times; i++) {
    const started = performance.now();
    allowed.push((await limiter.take(key)).allowed);
    slowest = Math.max(slowest, performance.now() - started);
  }
  return { allowed, slowest };
}

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

/** A Redis of the test's own, on 127.0.0.1, keeping nothing on disk. */
async function startRedis(port: number): Promise<ChildProcess> {
  const redis = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${output}`)), 10_000);
    redis.stdout!.on('data', (chunk) => {
      output += chunk;
      if (/Ready to accept connections/i.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    });
    redis.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${output}`)));
  });
  return redis;
}

async function stopRedis(redis: ChildProcess) {
  if (redis.exitCode !== null || redis.signalCode !== null) return;
  const exited = once(redis, 'exit');
  redis.kill('SIGKILL');
  await exited;
}

describe('rate limiter', () => {
  it('allows the configured requests per minute for each key, in memory', async () => {
    const limiter = createRateLimiter({ logger, perMinute: 3 });
    expect(await takeTimes(limiter, 'a', 4)).toEqual([true, true, true, false]);
    expect(await takeTimes(limiter, 'b', 1)).toEqual([true]);
    const refused = await limiter.take('a');
    expect(refused).toMatchObject({ allowed: false });
    if (!refused.allowed) expect(refused.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    await limiter.close();
  });

  it('is off at 0', async () => {
    const limiter = createRateLimiter({ logger, perMinute: 0 });
    expect((await takeTimes(limiter, 'a', 50)).every(Boolean)).toBe(true);
  });

  it('shares counters between instances through Redis', async () => {
    const first = createRateLimiter({ logger, perMinute: 4, redisUrl: REDIS_URL });
    const second = createRateLimiter({ logger, perMinute: 4, redisUrl: REDIS_URL });
    const key = `test-${randomUUID()}`;
    try {
      await untilShared(first);
      await untilShared(second);
      expect(await takeTimes(first, key, 2)).toEqual([true, true]);
      expect(await takeTimes(second, key, 3)).toEqual([true, true, false]);
      expect(await takeTimes(first, key, 1)).toEqual([false]);
    } finally {
      await first.close();
      await second.close();
    }
  });

  it('keeps limiting, per instance and without waiting, while Redis is unreachable', async () => {
    const port = await freePort();
    const limiter = createRateLimiter({ logger, perMinute: 30, redisUrl: `redis://127.0.0.1:${port}` });
    try {
      // Spread over more than one reconnection attempt: none of them holds a request up.
      const first = await timedTakes(limiter, 'k', 10);
      await new Promise((resolve) => setTimeout(resolve, 1_200));
      const later = await timedTakes(limiter, 'k', 25);
      expect(limiter.shared()).toBe(false);
      expect(first.allowed.every(Boolean)).toBe(true);
      expect(later.allowed.filter(Boolean)).toHaveLength(20);
      expect(later.allowed.slice(20).some(Boolean)).toBe(false);
      expect(Math.max(first.slowest, later.slowest)).toBeLessThan(1_000);
      expect((await limiter.check('k')).allowed).toBe(false);
    } finally {
      await limiter.close();
    }
  });

  it('counts locally at once when Redis stops mid-run, and in Redis again when it is back', async () => {
    const port = await freePort();
    let redis = await startRedis(port);
    const settings = { logger, perMinute: 6, redisUrl: `redis://127.0.0.1:${port}`, reconnectMaxDelayMs: 300 };
    const first = createRateLimiter(settings);
    const second = createRateLimiter(settings);
    try {
      await untilShared(first);
      await untilShared(second);
      const before = `before-${randomUUID()}`;
      expect(await takeTimes(first, before, 3)).toEqual([true, true, true]);
      expect(await takeTimes(second, before, 4)).toEqual([true, true, true, false]);

      await stopRedis(redis);
      // Each instance now counts on its own, from nothing: 6 more each, then refused.
      const during = `during-${randomUUID()}`;
      const a = await timedTakes(first, during, 7);
      const b = await timedTakes(second, during, 7);
      expect(a.allowed).toEqual([true, true, true, true, true, true, false]);
      expect(b.allowed).toEqual([true, true, true, true, true, true, false]);
      expect(Math.max(a.slowest, b.slowest)).toBeLessThan(1_000);
      // ioredis sees the connection gone soon after (the answers above did not wait for that).
      const deadline = Date.now() + 5_000;
      while (first.shared() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(first.shared()).toBe(false);

      redis = await startRedis(port);
      await untilShared(first);
      await untilShared(second);
      const after = `after-${randomUUID()}`;
      expect(await takeTimes(first, after, 4)).toEqual([true, true, true, true]);
      expect(await takeTimes(second, after, 3)).toEqual([true, true, false]);
    } finally {
      await first.close();
      await second.close();
      await stopRedis(redis);
    }
  });

  it('stops waiting at the first command a stalled Redis leaves unanswered, and shares counters again once it answers', async () => {
    const port = await freePort();
    const redis = await startRedis(port);
    const commandTimeoutMs = 500;
    const settings = {
      logger,
      perMinute: 4,
      redisUrl: `redis://127.0.0.1:${port}`,
      reconnectMaxDelayMs: 300,
      commandTimeoutMs,
    };
    const first = createRateLimiter(settings);
    const second = createRateLimiter(settings);
    try {
      await untilShared(first);
      await untilShared(second);
      const before = `before-${randomUUID()}`;
      expect(await takeTimes(first, before, 2)).toEqual([true, true]);
      expect(await takeTimes(second, before, 3)).toEqual([true, true, false]);

      // Stopped, Redis keeps its connection open: ioredis still calls it ready.
      redis.kill('SIGSTOP');
      const during = `during-${randomUUID()}`;
      const stalled = await timedTakes(first, during, 1);
      expect(stalled.slowest).toBeGreaterThanOrEqual(commandTimeoutMs - 50);
      expect(first.shared()).toBe(false);
      // Had each waited for the timeout, these 19 would take 9.5 s; counted in memory they take next to nothing.
      const started = performance.now();
      const rest = await timedTakes(first, during, 19);
      const elapsed = performance.now() - started;
      expect(elapsed, `19 takes after the first failure took ${Math.round(elapsed)} ms`).toBeLessThan(
        4 * commandTimeoutMs,
      );
      // In memory, from nothing: the first take above was the first point.
      expect(rest.allowed).toEqual([true, true, true, ...Array(16).fill(false)]);
      expect(first.shared()).toBe(false);

      redis.kill('SIGCONT');
      await untilShared(first);
      await untilShared(second);
      const after = `after-${randomUUID()}`;
      expect(await takeTimes(first, after, 2)).toEqual([true, true]);
      expect(await takeTimes(second, after, 3)).toEqual([true, true, false]);
    } finally {
      await first.close();
      await second.close();
      await stopRedis(redis);
    }
  });
});
