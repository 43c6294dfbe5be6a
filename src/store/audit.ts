import type { Actor } from '../context.js';
import type { Prisma } from '../generated/prisma/client.js';
import type { Tenant } from '../tenant-access.js';
import type { Transaction } from './transaction.js';

export type AuditAction = 'create' | 'update' | 'delete';
export type AuditEntity = 'customer' | 'mapping';

/** A row as JSON: bigint times become numbers (all fit: they are at most 253402300799). */
function image(row: object | null): Prisma.InputJsonValue | undefined {
  if (row === null) return undefined;
  return JSON.parse(
    JSON.stringify(row, (_key, value: unknown) => (typeof value === 'bigint' ? Number(value) : value)),
  ) as Prisma.InputJsonValue;
}

export interface AuditChange {
  action: AuditAction;
  entityType: AuditEntity;
  entityId: number;
  before: object | null;
  after: object | null;
}

function auditRow(tenant: Tenant, actor: Actor, change: AuditChange) {
  return {
    contextId: tenant.id,
    actor: actor.name,
    channel: actor.channel,
    action: change.action,
    entityType: change.entityType,
    entityId: change.entityId,
    before: image(change.before),
    after: image(change.after),
  };
}

/** Call inside the transaction that makes the change, so the trail and the data never disagree. */
export async function recordAudit(tx: Transaction, tenant: Tenant, actor: Actor, change: AuditChange) {
  await tx.auditEvent.create({ data: auditRow(tenant, actor, change) });
}

/** Many changes of one transaction, in one statement. */
export async function recordAudits(tx: Transaction, tenant: Tenant, actor: Actor, changes: AuditChange[]) {
  if (changes.length > 0)
    await tx.auditEvent.createMany({ data: changes.map((change) => auditRow(tenant, actor, change)) });
}
