import type { Actor } from '../access/types.js';
import type { Db } from '../db/handle.js';
import { isExclusionViolation } from '../db/errors.js';
import { type IpSubnet, parseIpSubnet } from '../domain/ip.js';
import { type Period, type TimeRange, checkTimeRange } from '../domain/time.js';
import {
  AmbiguousMappingError,
  ConflictError,
  HolderConflictError,
  MAX_LISTED_MAPPINGS,
  NotFoundError,
  ValidationError,
  checkField,
} from '../errors.js';
import type { Customer, IpMapping, Prisma } from '../generated/prisma/client.js';
import type { StorableText } from '../domain/customer.js';
import type { Tenant } from '../access/types.js';
import { recordAudit } from '../audit/store.js';
import { findCustomerOrThrow } from '../customers/store.js';
import { activeAtWhere, addressKeys, periodColumns, sourceOf, subnetColumns } from './filters.js';
import { findOverlappingMappings } from './overlaps.js';
import { holdersOf } from '../nat/holders.js';
import { PORT_MAX } from '../domain/nat.js';
import { ConcurrentChange, type Transaction, inTransaction } from '../db/transaction.js';

/** A new mapping's fields, checked at the schema edge (or by the CSV parser). */
export interface MappingFields {
  subnet: IpSubnet;
  period: Period;
  terminalId: StorableText | null;
}

/** A partial change to a mapping; `endtime: null` and `terminalId: null` clear them. */
export interface MappingPatch {
  userId?: string | undefined;
  subnet?: IpSubnet | undefined;
  starttime?: number | undefined;
  endtime?: number | null | undefined;
  terminalId?: StorableText | null | undefined;
}

/** What a write is about to hold, so a constraint violation can name what it overlaps. */
interface OverlapAttempt {
  holding?: { subnet: IpSubnet; period: TimeRange };
  /** Rows the write itself changes: after the rollback they still overlap, but are not the conflict. */
  excludeIds: number[];
}

/**
 * Runs a mapping write in a transaction (retried on a lost race, see inTransaction), each run
 * with a fresh OverlapAttempt; an overlap the constraint refused becomes a ConflictError naming
 * the mappings in the way.
 */
async function guardOverlap<T>(
  db: Db,
  tenant: Tenant,
  write: (tx: Transaction, attempt: OverlapAttempt) => Promise<T>,
): Promise<T> {
  let attempt: OverlapAttempt = { excludeIds: [] };
  try {
    return await inTransaction(db, (tx) => {
      attempt = { excludeIds: [] };
      return write(tx, attempt);
    });
  } catch (error) {
    if (!isExclusionViolation(error) || !attempt.holding) throw error;
    // A write over a large block may overlap more mappings than any answer lists: load only those
    // it can list, and count the rest.
    const { mappings, count } = await findOverlappingMappings(
      { query: (sql, params = []) => db.readRows(sql, params) },
      { contextId: tenant.id, ...attempt.holding },
      { excludeIds: attempt.excludeIds, limit: MAX_LISTED_MAPPINGS },
    );
    if (mappings.length === 0 && attempt.holding.subnet.family === 4) {
      // No mapping in the way: a carrier-grade NAT holder may be (the migration's triggers).
      const { subnet, period } = attempt.holding;
      const holders = await holdersOf(db, {
        contextId: tenant.id,
        network: subnet.network,
        portFirst: 0,
        portLast: PORT_MAX,
        starttime: period.start,
        endtime: period.end,
      });
      const natHolders = holders.filter((holder) => holder.kind !== 'mapping');
      if (natHolders.length > 0) throw new HolderConflictError(`a mapping of ${subnet.network}`, natHolders);
    }
    throw new ConflictError(mappings, count);
  }
}

/**
 * The row as this transaction read it. Under READ COMMITTED a write waiting on another's lock
 * re-checks its WHERE on the row that one committed, so a write conditioned on this matches
 * nothing when the row changed since the read, instead of applying a change worked out from a
 * stale copy (an end moved back over the next holder, a lost update).
 */
const asRead = (row: IpMapping) => ({
  id: row.id,
  customerId: row.customerId,
  ipFirst: row.ipFirst,
  ipLast: row.ipLast,
  starttime: row.starttime,
  endtime: row.endtime,
  terminalId: row.terminalId,
  ipsubnet: row.ipsubnet,
});

async function updateAsRead(tx: Transaction, row: IpMapping, data: Prisma.IpMappingUncheckedUpdateManyInput) {
  const [updated] = await tx.ipMapping.updateManyAndReturn({ where: asRead(row), data });
  if (!updated) throw new ConcurrentChange(`mapping ${row.id} changed while it was being written`);
  return updated;
}

// A mapping's owner: its customer's id and UserID, a pair the foreign key checks together.
const ownerColumns = (customer: Customer) => ({ customerId: customer.id, userId: customer.userId });

