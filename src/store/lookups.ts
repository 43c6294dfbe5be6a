import { prisma } from '../db.js';
import type { IpMapping } from '../generated/prisma/client.js';

export interface Lookup {
  /** Canonical address text (see domain/ip.ts). */
  ip: string;
  at: number;
}

// One statement answers a whole batch: each (ip, at) pair is probed through the GiST index that
// enforces non-overlap, so at most one mapping can match.
const WHO_HAD_SQL = `
SELECT q.ord::int AS "lookupIndex",
       m.id, m.context_id AS "contextId", m.ipdr_customer_id AS "customerId", m.ipsubnet,
       m.network::text AS network, m.ip_first AS "ipFirst", m.ip_last AS "ipLast",
       m.starttime, m.endtime, m.terminalid AS "terminalId",
       m.created_at AS "createdAt", m.updated_at AS "updatedAt"
FROM unnest($2::text[], $3::int8[]) WITH ORDINALITY AS q(ip, at, ord)
JOIN LATERAL (
  SELECT * FROM ipdr_customers_mapping m
  WHERE m.context_id = $1
    AND m.network >>= q.ip::inet
    AND int8range(m.starttime, m.endtime, '[]') @> q.at
  LIMIT 1
) m ON true`;

/** The mapping that held each address at each instant (null where none did), in input order. */
export async function whoHadBatch(contextId: number, lookups: readonly Lookup[]): Promise<(IpMapping | null)[]> {
  const rows = await prisma.$queryRawUnsafe<(IpMapping & { lookupIndex: number })[]>(
    WHO_HAD_SQL,
    contextId,
    lookups.map((lookup) => lookup.ip),
    lookups.map((lookup) => String(lookup.at)),
  );
  const results: (IpMapping | null)[] = lookups.map(() => null);
  for (const { lookupIndex, ...mapping } of rows) results[lookupIndex - 1] = mapping;
  return results;
}
