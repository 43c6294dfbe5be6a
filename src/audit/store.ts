import type { Actor } from '../access/types.js';
import type { Prisma } from '../generated/prisma/client.js';
import type { Tenant } from '../access/types.js';
import type { Transaction } from '../db/transaction.js';
import { type TableNames, customers, mappings, natPortBlocks, natRules } from '../db/columns.js';

export type AuditAction = 'create' | 'update' | 'delete';
export type AuditEntity = 'customer' | 'mapping' | 'natBinding' | 'natRule';

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

// Nine values a row keeps a chunk far below PostgreSQL's 65,535 bind parameters per statement.
const AUDIT_ROWS_PER_STATEMENT = 2_000;

/**
 * Many changes of one transaction, in order, a statement per chunk: one round trip per change
 * made a cascade over a few thousand mappings outlast the transaction's deadline.
 */
export async function recordAudits(tx: Transaction, tenant: Tenant, actor: Actor, changes: readonly AuditChange[]) {
  for (let start = 0; start < changes.length; start += AUDIT_ROWS_PER_STATEMENT) {
    const chunk = changes.slice(start, start + AUDIT_ROWS_PER_STATEMENT);
    await tx.auditEvent.createMany({ data: chunk.map((change) => auditRow(tenant, actor, change)) });
  }
}

// The same images built by the database, for changes made by set-based statements (CSV import).
// Keys and formats match image(): camelCase fields, times as numbers, timestamps as ISO strings.
const isoSql = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

// inet columns as text: a network as abbrev() writes it (the mapping images have always been so),
// a single address without its /32 or /128.
const PREFIX_FIELDS = new Set(['network', 'insidePrefix', 'outsidePrefix']);
const ADDRESS_FIELDS = new Set(['publicAddress', 'insideAddress']);

// jsonb_build_object('field', row.column, ...) over these fields, in this order.
const imageSql = <Model>(names: TableNames<Model>, row: string, fields: readonly (keyof Model & string)[]) =>
  `jsonb_build_object(${fields
    .map((field) => {
      const column = `${row}.${names.columns[field]}`;
      const value =
        field === 'createdAt' || field === 'updatedAt' || field === 'sysFrom'
          ? isoSql(column)
          : PREFIX_FIELDS.has(field)
            ? `abbrev(${column})`
            : ADDRESS_FIELDS.has(field)
              ? `host(${column})`
              : column;
      return `'${field}', ${value}`;
    })
    .join(', ')})`;

/** The image of a customers row aliased `row`. */
export const customerImageSql = (row: string) =>
  imageSql(customers, row, [
    'id',
    'contextId',
    'userId',
    'name',
    'address',
    'email',
    'phoneNumber',
    'altPhoneNumber',
    'source',
    'createdAt',
    'updatedAt',
    'sysFrom',
  ]);

/** The image of a mappings row aliased `row` (its customer's UserID included). */
export const mappingImageSql = (row: string) =>
  imageSql(mappings, row, [
    'id',
    'contextId',
    'customerId',
    'ipsubnet',
    'network',
    'ipFirst',
    'ipLast',
    'starttime',
    'endtime',
    'terminalId',
    'source',
    'radiusSessionId',
    'endKind',
    'createdAt',
    'updatedAt',
    'sysFrom',
    'userId',
  ]);

/** The image of a nat_port_blocks row aliased `row`. */
export const natBindingImageSql = (row: string) =>
  imageSql(natPortBlocks, row, [
    'id',
    'contextId',
    'publicAddress',
    'portFirst',
    'portLast',
    'starttime',
    'endtime',
    'endKind',
    'releasedAt',
    'lastSeen',
    'insideAddress',
    'insideContextId',
    'source',
    'device',
    'rawLine',
    'createdAt',
    'updatedAt',
    'sysFrom',
  ]);

/** The image of a nat_rules row aliased `row`. */
export const natRuleImageSql = (row: string) =>
  imageSql(natRules, row, [
    'id',
    'contextId',
    'insidePrefix',
    'outsidePrefix',
    'firstPort',
    'portsPerHost',
    'starttime',
    'endtime',
    'insideContextId',
    'description',
    'createdAt',
    'updatedAt',
    'sysFrom',
  ]);
