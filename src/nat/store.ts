import type { Actor, Tenant } from '../access/types.js';
import { natBindingImageSql } from '../audit/store.js';
import { auditEvents, natPortBlocks, natUnparsableLines } from '../db/columns.js';
import type { DriverSession } from '../db/connection.js';
import { isExclusionViolation, isWriteConflict } from '../db/errors.js';
import type { Db } from '../db/handle.js';
import { ConcurrentChange } from '../db/transaction.js';
import { parseIpAddress } from '../domain/ip.js';
import {
  type BindingEndKind,
  type BindingState,
  type PortBlockEvent,
  type PortBlockOutcome,
  type PortBlockPlan,
  planPortBlocks,
} from '../domain/nat-binding.js';

// The only writer of CGNAT port-block bindings from logs (syslog, files) and the API.

/** Where a binding's evidence came from. */
export type PortBlockSourceKind = 'SYSLOG' | 'FILE' | 'API';

/** One port-block line, read and timed, with where it came from. */
export interface PortBlockRecord {
  event: PortBlockEvent;
  source: PortBlockSourceKind;
  /** The sending device's address (syslog), the file's name (import); null from the API. */
  device: string | null;
  /** The line as received, kept with the binding it opens. */
  rawLine: string | null;
}

/** A line that could not be read: counted and kept for review, never guessed at. */
export interface UnparsableLine {
  source: PortBlockSourceKind;
  device: string | null;
  /** Unix seconds when it arrived (or was read from its file). */
  receivedAt: number;
  line: string;
  reason: string;
}

/** What one context's sender(s) said: applied in one transaction with the other batches of a group. */
export interface PortBlockBatch {
  /** The context the public addresses (and so the bindings) are in. */
  tenant: Tenant;
  /** The context where the inside addresses are looked up. */
  insideTenant: Tenant;
  records: PortBlockRecord[];
  unparsable: UnparsableLine[];
}

/** One outcome per record, in order; `conflict`: a whole-address holder or a rule had the address then. */
export type PortBlockRecordOutcome = PortBlockOutcome | 'conflict';

export interface PortBlockResult {
  outcomes: PortBlockRecordOutcome[];
  bindingsChanged: number;
  unparsableKept: number;
}

/** Who the audit trail says made changes from NAT logs, unless the caller names someone else (an import's user). */
export const NAT_ACTOR: Actor = { name: 'nat-syslog', channel: 'nat' };

// pg_advisory_xact_lock(class, context), taken first by every NAT writer: the same lock the
// nat_port_blocks migration's triggers take (ipdr_nat_lock_class()), exclusive for NAT writers and
// shared for mapping writers. Two writers of one context's bindings take turns, so none plans from
// a snapshot another is about to change.
export const NAT_LOCK_CLASS = 0x4e415448;

const MAX_RUNS = 5;
const pause = (run: number) => new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * 2 ** run));
const lostRace = (error: unknown) => error instanceof ConcurrentChange || isWriteConflict(error);

/**
 * Applies every batch in ONE transaction and resolves once it has committed, with each batch's
 * result. A record whose binding another holder's address and instant refuses (a mapping, a rule)
 * is answered `conflict` and the others still apply. Throws on any other database failure:
 * nothing was written.
 */
export async function applyPortBlocks(
  db: Db,
  batches: PortBlockBatch[],
  actor: Actor = NAT_ACTOR,
): Promise<PortBlockResult[]> {
  if (batches.every((batch) => batch.records.length === 0 && batch.unparsable.length === 0)) {
    return batches.map(() => ({ outcomes: [], bindingsChanged: 0, unparsableKept: 0 }));
  }
  const contextIds = [...new Set(batches.map((batch) => batch.tenant.id))].sort((x, y) => x - y);
  for (let run = 1; ; run++) {
    try {
      return await db.database.transaction(
        async (session) => {
          const results: PortBlockResult[] = [];
          for (const batch of batches) results.push(await applyBatch(session, batch, actor));
          return results;
        },
        { advisoryLocks: contextIds.map((id) => [NAT_LOCK_CLASS, id] as const), sealChains: true },
      );
    } catch (error) {
      if (!lostRace(error) || run === MAX_RUNS) throw error;
      await pause(run);
    }
  }
}

