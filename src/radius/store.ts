import type { Actor, Tenant } from '../access/types.js';
import { customerImageSql, mappingImageSql } from '../audit/store.js';
import { auditEvents, columnList, customers, mappings, radiusConflicts, radiusSessions } from '../db/columns.js';
import type { DriverSession } from '../db/connection.js';
import { isExclusionViolation, isUniqueViolation, isWriteConflict } from '../db/errors.js';
import type { Db } from '../db/handle.js';
import { ConcurrentChange } from '../db/transaction.js';
import { type IpAddress, parseIpSubnet } from '../domain/ip.js';
import {
  type AccountingInput,
  type AccountingPlan,
  type AccountingRules,
  type AccountingSnapshot,
  type EndKind,
  type EventOutcome,
  type HoldingState,
  type SessionState,
  type SnapshotNeeds,
  planAccounting,
  snapshotNeeds,
} from '../domain/radius-session.js';
import { MAX_UNIX_TIME } from '../domain/time.js';
import type { Prisma } from '../generated/prisma/client.js';
import { containsIpWhere, subnetColumns } from '../mappings/filters.js';

// The only writer of RADIUS state. A group of event batches (one per context) is applied in one
// transaction, a group commit: the caller acknowledges the events only once it has committed.
// Each batch reads what its events touch with a few set-based statements, the pure planner
// (domain/radius-session.ts) works out every change, and the changes are written set-based too:
// the statements a batch sends are as many for one event as for thousands.

export interface AccountingBatch {
  tenant: Tenant;
  inputs: AccountingInput[];
}

export interface AccountingResult {
  /** One per input, in order. */
  outcomes: EventOutcome[];
  /** Addresses refused because another holder had them (recorded in radius_conflicts). */
  conflicts: number;
  sessionsChanged: number;
  mappingsChanged: number;
}

/** Who the audit trail says made RADIUS changes, unless the caller names someone else (an import's user). */
export const RADIUS_ACTOR: Actor = { name: 'radius', channel: 'radius' };

// pg_advisory_xact_lock(class, context): RADIUS writers of one context take turns, so no two
// gateway processes plan from the same snapshot. The two-key form is a lock space of its own,
// apart from the one-key locks of the migrations.
const RADIUS_LOCK_CLASS = 0x52414449;

// A transaction that lost to a concurrent writer (an API write overlapping what it was about to
// write, a deadlock, a row changed after it was read) is run again from the start: its next
// snapshot sees the write it lost to. Few runs are ever needed.
const MAX_RUNS = 5;
const pause = (run: number) => new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * 2 ** run));

const lostRace = (error: unknown) =>
  error instanceof ConcurrentChange ||
  isExclusionViolation(error) ||
  isWriteConflict(error) ||
  isUniqueViolation(error);

/**
 * Applies every batch in ONE transaction (a group commit) and resolves once it has committed,
 * with each batch's result. Throws on any database failure: nothing of any batch was written, and
 * the caller must not acknowledge the events (the NAS sends them again).
 */
export async function applyAccounting(
  db: Db,
  batches: AccountingBatch[],
  rules: AccountingRules,
  actor: Actor = RADIUS_ACTOR,
): Promise<AccountingResult[]> {
  if (batches.every((batch) => batch.inputs.length === 0)) return batches.map(() => emptyResult());
  for (let run = 1; ; run++) {
    try {
      return await db.database.transaction(async (session) => {
        const contextIds = [...new Set(batches.map((batch) => batch.tenant.id))];
        await session.query(LOCK_SQL, [contextIds]);
        const results: AccountingResult[] = [];
        for (const batch of batches) results.push(await applyBatch(session, batch, rules, actor));
        return results;
      });
    } catch (error) {
      if (!lostRace(error) || run === MAX_RUNS) throw error;
      await pause(run);
    }
  }
}

const emptyResult = (): AccountingResult => ({ outcomes: [], conflicts: 0, sessionsChanged: 0, mappingsChanged: 0 });

