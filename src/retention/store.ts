import type { Db } from '../db/handle.js';
import type { Transaction } from '../db/transaction.js';
import { findTenant } from '../access/store.js';
import { CHAIN_HEADS_JSON_SQL } from '../chains/verify.js';
import type { Tenant } from '../access/types.js';
import type { RetentionPeriod } from '../domain/retention.js';
import {
  auditEvents,
  customers,
  lookupLog,
  mappings,
  natPortBlocks,
  radiusConflicts,
  radiusSessions,
  retentionPolicies,
  retentionPurges,
} from '../db/columns.js';

// Retention: per context, how long the records are kept, and the purge that deletes what ended
// before the horizon (now minus the period): mappings and NAT port blocks that ended before it
// (never an ongoing one) with their earlier versions and their audit events, the customers and
// RADIUS sessions they leave with nothing, and lookup-log entries made before it. Each purge is
// one transaction per context, recorded in retention_purges with what it deleted and who ran it.

/** Who runs a purge: a person through ipdr-admin, or the server's schedule. */
export interface PurgeActor {
  name: string;
  channel: 'cli' | 'schedule';
}

/** What a purge deleted (or would delete, on a dry run) in one context. */
export interface PurgeCounts {
  mappings: number;
  mappingVersions: number;
  customers: number;
  customerVersions: number;
  natBindings: number;
  natBindingVersions: number;
  radiusSessions: number;
  auditEvents: number;
  lookupLogEntries: number;
}

export type PurgeOutcome =
  | ({ context: string; keep: string; horizon: number; status: 'purged' | 'dry-run' } & PurgeCounts)
  | { context: string; status: 'busy' };

/** Sets (or, with null, removes) a context's retention period. */
export async function setRetention(db: Db, contextName: string, period: RetentionPeriod | null, actor: PurgeActor) {
  const tenant = await findTenant(db, contextName);
  const p = retentionPolicies;
  if (period === null) {
    await db.prisma.$executeRawUnsafe(`DELETE FROM ${p.table} WHERE ${p.columns.contextId} = $1`, tenant.id);
    return;
  }
  await db.prisma.$executeRawUnsafe(
    `INSERT INTO ${p.table} (${p.columns.contextId}, keep, ${p.columns.setBy}) VALUES ($1, $2::interval, $3)
     ON CONFLICT (${p.columns.contextId}) DO UPDATE SET keep = excluded.keep, ${p.columns.setBy} = excluded.${p.columns.setBy},
       ${p.columns.setAt} = CURRENT_TIMESTAMP`,
    tenant.id,
    period.interval,
    actor.name,
  );
}

export interface RetentionPolicyRow {
  context: string;
  keep: string | null;
  setBy: string | null;
  setAt: Date | null;
  lastPurgeAt: Date | null;
  lastHorizon: number | null;
}

/** Every context's policy (null: keeps everything) and its last purge. */
export async function listRetention(db: Db): Promise<RetentionPolicyRow[]> {
  const p = retentionPolicies;
  const u = retentionPurges.columns;
  const rows = await db.prisma.$queryRawUnsafe<
    (Omit<RetentionPolicyRow, 'lastHorizon'> & { lastHorizon: bigint | null })[]
  >(
    `SELECT c.name AS context, r.keep::text AS keep, r.${p.columns.setBy} AS "setBy", r.${p.columns.setAt} AS "setAt",
       last.at AS "lastPurgeAt", last.horizon AS "lastHorizon"
     FROM contexts c LEFT JOIN ${p.table} r ON r.${p.columns.contextId} = c.id
     LEFT JOIN LATERAL (SELECT ${u.at} AS at, ${u.horizon} AS horizon FROM ${retentionPurges.table}
       WHERE ${u.contextId} = c.id ORDER BY ${u.id} DESC LIMIT 1) last ON true
     ORDER BY c.id`,
  );
  return rows.map((row) => ({ ...row, lastHorizon: row.lastHorizon === null ? null : Number(row.lastHorizon) }));
}

