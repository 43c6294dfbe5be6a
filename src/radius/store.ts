import type { Actor, Tenant } from '../access/types.js';
import { customerImageSql, mappingImageSql } from '../audit/store.js';
import {
  auditEvents,
  columnList,
  customers,
  mappings,
  natPortBlocks,
  natRules,
  radiusConflicts,
  radiusSessions,
} from '../db/columns.js';
import type { DriverSession } from '../db/connection.js';
import { isExclusionViolation, isUniqueViolation, isWriteConflict } from '../db/errors.js';
import type { Db } from '../db/handle.js';
import { ConcurrentChange } from '../db/transaction.js';
import { type IpAddress, parseIpSubnet } from '../domain/ip.js';
import {
  type AccountingInput,
  type AccountingConflict,
  type AccountingPlan,
  type AccountingRules,
  type AccountingSnapshot,
  type EndKind,
  type EventOutcome,
  type HoldingState,
  type NatHolding,
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
      // Locks in context order: two processes locking several contexts never wait on each other in a cycle.
      const contextIds = [...new Set(batches.map((batch) => batch.tenant.id))].sort((x, y) => x - y);
      return await db.database.transaction(
        async (session) => {
          const results: AccountingResult[] = [];
          for (const batch of batches) results.push(await applyBatch(session, batch, rules, actor));
          return results;
        },
        {
          advisoryLocks: contextIds.map((id) => [RADIUS_LOCK_CLASS, id] as const),
          genericPlans: true,
          sealChains: true,
        },
      );
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
const b = natPortBlocks.columns;
const r = natRules.columns;
const c = customers.columns;
const a = auditEvents.columns;

// ---- Reading the snapshot: SnapshotNeeds' three steps in one statement, and the open sessions in the way ----

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
const sessionJson = (alias: string) =>
  `json_build_object(${SESSION_FIELDS.map((field) => `'${field}', ${alias}.${s[field]}`).join(', ')})`;

/** A session as json_build_object gives it: its key under its column's name (times are JSON numbers, all below 2^53). */
type SessionJson = Omit<SessionState, 'key'> & { sessionKey: string };

const holdingJson = (alias: string) =>
  `json_build_object(${[
    ['id', m.id],
    ['userId', m.userId],
    ['ipsubnet', m.ipsubnet],
    ['network', `${m.network}::text`],
    ['starttime', m.starttime],
    ['endtime', m.endtime],
    ['radiusSessionId', m.radiusSessionId],
    ['endKind', m.endKind],
  ]
    .map(([field, column]) => `'${field}', ${alias}.${column}`)
    .join(', ')})`;

interface HoldingJson {
  id: number;
  userId: string;
  ipsubnet: string;
  network: string;
  starttime: number;
  endtime: number | null;
  radiusSessionId: number | null;
  endKind: EndKind | null;
}

// What an event batch touches, in one statement (a group commit's latency is mostly round trips):
// 1. sessions, one branch per index: by key (unique), open of a NAS, open and silent (both
//    partial). Only the branches the batch needs: as a prepared statement its plan is made once
//    per connection without the parameters' values, and a branch for "open sessions of no NAS"
//    would still read every open session;
// 2. the found sessions' own mappings, by session alone: a session's mappings are in its context
//    (their foreign key names both), and a context_id there would offer the planner the
//    mappings' indexes that lead with it, which read the whole context;
// 3. every mapping sharing an address with the events' subnets or those mappings' and held at
//    some instant from `since` on (or from the found sessions' earliest start), put in the
//    non-overlap constraint's own terms (see the box_exclusion migration, mappings/overlaps.ts)
//    so that its GiST index answers it: the extent of [since, open) over each subnet.
function snapshotStatement(contextId: number, needs: SnapshotNeeds): { text: string; params: unknown[] } {
  const params: unknown[] = [contextId];
  const param = (value: unknown, type: string) => `$${params.push(value)}::${type}`;
  const sessions = `SELECT * FROM ${radiusSessions.table} WHERE ${s.contextId} = $1`;
  const branches: string[] = [];
  if (needs.sessionKeys.length > 0)
    branches.push(`${sessions} AND ${s.sessionKey} = ANY(${param(needs.sessionKeys, 'bpchar[]')})`);
  if (needs.nasKeys.length > 0) {
    branches.push(`${sessions} AND ${s.endedAt} IS NULL AND ${s.nasKey} = ANY(${param(needs.nasKeys, 'text[]')})`);
  }
  if (needs.staleBefore !== null) {
    branches.push(
      `${sessions} AND ${s.endedAt} IS NULL AND ${s.lastSeen} < ${param(Math.max(0, needs.staleBefore), 'int8')}`,
    );
  }
  const text = `
WITH found AS (
  ${branches.length > 0 ? branches.join('\n  UNION\n  ') : `${sessions} AND false`}
), own AS (
  SELECT o.* FROM found CROSS JOIN LATERAL (
    SELECT * FROM ${mappings.table} WHERE ${m.radiusSessionId} = found.${s.id}
  ) o
), subnet AS (
  SELECT unnest(${param(
    needs.subnets.map((subnet) => subnet.network),
    'inet[]',
  )}) AS network UNION SELECT ${m.network} FROM own
), since AS (
  -- The events' own times are all unix times; an input without one (a sweep) reads from its sessions' starts.
  SELECT GREATEST(0, LEAST(${param(Math.min(needs.since, MAX_UNIX_TIME), 'int8')}, (SELECT min(${s.startedAt}) FROM found))) AS at
), held AS (
  SELECT * FROM own
  UNION
  SELECT near.* FROM subnet CROSS JOIN since
  CROSS JOIN LATERAL (
    SELECT * FROM ${mappings.table} o
    WHERE ipdr_mapping_extent(o.${m.contextId}, o.${m.network}, o.${m.starttime}, o.${m.endtime})
          && ipdr_mapping_extent($1, subnet.network, since.at, NULL)
      AND ipdr_mapping_low_bits(o.${m.network}) && ipdr_mapping_low_bits(subnet.network)
  ) near
), nat AS (
  -- IPv4 only: a NAT binding or rule holds public IPv4 addresses (the tables' CHECKs).
  SELECT 'NAT_BINDING' AS kind, nb.${b.id} AS id, nb.${b.publicAddress}::text AS network, nb.${b.starttime} AS starttime, nb.${b.endtime} AS endtime
  FROM subnet CROSS JOIN since
  JOIN ${natPortBlocks.table} nb
    ON ipdr_mapping_extent(nb.${b.contextId}, nb.${b.publicAddress}, nb.${b.starttime}, nb.${b.endtime})
       && ipdr_mapping_extent($1, subnet.network, since.at, NULL)
  WHERE family(subnet.network) = 4
  UNION
  SELECT 'NAT_RULE', nr.${r.id}, nr.${r.outsidePrefix}::text, nr.${r.starttime}, nr.${r.endtime}
  FROM subnet CROSS JOIN since
  JOIN ${natRules.table} nr
    ON ipdr_mapping_extent(nr.${r.contextId}, nr.${r.outsidePrefix}, nr.${r.starttime}, nr.${r.endtime})
       && ipdr_mapping_extent($1, subnet.network, since.at, NULL)
  WHERE family(subnet.network) = 4
)
SELECT (SELECT json_agg(${sessionJson('found')}) FROM found) AS sessions,
       (SELECT json_agg(${holdingJson('held')}) FROM held) AS holdings,
       (SELECT json_agg(nat) FROM nat) AS nat`;
  return { text, params };
}

// The open sessions among `$1` (ids of sessions whose mappings this context's snapshot read: the
// mappings' foreign key names the context too, so no context_id here, see the snapshot), each
// with every mapping it has.
const OWNERS_SQL = `
SELECT ${sessionJson('r')} AS session, (
  SELECT json_agg(${holdingJson('o')}) FROM ${mappings.table} o WHERE o.${m.radiusSessionId} = r.${s.id}
) AS mappings
FROM ${radiusSessions.table} r WHERE r.${s.id} = ANY($1::int[]) AND r.${s.endedAt} IS NULL`;

const sessionState = ({ sessionKey, ...same }: SessionJson): SessionState => ({ ...same, key: sessionKey });

function holdingState(row: HoldingJson): HoldingState {
  // The stored network, not the text as sent: it is what the constraint compares.
  return {
    id: row.id,
    userId: row.userId,
    subnet: { ...parseIpSubnet(row.network), input: row.ipsubnet },
    start: row.starttime,
    end: row.endtime,
    sessionId: row.radiusSessionId,
    endKind: row.endKind,
  };
}

/** A NAT binding or rule as the snapshot's `nat` part gives it. */
interface NatHoldingJson {
  kind: NatHolding['kind'];
  id: number;
  network: string;
  starttime: number;
  endtime: number | null;
}

const natHolding = (row: NatHoldingJson): NatHolding => ({
  kind: row.kind,
  id: row.id,
  subnet: parseIpSubnet(row.network),
  start: row.starttime,
  end: row.endtime,
});

async function loadSnapshot(
  session: DriverSession,
  contextId: number,
  needs: SnapshotNeeds,
): Promise<AccountingSnapshot> {
  const { text, params } = snapshotStatement(contextId, needs);
  const [read] = await session.query<{
    sessions: SessionJson[] | null;
    holdings: HoldingJson[] | null;
    nat: NatHoldingJson[] | null;
  }>(text, params, { prepared: true });
  const sessions = (read!.sessions ?? []).map(sessionState);
  const holdings = read!.holdings ?? [];
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
    const rows = await session.query<{ session: SessionJson; mappings: HoldingJson[] | null }>(OWNERS_SQL, [owners], {
      prepared: true,
    });
    const known = new Set(holdings.map((row) => row.id));
    for (const row of rows) {
      sessions.push(sessionState(row.session));
      for (const mapping of row.mappings ?? []) {
        if (known.has(mapping.id)) continue;
        known.add(mapping.id);
        holdings.push(mapping);
      }
    }
  }
  return { sessions, holdings: holdings.map(holdingState), natHolders: (read!.nat ?? []).map(natHolding) };
}