async function applyBatch(
  session: DriverSession,
  batch: AccountingBatch,
  rules: AccountingRules,
  actor: Actor,
): Promise<AccountingResult> {
  if (batch.inputs.length === 0) return emptyResult();
  const contextId = batch.tenant.id;
  const snapshot = await loadSnapshot(session, contextId, snapshotNeeds(batch.inputs, rules));
  const plan = planAccounting(snapshot, batch.inputs, rules);
  await writePlan(session, contextId, actor, snapshot, plan);
  return {
    outcomes: plan.outcomes,
    conflicts: plan.conflicts.length,
    sessionsChanged: plan.sessions.length,
    mappingsChanged: plan.holdings.length,
  };
}

const s = radiusSessions.columns;
const m = mappings.columns;
const c = customers.columns;
const a = auditEvents.columns;

// Locks in context order: two processes locking several contexts never wait on each other in a cycle.
const LOCK_SQL = `SELECT pg_advisory_xact_lock(${RADIUS_LOCK_CLASS}, ordered.id) FROM (SELECT DISTINCT id FROM unnest($1::int[]) AS id ORDER BY id) ordered`;

// ---- Reading the snapshot: SnapshotNeeds' three steps, and the open sessions in the way ----

const SESSION_FIELDS = [
  'id',
  'sessionKey',
  'userName',
  'acctSessionId',
  'nasKey',
  'nasIpAddress',
  'nasIdentifier',
  'nasPortId',
  'callingStationId',
  'startedAt',
  'lastSeen',
  'endedAt',
  'endKind',
  'terminateCause',
] as const;
const sessionSelect = SESSION_FIELDS.map((field) => `${s[field]} AS "${field}"`).join(', ');

/** A session as SESSIONS_SQL reads it: its key under its column's name, int8 times as bigint. */
type SessionRow = Omit<SessionState, 'key' | 'startedAt' | 'lastSeen' | 'endedAt'> & {
  sessionKey: string;
  startedAt: bigint;
  lastSeen: bigint;
  endedAt: bigint | null;
};

// Step 1, one branch per index: by key (unique), open of a NAS, open and silent (both partial).
// $1 context, $2 keys, $3 NAS keys, $4 silent since before (null: none).
const SESSIONS_SQL = `
SELECT ${sessionSelect} FROM ${radiusSessions.table} WHERE ${s.contextId} = $1 AND ${s.sessionKey} = ANY($2::bpchar[])
UNION
SELECT ${sessionSelect} FROM ${radiusSessions.table} WHERE ${s.contextId} = $1 AND ${s.endedAt} IS NULL AND ${s.nasKey} = ANY($3::text[])
UNION
SELECT ${sessionSelect} FROM ${radiusSessions.table} WHERE ${s.contextId} = $1 AND ${s.endedAt} IS NULL AND ${s.lastSeen} < $4::int8`;

interface HoldingRow {
  id: number;
  userId: string;
  ipsubnet: string;
  network: string;
  starttime: bigint;
  endtime: bigint | null;
  radiusSessionId: number | null;
  endKind: EndKind | null;
}

const holdingSelect = (alias: string) =>
  [
    `${alias}.${m.id} AS id`,
    `${alias}.${m.userId} AS "userId"`,
    `${alias}.${m.ipsubnet} AS ipsubnet`,
    `${alias}.${m.network}::text AS network`,
    `${alias}.${m.starttime} AS starttime`,
    `${alias}.${m.endtime} AS endtime`,
    `${alias}.${m.radiusSessionId} AS "radiusSessionId"`,
    `${alias}.${m.endKind} AS "endKind"`,
  ].join(', ');

