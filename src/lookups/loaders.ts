import DataLoader from 'dataloader';
import type { ReadRoute } from '../db/replicas.js';
import type { Customer, IpMapping, RadiusSession } from '../generated/prisma/client.js';
import type { Tenant } from '../access/types.js';
import type { Actor } from '../access/types.js';
import { type LookupRecord, recordLookups } from './log.js';

/**
 * Per-request batching: the customers of a page of mappings load in one statement, as do the
 * request's lookup log records. Read where the request reads (a replica, for a query); the log
 * is written on the primary. (Lookups bring their customers along; single lookups are
 * batched across requests, see lookups/store.ts.)
 */
export function createLoaders(reads: ReadRoute, tenant: Tenant, actor: Actor) {
  const customerById = new DataLoader<number, Customer>(async (ids) => {
    const rows = await reads
      .reader()
      .prisma.customer.findMany({ where: { id: { in: [...ids] }, contextId: tenant.id } });
    const byId = new Map(rows.map((row) => [row.id, row]));
    return ids.map((id) => byId.get(id) ?? new Error(`customer ${id} not found`));
  });
  // What a RADIUS session, a conflict and a session's mapping name: one statement for a page of them.
  const customerByUserId = new DataLoader<string, Customer | null>(async (userIds) => {
    const rows = await reads
      .reader()
      .prisma.customer.findMany({ where: { contextId: tenant.id, userId: { in: [...userIds] } } });
    const byUserId = new Map(rows.map((row) => [row.userId, row]));
    return userIds.map((userId) => byUserId.get(userId) ?? null);
  });
  const radiusSessionById = new DataLoader<number, RadiusSession | null>(async (ids) => {
    const rows = await reads
      .reader()
      .prisma.radiusSession.findMany({ where: { id: { in: [...ids] }, contextId: tenant.id } });
    const byId = new Map(rows.map((row) => [row.id, row]));
    return ids.map((id) => byId.get(id) ?? null);
  });
  const mappingById = new DataLoader<number, IpMapping | null>(async (ids) => {
    const rows = await reads
      .reader()
      .prisma.ipMapping.findMany({ where: { id: { in: [...ids] }, contextId: tenant.id } });
    const byId = new Map(rows.map((row) => [row.id, row]));
    return ids.map((id) => byId.get(id) ?? null);
  });
  // The inside contexts NAT hops, bindings and rules name: a page of them usually names one.
  const contextNameById = new DataLoader<number, string>(async (ids) => {
    const rows = await reads.reader().prisma.context.findMany({
      where: { id: { in: [...ids] } },
      select: { id: true, name: true },
    });
    const byId = new Map(rows.map((row) => [row.id, row.name]));
    return ids.map((id) => byId.get(id) ?? new Error(`context ${id} not found`));
  });
  return {
    customerById,
    contextNameById,
    customerByUserId,
    radiusSessionById,
    mappingById,
    /** Lookups made with a reason; one insert for all of a request's. */
    lookupLog: new DataLoader<LookupRecord, void, LookupRecord>(
      async (records) => {
        await recordLookups(reads.primary, tenant, actor, records);
        return records.map(() => undefined);
      },
      { cache: false },
    ),
  };
}

export type Loaders = ReturnType<typeof createLoaders>;