async function applyBatch(session: DriverSession, batch: PortBlockBatch, actor: Actor): Promise<PortBlockResult> {
  const result: PortBlockResult = { outcomes: [], bindingsChanged: 0, unparsableKept: 0 };
  if (batch.records.length > 0) {
    // All at once; when another holder refuses a binding of theirs (the triggers), again one by one
    // so that only the refused records are left out.
    await session.query('SAVEPOINT nat_batch');
    try {
      const applied = await applyRecords(session, batch, batch.records, actor);
      result.outcomes = applied.outcomes;
      result.bindingsChanged = applied.bindingsChanged;
    } catch (error) {
      if (!isExclusionViolation(error)) throw error;
      await session.query('ROLLBACK TO SAVEPOINT nat_batch');
      for (const record of batch.records) {
        await session.query('SAVEPOINT nat_record');
        try {
          const applied = await applyRecords(session, batch, [record], actor);
          result.outcomes.push(applied.outcomes[0]!);
          result.bindingsChanged += applied.bindingsChanged;
        } catch (recordError) {
          if (!isExclusionViolation(recordError)) throw recordError;
          await session.query('ROLLBACK TO SAVEPOINT nat_record');
          result.outcomes.push('conflict');
        }
        await session.query('RELEASE SAVEPOINT nat_record');
      }
    }
    await session.query('RELEASE SAVEPOINT nat_batch');
  }
  if (batch.unparsable.length > 0) result.unparsableKept = await keepUnparsable(session, batch);
  return result;
}

const b = natPortBlocks.columns;
const a = auditEvents.columns;

/** A binding as the planner reads it, from its row (times below 2^53 as JSON numbers). */
interface BindingJson {
  id: number;
  publicAddress: string;
  portFirst: number;
  portLast: number;
  insideAddress: string;
  start: number;
  end: number | null;
  endKind: BindingEndKind | null;
  lastSeen: number;
  releasedAt: number | null;
}

const bindingJson = (alias: string) =>
  `json_build_object(${[
    ['id', b.id],
    ['publicAddress', `host(${alias}.${b.publicAddress})`],
    ['portFirst', b.portFirst],
    ['portLast', b.portLast],
    ['insideAddress', `host(${alias}.${b.insideAddress})`],
    ['start', b.starttime],
    ['end', b.endtime],
    ['endKind', b.endKind],
    ['lastSeen', b.lastSeen],
    ['releasedAt', b.releasedAt],
  ]
    .map(([field, column]) => `'${field}', ${column!.includes('(') ? column : `${alias}.${column}`}`)
    .join(', ')})`;

// What the planner needs of each event (domain/nat-binding.ts): the bindings sharing a port with
// its block that hold some instant from `since` on, where `since` is the start of the latest two
// bindings of the same block and inside address begun no later than the event (a RELEASE or
// INTERIM speaks of one of those, possibly ended already), or the event's own time. Put in the
// exclusion constraint's own terms, so that its GiST index answers it.
const KNOWN_SQL = `
WITH event AS (
  SELECT * FROM unnest($2::inet[], $3::int[], $4::int[], $5::inet[], $6::int8[]) AS e(address, port_first, port_last, inside, at)
), since AS (
  SELECT e.address, e.port_first, e.port_last, coalesce((
    SELECT min(own.${b.starttime}) FROM (
      SELECT o.${b.starttime} FROM ${natPortBlocks.table} o
      WHERE o.${b.contextId} = $1 AND o.${b.publicAddress} = e.address AND o.${b.portFirst} = e.port_first
        AND o.${b.portLast} = e.port_last AND o.${b.insideAddress} = e.inside AND o.${b.starttime} <= e.at
      ORDER BY o.${b.starttime} DESC LIMIT 2
    ) own
  ), e.at) AS since
  FROM event e
)
SELECT DISTINCT ON (k.${b.id}) ${bindingJson('k')} AS binding
FROM since s
JOIN ${natPortBlocks.table} k
  ON ipdr_mapping_extent(k.${b.contextId}, k.${b.publicAddress}, k.${b.starttime}, k.${b.endtime}) && ipdr_mapping_extent($1, s.address, s.since, NULL)
 AND ipdr_port_span(k.${b.portFirst}, k.${b.portLast}) && ipdr_port_span(s.port_first, s.port_last)`;