// Steps 2 and 3: the sessions' own mappings, and every mapping sharing an address with the
// events' subnets or those mappings' and held at some instant from `since` on. The second is put
// in the non-overlap constraint's own terms (see the box_exclusion migration, mappings/overlaps.ts)
// so that its GiST index answers it: the extent of [since, open) over each subnet.
// $1 context, $2 session ids, $3 subnets (inet[]), $4 since.
const HOLDINGS_SQL = `
WITH own AS (
  SELECT * FROM ${mappings.table} WHERE ${m.contextId} = $1 AND ${m.radiusSessionId} = ANY($2::int[])
), subnet AS (
  SELECT unnest($3::inet[]) AS network UNION SELECT ${m.network} FROM own
)
SELECT ${holdingSelect('own')} FROM own
UNION
SELECT ${holdingSelect('near')} FROM subnet
CROSS JOIN LATERAL (
  SELECT * FROM ${mappings.table} o
  WHERE ipdr_mapping_extent(o.${m.contextId}, o.${m.network}, o.${m.starttime}, o.${m.endtime})
        && ipdr_mapping_extent($1, subnet.network, $4::int8, NULL)
    AND ipdr_mapping_low_bits(o.${m.network}) && ipdr_mapping_low_bits(subnet.network)
) near`;

/** A mapping row as json_build_object gives it (times as JSON numbers: all are below 2^53). */
type HoldingJson = Omit<HoldingRow, 'starttime' | 'endtime'> & { starttime: number; endtime: number | null };

// The open sessions among `$2` (ids), each with every mapping it has. $1 context.
const OWNERS_SQL = `
SELECT ${sessionSelect}, (
  SELECT json_agg(json_build_object(${[
    ['id', m.id],
    ['userId', m.userId],
    ['ipsubnet', m.ipsubnet],
    ['network', `${m.network}::text`],
    ['starttime', m.starttime],
    ['endtime', m.endtime],
    ['radiusSessionId', m.radiusSessionId],
    ['endKind', m.endKind],
  ]
    .map(([field, column]) => `'${field}', ${column}`)
    .join(', ')}))
  FROM ${mappings.table} WHERE ${m.contextId} = $1 AND ${m.radiusSessionId} = r.${s.id}
) AS mappings
FROM ${radiusSessions.table} r WHERE ${s.contextId} = $1 AND ${s.id} = ANY($2::int[]) AND ${s.endedAt} IS NULL`;

const asNumber = (value: bigint | null) => (value === null ? null : Number(value));

function sessionState(row: SessionRow): SessionState {
  const { sessionKey, startedAt, lastSeen, endedAt, ...same } = row;
  return {
    ...same,
    key: sessionKey,
    startedAt: Number(startedAt),
    lastSeen: Number(lastSeen),
    endedAt: asNumber(endedAt),
  };
}

function holdingState(row: HoldingRow): HoldingState {
  // The stored network, not the text as sent: it is what the constraint compares.
  return {
    id: row.id,
    userId: row.userId,
    subnet: { ...parseIpSubnet(row.network), input: row.ipsubnet },
    start: Number(row.starttime),
    end: asNumber(row.endtime),
    sessionId: row.radiusSessionId,
    endKind: row.endKind,
  };
}

async function loadSnapshot(
  session: DriverSession,
  contextId: number,
  needs: SnapshotNeeds,
): Promise<AccountingSnapshot> {
  const sessions = (
    await session.query<SessionRow>(SESSIONS_SQL, [
      contextId,
      needs.sessionKeys,
      needs.nasKeys,
      needs.staleBefore === null ? null : Math.max(0, needs.staleBefore),
    ])
  ).map(sessionState);
  if (sessions.length === 0 && needs.subnets.length === 0) return { sessions, holdings: [] };
  // The events' own times are all unix times; an input without one (a sweep) reads from its sessions' starts.
  const since = sessions.reduce(
    (earliest, one) => Math.min(earliest, one.startedAt),
    Math.min(needs.since, MAX_UNIX_TIME),
  );
  const holdings = await session.query<HoldingRow>(HOLDINGS_SQL, [
    contextId,
    sessions.map((one) => one.id),
    needs.subnets.map((subnet) => subnet.network),
    Math.max(0, since),
  ]);
  // A mapping of another session in the way: when that session is still open, an event here ends
  // it (its Stop was lost), so the planner needs it with all its mappings. Ending only shrinks
  // them, so what they border needs no reading.
  const loaded = new Set(sessions.map((one) => one.id));
  const owners = [
    ...new Set(
      holdings.flatMap((row) =>
        row.radiusSessionId === null || loaded.has(row.radiusSessionId) ? [] : [row.radiusSessionId],
      ),
    ),
  ];
  if (owners.length > 0) {
    const rows = await session.query<SessionRow & { mappings: HoldingJson[] | null }>(OWNERS_SQL, [contextId, owners]);
    const read = new Set(holdings.map((row) => row.id));
    for (const { mappings: ownMappings, ...row } of rows) {
      sessions.push(sessionState(row));
      for (const mapping of ownMappings ?? []) {
        if (read.has(mapping.id)) continue;
        read.add(mapping.id);
        holdings.push({
          ...mapping,
          starttime: BigInt(mapping.starttime),
          endtime: mapping.endtime === null ? null : BigInt(mapping.endtime),
        });
      }
    }
  }
  return { sessions, holdings: holdings.map(holdingState) };
}