// ---- Writing the plan ----

/**
 * One statement being put together from data-modifying CTEs: its parameters (each placeholder
 * cast to its type) and its parts. Its text depends only on which parts it has, so as a prepared
 * statement it is planned once per connection for each shape a plan takes.
 */
class WriteStatement {
  readonly params: unknown[] = [];
  private readonly parts: string[] = [];
  private readonly results: string[] = [];
  private readonly audits: string[] = [];
  private readonly named = new Map<string, string>();
  readonly names = new Set<string>();

  constructor(
    private readonly contextId: number,
    private readonly actor: Actor,
  ) {}

  // A parameter several parts name, added when first named: one the text never names would have
  // no type PostgreSQL could know (a statement that changes only sessions names no actor).
  private shared(name: string, value: unknown, type: string): string {
    let placeholder = this.named.get(name);
    if (placeholder === undefined) this.named.set(name, (placeholder = this.param(value, type)));
    return placeholder;
  }

  get context(): string {
    return this.shared('context', this.contextId, 'int');
  }

  param(value: unknown, type: string): string {
    return `$${this.params.push(value)}::${type}`;
  }

  /**
   * `unnest(...) WITH ORDINALITY AS i(<the columns' names>, ord)`: one array parameter per column,
   * of its value for each row, so that each name stands beside its array and type.
   */
  unnest<Row>(rows: readonly Row[], columns: readonly Column<Row>[]): string {
    const arrays = columns.map(([, type, value]) => this.param(rows.map(value), `${type}[]`));
    return `unnest(${arrays.join(', ')}) WITH ORDINALITY AS i(${columns.map(([name]) => name).join(', ')}, ord)`;
  }

