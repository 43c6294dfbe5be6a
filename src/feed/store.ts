import type { Db } from '../db/handle.js';
import { auditEvents } from '../db/columns.js';
import type { AuditEntity } from '../audit/store.js';

// The live feed's rows (feed migration): the audit trail's events at the positions they became
// visible in. Positions are given after the commits (ipdr_feed_assign), so a subscriber resuming
// after the last position it saw is given every event since, none twice.

/** One event of the feed: its position, and the audit event it is. */
export interface FeedEvent {
  /** The position in the feed: what a subscriber resumes after. */
  seq: number;
  auditEventId: number;
  at: Date;
  actor: string;
  channel: string;
  action: string;
  entityType: AuditEntity;
  entityId: number;
  entityIdLast: number | null;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
}

/**
 * Gives feed positions to the events of the transactions ended since the last run (or leaves it
 * to a run under way elsewhere) and returns the last position given so far.
 */
export async function assignFeed(db: Db): Promise<number> {
  // Sent as the statement it is, below Prisma, not counted as a lookup read (db.readRows).
  const [row] = await db.database.read<{ head: string | number | bigint }>('SELECT ipdr_feed_assign() AS head', []);
  return Number(row!.head);
}

/** The most events one read returns; a subscriber behind reads again at once. */
export const FEED_PAGE = 200;

const e = auditEvents.columns;

/** The events about `entityType` in `contextId` after position `after`, in feed order, up to FEED_PAGE. */
export async function readFeed(
  db: Db,
  contextId: number,
  entityType: AuditEntity,
  after: number,
): Promise<FeedEvent[]> {
  const rows = await db.database.read<Omit<FeedEvent, 'seq'> & { seq: string | number | bigint }>(
    `SELECT f.seq, e.${e.id} AS "auditEventId", e.${e.at} AS at, e.${e.actor} AS actor, e.${e.channel} AS channel,
       e.${e.action} AS action, e.${e.entityType} AS "entityType", e.${e.entityId} AS "entityId",
       e.${e.entityIdLast} AS "entityIdLast", e.${e.before} AS before, e.${e.after} AS after
     FROM feed_events f JOIN ${auditEvents.table} e ON e.${e.id} = f.audit_event_id
     WHERE f.context_id = $1 AND f.entity_type = $2 AND f.seq > $3
     ORDER BY f.seq LIMIT ${FEED_PAGE}`,
    [contextId, entityType, after],
  );
  return rows.map((row) => ({ ...row, seq: Number(row.seq) }));
}

// An audit image (audit/store.ts: camelCase fields, times as numbers, timestamps as ISO text) as
// the row the GraphQL types read.
const TIMES = ['starttime', 'endtime'];
const TIMESTAMPS = ['createdAt', 'updatedAt', 'sysFrom'];

/** The record an event shows: its image after the change, or before it for a delete; null for a run of records. */
export function recordOfEvent<Row>(event: FeedEvent): Row | null {
  const image = event.after ?? event.before;
  if (image === null) return null;
  const row: Record<string, unknown> = { ...image };
  for (const field of TIMES) if (typeof row[field] === 'number') row[field] = BigInt(row[field]);
  for (const field of TIMESTAMPS) if (typeof row[field] === 'string') row[field] = new Date(row[field]);
  return row as Row;
}