// A purge of a large context runs long; it holds no lock another writer waits on but its own rows'.
const PURGE_TIMEOUT_MS = 60 * 60_000;
// The key of the advisory lock that lets one instance purge a context at a time.
const PURGE_LOCK = `hashtext('ipdr_retention')`;

class DryRun extends Error {
  constructor(readonly outcome: PurgeOutcome) {
    super('dry run: rolled back');
  }
}

/**
 * Applies the retention policy of each context that has one (or of `contextName` only): one
 * transaction per context; a context another instance is purging is skipped ('busy'). A dry run
 * does all of it and rolls it back, so its counts are exactly what the purge would delete.
 */
export async function applyRetention(
  db: Db,
  actor: PurgeActor,
  options: { contextName?: string | undefined; dryRun?: boolean } = {},
): Promise<PurgeOutcome[]> {
  const p = retentionPolicies.columns;
  const tenants =
    options.contextName === undefined
      ? await db.prisma.$queryRawUnsafe<Tenant[]>(
          `SELECT c.id, c.name FROM contexts c JOIN ${retentionPolicies.table} r ON r.${p.contextId} = c.id ORDER BY c.id`,
        )
      : [await findTenant(db, options.contextName)];
  const outcomes: PurgeOutcome[] = [];
  for (const tenant of tenants) {
    try {
      outcomes.push(
        await db.prisma.$transaction((tx) => purgeContext(tx, tenant, actor, options.dryRun ?? false), {
          maxWait: 10_000,
          timeout: PURGE_TIMEOUT_MS,
        }),
      );
    } catch (error) {
      if (!(error instanceof DryRun)) throw error;
      outcomes.push(error.outcome);
    }
  }
  return outcomes;
}

/** A context named for a purge has no policy: nothing would say what to delete. */
export class NoRetentionPolicy extends Error {
  override name = 'NoRetentionPolicy';
  constructor(readonly context: string) {
    super(
      `context ${context} has no retention policy: set one with ipdr-admin retention set --context ${context} --keep 2y`,
    );
  }
}

const count = async (tx: Transaction, sql: string, ...params: unknown[]) =>
  Number((await tx.$queryRawUnsafe<{ n: bigint | number }[]>(sql, ...params))[0]!.n);

