import type { Actor } from '../access/types.js';
import type { Prisma } from '../generated/prisma/client.js';
import type { Tenant } from '../access/types.js';
import type { Transaction } from '../db/transaction.js';

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

// The same images built by the database, for changes made by set-based statements (CSV import).
// Keys and formats match image(): camelCase fields, times as numbers, timestamps as ISO strings.
const isoSql = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/** The image of an ipdr_customers row aliased `row`. */
export const customerImageSql = (row: string) => `jsonb_build_object(
  'id', ${row}.id, 'contextId', ${row}.context_id, 'userId', ${row}.user_id, 'name', ${row}.name,
  'address', ${row}.address, 'email', ${row}.email, 'phoneNumber', ${row}.phone_number,
  'altPhoneNumber', ${row}.alt_phone_number,
  'createdAt', ${isoSql(`${row}.created_at`)}, 'updatedAt', ${isoSql(`${row}.updated_at`)})`;

/** The image of an ipdr_customers_mapping row aliased `row` (its customer's UserID included). */
export const mappingImageSql = (row: string) => `jsonb_build_object(
  'id', ${row}.id, 'contextId', ${row}.context_id, 'customerId', ${row}.ipdr_customer_id,
  'ipsubnet', ${row}.ipsubnet, 'network', abbrev(${row}.network), 'ipFirst', ${row}.ip_first,
  'ipLast', ${row}.ip_last, 'starttime', ${row}.starttime, 'endtime', ${row}.endtime,
  'terminalId', ${row}.terminalid,
  'createdAt', ${isoSql(`${row}.created_at`)}, 'updatedAt', ${isoSql(`${row}.updated_at`)},
  'userId', ${row}.user_id)`;
