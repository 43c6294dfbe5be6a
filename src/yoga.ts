import { createYoga } from 'graphql-yoga';
import { type RequestContext, createRequestContext } from './context.js';
import { env } from './env.js';
import { schema } from './schema/index.js';

/** The whole HTTP application, not listening: tests call `yoga.fetch`, server.ts serves it. */
export const yoga = createYoga<Record<string, never>, RequestContext>({
  schema,
  context: createRequestContext,
  graphqlEndpoint: '/graphql',
  landingPage: false,
  graphiql: env.NODE_ENV !== 'production',
  // Unexpected errors reach callers as "Unexpected error." with no detail; typed results carry
  // the expected failures.
  maskedErrors: true,
  logging: env.NODE_ENV === 'test' ? false : 'info',
});
