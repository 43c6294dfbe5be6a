import { createHash } from 'node:crypto';
import { findTenant } from '../access/store.js';
import type { Tenant } from '../access/types.js';
import type { Db } from '../db/handle.js';

// Walks the hash chains of the audit trail and the lookup log (see the chains migration): every
// link recomputed from its entry as it is now, every lane followed from its start to its head,
// every entry looked for on a chain, every retention purge's recorded lane heads looked for.

export type ChainLog = 'audit' | 'lookup';

const LOG_TABLES: Record<ChainLog, { table: string; content: string; noun: string }> = {
  audit: { table: 'audit_events', content: 'ipdr_audit_content', noun: 'audit event' },
  lookup: { table: 'lookup_log', content: 'ipdr_lookup_content', noun: 'lookup-log entry' },
};

export type ChainProblemKind =
  'changed' | 'deleted' | 'unlinked' | 'link-altered' | 'relinked' | 'gap' | 'purged-present' | 'head' | 'checkpoint';

export interface ChainProblem {
  log: ChainLog;
  kind: ChainProblemKind;
  /** The entry concerned; null for a lane's head or a purge's checkpoint. */
  entryId: number | null;
  lane: number | null;
  seq: number | null;
  message: string;
}

export interface ChainReport {
  context: string;
  /** Entries named on each log's chain, purged ones included. */
  links: Record<ChainLog, number>;
  /** SHA-256 of every lane's head: what to keep outside the database to show later that nothing after it was rewritten. */
  headsDigest: string;
  /** Ordered by log, then entry: the first is the first entry that does not match. */
  problems: ChainProblem[];
}

interface ProblemRow {
  kind: ChainProblemKind;
  entry_id: bigint | number | null;
  lane: number | null;
  seq: bigint | number | null;
  detail: string | null;
}

const n = (value: bigint | number | null) => (value === null ? null : Number(value));

// One row per link that does not match, per entry whose recorded hash it does not have, and
// per entry on no link: the first thing wrong with each.
const linkProblemsSql = (log: ChainLog) => {
  const { table, content } = LOG_TABLES[log];
  return `
WITH k AS (
  SELECT k.*, lag(k.seq) OVER w AS before_seq, lag(k.hash) OVER w AS before_hash
  FROM chain_links k WHERE k.context_id = $1 AND k.log = '${log}'
  WINDOW w AS (PARTITION BY k.lane ORDER BY k.seq)
),
slot AS (
  SELECT k.lane, k.seq, s.entry_id, s.entry_hash
  FROM k, unnest(k.entry_ids, k.entry_hashes) AS s(entry_id, entry_hash)
)
SELECT * FROM (
  SELECT CASE
      WHEN k.seq <> coalesce(k.before_seq, 0) + 1 THEN 'gap'
      WHEN k.prev_hash <> coalesce(k.before_hash, ipdr_chain_genesis('${log}', k.context_id, k.lane)) THEN 'relinked'
      WHEN k.hash <> ipdr_chain_link_hash(k.prev_hash, k.entry_hashes) THEN 'link-altered'
    END AS kind,
    k.entry_ids[1] AS entry_id, k.lane, k.seq, coalesce(k.before_seq, 0)::text AS detail
  FROM k
  UNION ALL
  SELECT CASE
      WHEN e.id IS NULL AND p.entry_id IS NULL THEN 'deleted'
      WHEN e.id IS NOT NULL AND p.entry_id IS NOT NULL THEN 'purged-present'
      WHEN e.id IS NOT NULL AND ${content}(e) <> slot.entry_hash THEN 'changed'
    END,
    slot.entry_id, slot.lane, slot.seq, NULL::text
  FROM slot LEFT JOIN ${table} e ON e.id = slot.entry_id
    LEFT JOIN chain_purged p ON p.log = '${log}' AND p.entry_id = slot.entry_id
  UNION ALL
  SELECT 'unlinked', e.id, NULL::smallint, NULL::bigint, NULL::text FROM ${table} e
  WHERE e.context_id = $1 AND NOT EXISTS (SELECT 1 FROM slot WHERE slot.entry_id = e.id)
) p WHERE kind IS NOT NULL ORDER BY entry_id, seq`;
};

// A head that is not its lane's last link: links were removed from the lane's end (or the head set back).
const headProblemsSql = `
SELECT 'head' AS kind, NULL::bigint AS entry_id, h.lane, h.seq, coalesce(last.seq, 0)::text AS detail
FROM chain_heads h LEFT JOIN LATERAL (
  SELECT k.seq, k.hash FROM chain_links k
  WHERE k.context_id = h.context_id AND k.log = h.log AND k.lane = h.lane ORDER BY k.seq DESC LIMIT 1
) last ON true
WHERE h.context_id = $1 AND h.log = $2
  AND (h.seq <> coalesce(last.seq, 0) OR h.hash <> coalesce(last.hash, ipdr_chain_genesis(h.log, h.context_id, h.lane)))
UNION ALL
SELECT DISTINCT 'head', NULL::bigint, k.lane, NULL::bigint, 'none' FROM chain_links k
WHERE k.context_id = $1 AND k.log = $2
  AND NOT EXISTS (SELECT 1 FROM chain_heads h WHERE h.context_id = k.context_id AND h.log = k.log AND h.lane = k.lane)`;

