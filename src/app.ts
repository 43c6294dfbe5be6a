import { useEngine } from '@envelop/core';
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { useDisableIntrospection } from '@graphql-yoga/plugin-disable-introspection';
import { useGraphQLSSE } from '@graphql-yoga/plugin-graphql-sse';
import { type YogaServerInstance, createYoga, maskError } from 'graphql-yoga';
import { createAuthentication } from './access/authentication.js';
import { useAttribution } from './attribution/http.js';
import type { RateLimiter } from './access/rate-limit.js';
import type { RequestContext, ServerContext } from './context.js';
import type { Db } from './db/handle.js';
import { type ReadRouter, primaryOnly } from './db/replicas.js';
import type { Env } from './env.js';
import { useBodyLimit } from './http/body-limit.js';
import { useCostLimit } from './http/cost-limit.js';
import { executeWithRequestErrorStatus } from './http/execute.js';
import { useOfflineGraphiQL } from './http/graphiql.js';
import { type Operations, createOperations } from './http/operations.js';
import { createMetrics } from './http/metrics.js';
import { useRequestTimeout } from './http/request-timeout.js';
import { useReadRouting } from './http/read-routing.js';
import { useResponseLimit } from './http/response-limit.js';
import type { Logger } from './logger.js';
import { useRestApi } from './rest/handler.js';
import { schema } from './schema/index.js';
import { expectedFailure } from './schema/input.js';
import { MAX_LOOKUPS } from './lookups/store.js';
import { type FeedBus, type FeedHub, createFeedHub } from './feed/hub.js';
import { useConsole } from './console/http.js';

// Writes committed within this time of each other share one run giving their feed positions.
const FEED_SETTLE_MS = 20;

export type Yoga = YogaServerInstance<ServerContext, RequestContext>;

/** What an app is built from; it opens, connects and reads nothing else. */
export interface AppDependencies {
  env: Env;
  db: Db;
  logger: Logger;
  /** Requests per API token. */
  rateLimiter: RateLimiter;
  /** Failed authentications per client address: guessing tokens costs the guesser, not the server. */
  authFailureLimiter: RateLimiter;
  /** Where queries read: replicas of `db` (db/replicas.ts); without it, `db` alone. */
  readRouter?: ReadRouter;
  /** Wakes the live feed's streams on every instance (Redis); without it, other instances' writes are polled. */
  feedBus?: FeedBus;
}

export interface App extends AppDependencies {
  readRouter: ReadRouter;
  /** The whole HTTP application, not listening: tests call `yoga.fetch`, main.ts serves it. */
  yoga: Yoga;
  /** The request log and metrics, which the Node handler also writes to. */
  operations: Operations;
  /** The live feed's streams and wake-ups; main closes it at shutdown. */
  feed: FeedHub;
}

/**
 * A source of data beside HTTP (RADIUS accounting over UDP, NAT syslog): main starts each after
 * the HTTP server listens and stops it at shutdown, before the database closes.
 */
export interface AppModule {
  name: string;
  start(app: App): Promise<{ stop(): Promise<void> }>;
}

export function createApp(dependencies: AppDependencies): App {
  const { env, db, logger, rateLimiter, authFailureLimiter } = dependencies;
  const readRouter = dependencies.readRouter ?? primaryOnly(db);
  const production = env.NODE_ENV === 'production';
  const authentication = createAuthentication({
    db,
    readRouter,
    rateLimiter,
    authFailureLimiter,
    trustProxy: env.TRUST_PROXY,
  });
  const metrics = createMetrics({ database: db.database, readRouter, rateLimiter, authFailureLimiter, env });
  const operations = createOperations({ db, logger, metrics });
  const feed = createFeedHub({
    db,
    logger,
    bus: dependencies.feedBus,
    pollMs: env.FEED_POLL_MS,
    settleMs: FEED_SETTLE_MS,
    maxStreamsPerToken: env.FEED_MAX_STREAMS_PER_TOKEN,
  });

  const yoga: Yoga = createYoga<ServerContext, RequestContext>({
    schema,
    context: async (initial) => ({ ...(await authentication.createRequestContext(initial)), feed }),
    graphqlEndpoint: '/graphql',
    // Bodies are bounded before Yoga reads them: see http/body-limit.ts.
    maxRequestBodySize: false,
    healthCheckEndpoint: '/health',
    landingPage: false,
    // Served by useOfflineGraphiQL below: Yoga's own page loads GraphiQL from a CDN.
    graphiql: false,
    // Unexpected errors reach callers as "Unexpected error."; typed results carry the expected ones,
    // and an expected one no typed result caught is said as NOT_FOUND or BAD_USER_INPUT.
    // Never with the original error attached (Yoga's development mode does): no stack or server path in a response.
    maskedErrors: {
      isDev: false,
      maskError: (error, message, isDev) => expectedFailure(error) ?? maskError(error, message, isDev),
    },
    logging: logger,
    plugins: [
      // Queries run on graphql-js' own executor, not Yoga's default (graphql-tools'), which copies
      // every input object of the variables into a null-prototype object before coercing it, a large
      // share of whoHadMany's coercion (BENCHMARKS.md). Nothing here uses what that executor adds
      // (@defer, @stream).
      useEngine({ execute: executeWithRequestErrorStatus }),
      // After useEngine (it wraps the executor useEngine sets) and before useOperations (whose
      // log line and headers must see the response that is sent).
      useRequestTimeout(env.REQUEST_TIMEOUT_MS),
      useReadRouting(),
      useResponseLimit(env.MAX_RESPONSE_BYTES),
      operations.plugin,
      // Before the query is parsed: callers without a valid token learn nothing of the schema.
      authentication.plugin,
      useBodyLimit(env.BODY_LIMIT_BYTES),
      // The compliance desk's console (/console): a page that calls this API as any client does.
      useConsole({ logger }),
      useRestApi({ maxResponseBytes: env.MAX_RESPONSE_BYTES, logger, nameOperation: operations.nameOperation }),
      useAttribution({ logger, rateLimiter, idleTimeoutMs: env.RECEIVE_TIMEOUT_MS }),
      // Subscriptions in the graphql-sse protocol on /graphql/stream, beside Yoga's own SSE on /graphql.
      useGraphQLSSE({ endpoint: '/graphql/stream' }),
      // No CSRF-prevention plugin: every request carries its bearer token itself, which a cross-site
      // page does not have (README, "Cross-site requests"); the plugin only refused plain GETs.
      ...((env.GRAPHIQL ?? !production)
        ? [
            useOfflineGraphiQL('/graphql', {
              title: 'IPDR gateway GraphiQL',
              // Every request needs the caller's token: the headers editor opens showing where it goes.
              headers: JSON.stringify({ Authorization: 'Bearer <your API token>' }, null, 2),
              defaultEditorToolsVisibility: 'headers',
            }),
          ]
        : []),
      ...((env.INTROSPECTION ?? !production) ? [] : [useDisableIntrospection()]),
      EnvelopArmorPlugin({
        maxDepth: { n: env.MAX_DEPTH, ignoreIntrospection: true },
        maxAliases: { n: env.MAX_ALIASES },
        // Replaced by useCostLimit below, which weighs lists by their size and sees the variables.
        costLimit: { enabled: false },
        maxTokens: { n: env.MAX_TOKENS },
        maxDirectives: { n: env.MAX_DIRECTIVES },
        blockFieldSuggestion: { enabled: true },
      }),
      useCostLimit({ maxCost: env.MAX_COST, maxLookups: MAX_LOOKUPS }),
    ],
  });
  return { ...dependencies, readRouter, yoga, operations, feed };
}
