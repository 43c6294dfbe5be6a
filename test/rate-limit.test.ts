import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createRateLimiter } from '../src/rate-limit.js';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

async function takeTimes(limiter: ReturnType<typeof createRateLimiter>, key: string, times: number) {
  const decisions = [];
  for (let i = 0; i < times; i++) decisions.push(await limiter.take(key));
  return decisions.map((decision) => decision.allowed);
}

describe('rate limiter', () => {
  it('allows the configured requests per minute for each key, in memory', async () => {
    const limiter = createRateLimiter({ perMinute: 3 });
    expect(await takeTimes(limiter, 'a', 4)).toEqual([true, true, true, false]);
    expect(await takeTimes(limiter, 'b', 1)).toEqual([true]);
    const refused = await limiter.take('a');
    expect(refused).toMatchObject({ allowed: false });
    if (!refused.allowed) expect(refused.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    await limiter.close();
  });

  it('is off at 0', async () => {
    const limiter = createRateLimiter({ perMinute: 0 });
    expect((await takeTimes(limiter, 'a', 50)).every(Boolean)).toBe(true);
  });

  it('shares counters between instances through Redis', async () => {
    const first = createRateLimiter({ perMinute: 4, redisUrl: REDIS_URL });
    const second = createRateLimiter({ perMinute: 4, redisUrl: REDIS_URL });
    const key = `test-${randomUUID()}`;
    try {
      expect(await takeTimes(first, key, 2)).toEqual([true, true]);
      expect(await takeTimes(second, key, 3)).toEqual([true, true, false]);
      expect(await takeTimes(first, key, 1)).toEqual([false]);
    } finally {
      await first.close();
      await second.close();
    }
  });

  it('keeps limiting, per instance, while Redis is unreachable', async () => {
    const limiter = createRateLimiter({ perMinute: 2, redisUrl: 'redis://127.0.0.1:1' });
    try {
      expect(await takeTimes(limiter, 'k', 3)).toEqual([true, true, false]);
    } finally {
      await limiter.close();
    }
  });
});