const toState = (row: BindingJson): BindingState => ({
  ...row,
  publicAddress: parseIpAddress(row.publicAddress),
  insideAddress: parseIpAddress(row.insideAddress),
});

async function applyRecords(
  session: DriverSession,
  batch: PortBlockBatch,
  records: readonly PortBlockRecord[],
  actor: Actor,
): Promise<{ outcomes: PortBlockOutcome[]; bindingsChanged: number }> {
  const events = records.map((record) => record.event);
  const rows = await session.query<{ binding: BindingJson }>(KNOWN_SQL, [
    batch.tenant.id,
    events.map((event) => event.publicAddress.text),
    events.map((event) => event.portFirst),
    events.map((event) => event.portLast),
    events.map((event) => event.insideAddress.text),
    events.map((event) => event.at),
  ]);
  const known = rows.map((row) => toState(row.binding));
  const plan = planPortBlocks(known, events);
  const changed = plan.bindings.filter((binding) => binding.id > 0);
  const created = plan.bindings.filter((binding) => binding.id < 0);
  // Changes first: a new binding may take ports a changed one gives up, and the constraint is
  // checked as each row is written.
  if (changed.length > 0) await updateBindings(session, batch, changed, actor);
  if (created.length > 0) await insertBindings(session, batch, records, plan, created, actor);
  return { outcomes: plan.outcomes, bindingsChanged: plan.bindings.length };
}

const auditInsert = (actor: Actor, contextParam: string, from: string) => `
INSERT INTO ${auditEvents.table} (${a.contextId}, ${a.actor}, ${a.channel}, ${a.action}, ${a.entityType}, ${a.entityId}, ${a.before}, ${a.after})
SELECT ${contextParam}, '${actor.name.replaceAll("'", "''")}', '${actor.channel}', ${from}`;

async function updateBindings(session: DriverSession, batch: PortBlockBatch, changed: BindingState[], actor: Actor) {
  const [result] = await session.query<{ updated: number }>(
    `WITH input AS (
  SELECT * FROM unnest($2::int[], $3::int8[], $4::text[], $5::int8[], $6::int8[]) AS i(id, endtime, end_kind, last_seen, released_at)
), before AS (
  SELECT o.${b.id}, ${natBindingImageSql('o')} AS image FROM ${natPortBlocks.table} o JOIN input i ON o.${b.id} = i.id
), updated AS (
  UPDATE ${natPortBlocks.table} u
  SET ${b.endtime} = i.endtime, ${b.endKind} = i.end_kind, ${b.lastSeen} = i.last_seen, ${b.releasedAt} = i.released_at, ${b.updatedAt} = now()
  FROM input i WHERE u.${b.id} = i.id AND u.${b.contextId} = $1
  RETURNING u.*
), audited AS (
  ${auditInsert(actor, '$1', `'update', 'natBinding', w.${b.id}, before.image, ${natBindingImageSql('w')} FROM updated w JOIN before ON before.${b.id} = w.${b.id} ORDER BY w.${b.id}`)}
)
SELECT count(*)::int AS updated FROM updated`,
    [
      batch.tenant.id,
      changed.map((binding) => binding.id),
      changed.map((binding) => binding.end),
      changed.map((binding) => binding.endKind),
      changed.map((binding) => binding.lastSeen),
      changed.map((binding) => binding.releasedAt),
    ],
  );
  if (result!.updated !== changed.length)
    throw new ConcurrentChange('a NAT binding changed while it was being written');
}