  with(name: string, sql: string) {
    this.names.add(name);
    this.parts.push(`${name} AS (${sql})`);
  }

  result(name: string, sql: string) {
    this.results.push(`(${sql}) AS "${name}"`);
  }

  /** Audits each row of `from` (a part of this statement): its entity id, and its images as SQL or null. */
  audit(rank: number, action: string, entityType: string, from: string, id: string, before: string, after: string) {
    this.audits.push(
      `SELECT ${rank} AS part, '${action}' AS action, '${entityType}' AS entity_type, ${id} AS entity_id, ${before}::jsonb AS before, ${after}::jsonb AS after FROM ${from}`,
    );
  }

  get text(): string {
    // One audit insert, by AUDIT_RANK and then by id: the trail's ids follow the order of what happened.
    const parts =
      this.audits.length === 0
        ? this.parts
        : [
            ...this.parts,
            `audited AS (${auditInsert(['before', 'after'])}
  SELECT ${this.context}, ${this.shared('actor', this.actor.name, 'text')}, ${this.shared('channel', this.actor.channel, 'text')}, action, entity_type, entity_id, before, after
  FROM (${this.audits.join('\n  UNION ALL ')}) audit ORDER BY part, entity_id)`,
          ];
    // A statement whose parts report nothing still selects a column.
    return `WITH ${parts.join(',\n')}\nSELECT ${this.results.length > 0 ? this.results.join(', ') : 'true AS written'}`;
  }
}

