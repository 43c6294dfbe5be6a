import type { Db } from '../db/handle.js';
import { mappings, natPortBlocks, natRules } from '../db/columns.js';
import type { NatHolder } from '../errors.js';

// Who holds some of an address range's ports at some instant of a period, of the three kinds of
// holder in one context: mappings (every port of their addresses), port-block bindings (their
// ports of one address) and deterministic NAT rules (every port of their outside prefix). Read after
// a write was refused, to say what was in its way; the database, not this read, keeps the rule.

export interface HeldExtent {
  contextId: number;
  /** An address or prefix, as PostgreSQL's inet reads it. */
  network: string;
  portFirst: number;
  portLast: number;
  starttime: number;
  endtime: number | null;
}

/** The most holders of each kind a refusal lists. */
export const MAX_LISTED_HOLDERS = 10;

const m = mappings.columns;
const b = natPortBlocks.columns;
const r = natRules.columns;
// $4 null: ongoing. A row's period [starttime, endtime] meets [$3, $4] (ends inclusive).
const meets = (start: string, end: string) =>
  `${start} <= coalesce($4::bigint, ${start}) AND (${end} IS NULL OR ${end} >= $3::bigint)`;

const HOLDERS_SQL = `
  (SELECT 'mapping' AS kind, ${m.id} AS id,
          format('mapping %s of %s (%s, %s to %s)', ${m.id}, ${m.userId}, ${m.ipsubnet}, ${m.starttime}, coalesce(${m.endtime}::text, 'ongoing')) AS description
     FROM ${mappings.table}
    WHERE ${m.contextId} = $1 AND ${m.network} && $2::inet AND ${meets(m.starttime, m.endtime)}
    ORDER BY ${m.id} LIMIT ${MAX_LISTED_HOLDERS})
  UNION ALL
  (SELECT 'binding', ${b.id},
          format('NAT port block %s (%s ports %s-%s to %s, %s to %s)', ${b.id}, host(${b.publicAddress}), ${b.portFirst}, ${b.portLast},
                 host(${b.insideAddress}), ${b.starttime}, coalesce(${b.endtime}::text, 'ongoing'))
     FROM ${natPortBlocks.table}
    WHERE ${b.contextId} = $1 AND ${b.publicAddress} <<= $2::inet AND ${b.portFirst} <= $6::int AND ${b.portLast} >= $5::int
      AND ${meets(b.starttime, b.endtime)}
    ORDER BY ${b.id} LIMIT ${MAX_LISTED_HOLDERS})
  UNION ALL
  (SELECT 'rule', ${r.id},
          format('deterministic NAT rule %s (%s onto %s, %s to %s)', ${r.id}, abbrev(${r.insidePrefix}), abbrev(${r.outsidePrefix}),
                 ${r.starttime}, coalesce(${r.endtime}::text, 'ongoing'))
     FROM ${natRules.table}
    WHERE ${r.contextId} = $1 AND ${r.outsidePrefix} && $2::inet AND ${meets(r.starttime, r.endtime)}
    ORDER BY ${r.id} LIMIT ${MAX_LISTED_HOLDERS})`;

/** The holders in the way of `extent`, mappings first, each kind in id order, at most MAX_LISTED_HOLDERS of each; `except` left out. */
export async function holdersOf(
  db: Pick<Db, 'readRows'>,
  extent: HeldExtent,
  except: { kind: NatHolder['kind']; id: number } | null = null,
): Promise<NatHolder[]> {
  const rows = await db.readRows<{ kind: NatHolder['kind']; id: number; description: string }>(HOLDERS_SQL, [
    extent.contextId,
    extent.network,
    extent.starttime,
    extent.endtime,
    extent.portFirst,
    extent.portLast,
  ]);
  return rows
    .filter((row) => !(except && row.kind === except.kind && Number(row.id) === except.id))
    .map((row) => ({ kind: row.kind, id: Number(row.id), description: row.description }));
}