// ---- Writing the plan ----

const auditInsert = (fields: readonly (keyof typeof a)[]) =>
  `INSERT INTO ${auditEvents.table} (${columnList(auditEvents, ['contextId', 'actor', 'channel', 'action', 'entityType', 'entityId', ...fields])})`;

// Creates the customers the sessions name that do not exist yet (name = UserID, source RADIUS),
// audited. Those that exist are not offered to the insert: a conflicting insert would still use
// up an id of the sequence, and nearly every Start names a customer that exists.
// $1 context, $2 actor, $3 channel, $4 UserIDs.
const CUSTOMERS_SQL = `
WITH written AS (
  INSERT INTO ${customers.table} AS c (${c.contextId}, ${c.userId}, ${c.name}, ${c.source}, ${c.updatedAt})
  SELECT $1, i.user_id, i.user_id, 'RADIUS', now() FROM unnest($4::text[]) AS i(user_id)
  WHERE NOT EXISTS (SELECT 1 FROM ${customers.table} e WHERE e.${c.contextId} = $1 AND e.${c.userId} = i.user_id)
  ORDER BY i.user_id
  ON CONFLICT (${c.contextId}, ${c.userId}) DO NOTHING
  RETURNING c.*
), audited AS (
  ${auditInsert(['after'])}
  SELECT $1, $2, $3, 'create', 'customer', w.${c.id}, ${customerImageSql('w')} FROM written w ORDER BY w.${c.id}
)
SELECT count(*)::int AS created FROM written`;

// The session columns the plan sets, in the order of the statement's arrays ($3-$15), with the
// element type of each array and where the planned session holds it.
const WRITTEN_SESSION_FIELDS = [
  ['sessionKey', 'bpchar', (one) => one.key],
  ['userName', 'text', (one) => one.userName],
  ['acctSessionId', 'text', (one) => one.acctSessionId],
  ['nasKey', 'text', (one) => one.nasKey],
  ['nasIpAddress', 'text', (one) => one.nasIpAddress],
  ['nasIdentifier', 'text', (one) => one.nasIdentifier],
  ['nasPortId', 'text', (one) => one.nasPortId],
  ['callingStationId', 'text', (one) => one.callingStationId],
  ['startedAt', 'int8', (one) => one.startedAt],
  ['lastSeen', 'int8', (one) => one.lastSeen],
  ['endedAt', 'int8', (one) => one.endedAt],
  ['endKind', 'text', (one) => one.endKind],
  ['terminateCause', 'text', (one) => one.terminateCause],
] as const satisfies readonly (readonly [(typeof SESSION_FIELDS)[number], string, (one: SessionState) => unknown])[];
const sessionColumns = columnList(
  radiusSessions,
  WRITTEN_SESSION_FIELDS.map(([field]) => field),
);
// What a known session's events may change (its key, user and NAS are what identify it).
const CHANGING_SESSION_FIELDS = [
  'callingStationId',
  'startedAt',
  'lastSeen',
  'endedAt',
  'endKind',
  'terminateCause',
] as const;

