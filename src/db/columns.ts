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
  NatPortBlock,
  NatRule,
  NatUnparsableLine,
  Prisma,
  RadiusConflict,
  RadiusSession,
  RetentionPolicy,
  RetentionPurge,
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
    source: 'source',
    createdAt: 'created_at',
    updatedAt: 'updated_at',
    sysFrom: 'sys_from',
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
    source: 'source',
    radiusSessionId: 'radius_session_id',
    endKind: 'end_kind',
    createdAt: 'created_at',
    updatedAt: 'updated_at',
    sysFrom: 'sys_from',
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
    entityIdLast: 'entity_id_last',
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
    requestDigest: 'request_digest',
    answerDigest: 'answer_digest',
    answer: 'answer',
  },
} as const satisfies TableNames<LookupLogEntry>;

export const mappingPrefixLengths = {
  table: 'mapping_prefix_lengths',
  columns: { contextId: 'context_id', family: 'family', prefixLength: 'prefix_length' },
} as const satisfies TableNames<MappingPrefixLength>;

export const radiusSessions = {
  table: 'radius_sessions',
  columns: {
    id: 'id',
    contextId: 'context_id',
    sessionKey: 'session_key',
    userName: 'user_name',
    acctSessionId: 'acct_session_id',
    nasKey: 'nas_key',
    nasIpAddress: 'nas_ip_address',
    nasIdentifier: 'nas_identifier',
    nasPortId: 'nas_port_id',
    callingStationId: 'calling_station_id',
    startedAt: 'started_at',
    lastSeen: 'last_seen',
    endedAt: 'ended_at',
    endKind: 'end_kind',
    terminateCause: 'terminate_cause',
    createdAt: 'created_at',
    updatedAt: 'updated_at',
  },
} as const satisfies TableNames<RadiusSession>;

export const radiusConflicts = {
  table: 'radius_conflicts',
  columns: {
    id: 'id',
    contextId: 'context_id',
    radiusSessionId: 'radius_session_id',
    network: 'network',
    ipsubnet: 'ipsubnet',
    starttime: 'starttime',
    endtime: 'endtime',
    mappingId: 'mapping_id',
    holderUserId: 'holder_user_id',
    natHolderId: 'nat_holder_id',
    kind: 'kind',
    recordedAt: 'recorded_at',
  },
} as const satisfies TableNames<RadiusConflict>;

export const natPortBlocks = {
  table: 'nat_port_blocks',
  columns: {
    id: 'id',
    contextId: 'context_id',
    publicAddress: 'public_address',
    portFirst: 'port_first',
    portLast: 'port_last',
    starttime: 'starttime',
    endtime: 'endtime',
    endKind: 'end_kind',
    releasedAt: 'released_at',
    lastSeen: 'last_seen',
    insideAddress: 'inside_address',
    insideContextId: 'inside_context_id',
    source: 'source',
    device: 'device',
    rawLine: 'raw_line',
    createdAt: 'created_at',
    updatedAt: 'updated_at',
    sysFrom: 'sys_from',
  },
} as const satisfies TableNames<NatPortBlock>;

export const natRules = {
  table: 'nat_rules',
  columns: {
    id: 'id',
    contextId: 'context_id',
    insidePrefix: 'inside_prefix',
    outsidePrefix: 'outside_prefix',
    firstPort: 'first_port',
    portsPerHost: 'ports_per_host',
    starttime: 'starttime',
    endtime: 'endtime',
    insideContextId: 'inside_context_id',
    description: 'description',
    createdAt: 'created_at',
    updatedAt: 'updated_at',
    sysFrom: 'sys_from',
  },
} as const satisfies TableNames<NatRule>;

export const natUnparsableLines = {
  table: 'nat_unparsable_lines',
  columns: {
    id: 'id',
    contextId: 'context_id',
    source: 'source',
    device: 'device',
    receivedAt: 'received_at',
    line: 'line',
    reason: 'reason',
    recordedAt: 'recorded_at',
  },
} as const satisfies TableNames<NatUnparsableLine>;

// `keep`, an interval, is no Prisma type (Unsupported): its column is named in raw statements only.
export const retentionPolicies = {
  table: 'retention_policies',
  columns: { contextId: 'context_id', setBy: 'set_by', setAt: 'set_at' },
} as const satisfies TableNames<RetentionPolicy>;

export const retentionPurges = {
  table: 'retention_purges',
  columns: {
    id: 'id',
    contextId: 'context_id',
    at: 'at',
    actor: 'actor',
    channel: 'channel',
    horizon: 'horizon',
    mappings: 'mappings',
    mappingVersions: 'mapping_versions',
    customers: 'customers',
    customerVersions: 'customer_versions',
    natBindings: 'nat_bindings',
    natBindingVersions: 'nat_binding_versions',
    radiusSessions: 'radius_sessions',
    auditEvents: 'audit_events',
    lookupLogEntries: 'lookup_log_entries',
  },
} as const satisfies TableNames<RetentionPurge>;

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
  RadiusSession: radiusSessions,
  RadiusConflict: radiusConflicts,
  NatPortBlock: natPortBlocks,
  NatRule: natRules,
  NatUnparsableLine: natUnparsableLines,
  RetentionPolicy: retentionPolicies,
  RetentionPurge: retentionPurges,
} as const satisfies Record<Prisma.ModelName, TableNames<object>>;

/** The columns of `fields`, comma-separated, each prefixed with `alias.` when one is given. */
export function columnList<Model>(names: TableNames<Model>, fields: readonly (keyof Model)[], alias?: string): string {
  return fields.map((field) => (alias ? `${alias}.${names.columns[field]}` : names.columns[field])).join(', ');
}