async function purgeContext(
  tx: Transaction,
  tenant: Tenant,
  actor: PurgeActor,
  dryRun: boolean,
): Promise<PurgeOutcome> {
  const [lock] = await tx.$queryRawUnsafe<{ locked: boolean }[]>(
    `SELECT pg_try_advisory_xact_lock(${PURGE_LOCK}, $1) AS locked`,
    tenant.id,
  );
  if (!lock!.locked) return { context: tenant.name, status: 'busy' };
  const [policy] = await tx.$queryRawUnsafe<{ keep: string; horizon: bigint }[]>(
    `SELECT keep::text AS keep, extract(epoch FROM date_trunc('second', now()) - keep)::bigint AS horizon
     FROM ${retentionPolicies.table} WHERE ${retentionPolicies.columns.contextId} = $1`,
    tenant.id,
  );
  if (!policy) throw new NoRetentionPolicy(tenant.name);
  const horizon = policy.horizon;
  // What this purge deletes is deleted for good: not moved to the history (see the migration).
  await tx.$queryRawUnsafe(`SELECT set_config('ipdr.purging', 'on', true)`);
  // The ids deleted, and the customers and sessions they may leave with nothing.
  await tx.$executeRawUnsafe(
    `CREATE TEMP TABLE retention_gone (kind TEXT NOT NULL, id BIGINT NOT NULL, PRIMARY KEY (kind, id)) ON COMMIT DROP`,
  );
  const m = mappings.columns;
  const gone = (kind: string, column: string) =>
    `INSERT INTO retention_gone SELECT DISTINCT '${kind}', ${column} FROM d WHERE ${column} IS NOT NULL ON CONFLICT DO NOTHING`;
  const counts: PurgeCounts = {
    mappings: await count(
      tx,
      `WITH d AS (DELETE FROM ${mappings.table} WHERE ${m.contextId} = $1 AND ${m.endtime} < $2
         RETURNING ${m.id}, ${m.customerId}, ${m.radiusSessionId}),
       a AS (${gone('mapping', m.id)}), b AS (${gone('customer?', m.customerId)}), c AS (${gone('session?', m.radiusSessionId)})
       SELECT count(*) AS n FROM d`,
      tenant.id,
      horizon,
    ),
    // Earlier versions of what was deleted, and versions that themselves ended before the horizon.
    mappingVersions: await count(
      tx,
      `WITH d AS (DELETE FROM ${mappings.table}_history h WHERE ${m.contextId} = $1 AND (${m.endtime} < $2
           OR EXISTS (SELECT 1 FROM retention_gone g WHERE g.kind = 'mapping' AND g.id = h.${m.id}))
         RETURNING ${m.id}, ${m.customerId}, ${m.radiusSessionId}),
       b AS (${gone('customer?', m.customerId)}), c AS (${gone('session?', m.radiusSessionId)})
       SELECT count(*) AS n FROM d`,
      tenant.id,
      horizon,
    ),
    customers: 0,
    customerVersions: 0,
    natBindings: 0,
    natBindingVersions: 0,
    radiusSessions: 0,
    auditEvents: 0,
    lookupLogEntries: 0,
  };
  const c = customers.columns;
  counts.customers = await count(
    tx,
    `WITH d AS (DELETE FROM ${customers.table} x WHERE ${c.contextId} = $1
         AND ${c.id} IN (SELECT id FROM retention_gone WHERE kind = 'customer?')
         AND NOT EXISTS (SELECT 1 FROM ${mappings.table} y WHERE y.${m.customerId} = x.${c.id})
         AND NOT EXISTS (SELECT 1 FROM ${mappings.table}_history y WHERE y.${m.customerId} = x.${c.id})
       RETURNING ${c.id}),
     a AS (${gone('customer', c.id)})
     SELECT count(*) AS n FROM d`,
    tenant.id,
  );
  counts.customerVersions = await count(
    tx,
    `WITH d AS (DELETE FROM ${customers.table}_history WHERE ${c.contextId} = $1
       AND ${c.id} IN (SELECT id FROM retention_gone WHERE kind = 'customer') RETURNING 1)
     SELECT count(*) AS n FROM d`,
    tenant.id,
  );
  const s = radiusSessions.columns;
  const deletableSessions = `SELECT z.${s.id} FROM ${radiusSessions.table} z WHERE z.${s.contextId} = $1
       AND z.${s.endedAt} < $2 AND z.${s.id} IN (SELECT id FROM retention_gone WHERE kind = 'session?')
       AND NOT EXISTS (SELECT 1 FROM ${mappings.table} y WHERE y.${m.radiusSessionId} = z.${s.id})
       AND NOT EXISTS (SELECT 1 FROM ${mappings.table}_history y WHERE y.${m.radiusSessionId} = z.${s.id})`;
  await tx.$executeRawUnsafe(
    `DELETE FROM ${radiusConflicts.table} WHERE ${radiusConflicts.columns.radiusSessionId} IN (${deletableSessions})`,
    tenant.id,
    horizon,
  );
  counts.radiusSessions = await count(
    tx,
    `WITH d AS (DELETE FROM ${radiusSessions.table} WHERE ${s.id} IN (${deletableSessions}) RETURNING 1)
     SELECT count(*) AS n FROM d`,
    tenant.id,
    horizon,
  );
  const n = natPortBlocks.columns;
  counts.natBindings = await count(
    tx,
    `WITH d AS (DELETE FROM ${natPortBlocks.table} WHERE ${n.contextId} = $1 AND ${n.endtime} < $2 RETURNING ${n.id}),
       a AS (${gone('natBinding', n.id)})
     SELECT count(*) AS n FROM d`,
    tenant.id,
    horizon,
  );
  counts.natBindingVersions = await count(
    tx,
    `WITH d AS (DELETE FROM ${natPortBlocks.table}_history h WHERE ${n.contextId} = $1 AND (${n.endtime} < $2
         OR EXISTS (SELECT 1 FROM retention_gone g WHERE g.kind = 'natBinding' AND g.id = h.${n.id})) RETURNING 1)
     SELECT count(*) AS n FROM d`,
    tenant.id,
    horizon,
  );
  // An audit event goes with its records: when one of them was deleted here and none is left
  // (an event about a run of records created together names the run's first and last ids).
  const e = auditEvents.columns;
  const about = (entity: string, kind: string, table: string) => {
    const range = `BETWEEN e.${e.entityId} AND coalesce(e.${e.entityIdLast}, e.${e.entityId})`;
    return `(e.${e.entityType} = '${entity}'
      AND EXISTS (SELECT 1 FROM retention_gone g WHERE g.kind = '${kind}' AND g.id ${range})
      AND NOT EXISTS (SELECT 1 FROM ${table} y WHERE y.id ${range})
      AND NOT EXISTS (SELECT 1 FROM ${table}_history y WHERE y.id ${range}))`;
  };
  counts.auditEvents = await count(
    tx,
    `WITH d AS (DELETE FROM ${auditEvents.table} e WHERE e.${e.contextId} = $1 AND (
         ${about('mapping', 'mapping', mappings.table)} OR ${about('customer', 'customer', customers.table)}
         OR ${about('natBinding', 'natBinding', natPortBlocks.table)}) RETURNING e.${e.id}),
       a AS (${gone('audit', e.id)})
     SELECT count(*) AS n FROM d`,
    tenant.id,
  );
  const l = lookupLog.columns;
  counts.lookupLogEntries = await count(
    tx,
    `WITH d AS (DELETE FROM ${lookupLog.table} WHERE ${l.contextId} = $1 AND ${l.at} < to_timestamp($2) RETURNING ${l.id}),
       a AS (${gone('lookup', l.id)})
     SELECT count(*) AS n FROM d`,
    tenant.id,
    horizon,
  );
  const outcome = {
    context: tenant.name,
    keep: policy.keep,
    horizon: Number(horizon),
    status: dryRun ? ('dry-run' as const) : ('purged' as const),
    ...counts,
  };
  if (dryRun) throw new DryRun(outcome);
  const u = retentionPurges.columns;
  // The purge records where each lane of the chains stood: verify checks they still pass there.
  const [purge] = await tx.$queryRawUnsafe<{ id: number }[]>(
    `INSERT INTO ${retentionPurges.table} (${u.contextId}, ${u.actor}, ${u.channel}, keep, ${u.horizon}, ${u.mappings},
       ${u.mappingVersions}, ${u.customers}, ${u.customerVersions}, ${u.natBindings}, ${u.natBindingVersions},
       ${u.radiusSessions}, ${u.auditEvents}, ${u.lookupLogEntries}, chain_heads)
     VALUES ($1, $2, $3, $4::interval, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, ${CHAIN_HEADS_JSON_SQL})
     RETURNING ${u.id} AS id`,
    tenant.id,
    actor.name,
    actor.channel,
    policy.keep,
    horizon,
    counts.mappings,
    counts.mappingVersions,
    counts.customers,
    counts.customerVersions,
    counts.natBindings,
    counts.natBindingVersions,
    counts.radiusSessions,
    counts.auditEvents,
    counts.lookupLogEntries,
  );
  // The deleted entries stay named on their links: recorded as purged, the chains stay whole.
  await tx.$executeRawUnsafe(
    `INSERT INTO chain_purged (log, entry_id, purge_id) SELECT kind, id, $1 FROM retention_gone WHERE kind IN ('audit', 'lookup')`,
    purge!.id,
  );
  return outcome;
}
