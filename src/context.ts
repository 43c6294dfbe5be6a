import type { IncomingMessage } from 'node:http';
import { GraphQLError } from 'graphql';
import type { Actor, Caller, Channel, TenantAccess, TenantChoice } from './access/types.js';
import type { Db } from './db/handle.js';
import type { Loaders } from './lookups/loaders.js';

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

/** Built fresh for every request (access/authentication.ts). */
export interface RequestContext {
  /** The app's database: resolvers and the Prisma plugin read through it. */
  db: Db;
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