// Inserts the new sessions (negative ids) and updates the changed ones. The new ones' ids come
// back with their keys (a context's sessions have one key each).
// $1 context, $2 ids, $3.. the columns.
const SESSIONS_WRITE_SQL = `
WITH input AS (
  SELECT * FROM unnest($2::int[], ${WRITTEN_SESSION_FIELDS.map(([, type], i) => `$${i + 3}::${type}[]`).join(', ')})
    WITH ORDINALITY AS i(${s.id}, ${sessionColumns}, ord)
), inserted AS (
  INSERT INTO ${radiusSessions.table} (${s.contextId}, ${sessionColumns}, ${s.updatedAt})
  SELECT $1, ${sessionColumns}, now() FROM input WHERE ${s.id} < 0 ORDER BY ord
  RETURNING ${s.id} AS id, ${s.sessionKey} AS key
), updated AS (
  UPDATE ${radiusSessions.table} r SET
    ${CHANGING_SESSION_FIELDS.map((field) => `${s[field]} = i.${s[field]}`).join(', ')}, ${s.updatedAt} = now()
  FROM input i WHERE i.${s.id} > 0 AND r.${s.id} = i.${s.id} AND r.${s.contextId} = $1
  RETURNING r.${s.id} AS id
)
SELECT id, key FROM inserted UNION ALL SELECT id, NULL FROM updated`;

// Changes stored mappings' periods and end kinds, each only if it is still as the snapshot read it
// (an API write may have changed it since: then the whole transaction runs again), and audits
// each with its image before and after. `old` is the row as it was before this statement.
// $1 context, $2 actor, $3 channel, $4 ids, $5-$7 as read (start, end, end kind), $8-$10 new.
const MAPPINGS_UPDATE_SQL = `
WITH input AS (
  SELECT * FROM unnest($4::int[], $5::int8[], $6::int8[], $7::text[], $8::int8[], $9::int8[], $10::text[])
    AS i(id, read_start, read_end, read_kind, starttime, endtime, end_kind)
), updated AS (
  UPDATE ${mappings.table} w SET ${m.starttime} = i.starttime, ${m.endtime} = i.endtime, ${m.endKind} = i.end_kind, ${m.updatedAt} = now()
  FROM input i, ${mappings.table} old
  WHERE w.${m.id} = i.id AND old.${m.id} = w.${m.id} AND w.${m.contextId} = $1
    AND w.${m.starttime} = i.read_start AND w.${m.endtime} IS NOT DISTINCT FROM i.read_end
    AND w.${m.endKind} IS NOT DISTINCT FROM i.read_kind
  RETURNING w.${m.id} AS id, ${mappingImageSql('old')} AS before, ${mappingImageSql('w')} AS after
), audited AS (
  ${auditInsert(['before', 'after'])}
  SELECT $1, $2, $3, 'update', 'mapping', id, before, after FROM updated ORDER BY id
)
SELECT count(*)::int AS updated FROM updated`;

