import type { IncomingMessage } from 'node:http';
import { GraphQLError } from 'graphql';
import type { Plugin, YogaInitialContext } from 'graphql-yoga';
import { prisma } from './db.js';
import { env } from './env.js';
import { createLoaders, type Loaders } from './loaders.js';
import { authFailureLimiter, rateLimiter } from './rate-limit.js';
import { type Caller, authenticate } from './store/access.js';
import { type TenantAccess, type TenantChoice, chooseTenant } from './tenant-access.js';

export type Channel = 'graphql' | 'rest' | 'cli';

/** Who acted, as the audit trail records it. */
export interface Actor {
  name: string;
  channel: Channel;
}

/** What the server adds to a request: the REST layer marks its requests as such. */
export interface ServerContext {
  channel?: Channel;
  /** Trisul's API sends a username beside the token; it must be the token's user. */
  expectedUsername?: string;
  /** A GET whose parameters came in a body (see http/node-handler.ts). */
  restMethod?: 'GET';
  /** The REST request a GraphQL request is run for: it is logged and counted as part of that one. */
  outerRequest?: Request;
  /** The peer's address, for requests the server hands to Yoga itself (it has no socket then). */
  clientAddress?: string;
  /** Yoga's Node adapter passes the Node request. */
  req?: IncomingMessage;
}

/** Built fresh for every request. */
export interface RequestContext {
  caller: Caller;
  actor: Actor;
  tenantChoice: TenantChoice;
  /** The context this request acts in, if one could be chosen; read it through `tenantOf`. */
  tenant: TenantAccess | null;
  loaders: Loaders | null;
}

// Envelop copies the context object, so these are plain values and the checks are functions.

const noTenant = (ctx: RequestContext) =>
  forbidden('problem' in ctx.tenantChoice ? ctx.tenantChoice.message : 'No context was chosen');

/** The request's context; only fields whose scopes guarantee one call this. */
export function tenantOf(ctx: RequestContext): TenantAccess {
  if (ctx.tenant === null) throw noTenant(ctx);
  return ctx.tenant;
}

export function loadersOf(ctx: RequestContext): Loaders {
  if (ctx.loaders === null) throw noTenant(ctx);
  return ctx.loaders;
}

export function forbidden(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'FORBIDDEN', http: { status: 403 } } });
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
export function clientAddressOf(request: Request, server: ServerContext): string {
  if (env.TRUST_PROXY) {
    const forwarded = request.headers.get('x-forwarded-for')?.split(',').pop()?.trim();
    if (forwarded) return forwarded;
  }
  return server.clientAddress ?? server.req?.socket?.remoteAddress ?? 'in-process';
}

// Who each request is, found before its query is parsed (useAuthentication) and read by the context.
const callers = new WeakMap<Request, Caller>();
// A REST request runs one GraphQL request per page: it is authenticated and counted once.
const restCallers = new WeakMap<Request, Caller>();

async function authenticateRequest(request: Request, server: ServerContext): Promise<Caller> {
  const outer = server.outerRequest;
  const known = outer && restCallers.get(outer);
  if (known) return known;

  const token = bearerToken(request);
  const caller = token ? await authenticate(token) : null;
  if (!caller || (server.expectedUsername !== undefined && server.expectedUsername !== caller.username)) {
    // Only failures are counted and refused. A valid token is never held up by others' failures
    // from the same address (every client behind one proxy or NAT shares it); a guesser past the
    // limit is answered 429 for each wrong guess, at the cost of one token look-up.
    const address = clientAddressOf(outer ?? request, server);
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
  if (outer) restCallers.set(outer, caller);
  return caller;
}

/**
 * Authenticates every GraphQL request before its query is parsed or validated, so that a caller
 * without a valid token learns nothing about the schema and costs no parsing.
 */
export function useAuthentication(): Plugin<RequestContext, ServerContext> {
  return {
    async onParams({ request, context, setResult }) {
      try {
        callers.set(request, await authenticateRequest(request, context as ServerContext));
      } catch (error) {
        if (!(error instanceof GraphQLError)) throw error;
        setResult({ errors: [error] });
      }
    },
  };
}

async function resolveTenant(caller: Caller, requested: string | null): Promise<TenantChoice> {
  const choice = chooseTenant(caller, requested);
  if ('problem' in choice && choice.problem === 'not-allowed' && requested !== null) {
    const exists = (await prisma.context.count({ where: { name: requested } })) > 0;
    if (!exists) return { problem: 'unknown-context', message: `Invalid Context name - ${requested}` };
  }
  return choice;
}

export async function createRequestContext(initial: YogaInitialContext & ServerContext): Promise<RequestContext> {
  const caller = callers.get(initial.request) ?? (await authenticateRequest(initial.request, initial));
  const tenantChoice = await resolveTenant(caller, initial.request.headers.get('x-context'));
  const tenant = 'tenant' in tenantChoice ? tenantChoice.tenant : null;
  const actor: Actor = { name: caller.username, channel: initial.channel ?? 'graphql' };
  return { caller, actor, tenantChoice, tenant, loaders: tenant ? createLoaders(tenant, actor) : null };
}