/** An array column of an `unnest`: its name, its element type, and each row's value. */
type Column<Row> = readonly [name: string, type: string, value: (row: Row) => unknown];

/** The order of a statement's audit rows: a customer before the mappings it gets, ends before starts. */
const AUDIT_RANK = { customer: 0, mappingChange: 1, newMapping: 2 };

/** What a write statement reports back; each field only when its part was in the statement. */
interface WriteResult {
  newSessions?: { id: number; key: string }[] | null;
  sessionsUpdated?: number;
  mappingsUpdated?: number;
  newMappings?: number;
  newConflicts?: number;
}

const auditInsert = (fields: readonly (keyof typeof a)[]) =>
  `INSERT INTO ${auditEvents.table} (${columnList(auditEvents, ['contextId', 'actor', 'channel', 'action', 'entityType', 'entityId', ...fields])})`;

// Creates the customers the sessions name that do not exist yet (name = UserID, source RADIUS),
// audited. Those that exist are not offered to the insert: a conflicting insert would still use
// up an id of the sequence, and nearly every Start names a customer that exists. A customer
// another writer creates meanwhile is skipped here; the mappings then find no customer in this
// statement's snapshot, and the transaction runs again.
function writeCustomers(statement: WriteStatement, userIds: string[]) {
  statement.with(
    'new_customers',
    `INSERT INTO ${customers.table} AS c (${c.contextId}, ${c.userId}, ${c.name}, ${c.source}, ${c.updatedAt})
  SELECT ${statement.context}, i.user_id, i.user_id, 'RADIUS', now() FROM unnest(${statement.param(userIds, 'text[]')}) AS i(user_id)
  WHERE NOT EXISTS (SELECT 1 FROM ${customers.table} e WHERE e.${c.contextId} = ${statement.context} AND e.${c.userId} = i.user_id)
  ORDER BY i.user_id
  ON CONFLICT (${c.contextId}, ${c.userId}) DO NOTHING
  RETURNING c.*`,
  );
  statement.audit(
    AUDIT_RANK.customer,
    'create',
    'customer',
    'new_customers w',
    `w.${c.id}`,
    'NULL',
    customerImageSql('w'),
  );
}

// The session columns the plan sets, with the element type of each array and where the planned
// session holds it.
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
// back with their keys (a context's sessions have one key each): the mappings and conflicts of
// the same statement find them there.
function writeSessions(statement: WriteStatement, sessions: SessionState[]) {
  statement.with(
    'session_input',
    `SELECT * FROM ${statement.unnest(sessions, [
      [s.id, 'int', (one) => one.id],
      ...WRITTEN_SESSION_FIELDS.map(([field, type, value]): Column<SessionState> => [s[field], type, value]),
    ])}`,
  );
  if (sessions.some((one) => one.id < 0)) {
    statement.with(
      'new_sessions',
      `INSERT INTO ${radiusSessions.table} (${s.contextId}, ${sessionColumns}, ${s.updatedAt})
  SELECT ${statement.context}, ${sessionColumns}, now() FROM session_input WHERE ${s.id} < 0 ORDER BY ord
  RETURNING ${s.id} AS id, ${s.sessionKey} AS key`,
    );
    statement.result('newSessions', `SELECT json_agg(json_build_object('id', id, 'key', key)) FROM new_sessions`);
  }
  if (sessions.some((one) => one.id > 0)) {
    statement.with(
      'changed_sessions',
      `UPDATE ${radiusSessions.table} r SET
    ${CHANGING_SESSION_FIELDS.map((field) => `${s[field]} = i.${s[field]}`).join(', ')}, ${s.updatedAt} = now()
  FROM session_input i WHERE i.${s.id} > 0 AND r.${s.id} = i.${s.id} AND r.${s.contextId} = ${statement.context}
  RETURNING r.${s.id} AS id`,
    );
    statement.result('sessionsUpdated', `SELECT count(*)::int FROM changed_sessions`);
  }
}

