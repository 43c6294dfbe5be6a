import { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { env } from './env.js';
import { logger } from './logger.js';

export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

export interface RateLimiter {
  /** Counts one request for `key` (a token id) and says whether it may go ahead. */
  take(key: string): Promise<RateDecision>;
  close(): Promise<void>;
}

export interface RateLimitSettings {
  perMinute: number;
  /** With Redis every instance draws from the same counters. */
  redisUrl?: string | undefined;
}

export function createRateLimiter(settings: RateLimitSettings): RateLimiter {
  if (settings.perMinute === 0) return { take: async () => ({ allowed: true }), close: async () => {} };
  const window = { points: settings.perMinute, duration: 60 };
  const memory = new RateLimiterMemory(window);
  const redis = settings.redisUrl
    ? new Redis(settings.redisUrl, { maxRetriesPerRequest: 1, connectTimeout: 1000 })
    : null;
  // While Redis is unreachable each instance counts on its own, rather than refusing everyone.
  const limiter = redis
    ? new RateLimiterRedis({ ...window, storeClient: redis, keyPrefix: 'ipdr-rate', insuranceLimiter: memory })
    : memory;
  redis?.on('error', (error) => logger.warn({ err: error }, 'rate limit store unreachable; counting in memory'));
  return {
    async take(key) {
      try {
        await limiter.consume(key);
        return { allowed: true };
      } catch (rejection) {
        if (!(rejection instanceof RateLimiterRes)) throw rejection;
        return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(rejection.msBeforeNext / 1000)) };
      }
    },
    async close() {
      redis?.disconnect();
    },
  };
}

export const rateLimiter = createRateLimiter({ perMinute: env.RATE_LIMIT_PER_MINUTE, redisUrl: env.REDIS_URL });
