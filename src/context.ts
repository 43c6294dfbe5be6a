import type { IncomingMessage } from 'node:http';
import { GraphQLError } from 'graphql';
import type { Actor, Caller, Channel, RefusalReason, TenantAccess, TenantChoice } from './access/types.js';
import type { Db } from './db/handle.js';
import type { ReadRoute } from './db/replicas.js';
import type { Loaders } from './lookups/loaders.js';
import type { FeedHub } from './feed/hub.js';

/** What the server adds to a request: the REST layer marks its requests as such. */
export interface ServerContext {
  channel?: Channel;
  /** Trisul's API sends a username beside the token; it must be the token's user. */
  expectedUsername?: string;
  /** A GET whose parameters came in a body (see http/node-handler.ts). */
  restMethod?: 'GET';
  /** The REST request an operation is run for: all its operations share that request's deadline. */
  outerRequest?: Request;
  /** Trisul's API sends the token and the context in the body, not in headers (rest/requests.ts). */
  restCredentials?: { token: string | null; context: string };
  /** The peer's address, for requests the server hands to Yoga itself (it has no socket then). */
  clientAddress?: string;
  /** Yoga's Node adapter passes the Node request. */
  req?: IncomingMessage;
}

/** Built fresh for every request (access/authentication.ts). */
export interface RequestContext {
  /** The app's primary database: every write, and reads that must see the latest state (tokens, audit). */
  db: Db;
  /** Where lookups and lists read: a replica for a query, the primary once the request writes. */
  reads: ReadRoute;
  caller: Caller;
  actor: Actor;
  tenantChoice: TenantChoice;
  /** The context this request acts in, if one could be chosen; read it through `tenantOf`. */
  tenant: TenantAccess | null;
  loaders: Loaders | null;
  /** The app's live feed (subscriptions). */
  feed: FeedHub;
}

// Envelop copies the context object, so these are plain values and the checks are functions.

const noTenant = (ctx: RequestContext) =>
  forbidden(
    'problem' in ctx.tenantChoice
      ? { message: ctx.tenantChoice.message, reason: ctx.tenantChoice.problem }
      : { message: 'No context was chosen', reason: 'context-required' },
  );

/** The request's context; only fields whose scopes guarantee one call this. */
export function tenantOf(ctx: RequestContext): TenantAccess {
  if (ctx.tenant === null) throw noTenant(ctx);
  return ctx.tenant;
}

export function loadersOf(ctx: RequestContext): Loaders {
  if (ctx.loaders === null) throw noTenant(ctx);
  return ctx.loaders;
}

/** A refused request: `reason` says which refusal it is, for programs (the REST layer's status). */
export function forbidden({ message, reason }: { message: string; reason: RefusalReason }): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'FORBIDDEN', reason, http: { status: 403 } } });
}