// Changes stored mappings' periods and end kinds, each only if it is still as the snapshot read it
// (an API write may have changed it since: then the whole transaction runs again), and audits
// each with its image before and after. `old` is the row as it was before this statement. By id
// alone: the ids are those this context's snapshot read (a context_id would offer the planner
// the indexes that lead with it, see the snapshot).
function updateMappings(statement: WriteStatement, changed: HoldingState[], before: HoldingState[]) {
  const rows = changed.map((planned, index) => ({ planned, read: before[index]! }));
  statement.with(
    'mapping_changes',
    `SELECT * FROM ${statement.unnest(rows, [
      ['id', 'int', (row) => row.planned.id],
      ['read_start', 'int8', (row) => row.read.start],
      ['read_end', 'int8', (row) => row.read.end],
      ['read_kind', 'text', (row) => row.read.endKind],
      ['starttime', 'int8', (row) => row.planned.start],
      ['endtime', 'int8', (row) => row.planned.end],
      ['end_kind', 'text', (row) => row.planned.endKind],
    ])}`,
  );
  statement.with(
    'changed_mappings',
    `UPDATE ${mappings.table} w SET ${m.starttime} = i.starttime, ${m.endtime} = i.endtime, ${m.endKind} = i.end_kind, ${m.updatedAt} = now()
  FROM mapping_changes i, ${mappings.table} old
  WHERE w.${m.id} = i.id AND old.${m.id} = w.${m.id}
    AND w.${m.starttime} = i.read_start AND w.${m.endtime} IS NOT DISTINCT FROM i.read_end
    AND w.${m.endKind} IS NOT DISTINCT FROM i.read_kind
  RETURNING w.${m.id} AS id, ${mappingImageSql('old')} AS before, ${mappingImageSql('w')} AS after`,
  );
  statement.audit(AUDIT_RANK.mappingChange, 'update', 'mapping', 'changed_mappings w', 'w.id', 'w.before', 'w.after');
  statement.result('mappingsUpdated', `SELECT count(*)::int FROM changed_mappings`);
}

/**
 * The id of a row this statement writes, by its key in `cte`: the ids by key are collected once
 * per statement (an uncorrelated subquery runs once), not searched for each row that needs one.
 */
const idByKeySql = (cte: string, key: string, id: string, lookup: string) =>
  `((SELECT jsonb_object_agg(${key}, ${id}) FROM ${cte}) ->> (${lookup}))::int`;

/**
 * A planned session's id as written: a known session's own, or (for one this statement creates)
 * the id `new_sessions` returns for its key.
 */
const sessionIdSql = (statement: WriteStatement, input: string) =>
  statement.names.has('new_sessions')
    ? `COALESCE(${input}.session_id, ${idByKeySql('new_sessions', 'key::text', 'id', `${input}.session_key::text`)})`
    : `${input}.session_id`;

