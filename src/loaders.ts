import DataLoader from 'dataloader';
import { prisma } from './db.js';
import type { Customer } from './generated/prisma/client.js';
import type { Tenant } from './tenant-access.js';
import type { Actor } from './context.js';
import { type LookupRecord, recordLookups } from './store/lookup-log.js';

/**
 * Per-request batching: the customers of a page of mappings load in one statement, as do the
 * request's lookup log records. (Lookups bring their customers along; single lookups are
 * batched across requests, see store/lookups.ts.)
 */
export function createLoaders(tenant: Tenant, actor: Actor) {
  const customerById = new DataLoader<number, Customer>(async (ids) => {
    const rows = await prisma.customer.findMany({ where: { id: { in: [...ids] }, contextId: tenant.id } });
    const byId = new Map(rows.map((row) => [row.id, row]));
    return ids.map((id) => byId.get(id) ?? new Error(`customer ${id} not found`));
  });
  return {
    customerById,
    /** Lookups made with a reason; one insert for all of a request's. */
    lookupLog: new DataLoader<LookupRecord, void, LookupRecord>(
      async (records) => {
        await recordLookups(tenant, actor, records);
        return records.map(() => undefined);
      },
      { cache: false },
    ),
  };
}

export type Loaders = ReturnType<typeof createLoaders>;
