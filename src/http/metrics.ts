import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RateLimiter } from '../access/rate-limit.js';
import type { Database } from '../db/connection.js';
import type { ReadRouter } from '../db/replicas.js';
import type { Env } from '../env.js';

export interface MetricSources {
  database: Database;
  readRouter: ReadRouter;
  rateLimiter: RateLimiter;
  authFailureLimiter: RateLimiter;
  env: Pick<Env, 'REDIS_URL' | 'RATE_LIMIT_PER_MINUTE' | 'AUTH_FAILURES_PER_MINUTE'>;
}

export type Metrics = ReturnType<typeof createMetrics>;

/** Prometheus metrics of one app, served at /metrics. */
export function createMetrics({ database, readRouter, rateLimiter, authFailureLimiter, env }: MetricSources) {
  const metrics = new Registry();
  collectDefaultMetrics({ register: metrics, prefix: 'ipdr_' });

  const requestsTotal = new Counter({
    name: 'ipdr_http_requests_total',
    help: 'HTTP requests by GraphQL operation and status',
    labelNames: ['operation', 'status'] as const,
    registers: [metrics],
  });

  const requestDuration = new Histogram({
    name: 'ipdr_http_request_duration_seconds',
    help: 'HTTP request latency by GraphQL operation',
    labelNames: ['operation'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [metrics],
  });

  const graphqlErrors = new Counter({
    name: 'ipdr_graphql_errors_total',
    help: 'GraphQL errors in responses, by operation and error code',
    labelNames: ['operation', 'code'] as const,
    registers: [metrics],
  });

  new Gauge({
    name: 'ipdr_db_pool_connections',
    help: 'PostgreSQL pool connections by state (absent on the embedded database)',
    labelNames: ['state'] as const,
    registers: [metrics],
    collect() {
      const stats = database.poolStats();
      if (!stats) return;
      this.set({ state: 'total' }, stats.total);
      this.set({ state: 'idle' }, stats.idle);
      this.set({ state: 'waiting' }, stats.waiting);
    },
  });

  new Gauge({
    name: 'ipdr_db_replica_usable',
    help: 'Whether lookups read from a replica (1) or skip it (0: down, not a standby, or behind); absent without replicas',
    labelNames: ['replica'] as const,
    registers: [metrics],
    collect() {
      for (const replica of readRouter.health()) this.set({ replica: replica.name }, Number(replica.usable));
    },
  });

  new Gauge({
    name: 'ipdr_db_replica_lag_seconds',
    help: 'How far a replica was behind the primary when last probed; absent while that is not known',
    labelNames: ['replica'] as const,
    registers: [metrics],
    collect() {
      this.reset();
      for (const replica of readRouter.health())
        if (replica.lagSeconds !== null) this.set({ replica: replica.name }, replica.lagSeconds);
    },
  });

  new Gauge({
    name: 'ipdr_rate_limit_shared',
    help: 'Whether a rate limit counts through Redis (1) or, while Redis fails, in memory (0); absent without REDIS_URL',
    labelNames: ['limit'] as const,
    registers: [metrics],
    collect() {
      if (!env.REDIS_URL) return;
      if (env.RATE_LIMIT_PER_MINUTE > 0) this.set({ limit: 'requests' }, Number(rateLimiter.shared()));
      if (env.AUTH_FAILURES_PER_MINUTE > 0) this.set({ limit: 'auth_failures' }, Number(authFailureLimiter.shared()));
    },
  });

  return { registry: metrics, requestsTotal, requestDuration, graphqlErrors };
}