// The new session mappings. Each one's customer (id and UserID, which the foreign key checks
// together) is one this statement creates or else found by UserID, one index probe per row as the
// CSV import does.
function insertMappings(statement: WriteStatement, created: HoldingState[], keyOf: (id: number) => string) {
  const rows = created.map((holding) => ({ holding, subnet: subnetColumns(holding.subnet) }));
  statement.with(
    'mapping_input',
    `SELECT * FROM ${statement.unnest(rows, [
      ['user_id', 'text', ({ holding }) => holding.userId],
      ['session_id', 'int', ({ holding }) => (holding.sessionId! > 0 ? holding.sessionId : null)],
      ['session_key', 'bpchar', ({ holding }) => (holding.sessionId! > 0 ? null : keyOf(holding.sessionId!))],
      ['ipsubnet', 'text', ({ subnet }) => subnet.ipsubnet],
      ['network', 'inet', ({ subnet }) => subnet.network],
      ['ip_first', 'text', ({ subnet }) => subnet.ipFirst],
      ['ip_last', 'text', ({ subnet }) => subnet.ipLast],
      ['starttime', 'int8', ({ holding }) => holding.start],
      ['endtime', 'int8', ({ holding }) => holding.end],
      ['end_kind', 'text', ({ holding }) => holding.endKind],
    ])}`,
  );
  // A customer this statement creates is not in its snapshot: its id comes from new_customers.
  const createdCustomer = statement.names.has('new_customers')
    ? idByKeySql('new_customers', c.userId, c.id, 'i.user_id')
    : 'NULL::int';
  statement.with(
    'new_mappings',
    `INSERT INTO ${mappings.table} (${columnList(mappings, [
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
  SELECT ${statement.context}, owner.id, i.user_id, i.ipsubnet, i.network, i.ip_first, i.ip_last, i.starttime, i.endtime,
    'RADIUS', ${sessionIdSql(statement, 'i')}, i.end_kind, now()
  FROM mapping_input i
  CROSS JOIN LATERAL (
    SELECT COALESCE(${createdCustomer}, (
      SELECT e.${c.id} FROM ${customers.table} e WHERE e.${c.contextId} = ${statement.context} AND e.${c.userId} = i.user_id
    )) AS id
  ) owner
  WHERE owner.id IS NOT NULL
  ORDER BY i.ord
  RETURNING *`,
  );
  statement.audit(
    AUDIT_RANK.newMapping,
    'create',
    'mapping',
    'new_mappings w',
    `w.${m.id}`,
    'NULL',
    mappingImageSql('w'),
  );
  statement.result('newMappings', `SELECT count(*)::int FROM new_mappings`);
}

type MappingConflict = Extract<AccountingConflict, { mappingId: number }>;
// A mapping holder the database has (positive id), or one this statement creates (negative).
const storedHolder = (conflict: AccountingConflict): conflict is MappingConflict =>
  'mappingId' in conflict && conflict.mappingId > 0;
const newHolder = (conflict: AccountingConflict): conflict is MappingConflict =>
  'mappingId' in conflict && conflict.mappingId < 0;

// The addresses refused because another holder had them. A holder this statement creates is
// found among its new mappings by network and start: two mappings of one context with both the
// same could not both exist (the non-overlap constraint).
function insertConflicts(
  statement: WriteStatement,
  conflicts: AccountingConflict[],
  keyOf: (id: number) => string,
  holdingOf: (id: number) => HoldingState,
) {
  const holder = statement.names.has('new_mappings')
    ? `COALESCE(i.mapping_id, ${idByKeySql('new_mappings', `${m.network}::text || ' ' || ${m.starttime}`, m.id, `i.holder_network::text || ' ' || i.holder_start`)})`
    : 'i.mapping_id';
  statement.with(
    'new_conflicts',
    `INSERT INTO ${radiusConflicts.table} (${columnList(radiusConflicts, [
      'contextId',
      'radiusSessionId',
      'network',
      'ipsubnet',
      'starttime',
      'endtime',
      'mappingId',
      'holderUserId',
      'natHolderId',
      'kind',
    ])})
  SELECT ${statement.context}, i.session, i.network, i.ipsubnet, i.starttime, i.endtime, i.holder, i.holder_user_id, i.nat_holder_id, i.kind
  FROM (
    SELECT i.*, ${sessionIdSql(statement, 'i')} AS session, ${holder} AS holder
    FROM ${statement.unnest(conflicts, [
      ['session_id', 'int', (conflict) => (conflict.sessionId > 0 ? conflict.sessionId : null)],
      ['session_key', 'bpchar', (conflict) => (conflict.sessionId > 0 ? null : keyOf(conflict.sessionId))],
      ['network', 'inet', (conflict) => conflict.subnet.network],
      ['ipsubnet', 'text', (conflict) => conflict.subnet.input],
      ['starttime', 'int8', (conflict) => conflict.start],
      ['endtime', 'int8', (conflict) => conflict.end],
      ['mapping_id', 'int', (conflict) => (storedHolder(conflict) ? conflict.mappingId : null)],
      [
        'holder_network',
        'inet',
        (conflict) => (newHolder(conflict) ? holdingOf(conflict.mappingId).subnet.network : null),
      ],
      ['holder_start', 'int8', (conflict) => (newHolder(conflict) ? holdingOf(conflict.mappingId).start : null)],
      ['holder_user_id', 'text', (conflict) => ('mappingId' in conflict ? conflict.holderUserId : null)],
      ['nat_holder_id', 'int', (conflict) => ('natHolderId' in conflict ? conflict.natHolderId : null)],
      ['kind', 'text', (conflict) => conflict.kind],
    ])}
  ) i
  -- A holder this statement was to create and did not (its customer went meanwhile): the count
  -- below tells, and the transaction runs again.
  WHERE i.holder IS NOT NULL OR i.nat_holder_id IS NOT NULL
  ORDER BY i.ord
  RETURNING 1`,
  );
  statement.result('newConflicts', `SELECT count(*)::int FROM new_conflicts`);
}

