import DataLoader from 'dataloader';
import { prisma } from './db.js';
import type { Customer, IpMapping } from './generated/prisma/client.js';
import { type Lookup, whoHadBatch } from './store/lookups.js';
import type { Tenant } from './tenant-access.js';
import type { Actor } from './context.js';
import { type LookupRecord, recordLookups } from './store/lookup-log.js';

/**
 * Per-request batching: every `whoHad` field of a request becomes one SQL statement, which also
 * brings the customers (so the customer loader already has them).
 */
export function createLoaders(tenant: Tenant, actor: Actor) {
  const customerById = new DataLoader<number, Customer>(async (ids) => {
    const rows = await prisma.customer.findMany({ where: { id: { in: [...ids] }, contextId: tenant.id } });
    const byId = new Map(rows.map((row) => [row.id, row]));
    return ids.map((id) => byId.get(id) ?? new Error(`customer ${id} not found`));
  });
  async function whoHadMany(lookups: readonly Lookup[]): Promise<(IpMapping | null)[]> {
    const found = await whoHadBatch(tenant.id, lookups);
    return found.map((result) => {
      if (result === null) return null;
      const { customer, ...mapping } = result;
      customerById.prime(customer.id, customer);
      return mapping;
    });
  }
  return {
    customerById,
    whoHadMany,
    /** Lookups made with a reason; one insert for all of a request's. */
    lookupLog: new DataLoader<LookupRecord, void, LookupRecord>(
      async (records) => {
        await recordLookups(tenant, actor, records);
        return records.map(() => undefined);
      },
      { cache: false },
    ),
    whoHad: new DataLoader<Lookup, IpMapping | null, string>(whoHadMany, {
      cacheKeyFn: (lookup) => `${lookup.ip}@${lookup.at}`,
    }),
  };
}

export type Loaders = ReturnType<typeof createLoaders>;
