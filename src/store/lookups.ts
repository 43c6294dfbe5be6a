import DataLoader from 'dataloader';
import { prisma } from '../db.js';
import type { Customer, IpMapping } from '../generated/prisma/client.js';

export interface Lookup {
  /** Canonical address text (see domain/ip.ts). */
  ip: string;
  at: number;
}

// One statement answers a whole batch. For each (ip, at) and each prefix length in use for the
// address's family, a B-tree probe finds the mapping of exactly that network that started last
// at or before `at`; it holds the address if it has not ended by then. Mappings never overlap,
// so at most one prefix length answers (see the lookup_index migration).
export const WHO_HAD_SQL = `
SELECT q.ord::int AS "lookupIndex",
       m.id, m.context_id AS "contextId", m.ipdr_customer_id AS "customerId", m.ipsubnet,
       m.network::text AS network, m.ip_first AS "ipFirst", m.ip_last AS "ipLast",
       m.starttime, m.endtime, m.terminalid AS "terminalId",
       m.created_at AS "createdAt", m.updated_at AS "updatedAt",
       c.context_id AS "c_contextId", c.user_id AS "c_userId", c.name AS "c_name", c.address AS "c_address",
       c.email AS "c_email", c.phone_number AS "c_phoneNumber", c.alt_phone_number AS "c_altPhoneNumber",
       c.created_at AS "c_createdAt", c.updated_at AS "c_updatedAt"
FROM unnest($2::inet[], $3::int8[]) WITH ORDINALITY AS q(ip, at, ord)
JOIN LATERAL (
  SELECT candidate.* FROM mapping_prefix_lengths p
  CROSS JOIN LATERAL (
    SELECT * FROM ipdr_customers_mapping m
    WHERE m.context_id = $1
      AND m.network = network(set_masklen(q.ip, p.prefix_length))::inet
      AND m.starttime <= q.at
    ORDER BY m.starttime DESC
    LIMIT 1
  ) candidate
  WHERE p.context_id = $1 AND p.family = family(q.ip)
    AND (candidate.endtime IS NULL OR candidate.endtime >= q.at)
  LIMIT 1
) m ON true
JOIN ipdr_customers c ON c.id = m.ipdr_customer_id`;

/** A mapping as lookups return it: with its customer, brought by the same statement. */
export type MappingWithCustomer = IpMapping & { customer: Customer };

type Row = IpMapping & { lookupIndex: number } & { [K in keyof Customer as `c_${K & string}`]: Customer[K] };

/** The mapping that held each address at each instant, with its customer (null where none did), in input order. */
export async function whoHadBatch(
  contextId: number,
  lookups: readonly Lookup[],
): Promise<(MappingWithCustomer | null)[]> {
  const rows = await prisma.$queryRawUnsafe<Row[]>(
    WHO_HAD_SQL,
    contextId,
    lookups.map((lookup) => lookup.ip),
    lookups.map((lookup) => String(lookup.at)),
  );
  const results = new Array<MappingWithCustomer | null>(lookups.length).fill(null);
  for (const row of rows) {
    const customer: Customer = {
      id: row.customerId,
      contextId: row.c_contextId,
      userId: row.c_userId,
      name: row.c_name,
      address: row.c_address,
      email: row.c_email,
      phoneNumber: row.c_phoneNumber,
      altPhoneNumber: row.c_altPhoneNumber,
      createdAt: row.c_createdAt,
      updatedAt: row.c_updatedAt,
    };
    results[row.lookupIndex - 1] = {
      id: row.id,
      contextId: row.contextId,
      customerId: row.customerId,
      ipsubnet: row.ipsubnet,
      network: row.network,
      ipFirst: row.ipFirst,
      ipLast: row.ipLast,
      starttime: row.starttime,
      endtime: row.endtime,
      terminalId: row.terminalId,
      createdAt: row.createdAt,
      updatedAt: row.updatedAt,
      customer,
    };
  }
  return results;
}

// Single lookups of concurrent requests share statements: those that reach this point in the
// same turn of the event loop (per context) go to the database as one batch. Under load one
// statement then answers many requests, where each would otherwise pay its own round trip,
// driver work and wake-up of a database process. Nothing is cached between turns.
const sharedBatches = new Map<number, DataLoader<Lookup, MappingWithCustomer | null>>();

/** `whoHadBatch`, with the lookups of other requests made at the same moment in the same statement. */
export function whoHadShared(contextId: number, lookups: readonly Lookup[]) {
  let batch = sharedBatches.get(contextId);
  if (!batch) {
    batch = new DataLoader((pending) => whoHadBatch(contextId, pending), {
      cache: false,
      batchScheduleFn: (dispatch) => setImmediate(dispatch),
      maxBatchSize: 10_000,
    });
    sharedBatches.set(contextId, batch);
  }
  return batch.loadMany(lookups);
}
