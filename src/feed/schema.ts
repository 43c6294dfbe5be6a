import { GraphQLError } from 'graphql';
import { Repeater } from 'graphql-yoga';
import { needs } from '../access/scopes.js';
import { mayStillRead } from '../access/store.js';
import type { AuditEntity } from '../audit/store.js';
import { type RequestContext, tenantOf } from '../context.js';
import { CustomerRef } from '../customers/schema.js';
import type { Customer, IpMapping } from '../generated/prisma/client.js';
import { IpMappingRef } from '../mappings/schema.js';
import { builder } from '../schema/builder.js';
import { badUserInput } from '../schema/input.js';
import { FEED_PAGE, type FeedEvent, readFeed, recordOfEvent } from './store.js';

// The live feed: mapping and customer events as they happen, over Server-Sent Events (Yoga's own
// and the graphql-sse protocol). A stream starts after the position it is given (or now), reads
// the feed table page by page, and waits for the hub's word that the feed has advanced.

const FeedEventRef = builder.interfaceRef<FeedEvent>('FeedEvent').implement({
  description: 'A change of the audit trail as the live feed gives it, at its position in the feed.',
  fields: (t) => ({
    id: t.id({
      description:
        "The event's position in the feed: a stream resumed with it as `after` gets every later event, none twice.",
      resolve: (event) => String(event.seq),
    }),
    auditEventId: t.exposeInt('auditEventId', { description: 'The audit event it is (see auditEvents).' }),
    action: t.exposeString('action', { description: 'What was done: create, update or delete.' }),
    at: t.expose('at', { type: 'DateTime', description: 'When the change was made.' }),
    actor: t.exposeString('actor', { description: 'Who made it: the username of the token, or cli:<user>.' }),
    channel: t.exposeString('channel', { description: 'How it arrived: graphql, rest, cli, radius or nat.' }),
    entityId: t.exposeInt('entityId', {
      description: 'The id of the record changed (of a run created together, the first).',
    }),
    entityIdLast: t.exposeInt('entityIdLast', {
      nullable: true,
      description: 'Set for a run of records created together (a CSV import): the last id of the run.',
    }),
  }),
});

const MappingEventRef = builder.objectRef<FeedEvent>('MappingEvent').implement({
  description: 'A mapping created, changed or deleted.',
  interfaces: [FeedEventRef],
  fields: (t) => ({
    mapping: t.field({
      type: IpMappingRef,
      nullable: true,
      description:
        'The mapping as the change left it (as it was, for a delete); null for a run created together, whose mappings are read by id.',
      resolve: (event) => recordOfEvent<IpMapping>(event),
    }),
  }),
});

const CustomerEventRef = builder.objectRef<FeedEvent>('CustomerEvent').implement({
  description: 'A customer created, changed or deleted.',
  interfaces: [FeedEventRef],
  fields: (t) => ({
    customer: t.field({
      type: CustomerRef,
      nullable: true,
      description:
        'The customer as the change left it (as it was, for a delete); null for a run created together, whose customers are read by id.',
      resolve: (event) => recordOfEvent<Customer>(event),
    }),
  }),
});

/** `after` as a feed position: the decimal digits of an event's id. */
function positionOf(after: string | number | null | undefined): number | null {
  if (after == null) return null;
  const text = String(after);
  if (!/^\d{1,15}$/.test(text))
    throw badUserInput('after', `an event id given by this feed (digits), got ${JSON.stringify(text)}`);
  return Number(text);
}

/** The events of `entityType` in the request's context after `after` (absent: from now), until the client goes. */
async function feedStream(ctx: RequestContext, entityType: AuditEntity, after: string | number | null | undefined) {
  const tenant = tenantOf(ctx);
  // Without `after`, from the feed's position now, before the response starts: a change made once
  // the client has the response's headers is in its stream.
  const start = positionOf(after) ?? (await ctx.feed.refresh());
  if (ctx.feed.closing.aborted) {
    throw new GraphQLError('This instance is shutting down: open the stream again on another', {
      extensions: { code: 'SHUTTING_DOWN', http: { status: 503 } },
    });
  }
  const release = ctx.feed.openStream(ctx.caller.tokenId);
  if (release === null) {
    throw new GraphQLError(
      `This API token already holds ${ctx.feed.maxStreamsPerToken} feed streams open here: close one first`,
      { extensions: { code: 'TOO_MANY_STREAMS', http: { status: 429 } } },
    );
  }
  return new Repeater<FeedEvent>(async (push, stop) => {
    const gone = new AbortController();
    void stop.then(() => gone.abort());
    const ended = () => gone.abort();
    ctx.feed.closing.addEventListener('abort', ended, { once: true });
    try {
      let position = start;
      let accessCheckedAt = Date.now();
      while (!gone.signal.aborted) {
        // The hub's last position before the read: what to wait past when the read finds nothing new.
        const known = ctx.feed.head();
        const events = await readFeed(ctx.db, tenant.id, entityType, position);
        if (events.length > 0 && Date.now() - accessCheckedAt >= RECHECK_ACCESS_MS) {
          if (!(await mayStillRead(ctx.db, ctx.caller.tokenId, tenant.id))) {
            throw new GraphQLError(`This API token may no longer read the context ${tenant.name}: the stream ends`, {
              extensions: { code: 'FORBIDDEN' },
            });
          }
          accessCheckedAt = Date.now();
        }
        for (const event of events) {
          if (gone.signal.aborted) break;
          await push(event);
          position = event.seq;
        }
        if (events.length < FEED_PAGE) await ctx.feed.waitPast(Math.max(known, position), gone.signal);
      }
      stop();
    } catch (error) {
      stop(error);
    } finally {
      ctx.feed.closing.removeEventListener('abort', ended);
      release();
    }
  });
}

// A stream outlives the request that authenticated it: before it sends events, it asks again
// whether the token may read the context (revoked, expired, grant taken away), at most this often.
const RECHECK_ACCESS_MS = 1_000;

const AFTER_DESCRIPTION =
  'The id of the last event seen: the stream starts with the one after it. Absent: with the next change.';

builder.subscriptionType({
  description:
    'Live feeds over Server-Sent Events (POST /graphql with Accept: text/event-stream, or the graphql-sse protocol on /graphql/stream).',
});

builder.subscriptionFields((t) => ({
  mappingEvents: t.field({
    type: MappingEventRef,
    ...needs.tenantRead,
    description:
      "The request's context's mappings created, changed and deleted, as they happen, in the order they became visible.",
    args: { after: t.arg.id({ description: AFTER_DESCRIPTION }) },
    subscribe: (_root, args, ctx) => feedStream(ctx, 'mapping', args.after),
    resolve: (event) => event,
  }),
  customerEvents: t.field({
    type: CustomerEventRef,
    ...needs.tenantRead,
    description:
      "The request's context's customers created, changed and deleted, as they happen, in the order they became visible.",
    args: { after: t.arg.id({ description: AFTER_DESCRIPTION }) },
    subscribe: (_root, args, ctx) => feedStream(ctx, 'customer', args.after),
    resolve: (event) => event,
  }),
}));
