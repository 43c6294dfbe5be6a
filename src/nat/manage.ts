import type { Actor, Tenant } from '../access/types.js';
import { recordAudit } from '../audit/store.js';
import { isExclusionViolation } from '../db/errors.js';
import type { Db } from '../db/handle.js';
import { ConcurrentChange, type Transaction, inTransaction } from '../db/transaction.js';
import type { IpAddress } from '../domain/ip.js';
import { type DeterministicNatRule, PORT_MAX, portProblem } from '../domain/nat.js';
import type { Period } from '../domain/time.js';
import { HolderConflictError, NotFoundError, ValidationError } from '../errors.js';
import type { NatPortBlock, NatRule } from '../generated/prisma/client.js';
import { type HeldExtent, holdersOf } from './holders.js';

// Port-block bindings and deterministic NAT rules written by people through the API, beside the
// bindings NAT logs write (store.ts). The one-holder rule is the database's (the nat_port_blocks
// migration): a write it refuses becomes a HolderConflictError naming what was in the way.

export interface BindingFields {
  publicAddress: IpAddress;
  portFirst: number;
  portLast: number;
  insideAddress: IpAddress;
  /** The context the inside address is looked up in. */
  insideTenant: Tenant;
  period: Period;
}

export interface RuleFields {
  rule: DeterministicNatRule;
  insideTenant: Tenant;
  period: Period;
  description: string | null;
}

/** The context named, for a binding's or rule's inside addresses; NotFoundError when there is none. */

/** Checks a port range: both ends ports, first not after last (ValidationError on the field at fault). */
export function checkPortRange(portFirst: number, portLast: number): void {
  for (const [field, port] of [
    ['portFirst', portFirst],
    ['portLast', portLast],
  ] as const) {
    const problem = portProblem(port);
    if (problem !== null) throw new ValidationError(field, problem);
  }
  if (portFirst > portLast) throw new ValidationError('portLast', `${portLast} is before portFirst ${portFirst}`);
}

/** What a write would hold, once it knows: the extent a refusal is explained by. */
interface HoldAttempt {
  what: string;
  extent: HeldExtent | null;
}

/** Runs a write; the database refusing a second holder becomes a HolderConflictError about its extent. */
async function guardHolders<T>(
  db: Db,
  self: { kind: 'binding' | 'rule'; id: number } | null,
  write: (tx: Transaction, attempt: HoldAttempt) => Promise<T>,
): Promise<T> {
  const attempt: HoldAttempt = { what: '', extent: null };
  try {
    return await inTransaction(db, (tx) => write(tx, attempt));
  } catch (error) {
    if (!isExclusionViolation(error) || attempt.extent === null) throw error;
    throw new HolderConflictError(attempt.what, await holdersOf(db, attempt.extent, self));
  }
}

const bindingExtent = (contextId: number, row: Pick<NatPortBlock, 'publicAddress' | 'portFirst' | 'portLast'>) => ({
  contextId,
  network: row.publicAddress,
  portFirst: row.portFirst,
  portLast: row.portLast,
});

export function createBinding(db: Db, tenant: Tenant, actor: Actor, fields: BindingFields): Promise<NatPortBlock> {
  if (fields.publicAddress.family !== 4) throw new ValidationError('publicAddress', 'must be an IPv4 address');
  checkPortRange(fields.portFirst, fields.portLast);
  const { start, end } = fields.period;
  const extent = {
    ...bindingExtent(tenant.id, { ...fields, publicAddress: fields.publicAddress.text }),
    starttime: start,
    endtime: end,
  };
  return guardHolders(db, null, async (tx, attempt) => {
    attempt.what = `a port block of ${fields.publicAddress.text} ports ${fields.portFirst}-${fields.portLast}`;
    attempt.extent = extent;
    const binding = await tx.natPortBlock.create({
      data: {
        contextId: tenant.id,
        publicAddress: fields.publicAddress.text,
        portFirst: fields.portFirst,
        portLast: fields.portLast,
        starttime: BigInt(start),
        endtime: end === null ? null : BigInt(end),
        endKind: end === null ? null : 'RELEASED',
        lastSeen: BigInt(start),
        insideAddress: fields.insideAddress.text,
        insideContextId: fields.insideTenant.id,
        source: 'API',
      },
    });
    await recordAudit(tx, tenant, actor, {
      action: 'create',
      entityType: 'natBinding',
      entityId: binding.id,
      before: null,
      after: binding,
    });
    return binding;
  });
}

