import { needs } from '../access/scopes.js';
import { builder, totalCountField } from '../schema/builder.js';
import { tenantOf } from '../context.js';
import type { Prisma } from '../generated/prisma/client.js';

const AuditEventRef = builder.prismaObject('AuditEvent', {
  description: 'One change, recorded in the same transaction as the change itself.',
  fields: (t) => ({
    id: t.exposeInt('id', { description: "The event's id; ids grow in the order events were written." }),
    at: t.expose('at', { type: 'DateTime', description: 'When the change was made (millisecond precision).' }),
    actor: t.exposeString('actor', {
      description: 'Who made it: the username of the token, or `cli:<system user>` for the admin command.',
    }),
    channel: t.exposeString('channel', {
      description: 'How the change arrived: graphql, rest, cli or radius (RADIUS accounting).',
    }),
    action: t.exposeString('action', { description: 'What was done: create, update or delete.' }),
    entityType: t.exposeString('entityType', { description: 'What kind of entity changed: customer or mapping.' }),
    entityId: t.exposeInt('entityId', {
      description: 'The id of the customer or mapping changed (of a run of records created together, the first).',
    }),
    entityIdLast: t.exposeInt('entityIdLast', {
      nullable: true,
      description:
        'Set when one event records a run of records created together (a CSV import): every id from entityId to this one is a record it created. Their images are not repeated here: each is its before-image in its first later event, or the record as stored now when it has none.',
    }),
    before: t.expose('before', {
      type: 'JSON',
      nullable: true,
      description: 'The record before the change; null for a create.',
    }),
    after: t.expose('after', {
      type: 'JSON',
      nullable: true,
      description: 'The record after the change; null for a delete and for a run of records (entityIdLast).',
    }),
  }),
});

// An entity's events are its own and the run it was created in, if it was created in one.
function auditWhere(contextId: number, args: { entityType?: string | null; entityId?: number | null }) {
  const where: Prisma.AuditEventWhereInput = { contextId };
  if (args.entityType != null) where.entityType = args.entityType;
  if (args.entityId != null) {
    where.OR = [
      { entityId: args.entityId },
      { entityIdLast: { gte: args.entityId }, entityId: { lte: args.entityId } },
    ];
  }
  return where;
}

const AuditEventConnection = builder.connectionObject(
  {
    type: AuditEventRef,
    name: 'AuditEventConnection',
    description: 'A page of the audit trail, with how many events there are in all.',
    fields: (t) => ({
      totalCount: t.int(totalCountField('How many events match the arguments, on every page together.')),
    }),
  },
  { description: 'An audit event on a page of the trail, with its cursor.' },
);

builder.queryFields((t) => ({
  auditEvents: t.prismaConnection(
    {
      ...needs.tenantRead,
      type: 'AuditEvent',
      cursor: 'id',
      description: 'The audit trail in the order it was written, optionally for one entity.',
      args: {
        entityType: t.arg.string({ description: 'Only events about this kind of entity: customer or mapping.' }),
        entityId: t.arg.int({
          description:
            'Only events about the entity with this id (with entityType, one entity), the run it was created in included.',
        }),
      },
      totalCount: (_connection, args, ctx) =>
        ctx.db.prisma.auditEvent.count({ where: auditWhere(tenantOf(ctx).id, args) }),
      resolve: (query, _root, args, ctx) =>
        ctx.db.prisma.auditEvent.findMany({
          ...query,
          where: auditWhere(tenantOf(ctx).id, args),
          orderBy: { id: 'asc' },
        }),
    },
    AuditEventConnection,
  ),
}));
