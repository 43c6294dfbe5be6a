// What the rest of the app knows of access: who acts, through which channel, in which context.
// Stores import these types from here and nothing else of access.

/** An authenticated caller: the token's user, with the contexts it may use. */
export interface Caller {
  userId: number;
  username: string;
  isAdmin: boolean;
  tokenId: number;
  readOnly: boolean;
  grants: { contextId: number; contextName: string; canWrite: boolean }[];
}

/**
 * How a change or a lookup arrived: the APIs, the admin CLI, RADIUS accounting (the listener and
 * the detail import), the NAT log writers, or POST /attribute (which only reads).
 */
export type Channel = 'graphql' | 'rest' | 'cli' | 'radius' | 'nat' | 'attribute';

/** Who acted, as the audit trail records it. */
export interface Actor {
  name: string;
  channel: Channel;
}

/** A Trisul context: the partition a request reads and writes. */
export interface Tenant {
  id: number;
  name: string;
}

/** The context a request acts in, and whether the caller may write there. */
export interface TenantAccess extends Tenant {
  canWrite: boolean;
}

export type TenantChoice = { tenant: TenantAccess } | { problem: TenantProblem; message: string };

export type TenantProblem = 'context-required' | 'not-allowed' | 'unknown-context' | 'no-contexts';

/** Why a request was refused (FORBIDDEN's `extensions.reason`): a tenant problem, or a missing right. */
export type RefusalReason = TenantProblem | 'read-only-token' | 'read-only-context' | 'not-admin' | 'not-authorized';
