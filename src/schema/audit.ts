import { needs } from '../authorization.js';
import { builder } from '../builder.js';
import { tenantOf } from '../context.js';
import { prisma } from '../db.js';
import type { Prisma } from '../generated/prisma/client.js';

builder.prismaObject('AuditEvent', {
  description: 'One change, recorded in the same transaction as the change itself.',
  fields: (t) => ({
    id: t.exposeInt('id'),
    at: t.expose('at', { type: 'DateTime' }),
    actor: t.exposeString('actor'),
    channel: t.exposeString('channel', { description: 'How the change arrived: graphql, rest or cli.' }),
    action: t.exposeString('action', { description: 'create, update or delete.' }),
    entityType: t.exposeString('entityType', { description: 'customer or mapping.' }),
    entityId: t.exposeInt('entityId'),
    before: t.expose('before', { type: 'JSON', nullable: true, description: 'The record before the change.' }),
    after: t.expose('after', { type: 'JSON', nullable: true, description: 'The record after the change.' }),
  }),
});

function auditWhere(contextId: number, args: { entityType?: string | null; entityId?: number | null }) {
  const where: Prisma.AuditEventWhereInput = { contextId };
  if (args.entityType != null) where.entityType = args.entityType;
  if (args.entityId != null) where.entityId = args.entityId;
  return where;
}

builder.queryFields((t) => ({
  auditEvents: t.prismaConnection({
    ...needs.tenantRead,
    type: 'AuditEvent',
    cursor: 'id',
    description: 'The audit trail in the order it was written, optionally for one entity.',
    args: { entityType: t.arg.string(), entityId: t.arg.int() },
    totalCount: (_connection, args, ctx) => prisma.auditEvent.count({ where: auditWhere(tenantOf(ctx).id, args) }),
    resolve: (query, _root, args, ctx) =>
      prisma.auditEvent.findMany({ ...query, where: auditWhere(tenantOf(ctx).id, args), orderBy: { id: 'asc' } }),
  }),
}));
