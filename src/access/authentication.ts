import { GraphQLError } from 'graphql';
import type { Plugin, YogaInitialContext } from 'graphql-yoga';
import type { RequestContext, ServerContext } from '../context.js';
import type { Db } from '../db/handle.js';
import { type ReadRouter, routeReads } from '../db/replicas.js';
import { createLoaders } from '../lookups/loaders.js';
import type { RateLimiter } from './rate-limit.js';
import { authenticate } from './store.js';
import { chooseTenant } from './tenant.js';
import type { Actor, Caller, TenantChoice } from './types.js';

export interface AuthenticationOptions {
  db: Db;
  /** Where each request's reads go (see db/replicas.ts). */
  readRouter: ReadRouter;
  /** Requests per API token. */
  rateLimiter: RateLimiter;
  /** Failed authentications per client address. */
  authFailureLimiter: RateLimiter;
  /** Behind a reverse proxy: the client address is the last one X-Forwarded-For names. */
  trustProxy: boolean;
}

function unauthenticated(message: string): GraphQLError {
  return new GraphQLError(message, {
    extensions: { code: 'UNAUTHENTICATED', http: { status: 401, headers: { 'WWW-Authenticate': 'Bearer' } } },
  });
}

function bearerToken(request: Request): string | null {
  const header = request.headers.get('authorization');
  if (header === null) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1]! : '';
}

function rateLimited(message: string, retryAfterSeconds: number): GraphQLError {
  return new GraphQLError(`${message}; retry in ${retryAfterSeconds} s`, {
    extensions: {
      code: 'RATE_LIMITED',
      http: { status: 429, headers: { 'Retry-After': String(retryAfterSeconds) } },
    },
  });
}

/**
 * Who is asking, for counting failed authentications: the socket's peer, unless the operator
 * says a proxy stands in front (TRUST_PROXY), whose own entry is the last of X-Forwarded-For.
 * Requests made in-process (tests, through yoga.fetch) have no peer and share one key.
 */
function clientAddressOf(request: Request, server: ServerContext, trustProxy: boolean): string {
  if (trustProxy) {
    const forwarded = request.headers.get('x-forwarded-for')?.split(',').pop()?.trim();
    if (forwarded) return forwarded;
  }
  return server.clientAddress ?? server.req?.socket?.remoteAddress ?? 'in-process';
}

/**
 * Authentication of every GraphQL request, and its request context, for one app: the plugin
 * authenticates before the query is parsed or validated, so that a caller without a valid token
 * learns nothing about the schema and costs no parsing; the context factory reads what it found.
 * A REST request builds its context once (rest/handler.ts), from the credentials in its body.
 */
export function createAuthentication({
  db,
  readRouter,
  rateLimiter,
  authFailureLimiter,
  trustProxy,
}: AuthenticationOptions) {
  // Who each request is, found before its query is parsed (useAuthentication) and read by the context.
  const callers = new WeakMap<Request, Caller>();

  async function authenticateRequest(request: Request, server: ServerContext): Promise<Caller> {
    const token = server.restCredentials ? server.restCredentials.token : bearerToken(request);
    const caller = token ? await authenticate(db, token) : null;
    if (!caller || (server.expectedUsername !== undefined && server.expectedUsername !== caller.username)) {
      // Only failures are counted and refused. A valid token is never held up by others' failures
      // from the same address (every client behind one proxy or NAT shares it); a guesser past the
      // limit is answered 429 for each wrong guess, at the cost of one token look-up.
      const address = clientAddressOf(request, server, trustProxy);
      const blocked = await authFailureLimiter.check(address);
      if (!blocked.allowed) {
        throw rateLimited('Too many failed authentications from this address', blocked.retryAfterSeconds);
      }
      await authFailureLimiter.take(address);
      throw unauthenticated(
        token === null ? 'Missing API token: send it as "Authorization: Bearer <token>"' : 'Invalid API token',
      );
    }

    const decision = await rateLimiter.take(String(caller.tokenId));
    if (!decision.allowed) throw rateLimited('Rate limit exceeded', decision.retryAfterSeconds);
    return caller;
  }

  async function resolveTenant(caller: Caller, requested: string | null): Promise<TenantChoice> {
    const choice = chooseTenant(caller, requested);
    if ('problem' in choice && choice.problem === 'not-allowed' && requested !== null) {
      const exists = (await db.prisma.context.count({ where: { name: requested } })) > 0;
      if (!exists) return { problem: 'unknown-context', message: `Invalid Context name - ${requested}` };
    }
    return choice;
  }

  const plugin: Plugin<RequestContext, ServerContext> = {
    async onParams({ request, context, setResult }) {
      try {
        callers.set(request, await authenticateRequest(request, context as ServerContext));
      } catch (error) {
        if (!(error instanceof GraphQLError)) throw error;
        setResult({ errors: [error] });
      }
    },
  };

  async function createRequestContext(
    initial: YogaInitialContext & ServerContext,
  ): Promise<Omit<RequestContext, 'feed'>> {
    const caller = callers.get(initial.request) ?? (await authenticateRequest(initial.request, initial));
    const requested = initial.restCredentials
      ? initial.restCredentials.context
      : initial.request.headers.get('x-context');
    const tenantChoice = await resolveTenant(caller, requested);
    const tenant = 'tenant' in tenantChoice ? tenantChoice.tenant : null;
    const actor: Actor = { name: caller.username, channel: initial.channel ?? 'graphql' };
    const reads = routeReads(readRouter);
    return {
      db,
      reads,
      caller,
      actor,
      tenantChoice,
      tenant,
      loaders: tenant ? createLoaders(reads, tenant, actor) : null,
    };
  }

  return { plugin, createRequestContext };
}