// The mapping columns a new session mapping sets from the plan, in the order of the arrays ($4-$12).
// Its customer (id and UserID, which the foreign key checks together) is probed by UserID, one
// index probe per row as the CSV import does.
// $1 context, $2 actor, $3 channel.
const MAPPINGS_INSERT_SQL = `
WITH input AS (
  SELECT * FROM unnest($4::text[], $5::text[], $6::inet[], $7::text[], $8::text[], $9::int8[], $10::int8[], $11::int[], $12::text[])
    WITH ORDINALITY AS i(user_id, ipsubnet, network, ip_first, ip_last, starttime, endtime, radius_session_id, end_kind, ord)
), written AS (
  INSERT INTO ${mappings.table} (${columnList(mappings, [
    'contextId',
    'customerId',
    'userId',
    'ipsubnet',
    'network',
    'ipFirst',
    'ipLast',
    'starttime',
    'endtime',
    'source',
    'radiusSessionId',
    'endKind',
    'updatedAt',
  ])})
  SELECT $1, owner.${c.id}, owner.${c.userId}, i.ipsubnet, i.network, i.ip_first, i.ip_last, i.starttime, i.endtime,
    'RADIUS', i.radius_session_id, i.end_kind, now()
  FROM input i
  CROSS JOIN LATERAL (
    SELECT ${c.id}, ${c.userId} FROM ${customers.table} WHERE ${c.contextId} = $1 AND ${c.userId} = i.user_id LIMIT 1
  ) owner
  ORDER BY i.ord
  RETURNING *
), audited AS (
  ${auditInsert(['after'])}
  SELECT $1, $2, $3, 'create', 'mapping', w.${m.id}, ${mappingImageSql('w')} FROM written w ORDER BY w.${m.id}
)
SELECT ${m.id} AS id, ${m.radiusSessionId} AS "sessionId", ${m.network}::text AS network, ${m.starttime} AS start FROM written`;

// $1 context, $2.. the columns.
const CONFLICTS_SQL = `
INSERT INTO ${radiusConflicts.table} (${columnList(radiusConflicts, [
  'contextId',
  'radiusSessionId',
  'network',
  'ipsubnet',
  'starttime',
  'endtime',
  'mappingId',
  'holderUserId',
  'kind',
])})
SELECT $1, session_id, network, ipsubnet, starttime, endtime, mapping_id, holder_user_id, kind
FROM unnest($2::int[], $3::inet[], $4::text[], $5::int8[], $6::int8[], $7::int[], $8::text[], $9::text[])
  WITH ORDINALITY AS i(session_id, network, ipsubnet, starttime, endtime, mapping_id, holder_user_id, kind, ord)
ORDER BY ord`;

/** A new mapping's identity in the plan and as written: its session, network and start. */
const holdingKey = (sessionId: number, network: string, start: number | bigint) => `${sessionId} ${network} ${start}`;

