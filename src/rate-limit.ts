import { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { env } from './env.js';
import { logger } from './logger.js';

export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

export interface RateLimiter {
  /** Counts one event for `key` and says whether it is within the limit. */
  take(key: string): Promise<RateDecision>;
  /** Whether `key` has already used up its limit, without counting anything. */
  check(key: string): Promise<RateDecision>;
  /** Whether counters are shared through Redis right now (false while it is unreachable). */
  shared(): boolean;
  close(): Promise<void>;
}

export interface RateLimitSettings {
  perMinute: number;
  /** With Redis every instance draws from the same counters. */
  redisUrl?: string | undefined;
  /** Keeps the counters of different limits apart in Redis. */
  keyPrefix?: string;
  /** Longest wait between attempts to reach Redis again. */
  reconnectMaxDelayMs?: number;
  /** How long one Redis command may take before the request counts locally instead. */
  commandTimeoutMs?: number;
}

const retryAfter = (res: RateLimiterRes) => Math.max(1, Math.ceil(res.msBeforeNext / 1000));

/**
 * Redis must never hold a request up: commands are sent only while the connection is ready, are
 * neither queued nor retried, and give up after a short timeout. Reconnection happens in the
 * background with backoff, and counting moves back to Redis once it answers.
 */
function connectRedis(url: string, settings: RateLimitSettings): Redis {
  const maxDelay = settings.reconnectMaxDelayMs ?? 5_000;
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: settings.commandTimeoutMs ?? 500,
    connectTimeout: 1_000,
    retryStrategy: (attempt) => Math.min(100 * 2 ** Math.min(attempt, 10), maxDelay),
  });
  // Reconnection fails once per attempt: say so once per outage, not once per attempt.
  let down = false;
  redis.on('error', (error) => {
    if (down) return;
    down = true;
    logger.warn({ err: error }, 'rate limit store unreachable; counting in memory until it answers');
  });
  redis.on('ready', () => {
    if (!down) return;
    down = false;
    logger.info('rate limit store reachable again; counters are shared');
  });
  return redis;
}

export function createRateLimiter(settings: RateLimitSettings): RateLimiter {
  if (settings.perMinute === 0) {
    return {
      take: async () => ({ allowed: true }),
      check: async () => ({ allowed: true }),
      shared: () => false,
      close: async () => {},
    };
  }
  const window = { points: settings.perMinute, duration: 60 };
  const memory = new RateLimiterMemory(window);
  const redis = settings.redisUrl ? connectRedis(settings.redisUrl, settings) : null;
  const store = redis
    ? new RateLimiterRedis({ ...window, storeClient: redis, keyPrefix: settings.keyPrefix ?? 'ipdr-rate' })
    : null;
  const shared = () => redis?.status === 'ready';

  // While Redis is unreachable each instance counts on its own, rather than refusing everyone.
  async function withStore<T>(use: (limiter: RateLimiterMemory | RateLimiterRedis) => Promise<T>): Promise<T> {
    if (store && shared()) {
      try {
        return await use(store);
      } catch (error) {
        if (error instanceof RateLimiterRes) throw error;
        logger.debug({ err: error }, 'rate limit store failed a command; counting in memory');
      }
    }
    return use(memory);
  }

  return {
    async take(key) {
      try {
        await withStore((limiter) => limiter.consume(key));
        return { allowed: true };
      } catch (rejection) {
        if (!(rejection instanceof RateLimiterRes)) throw rejection;
        return { allowed: false, retryAfterSeconds: retryAfter(rejection) };
      }
    },
    async check(key) {
      const used = await withStore((limiter) => limiter.get(key));
      if (used === null || used.consumedPoints < settings.perMinute) return { allowed: true };
      return { allowed: false, retryAfterSeconds: retryAfter(used) };
    },
    shared,
    async close() {
      redis?.disconnect();
    },
  };
}

/** Requests per API token. */
export const rateLimiter = createRateLimiter({ perMinute: env.RATE_LIMIT_PER_MINUTE, redisUrl: env.REDIS_URL });

/** Failed authentications per client address: guessing tokens costs the guesser, not the server. */
export const authFailureLimiter = createRateLimiter({
  perMinute: env.AUTH_FAILURES_PER_MINUTE,
  redisUrl: env.REDIS_URL,
  keyPrefix: 'ipdr-auth-failures',
});
