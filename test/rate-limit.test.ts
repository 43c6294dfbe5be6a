import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { type RateLimiter, createRateLimiter } from '../src/access/rate-limit.js';
import { createLogger } from '../src/logger.js';
import { freePort, startRedis, stopRedis } from './redis-server.js';

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

  it('logs one outage, not one per probe, while Redis answers PING but refuses writes, and its end once a command is answered', async () => {
    const port = await freePort();
    // Past maxmemory with nothing to evict, Redis refuses every write (-OOM) but answers PING.
    const redis = await startRedis(port, ['--maxmemory', '1', '--maxmemory-policy', 'noeviction']);
    const lines: { msg: string; keyPrefix?: string }[] = [];
    const captured = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
    const keyPrefix = `oom-${randomUUID()}`;
    const limiter = createRateLimiter({
      logger: captured,
      perMinute: 1_000,
      redisUrl: `redis://127.0.0.1:${port}`,
      keyPrefix,
      reconnectMaxDelayMs: 200,
    });
    const client = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 1 });
    const outages = () => lines.filter((line) => /unreachable/.test(line.msg));
    const recoveries = () => lines.filter((line) => /reachable again/.test(line.msg));
    try {
      expect(await client.ping()).toBe('PONG');
      await expect(client.incr('probe')).rejects.toThrow(/^OOM /);
      await untilShared(limiter);
      // Requests for 3 s, while the limiter's PINGs (every 0.2 s at most) keep being answered.
      const until = Date.now() + 3_000;
      let takes = 0;
      while (Date.now() < until) {
        expect((await limiter.take('caller')).allowed).toBe(true);
        takes++;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(recoveries()).toHaveLength(0);
      expect(outages()).toHaveLength(1);
      expect(outages()[0]!.keyPrefix).toBe(keyPrefix);
      // Enough requests for several probes to have been answered in between.
      expect(takes).toBeGreaterThanOrEqual(5);

      // Writes accepted again: the next command answered ends the outage, once.
      await client.config('SET', 'maxmemory', '0');
      const deadline = Date.now() + 8_000;
      while (recoveries().length === 0 && Date.now() < deadline) {
        await limiter.take('caller');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      for (let i = 0; i < 10; i++) await limiter.take('caller');
      expect(recoveries()).toHaveLength(1);
      expect(outages()).toHaveLength(1);
      expect(limiter.shared()).toBe(true);
      expect(Number(await client.get(`${keyPrefix}:caller`))).toBeGreaterThanOrEqual(10);
    } finally {
      client.disconnect();
      await limiter.close();
      await stopRedis(redis);
    }
  });
});