async function findMappingOrThrow(tx: Transaction, tenant: Tenant, id: number) {
  const mapping = await tx.ipMapping.findFirst({ where: { id, contextId: tenant.id }, include: { customer: true } });
  if (!mapping) throw new NotFoundError('mapping', String(id));
  return mapping;
}

/**
 * The period a patch leaves: its own times over the stored ones. Each time was checked where it
 * came in; whether they fit together depends on the row, so it is known only here.
 */
function patchedPeriod(period: TimeRange): Period {
  return checkField('endtime', () => checkTimeRange(period));
}

export function createMapping(db: Db, tenant: Tenant, actor: Actor, userId: string, fields: MappingFields) {
  const { period } = fields;
  return guardOverlap(db, tenant, async (tx, attempt) => {
    const customer = await findCustomerOrThrow(tx, tenant, userId);
    const data = { ...subnetColumns(fields.subnet), ...periodColumns(period), terminalId: fields.terminalId };
    attempt.holding = { subnet: fields.subnet, period };
    const mapping = await tx.ipMapping.create({
      data: { ...data, contextId: tenant.id, ...ownerColumns(customer), source: sourceOf(actor.channel) },
    });
    await recordAudit(tx, tenant, actor, {
      action: 'create',
      entityType: 'mapping',
      entityId: mapping.id,
      before: null,
      after: mapping,
    });
    return mapping;
  });
}

type MappingWithCustomer = IpMapping & { customer: Customer };

/** Which of a customer's mappings a request means. */
export interface MappingChoice {
  id?: number | null | undefined;
  /** Only the mapping with this network. */
  subnet?: IpSubnet | null | undefined;
  /** Picks by network among several mappings; ignored when the customer has just one. */
  subnetHint?: IpSubnet | null | undefined;
  /** The customer's own id, as a caller writing back a mapping it read sends it: must be the customer's. */
  customerId?: number | null | undefined;
}

/**
 * The one mapping of customer `userId` that `choice` names; with no choice, the customer's only
 * mapping. Trisul's API names a customer where it means a mapping; this never guesses. Whatever
 * does not single out one mapping lists the customer's candidates, so the caller can name one;
 * only a customer with no mapping at all has nothing to list.
 */
async function chooseCustomerMapping(
  tx: Transaction,
  tenant: Tenant,
  userId: string,
  choice: MappingChoice,
): Promise<MappingWithCustomer> {
  const customer = await findCustomerOrThrow(tx, tenant, userId);
  if (choice.customerId != null && choice.customerId !== customer.id) {
    throw new ValidationError(
      'customerId',
      `${choice.customerId} is not the id of customer ${userId} (${customer.id})`,
    );
  }
  // A customer may hold many mappings: the choice is made in SQL, and an error loads only the
  // candidates it can list and counts the rest.
  const ofCustomer: Prisma.IpMappingWhereInput = { customerId: customer.id };
  const chosen: Prisma.IpMappingWhereInput = {
    ...ofCustomer,
    ...(choice.id != null ? { id: choice.id } : {}),
    ...(choice.subnet ? addressKeys(choice.subnet) : {}),
  };
  const listed = (where: Prisma.IpMappingWhereInput) =>
    tx.ipMapping.findMany({ where, orderBy: { id: 'asc' }, take: MAX_LISTED_MAPPINGS });
  const counted = async (where: Prisma.IpMappingWhereInput, rows: IpMapping[]) =>
    rows.length < MAX_LISTED_MAPPINGS ? rows.length : tx.ipMapping.count({ where });
  let where = chosen;
  let candidates = await listed(where);
  if (candidates.length > 1 && choice.subnetHint) {
    where = { ...chosen, ...addressKeys(choice.subnetHint) };
    candidates = await listed(where);
  }
  if (candidates.length === 1) return { ...candidates[0]!, customer };
  if (candidates.length > 1) throw new AmbiguousMappingError(userId, candidates, await counted(where, candidates));
  const mappings = await listed(ofCustomer);
  if (mappings.length === 0) throw new NotFoundError('mapping', `of customer ${userId}`);
  const named = choice.id != null ? `id ${choice.id}` : `ipsubnet ${(choice.subnet ?? choice.subnetHint)!.input}`;
  throw new AmbiguousMappingError(userId, mappings, await counted(ofCustomer, mappings), named);
}

async function applyPatch(
  tx: Transaction,
  tenant: Tenant,
  actor: Actor,
  current: MappingWithCustomer,
  patch: MappingPatch,
  attempt: OverlapAttempt,
) {
  const { customer: currentCustomer, ...before } = current;
  const customer = patch.userId === undefined ? currentCustomer : await findCustomerOrThrow(tx, tenant, patch.userId);
  const period = patchedPeriod({
    start: patch.starttime ?? Number(before.starttime),
    end: patch.endtime === undefined ? (before.endtime === null ? null : Number(before.endtime)) : patch.endtime,
  });
  const storedEnd = before.endtime === null ? null : Number(before.endtime);
  const data = {
    ...(patch.subnet ? subnetColumns(patch.subnet) : {}),
    ...periodColumns(period),
    // A session's end kind says how its NAS's reports ended it: an end set by hand is no such end.
    ...(period.end === storedEnd ? {} : { endKind: null }),
    ...(patch.terminalId === undefined ? {} : { terminalId: patch.terminalId }),
    ...ownerColumns(customer),
  };
  attempt.holding = { subnet: patch.subnet ?? parseIpSubnet(before.network), period };
  attempt.excludeIds = [before.id];
  const after = await updateAsRead(tx, before, data);
  await recordAudit(tx, tenant, actor, {
    action: 'update',
    entityType: 'mapping',
    entityId: before.id,
    before,
    after,
  });
  return after;
}