// A point a purge recorded that the lane no longer passes through: the chain was rebuilt since.
const checkpointProblemsSql = `
SELECT 'checkpoint' AS kind, NULL::bigint AS entry_id, point.key::smallint AS lane, (point.value->>0)::bigint AS seq,
  u.id::text AS detail
FROM retention_purges u, jsonb_each(u.chain_heads->$2) point
WHERE u.context_id = $1 AND NOT EXISTS (
  SELECT 1 WHERE (point.value->>0)::bigint = 0
    AND decode(point.value->>1, 'hex') = ipdr_chain_genesis($2, $1, point.key::smallint)
  UNION ALL
  SELECT 1 FROM chain_links k WHERE k.context_id = $1 AND k.log = $2 AND k.lane = point.key::smallint
    AND k.seq = (point.value->>0)::bigint AND k.hash = decode(point.value->>1, 'hex'))
ORDER BY u.id, lane`;

function describe(log: ChainLog, row: ProblemRow): string {
  const noun = LOG_TABLES[log].noun;
  const entry = `${noun} ${n(row.entry_id)}`;
  const place = `(lane ${row.lane}, link ${n(row.seq)})`;
  switch (row.kind) {
    case 'changed':
      return `${entry} ${place} was changed after it was written`;
    case 'deleted':
      return `${entry} ${place} was deleted (no retention purge removed it)`;
    case 'unlinked':
      return `${entry} is on no chain: it was written outside the gateway`;
    case 'link-altered':
      return `${entry} ${place}: the link's hash was altered`;
    case 'relinked':
      return `${entry} ${place}: the link does not follow the link before it: one was inserted, removed or rewritten`;
    case 'gap':
      return `${entry} ${place}: the link follows link ${row.detail}: the links between were removed`;
    case 'purged-present':
      return `${entry} ${place} is marked as removed by a retention purge but is still there`;
    case 'head':
      return row.detail === 'none'
        ? `${noun} chain lane ${row.lane} has no head: its head was removed`
        : `${noun} chain lane ${row.lane} ends at link ${row.detail} but its head says ${n(row.seq)}: links were removed from its end`;
    case 'checkpoint':
      return `${noun} chain lane ${row.lane} no longer passes through link ${n(row.seq)} as retention purge ${row.detail} recorded it: the chain was rebuilt since`;
  }
}

async function verifyContext(db: Db, tenant: Tenant): Promise<ChainReport> {
  const problems: ChainProblem[] = [];
  const links = { audit: 0, lookup: 0 };
  for (const log of ['audit', 'lookup'] as const) {
    const rows = [
      ...(await db.prisma.$queryRawUnsafe<ProblemRow[]>(linkProblemsSql(log), tenant.id)),
      ...(await db.prisma.$queryRawUnsafe<ProblemRow[]>(headProblemsSql, tenant.id, log)),
      ...(await db.prisma.$queryRawUnsafe<ProblemRow[]>(checkpointProblemsSql, tenant.id, log)),
    ];
    for (const row of rows)
      problems.push({
        log,
        kind: row.kind,
        entryId: n(row.entry_id),
        lane: row.lane,
        seq: n(row.seq),
        message: describe(log, row),
      });
    const [count] = await db.prisma.$queryRawUnsafe<{ n: bigint | number }[]>(
      `SELECT coalesce(sum(cardinality(entry_ids)), 0) AS n FROM chain_links WHERE context_id = $1 AND log = $2`,
      tenant.id,
      log,
    );
    links[log] = Number(count!.n);
  }
  const heads = await db.prisma.$queryRawUnsafe<{ log: string; lane: number; seq: bigint; hash: string }[]>(
    `SELECT log, lane, seq, encode(hash, 'hex') AS hash FROM chain_heads WHERE context_id = $1 ORDER BY log, lane`,
    tenant.id,
  );
  const headsDigest = createHash('sha256')
    .update(heads.map((head) => `${head.log} ${head.lane} ${head.seq} ${head.hash}\n`).join(''))
    .digest('hex');
  return { context: tenant.name, links, headsDigest, problems };
}

/** The chains of one context (by name), or of every context. */
export async function verifyChains(db: Db, contextName?: string): Promise<ChainReport[]> {
  const tenants =
    contextName === undefined
      ? await db.prisma.$queryRawUnsafe<Tenant[]>(`SELECT id, name FROM contexts ORDER BY id`)
      : [await findTenant(db, contextName)];
  const reports: ChainReport[] = [];
  for (const tenant of tenants) reports.push(await verifyContext(db, tenant));
  return reports;
}

/** Where the chains stand (for a purge to record): per log, per lane, [seq, hex hash]. */
export const CHAIN_HEADS_JSON_SQL = `(SELECT jsonb_object_agg(log, lanes) FROM (
  SELECT log, jsonb_object_agg(lane::text, jsonb_build_array(seq, encode(hash, 'hex'))) AS lanes
  FROM chain_heads WHERE context_id = $1 GROUP BY log) per_log)`;

/** A verify's failure: the first entry that does not match, and how many problems in all. */
export class ChainMismatchError extends Error {
  override name = 'ChainMismatchError';
  constructor(readonly reports: readonly ChainReport[]) {
    const failing = reports.filter((report) => report.problems.length > 0);
    const first = failing[0]!;
    const total = failing.reduce((sum, report) => sum + report.problems.length, 0);
    super(`context ${first.context}: ${first.problems[0]!.message} (${total} problem${total === 1 ? '' : 's'} in all)`);
  }
}
