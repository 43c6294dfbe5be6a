import { mappings } from '../db/columns.js';
import type { DriverSession } from '../db/connection.js';
import type { IpSubnet } from '../domain/ip.js';
import type { TimeRange } from '../domain/time.js';
import type { IpMapping } from '../generated/prisma/client.js';

// "Which mappings does this one overlap": asked by a GraphQL write the non-overlap constraint
// refused (to name the conflicts) and by the CSV import for a row it skips (to say why). Both
// ask it of one mapping, after the constraint has already refused a whole statement or batch, so
// one statement per question is the shared piece. It is put in the constraint's own terms (see
// the box_exclusion migration): it answers exactly what the constraint refused, from its index.

/** A mapping held at some address and instant: the context, its network and period. */
export interface MappingExtent {
  contextId: number;
  subnet: IpSubnet;
  period: TimeRange;
}

const m = mappings.columns;

// Parameters: $1 context, $2 network, $3 start, $4 end (null: open), $5 ids left out (int[]).
const OVERLAPS_SQL = `ipdr_mapping_extent(m.${m.contextId}, m.${m.network}, m.${m.starttime}, m.${m.endtime}) && ipdr_mapping_extent($1, $2::inet, $3::int8, $4::int8)
  AND ipdr_mapping_low_bits(m.${m.network}) && ipdr_mapping_low_bits($2::inet)
  AND m.${m.id} <> ALL($5::int[])`;

// Every column, as Prisma reads it (the network as text).
const SELECT_LIST = Object.entries(mappings.columns)
  .map(([field, column]) => `m.${column}${field === 'network' ? '::text' : ''} AS "${field}"`)
  .join(', ');

const params = ({ contextId, subnet, period }: MappingExtent, excludeIds: readonly number[]) => [
  contextId,
  subnet.network,
  String(period.start),
  period.end === null ? null : String(period.end),
  `{${excludeIds.join(',')}}`,
];

/**
 * The mappings sharing an address and an instant with `extent`, other than `excludeIds`: the
 * first `limit` by id, and how many there are in all (counted only when the limit was reached).
 */
export async function findOverlappingMappings(
  session: DriverSession,
  extent: MappingExtent,
  { excludeIds = [], limit }: { excludeIds?: readonly number[]; limit: number },
): Promise<{ mappings: IpMapping[]; count: number }> {
  const values = params(extent, excludeIds);
  const found = await session.query<IpMapping>(
    `SELECT ${SELECT_LIST} FROM ${mappings.table} m WHERE ${OVERLAPS_SQL} ORDER BY m.${m.id} LIMIT ${Math.trunc(limit)}`,
    values,
  );
  if (found.length < limit) return { mappings: found, count: found.length };
  const [counted] = await session.query<{ count: number }>(
    `SELECT count(*)::int AS count FROM ${mappings.table} m WHERE ${OVERLAPS_SQL}`,
    values,
  );
  return { mappings: found, count: counted!.count };
}
