import { useEngine } from '@envelop/core';
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { useDisableIntrospection } from '@graphql-yoga/plugin-disable-introspection';
import { type YogaServerInstance, createYoga } from 'graphql-yoga';
import { type RequestContext, type ServerContext, createRequestContext, useAuthentication } from './context.js';
import { env } from './env.js';
import { useBodyLimit } from './http/body-limit.js';
import { useCostLimit } from './http/cost-limit.js';
import { executeWithRequestErrorStatus } from './http/execute.js';
import { useOfflineGraphiQL } from './http/graphiql.js';
import { useOperations } from './http/operations.js';
import { useRequestTimeout } from './http/request-timeout.js';
import { useResponseLimit } from './http/response-limit.js';
import { logger } from './logger.js';
import { useRestApi } from './rest/handler.js';
import { schema } from './schema/index.js';
import { MAX_LOOKUPS } from './store/lookups.js';

const production = env.NODE_ENV === 'production';

/** The whole HTTP application, not listening: tests call `yoga.fetch`, server.ts serves it. */
export const yoga: YogaServerInstance<ServerContext, RequestContext> = createYoga<ServerContext, RequestContext>({
  schema,
  context: createRequestContext,
  graphqlEndpoint: '/graphql',
  // Bodies are bounded before Yoga reads them: see http/body-limit.ts.
  maxRequestBodySize: false,
  healthCheckEndpoint: '/health',
  landingPage: false,
  // Served by useOfflineGraphiQL below: Yoga's own page loads GraphiQL from a CDN.
  graphiql: false,
  // Unexpected errors reach callers as "Unexpected error."; typed results carry the expected ones.
  // Never with the original error attached (Yoga's development mode does): no stack or server path in a response.
  maskedErrors: { isDev: false },
  logging: logger,
  plugins: [
    // Queries run on graphql-js' own executor, not Yoga's default (graphql-tools'), which copies
    // every input object of the variables into a null-prototype object before coercing it: for
    // whoHadMany's 10,000 lookups that copy made coercion cost 31 ms instead of 19 (measured on
    // the variables alone). Nothing here uses what that executor adds (@defer, @stream).
    useEngine({ execute: executeWithRequestErrorStatus }),
    // After useEngine (it wraps the executor useEngine sets) and before useOperations (whose
    // log line and headers must see the response that is sent).
    useRequestTimeout(env.REQUEST_TIMEOUT_MS),
    useResponseLimit(env.MAX_RESPONSE_BYTES),
    useOperations(),
    // Before the query is parsed: callers without a valid token learn nothing of the schema.
    useAuthentication(),
    useBodyLimit(env.BODY_LIMIT_BYTES),
    useRestApi(() => yoga),
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