async function writePlan(
  session: DriverSession,
  contextId: number,
  actor: Actor,
  snapshot: AccountingSnapshot,
  plan: AccountingPlan,
) {
  const audit = [contextId, actor.name, actor.channel];
  if (plan.customers.length > 0) await session.query(CUSTOMERS_SQL, [...audit, plan.customers]);

  // Sessions first: new mappings and conflicts name them by their real ids.
  const sessionIds = new Map<number, number>();
  for (const one of plan.sessions) if (one.id > 0) sessionIds.set(one.id, one.id);
  if (plan.sessions.length > 0) {
    const written = await session.query<{ id: number; key: string | null }>(SESSIONS_WRITE_SQL, [
      contextId,
      plan.sessions.map((one) => one.id),
      ...WRITTEN_SESSION_FIELDS.map(([, , value]) => plan.sessions.map((one): unknown => value(one))),
    ]);
    const idByKey = new Map(written.filter((row) => row.key !== null).map((row) => [row.key!.trim(), row.id]));
    for (const one of plan.sessions) {
      if (one.id > 0) continue;
      const id = idByKey.get(one.key);
      if (id === undefined) throw new Error(`session ${one.key} was planned but not written`);
      sessionIds.set(one.id, id);
    }
    if (written.length !== plan.sessions.length) {
      throw new ConcurrentChange('a RADIUS session changed while its events were being applied');
    }
  }
  const realSessionId = (id: number) => {
    const real = sessionIds.get(id) ?? (id > 0 ? id : undefined);
    if (real === undefined) throw new Error(`session ${id} of the plan has no id`);
    return real;
  };

  // Changed mappings before new ones: a new mapping may take an address another one gives up.
  const read = new Map(snapshot.holdings.map((holding) => [holding.id, holding]));
  const changed = plan.holdings.filter((holding) => holding.id > 0);
  if (changed.length > 0) {
    const before = changed.map((holding) => {
      const stored = read.get(holding.id);
      if (!stored) throw new Error(`mapping ${holding.id} was planned but not read`);
      return stored;
    });
    const [result] = await session.query<{ updated: number }>(MAPPINGS_UPDATE_SQL, [
      ...audit,
      changed.map((holding) => holding.id),
      before.map((holding) => holding.start),
      before.map((holding) => holding.end),
      before.map((holding) => holding.endKind),
      changed.map((holding) => holding.start),
      changed.map((holding) => holding.end),
      changed.map((holding) => holding.endKind),
    ]);
    if (result!.updated !== changed.length) {
      throw new ConcurrentChange('a mapping changed while RADIUS events were being applied to it');
    }
  }

  const mappingIds = new Map<number, number>();
  const created = plan.holdings.filter((holding) => holding.id < 0);
  if (created.length > 0) {
    const sessionOf = (holding: HoldingState) => realSessionId(holding.sessionId!);
    const written = await session.query<{ id: number; sessionId: number; network: string; start: bigint }>(
      MAPPINGS_INSERT_SQL,
      [
        ...audit,
        created.map((holding) => holding.userId),
        ...(['ipsubnet', 'network', 'ipFirst', 'ipLast'] as const).map((column) =>
          created.map((holding) => subnetColumns(holding.subnet)[column]),
        ),
        created.map((holding) => holding.start),
        created.map((holding) => holding.end),
        created.map(sessionOf),
        created.map((holding) => holding.endKind),
      ],
    );
    // A customer deleted since it was created or read: the next run creates it again.
    if (written.length !== created.length) {
      throw new ConcurrentChange("a session's customer was deleted while its events were being applied");
    }
    const idByKey = new Map(written.map((row) => [holdingKey(row.sessionId, row.network, row.start), row.id]));
    for (const holding of created) {
      const id = idByKey.get(holdingKey(sessionOf(holding), holding.subnet.network, holding.start));
      if (id === undefined) throw new Error(`mapping of ${holding.subnet.network} was planned but not written`);
      mappingIds.set(holding.id, id);
    }
  }

  if (plan.conflicts.length > 0) {
    const realMappingId = (id: number) => {
      const real = id > 0 ? id : mappingIds.get(id);
      if (real === undefined) throw new Error(`mapping ${id} of the plan has no id`);
      return real;
    };
    await session.query(CONFLICTS_SQL, [
      contextId,
      plan.conflicts.map((conflict) => realSessionId(conflict.sessionId)),
      plan.conflicts.map((conflict) => conflict.subnet.network),
      plan.conflicts.map((conflict) => conflict.subnet.input),
      plan.conflicts.map((conflict) => conflict.start),
      plan.conflicts.map((conflict) => conflict.end),
      plan.conflicts.map((conflict) => realMappingId(conflict.mappingId)),
      plan.conflicts.map((conflict) => conflict.holderUserId),
      plan.conflicts.map((conflict) => conflict.kind),
    ]);
  }
}

// ---- Reading back ----

/** What `radiusSessions` filters on; every filter given must hold. */
export interface RadiusSessionFilter {
  userName?: string | null | undefined;
  /** A NAS, by its address or its identifier. */
  nas?: string | null | undefined;
  /** true: only open sessions; false: only ended ones. */
  open?: boolean | null | undefined;
  /** Only sessions one of whose mappings contains this address. */
  address?: IpAddress | null | undefined;
}

export function radiusSessionsWhere(contextId: number, filter: RadiusSessionFilter): Prisma.RadiusSessionWhereInput {
  const and: Prisma.RadiusSessionWhereInput[] = [{ contextId }];
  if (filter.userName != null) and.push({ userName: filter.userName });
  if (filter.nas != null) and.push({ OR: [{ nasIpAddress: filter.nas }, { nasIdentifier: filter.nas }] });
  if (filter.open != null) and.push({ endedAt: filter.open ? null : { not: null } });
  if (filter.address != null) and.push({ mappings: { some: containsIpWhere(filter.address) } });
  return { AND: and };
}

export const radiusConflictsWhere = (contextId: number): Prisma.RadiusConflictWhereInput => ({ contextId });