async function writePlan(
  session: DriverSession,
  contextId: number,
  actor: Actor,
  snapshot: AccountingSnapshot,
  plan: AccountingPlan,
) {
  const read = new Map(snapshot.holdings.map((holding) => [holding.id, holding]));
  const changed = plan.holdings.filter((holding) => holding.id > 0);
  const created = plan.holdings.filter((holding) => holding.id < 0);
  const keys = new Map(plan.sessions.map((one) => [one.id, one.key]));
  const planned = new Map(plan.holdings.map((holding) => [holding.id, holding]));
  const keyOf = (id: number) => {
    const key = keys.get(id);
    if (key === undefined) throw new Error(`session ${id} of the plan is not among its sessions`);
    return key;
  };
  const holdingOf = (id: number) => {
    const holding = planned.get(id);
    if (!holding) throw new Error(`mapping ${id} of the plan is not among its mappings`);
    return holding;
  };

  // As few statements as the constraint allows: one, unless mappings both change and are created.
  // Then the changes go first, in a statement of their own: a new mapping may take an address
  // that a changed one gives up, and the constraint is checked as each row is written, in no
  // order one statement's parts would promise.
  const statements: WriteStatement[] = [];
  let current = new WriteStatement(contextId, actor);
  if (changed.length > 0) {
    const before = changed.map((holding) => {
      const stored = read.get(holding.id);
      if (!stored) throw new Error(`mapping ${holding.id} was planned but not read`);
      return stored;
    });
    updateMappings(current, changed, before);
    if (created.length > 0) {
      statements.push(current);
      current = new WriteStatement(contextId, actor);
    }
  }
  if (plan.customers.length > 0) writeCustomers(current, plan.customers);
  if (plan.sessions.length > 0) writeSessions(current, plan.sessions);
  if (created.length > 0) insertMappings(current, created, keyOf);
  if (plan.conflicts.length > 0) insertConflicts(current, plan.conflicts, keyOf, holdingOf);
  if (current.names.size > 0) statements.push(current);

  // Each statement's counts are checked as it returns: one that lost a race throws before the
  // next is sent from a plan that no longer holds.
  for (const statement of statements) {
    const [result] = await session.query<WriteResult>(statement.text, statement.params, { prepared: true });
    checkWritten(result!, plan, changed.length, created.length);
  }
}

/** Throws ConcurrentChange (the transaction runs again) when a part wrote fewer rows than planned. */
function checkWritten(result: WriteResult, plan: AccountingPlan, changed: number, created: number) {
  if (result.newSessions !== undefined || result.sessionsUpdated !== undefined) {
    const written = (result.newSessions ?? []).length + (result.sessionsUpdated ?? 0);
    if (written !== plan.sessions.length) {
      throw new ConcurrentChange('a RADIUS session changed while its events were being applied');
    }
  }
  if (result.mappingsUpdated !== undefined && result.mappingsUpdated !== changed) {
    throw new ConcurrentChange('a mapping changed while RADIUS events were being applied to it');
  }
  // A customer deleted since it was created or read, or created by another writer meanwhile: the
  // next run finds it.
  if (result.newMappings !== undefined && result.newMappings !== created) {
    throw new ConcurrentChange("a session's customer changed while its events were being applied");
  }
  if (result.newConflicts !== undefined && result.newConflicts !== plan.conflicts.length) {
    throw new ConcurrentChange("a conflict's holder could not be written while RADIUS events were being applied");
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