/** Sets the last instant a binding holds its block (inclusive): not before its start. */
export function endBinding(db: Db, tenant: Tenant, actor: Actor, id: number, at: number): Promise<NatPortBlock> {
  return endHeld(db, tenant, actor, 'binding', id, at);
}

export function createRule(db: Db, tenant: Tenant, actor: Actor, fields: RuleFields): Promise<NatRule> {
  const { rule, period } = fields;
  const extent = {
    contextId: tenant.id,
    network: rule.outside.network,
    portFirst: 0,
    portLast: PORT_MAX,
    starttime: period.start,
    endtime: period.end,
  };
  return guardHolders(db, null, async (tx, attempt) => {
    attempt.what = `a deterministic NAT rule onto ${rule.outside.network}`;
    attempt.extent = extent;
    const created = await tx.natRule.create({
      data: {
        contextId: tenant.id,
        insidePrefix: rule.inside.network,
        outsidePrefix: rule.outside.network,
        firstPort: rule.firstPort,
        portsPerHost: rule.portsPerHost,
        starttime: BigInt(period.start),
        endtime: period.end === null ? null : BigInt(period.end),
        insideContextId: fields.insideTenant.id,
        description: fields.description,
      },
    });
    await recordAudit(tx, tenant, actor, {
      action: 'create',
      entityType: 'natRule',
      entityId: created.id,
      before: null,
      after: created,
    });
    return created;
  });
}

/** Sets the last instant a rule holds (inclusive): not before its start. */
export function endRule(db: Db, tenant: Tenant, actor: Actor, id: number, at: number): Promise<NatRule> {
  return endHeld(db, tenant, actor, 'rule', id, at);
}

function endHeld(db: Db, tenant: Tenant, actor: Actor, kind: 'binding', id: number, at: number): Promise<NatPortBlock>;
function endHeld(db: Db, tenant: Tenant, actor: Actor, kind: 'rule', id: number, at: number): Promise<NatRule>;
async function endHeld(
  db: Db,
  tenant: Tenant,
  actor: Actor,
  kind: 'binding' | 'rule',
  id: number,
  at: number,
): Promise<NatPortBlock | NatRule> {
  const entity = kind === 'binding' ? 'NAT port block' : 'NAT rule';
  return guardHolders(db, { kind, id }, async (tx, attempt) => {
    const found =
      kind === 'binding'
        ? await tx.natPortBlock.findFirst({ where: { id, contextId: tenant.id } })
        : await tx.natRule.findFirst({ where: { id, contextId: tenant.id } });
    if (!found) throw new NotFoundError(entity, String(id));
    if (BigInt(at) < found.starttime) {
      throw new ValidationError('at', `${at} is before its starttime ${found.starttime}`);
    }
    // Moving an end later may reach another holder: what is in the way is asked of the period it would have.
    attempt.what = `${entity} ${id} ended at ${at}`;
    attempt.extent =
      'publicAddress' in found
        ? { ...bindingExtent(tenant.id, found), starttime: Number(found.starttime), endtime: at }
        : {
            contextId: tenant.id,
            network: found.outsidePrefix,
            portFirst: 0,
            portLast: PORT_MAX,
            starttime: Number(found.starttime),
            endtime: at,
          };
    // Conditioned on the row as read: one changed since (a RELEASE from the log) makes the
    // transaction run again on what is there now, instead of ending it from a stale copy.
    const where = { id, contextId: tenant.id, updatedAt: found.updatedAt };
    const [updated] =
      kind === 'binding'
        ? await tx.natPortBlock.updateManyAndReturn({
            where,
            data: { endtime: BigInt(at), endKind: 'RELEASED', releasedAt: BigInt(at) },
          })
        : await tx.natRule.updateManyAndReturn({ where, data: { endtime: BigInt(at) } });
    if (!updated) throw new ConcurrentChange(`${entity} ${id} changed while it was being ended`);
    await recordAudit(tx, tenant, actor, {
      action: 'update',
      entityType: kind === 'binding' ? 'natBinding' : 'natRule',
      entityId: id,
      before: found,
      after: updated,
    });
    return updated;
  });
}