async function applyDelete(tx: Transaction, tenant: Tenant, actor: Actor, current: MappingWithCustomer) {
  const { customer, ...mapping } = current;
  const { count } = await tx.ipMapping.deleteMany({ where: asRead(mapping) });
  if (count === 0) throw new ConcurrentChange(`mapping ${mapping.id} changed while it was being deleted`);
  await recordAudit(tx, tenant, actor, {
    action: 'delete',
    entityType: 'mapping',
    entityId: mapping.id,
    before: mapping,
    after: null,
  });
  return mapping;
}

export function updateMapping(db: Db, tenant: Tenant, actor: Actor, id: number, patch: MappingPatch) {
  return guardOverlap(db, tenant, async (tx, attempt) =>
    applyPatch(tx, tenant, actor, await findMappingOrThrow(tx, tenant, id), patch, attempt),
  );
}

/** Changes the one mapping of a customer that `choice` names (see chooseCustomerMapping). */
export function updateCustomerMapping(
  db: Db,
  tenant: Tenant,
  actor: Actor,
  userId: string,
  choice: MappingChoice,
  patch: MappingPatch,
) {
  return guardOverlap(db, tenant, async (tx, attempt) =>
    applyPatch(tx, tenant, actor, await chooseCustomerMapping(tx, tenant, userId, choice), patch, attempt),
  );
}

export function deleteMapping(db: Db, tenant: Tenant, actor: Actor, id: number) {
  return inTransaction(db, async (tx) => applyDelete(tx, tenant, actor, await findMappingOrThrow(tx, tenant, id)));
}

/** Deletes the one mapping of a customer that `choice` names. */
export function deleteCustomerMapping(db: Db, tenant: Tenant, actor: Actor, userId: string, choice: MappingChoice) {
  return inTransaction(db, async (tx) =>
    applyDelete(tx, tenant, actor, await chooseCustomerMapping(tx, tenant, userId, choice)),
  );
}

/**
 * Moves `subnet` to another customer at instant `at`: the mapping holding exactly that subnet at
 * `at` ends at `at - 1` and a new one opens at `at`, in one transaction (Trisul's "clean cutover").
 * When nobody holds the subnet at `at`, the new mapping is simply created.
 */
export function reassignMapping(
  db: Db,
  tenant: Tenant,
  actor: Actor,
  subnet: IpSubnet,
  toUserId: string,
  at: number,
  terminalId: StorableText | null,
) {
  const keys = subnetColumns(subnet);
  return guardOverlap(db, tenant, async (tx, attempt) => {
    // Cutovers of one subnet take turns: each then reads the holder the previous one left. Racing
    // instead, they deadlocked on each other's rows (each costing PostgreSQL's deadlock_timeout).
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`reassign ${tenant.id} ${keys.ipFirst} ${keys.ipLast}`}, 0))`;
    const target = await findCustomerOrThrow(tx, tenant, toUserId);
    const previous = await tx.ipMapping.findFirst({
      where: { contextId: tenant.id, ipFirst: keys.ipFirst, ipLast: keys.ipLast, ...activeAtWhere(at) },
    });
    let ended: IpMapping | null = null;
    if (previous) {
      if (previous.customerId === target.id) {
        throw new ValidationError('toUserId', `${toUserId} already holds ${previous.ipsubnet} at ${at}`);
      }
      if (previous.starttime === BigInt(at)) {
        throw new ValidationError(
          'at',
          `the current mapping ${previous.id} starts at ${at}; a cutover must come after its start`,
        );
      }
      ended = await updateAsRead(tx, previous, { endtime: BigInt(at - 1), endKind: null });
      attempt.excludeIds = [previous.id];
      await recordAudit(tx, tenant, actor, {
        action: 'update',
        entityType: 'mapping',
        entityId: previous.id,
        before: previous,
        after: ended,
      });
    }
    const period = { start: at, end: null };
    attempt.holding = { subnet, period };
    const opened = await tx.ipMapping.create({
      data: {
        ...keys,
        ...periodColumns(period),
        terminalId,
        contextId: tenant.id,
        ...ownerColumns(target),
        source: sourceOf(actor.channel),
      },
    });
    await recordAudit(tx, tenant, actor, {
      action: 'create',
      entityType: 'mapping',
      entityId: opened.id,
      before: null,
      after: opened,
    });
    return { ended, opened };
  });
}
