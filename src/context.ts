import { GraphQLError } from 'graphql';
import type { YogaInitialContext } from 'graphql-yoga';
import { prisma } from './db.js';
import { createLoaders, type Loaders } from './loaders.js';
import { rateLimiter } from './rate-limit.js';
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

async function resolveTenant(caller: Caller, requested: string | null): Promise<TenantChoice> {
  const choice = chooseTenant(caller, requested);
  if ('problem' in choice && choice.problem === 'not-allowed' && requested !== null) {
    const exists = (await prisma.context.count({ where: { name: requested } })) > 0;
    if (!exists) return { problem: 'unknown-context', message: `Invalid Context name - ${requested}` };
  }
  return choice;
}

export async function createRequestContext(initial: YogaInitialContext & ServerContext): Promise<RequestContext> {
  const token = bearerToken(initial.request);
  if (token === null) throw unauthenticated('Missing API token: send it as "Authorization: Bearer <token>"');
  const caller = token === '' ? null : await authenticate(token);
  if (!caller || (initial.expectedUsername !== undefined && initial.expectedUsername !== caller.username)) {
    throw unauthenticated('Invalid API token');
  }

  const decision = await rateLimiter.take(String(caller.tokenId));
  if (!decision.allowed) {
    throw new GraphQLError(`Rate limit exceeded; retry in ${decision.retryAfterSeconds} s`, {
      extensions: {
        code: 'RATE_LIMITED',
        http: { status: 429, headers: { 'Retry-After': String(decision.retryAfterSeconds) } },
      },
    });
  }

  const tenantChoice = await resolveTenant(caller, initial.request.headers.get('x-context'));
  const tenant = 'tenant' in tenantChoice ? tenantChoice.tenant : null;
  const actor: Actor = { name: caller.username, channel: initial.channel ?? 'graphql' };
  return { caller, actor, tenantChoice, tenant, loaders: tenant ? createLoaders(tenant, actor) : null };
}