async function insertBindings(
  session: DriverSession,
  batch: PortBlockBatch,
  records: readonly PortBlockRecord[],
  plan: PortBlockPlan,
  created: BindingState[],
  actor: Actor,
) {
  // The record that opened each new binding: the first applied ALLOC or INTERIM of its block, inside and start.
  const opener = (binding: BindingState) =>
    records.find(
      (record, index) =>
        plan.outcomes[index] === 'applied' &&
        record.event.kind !== 'RELEASE' &&
        record.event.at === binding.start &&
        record.event.publicAddress.value === binding.publicAddress.value &&
        record.event.portFirst === binding.portFirst &&
        record.event.portLast === binding.portLast &&
        record.event.insideAddress.value === binding.insideAddress.value,
    );
  const openers = created.map(opener);
  const [result] = await session.query<{ inserted: number }>(
    `WITH input AS (
  SELECT * FROM unnest($3::inet[], $4::int[], $5::int[], $6::int8[], $7::int8[], $8::text[], $9::int8[], $10::inet[], $11::text[], $12::text[], $13::text[], $14::int8[])
    WITH ORDINALITY AS i(public_address, port_first, port_last, starttime, endtime, end_kind, last_seen, inside_address, source, device, raw_line, released_at, ord)
), inserted AS (
  INSERT INTO ${natPortBlocks.table} (${b.contextId}, ${b.publicAddress}, ${b.portFirst}, ${b.portLast}, ${b.starttime}, ${b.endtime}, ${b.endKind},
    ${b.lastSeen}, ${b.insideAddress}, ${b.insideContextId}, ${b.source}, ${b.device}, ${b.rawLine}, ${b.releasedAt})
  SELECT $1, i.public_address, i.port_first, i.port_last, i.starttime, i.endtime, i.end_kind, i.last_seen, i.inside_address, $2,
    i.source, i.device, i.raw_line, i.released_at
  FROM input i ORDER BY i.ord
  RETURNING *
), audited AS (
  ${auditInsert(actor, '$1', `'create', 'natBinding', w.${b.id}, NULL, ${natBindingImageSql('w')} FROM inserted w ORDER BY w.${b.id}`)}
)
SELECT count(*)::int AS inserted FROM inserted`,
    [
      batch.tenant.id,
      batch.insideTenant.id,
      created.map((binding) => binding.publicAddress.text),
      created.map((binding) => binding.portFirst),
      created.map((binding) => binding.portLast),
      created.map((binding) => binding.start),
      created.map((binding) => binding.end),
      created.map((binding) => binding.endKind),
      created.map((binding) => binding.lastSeen),
      created.map((binding) => binding.insideAddress.text),
      openers.map((record) => record?.source ?? 'API'),
      openers.map((record) => record?.device ?? null),
      openers.map((record) => record?.rawLine ?? null),
      // A binding allocated and released in one batch keeps its RELEASE's time, so the line read again is a duplicate.
      created.map((binding) => binding.releasedAt),
    ],
  );
  if (result!.inserted !== created.length)
    throw new Error(`${created.length} NAT bindings planned, ${result!.inserted} written`);
}

async function keepUnparsable(session: DriverSession, batch: PortBlockBatch): Promise<number> {
  const u = natUnparsableLines.columns;
  const lines = batch.unparsable;
  const [result] = await session.query<{ kept: number }>(
    `WITH kept AS (
  INSERT INTO ${natUnparsableLines.table} (${u.contextId}, ${u.source}, ${u.device}, ${u.receivedAt}, ${u.line}, ${u.reason})
  SELECT $1, i.source, i.device, i.received_at, i.line, i.reason
  FROM unnest($2::text[], $3::text[], $4::int8[], $5::text[], $6::text[]) WITH ORDINALITY AS i(source, device, received_at, line, reason, ord)
  ORDER BY i.ord
  RETURNING 1
)
SELECT count(*)::int AS kept FROM kept`,
    [
      batch.tenant.id,
      lines.map((line) => line.source),
      lines.map((line) => line.device),
      lines.map((line) => line.receivedAt),
      // PostgreSQL text holds no NUL: a line is kept with each one shown as U+FFFD.
      lines.map((line) => line.line.replaceAll('\0', '\uFFFD')),
      lines.map((line) => line.reason.replaceAll('\0', '\uFFFD')),
    ],
  );
  return result!.kept;
}
