import DataLoader from 'dataloader';
import { prisma } from './db.js';
import type { Customer, IpMapping } from './generated/prisma/client.js';
import {
  type FieldsRead,
  type Lookup,
  type MappingWithCustomer,
  lookupColumns,
  whoHadBatch,
  whoHadShared,
} from './store/lookups.js';
import type { Tenant } from './tenant-access.js';
import type { Actor } from './context.js';
import { type LookupRecord, recordLookups } from './store/lookup-log.js';

/**
 * Per-request batching: the `whoHad` fields of a request become one SQL statement (shared with
 * other requests' at the same moment), which also brings the customers; the customers of other
 * mappings load in one statement per request.
 */
export function createLoaders(tenant: Tenant, actor: Actor) {
  const customerById = new DataLoader<number, Customer>(async (ids) => {
    const rows = await prisma.customer.findMany({ where: { id: { in: [...ids] }, contextId: tenant.id } });
    const byId = new Map(rows.map((row) => [row.id, row]));
    return ids.map((id) => byId.get(id) ?? new Error(`customer ${id} not found`));
  });
  const whoHadMany = (lookups: readonly Lookup[], fields: FieldsRead) =>
    whoHadBatch(tenant.id, lookups, lookupColumns(fields));
  // The request's whoHad fields share a statement, which reads every field any of them reads.
  // Not cached: a lookup answered for one field's columns may lack another's.
  const whoHadFields = { mapping: new Set<keyof IpMapping>(), customer: null as Set<keyof Customer> | null };
  const whoHadLoader = new DataLoader<Lookup, MappingWithCustomer | null>(
    (lookups) => whoHadShared(tenant.id, lookups, lookupColumns(whoHadFields)),
    { cache: false },
  );
  function whoHad(fields: FieldsRead) {
    for (const field of fields.mapping) whoHadFields.mapping.add(field);
    if (fields.customer) {
      whoHadFields.customer ??= new Set();
      for (const field of fields.customer) whoHadFields.customer.add(field);
    }
    return whoHadLoader;
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
    whoHad,
  };
}

export type Loaders = ReturnType<typeof createLoaders>;
