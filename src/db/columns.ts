import type {
  ApiGrant,
  ApiToken,
  ApiUser,
  AuditEvent,
  Context,
  Customer,
  IpMapping,
  LookupLogEntry,
  MappingPrefixLength,
  Prisma,
} from '../generated/prisma/client.js';

// The names raw statements (those sent below Prisma, or through $queryRaw) give tables and
// columns: prisma/schema.prisma's @@map and @map, declared once. The compiler checks that every
// field of each model has a column here; test/db/schema-drift.test.ts checks the names against
// the schema and against the migrated database. Prisma's generated client keeps these names
// too, but only inside its runtime data model, which it does not export.

/** A model's table and the column of each of its fields. */
export interface TableNames<Model> {
  readonly table: string;
  readonly columns: { readonly [Field in keyof Model]-?: string };
}

export const contexts = {
  table: 'contexts',
  columns: { id: 'id', name: 'name', createdAt: 'created_at' },
} as const satisfies TableNames<Context>;

export const customers = {
  table: 'ipdr_customers',
  columns: {
    id: 'id',
    contextId: 'context_id',
    userId: 'user_id',
    name: 'name',
    address: 'address',
    email: 'email',
    phoneNumber: 'phone_number',
    altPhoneNumber: 'alt_phone_number',
    createdAt: 'created_at',
    updatedAt: 'updated_at',
  },
} as const satisfies TableNames<Customer>;

export const mappings = {
  table: 'ipdr_customers_mapping',
  columns: {
    id: 'id',
    contextId: 'context_id',
    customerId: 'ipdr_customer_id',
    userId: 'user_id',
    ipsubnet: 'ipsubnet',
    network: 'network',
    ipFirst: 'ip_first',
    ipLast: 'ip_last',
    starttime: 'starttime',
    endtime: 'endtime',
    terminalId: 'terminalid',
    createdAt: 'created_at',
    updatedAt: 'updated_at',
  },
} as const satisfies TableNames<IpMapping>;

export const auditEvents = {
  table: 'audit_events',
  columns: {
    id: 'id',
    contextId: 'context_id',
    at: 'at',
    actor: 'actor',
    channel: 'channel',
    action: 'action',
    entityType: 'entity_type',
    entityId: 'entity_id',
    before: 'before',
    after: 'after',
  },
} as const satisfies TableNames<AuditEvent>;

export const apiUsers = {
  table: 'api_users',
  columns: { id: 'id', username: 'username', isAdmin: 'is_admin', createdAt: 'created_at' },
} as const satisfies TableNames<ApiUser>;

export const apiGrants = {
  table: 'api_grants',
  columns: { userId: 'user_id', contextId: 'context_id', canWrite: 'can_write', createdAt: 'created_at' },
} as const satisfies TableNames<ApiGrant>;

export const apiTokens = {
  table: 'api_tokens',
  columns: {
    id: 'id',
    userId: 'user_id',
    tokenHash: 'token_hash',
    hint: 'hint',
    label: 'label',
    readOnly: 'read_only',
    expiresAt: 'expires_at',
    revokedAt: 'revoked_at',
    lastUsedAt: 'last_used_at',
    createdAt: 'created_at',
  },
} as const satisfies TableNames<ApiToken>;

export const lookupLog = {
  table: 'lookup_log',
  columns: {
    id: 'id',
    contextId: 'context_id',
    at: 'at',
    username: 'username',
    channel: 'channel',
    operation: 'operation',
    reason: 'reason',
    lookups: 'lookups',
    detail: 'detail',
  },
} as const satisfies TableNames<LookupLogEntry>;

export const mappingPrefixLengths = {
  table: 'mapping_prefix_lengths',
  columns: { contextId: 'context_id', family: 'family', prefixLength: 'prefix_length' },
} as const satisfies TableNames<MappingPrefixLength>;

/** Every model's names, by model: what the drift test walks. */
export const TABLES = {
  Context: contexts,
  Customer: customers,
  IpMapping: mappings,
  AuditEvent: auditEvents,
  ApiUser: apiUsers,
  ApiGrant: apiGrants,
  ApiToken: apiTokens,
  LookupLogEntry: lookupLog,
  MappingPrefixLength: mappingPrefixLengths,
} as const satisfies Record<Prisma.ModelName, TableNames<object>>;

/** The columns of `fields`, comma-separated, each prefixed with `alias.` when one is given. */
export function columnList<Model>(names: TableNames<Model>, fields: readonly (keyof Model)[], alias?: string): string {
  return fields.map((field) => (alias ? `${alias}.${names.columns[field]}` : names.columns[field])).join(', ');
}
