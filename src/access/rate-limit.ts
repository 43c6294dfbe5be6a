import { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { Logger } from '../logger.js';

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
  /** Told when Redis stops or starts answering. */
  logger: Logger;
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

/** First wait before probing a Redis that failed a command; it doubles up to the reconnection's longest wait. */
const FIRST_PROBE_DELAY_MS = 100;

interface SharedStore {
  redis: Redis;
  /** Whether commands may be sent to Redis now: connected, and none has failed since it last answered. */
  usable(): boolean;
  /** A command was answered: counters are shared again, and the next outage's probes start from the shortest wait. */
  answered(): void;
  /** A command failed or timed out: count in memory from now on, until a probe is answered. */
  failed(error: unknown): void;
  close(): void;
}

/**
 * Redis must never hold a request up: commands are sent only while the connection is ready, are
 * neither queued nor retried, and give up after a short timeout. Reconnection happens in the
 * background with backoff, and counting moves back to Redis once it answers.
 *
 * A Redis that is stopped or cut off without its connection closing stays "ready" to ioredis, so
 * every command would wait for the timeout. The first command that fails therefore moves counting
 * into memory for every request, and only a background PING, one at a time with backoff, lets
 * commands be tried again once Redis answers; the outage is over when one of them is answered.
 */
function connectRedis(url: string, keyPrefix: string, settings: RateLimitSettings): SharedStore {
  const { logger } = settings;
  const maxDelay = settings.reconnectMaxDelayMs ?? 5_000;
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: settings.commandTimeoutMs ?? 500,
    connectTimeout: 1_000,
    retryStrategy: (attempt) => Math.min(100 * 2 ** Math.min(attempt, 10), maxDelay),
  });

  // Reconnection fails once per attempt: say so once per outage, not once per attempt. An outage
  // ends when a command is answered: a Redis may answer PING and a new connection's check while
  // it refuses every write (-OOM, -MISCONF, -READONLY), and that is still one outage.
  let down = false;
  // A command failed on a connection that ioredis may still call ready.
  let failing = false;
  let closed = false;
  const wentDown = (error: unknown) => {
    if (down) return;
    down = true;
    logger.warn({ err: error, keyPrefix }, 'rate limit store unreachable; counting in memory until it answers');
  };
  // Redis answers again: commands may be tried, which alone tell whether counting is shared again.
  const mayTryAgain = () => {
    failing = false;
  };
  const commandAnswered = () => {
    if (!down) return;
    down = false;
    logger.info({ keyPrefix }, 'rate limit store reachable again; counters are shared');
  };

  // Kept from one outage to the next until a command is answered, so that a Redis which answers
  // PING but fails every command is tried at the longest wait, not ten times a second.
  let probeDelay = FIRST_PROBE_DELAY_MS;
  let probing = false;
  let probeTimer: NodeJS.Timeout | undefined;
  let wakeProbe: (() => void) | undefined;
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      wakeProbe = resolve;
      probeTimer = setTimeout(resolve, ms);
      probeTimer.unref();
    });

  async function probe() {
    if (probing) return;
    probing = true;
    try {
      while (failing && !closed) {
        await pause(probeDelay);
        probeDelay = Math.min(probeDelay * 2, maxDelay);
        if (!failing || closed) break;
        try {
          // Without a connection this fails at once; on a stalled one it times out like any command.
          await redis.ping();
          if (!closed) mayTryAgain();
        } catch {
          // Still failing: wait longer and try again.
        }
      }
    } finally {
      probing = false;
      probeTimer = undefined;
      wakeProbe = undefined;
    }
  }

  redis.on('error', wentDown);
  // Ready means Redis answered ioredis' own check on a new connection.
  redis.on('ready', mayTryAgain);

  return {
    redis,
    usable: () => !failing && !closed && redis.status === 'ready',
    answered() {
      probeDelay = FIRST_PROBE_DELAY_MS;
      commandAnswered();
    },
    failed(error) {
      if (closed) return;
      logger.debug({ err: error, keyPrefix }, 'rate limit store failed a command; counting in memory');
      wentDown(error);
      failing = true;
      void probe();
    },
    close() {
      closed = true;
      clearTimeout(probeTimer);
      wakeProbe?.();
      redis.disconnect();
    },
  };
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
  const keyPrefix = settings.keyPrefix ?? 'ipdr-rate';
  const shared = settings.redisUrl ? connectRedis(settings.redisUrl, keyPrefix, settings) : null;
  const store = shared ? new RateLimiterRedis({ ...window, storeClient: shared.redis, keyPrefix }) : null;

  // While Redis is unreachable each instance counts on its own, rather than refusing everyone.
  async function withStore<T>(use: (limiter: RateLimiterMemory | RateLimiterRedis) => Promise<T>): Promise<T> {
    if (store && shared?.usable()) {
      try {
        const result = await use(store);
        shared.answered();
        return result;
      } catch (error) {
        if (error instanceof RateLimiterRes) {
          shared.answered();
          throw error;
        }
        shared.failed(error);
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
    shared: () => shared?.usable() ?? false,
    async close() {
      shared?.close();
    },
  };
}
