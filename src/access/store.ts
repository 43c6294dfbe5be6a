import { userInfo } from 'node:os';
import { isCheckViolation, isUniqueViolation } from '../db/errors.js';
import type { Db } from '../db/handle.js';
import { apiGrants, apiTokens, apiUsers, contexts } from '../db/columns.js';
import type { ContextName, Username } from '../domain/names.js';
import { type TokenExpiry, type TokenText, generateToken, hashToken, hashesEqual, tokenHint } from './tokens.js';
import { AlreadyExistsError, NotFoundError, ValidationError } from '../errors.js';
import type { ApiToken } from '../generated/prisma/client.js';
import type { Actor, Caller, Channel, Tenant } from './types.js';

export type { Caller };

// Writing last_used_at on every request would turn every read into a write.
const LAST_USED_RESOLUTION_MS = 60_000;

/**
 * The caller a token belongs to, or null. Unknown, malformed, expired and revoked tokens are
 * all just null, so a caller cannot tell them apart.
 */
// One statement per request: the token, its user and the user's grants (for an admin, a second
// reads every context: see everyContext).
const [t, u, g, c] = [apiTokens.columns, apiUsers.columns, apiGrants.columns, contexts.columns];
const TOKEN_SQL = `
SELECT t.${t.id}, t.${t.tokenHash} AS "tokenHash", t.${t.readOnly} AS "readOnly", t.${t.expiresAt} AS "expiresAt",
       t.${t.revokedAt} AS "revokedAt", t.${t.lastUsedAt} AS "lastUsedAt",
       u.${u.id} AS "userId", u.${u.username} AS "username", u.${u.isAdmin} AS "isAdmin",
       coalesce(json_agg(json_build_object('contextId', g.${g.contextId}, 'contextName', c.${c.name}, 'canWrite', g.${g.canWrite})
                         ORDER BY g.${g.contextId}) FILTER (WHERE g.${g.contextId} IS NOT NULL), '[]') AS grants
FROM ${apiTokens.table} t
JOIN ${apiUsers.table} u ON u.${u.id} = t.${t.userId}
LEFT JOIN ${apiGrants.table} g ON g.${g.userId} = u.${u.id}
LEFT JOIN ${contexts.table} c ON c.${c.id} = g.${g.contextId}
WHERE t.${t.tokenHash} = $1
GROUP BY t.${t.id}, u.${u.id}`;

interface TokenRow {
  id: number;
  tokenHash: string;
  readOnly: boolean;
  expiresAt: Date | null;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
  userId: number;
  username: string;
  isAdmin: boolean;
  grants: Caller['grants'];
}

// Every request authenticates; a valid token's caller is remembered for a few seconds. A change
// made in this process (grant, revoke) takes effect at once; one made by another instance or
// the CLI within AUTH_CACHE_MS.
export const AUTH_CACHE_MS = 5_000;
// One cache per database: apps built on different databases (tests) do not share callers.
const authCaches = new WeakMap<Db, Map<string, { caller: Caller; until: number }>>();

function authCacheOf(db: Db) {
  let cache = authCaches.get(db);
  if (!cache) authCaches.set(db, (cache = new Map()));
  return cache;
}

/** Forgets remembered callers: call after any change to users, grants or tokens. */
export function forgetCallers(db: Db) {
  authCacheOf(db).clear();
}

export async function authenticate(db: Db, token: string, now = new Date()): Promise<Caller | null> {
  const authCache = authCacheOf(db);
  const tokenHash = hashToken(token);
  const cached = authCache.get(tokenHash);
  if (cached && cached.until > now.getTime()) return cached.caller;
  const caller = await lookUpCaller(db, tokenHash, now);
  if (caller) authCache.set(tokenHash, { caller, until: Math.min(now.getTime() + AUTH_CACHE_MS, caller.expiresAt) });
  else authCache.delete(tokenHash);
  return caller;
}

async function lookUpCaller(db: Db, tokenHash: string, now: Date): Promise<(Caller & { expiresAt: number }) | null> {
  const [row] = await db.prisma.$queryRawUnsafe<TokenRow[]>(TOKEN_SQL, tokenHash);
  if (!row || !hashesEqual(row.tokenHash, tokenHash)) return null;
  if (row.revokedAt !== null || (row.expiresAt !== null && row.expiresAt <= now)) return null;
  if (row.lastUsedAt === null || now.getTime() - row.lastUsedAt.getTime() >= LAST_USED_RESOLUTION_MS) {
    await db.prisma.apiToken.update({ where: { id: row.id }, data: { lastUsedAt: now } });
  }
  return {
    userId: row.userId,
    username: row.username,
    isAdmin: row.isAdmin,
    tokenId: row.id,
    readOnly: row.readOnly,
    grants: row.isAdmin ? await everyContext(db, row.grants) : row.grants,
    expiresAt: row.expiresAt?.getTime() ?? Number.POSITIVE_INFINITY,
  };
}

/**
 * Whether the token may still read the context: not revoked, not expired, its user an admin or
 * granted the context. A stream that outlives its request (the live feed) asks again as it goes.
 */
export async function mayStillRead(db: Db, tokenId: number, contextId: number, now = new Date()): Promise<boolean> {
  const found = await db.prisma.apiToken.count({
    where: {
      id: tokenId,
      revokedAt: null,
      OR: [{ expiresAt: null }, { expiresAt: { gt: now } }],
      user: { OR: [{ isAdmin: true }, { grants: { some: { contextId } } }] },
    },
  });
  return found > 0;
}

/** An admin may use every context (it manages them), with write access unless a grant says read-only. */
async function everyContext(db: Db, grants: Caller['grants']): Promise<Caller['grants']> {
  const contexts = await db.prisma.context.findMany({ orderBy: { id: 'asc' } });
  return contexts.map((context) => ({
    contextId: context.id,
    contextName: context.name,
    canWrite: grants.find((grant) => grant.contextId === context.id)?.canWrite ?? true,
  }));
}

async function uniquely<T>(entity: string, field: string, value: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (isUniqueViolation(error)) throw new AlreadyExistsError(entity, field, value);
    throw error;
  }
}

export function listContexts(db: Db) {
  return db.prisma.context.findMany({ orderBy: { name: 'asc' } });
}

// Context ids are packed with time into the keys of the non-overlap constraint (see the
// box_exclusion migration), which leaves room for ids 1 to 32767.
export const MAX_CONTEXT_ID = 32767;

export async function createContext(db: Db, name: ContextName) {
  try {
    const context = await uniquely('context', 'name', name, () => db.prisma.context.create({ data: { name } }));
    // Admins use every context: the ones remembered must learn of this one.
    forgetCallers(db);
    return context;
  } catch (error) {
    if (!isCheckViolation(error)) throw error;
    throw new ValidationError('name', `no more contexts can be created: context ids end at ${MAX_CONTEXT_ID}`);
  }
}

/** The context named `name`, as the tenant a command acts in; NotFoundError naming it if there is none. */
export async function findTenant(db: Db, name: string): Promise<Tenant> {
  const context = await db.prisma.context.findUnique({ where: { name }, select: { id: true, name: true } });
  if (!context) throw new NotFoundError('context', name);
  return context;
}

/** Who an ipdr-admin command acts as: the operating system's user, through `channel`. */
export const cliActor = (channel: Channel): Actor => ({ name: `cli:${userInfo().username}`, channel });

async function findContextOrThrow(db: Db, name: string) {
  const context = await db.prisma.context.findUnique({ where: { name } });
  if (!context) throw new NotFoundError('context', name);
  return context;
}

async function findUserOrThrow(db: Db, username: string) {
  const user = await db.prisma.apiUser.findUnique({ where: { username } });
  if (!user) throw new NotFoundError('user', username);
  return user;
}

export function listUsers(db: Db) {
  return db.prisma.apiUser.findMany({
    orderBy: { username: 'asc' },
    include: { grants: { include: { context: true } } },
  });
}

export function createUser(db: Db, username: Username, isAdmin: boolean) {
  return uniquely('user', 'username', username, () => db.prisma.apiUser.create({ data: { username, isAdmin } }));
}

/** Gives a user read (or read and write) access to a context, replacing any earlier grant. */
export async function grantAccess(db: Db, username: string, contextName: string, canWrite: boolean) {
  const [user, context] = [await findUserOrThrow(db, username), await findContextOrThrow(db, contextName)];
  const grant = await db.prisma.apiGrant.upsert({
    where: { userId_contextId: { userId: user.id, contextId: context.id } },
    create: { userId: user.id, contextId: context.id, canWrite },
    update: { canWrite },
    include: { context: true, user: true },
  });
  forgetCallers(db);
  return grant;
}

export async function revokeAccess(db: Db, username: string, contextName: string) {
  const [user, context] = [await findUserOrThrow(db, username), await findContextOrThrow(db, contextName)];
  const { count } = await db.prisma.apiGrant.deleteMany({ where: { userId: user.id, contextId: context.id } });
  forgetCallers(db);
  if (count === 0) throw new NotFoundError('grant', `${username} on ${contextName}`);
  return user;
}

/** What is stored of a token: its hash and a hint, never the token. */
function tokenColumns(token: TokenText) {
  return { tokenHash: hashToken(token), hint: tokenHint(token) };
}

export interface TokenOptions {
  readOnly?: boolean;
  expiresAt?: TokenExpiry | null;
  label?: string | null;
  /** An existing token to register (a legacy caller's); otherwise a new one is generated. */
  token?: TokenText | null;
}

/** Creates a token; the returned `token` is the only time it is ever shown. */
export async function createToken(
  db: Db,
  username: string,
  options: TokenOptions = {},
): Promise<{ token: TokenText; record: ApiToken }> {
  const user = await findUserOrThrow(db, username);
  const token = options.token ?? generateToken();
  const record = await uniquely('token', 'token', tokenHint(token), () =>
    db.prisma.apiToken.create({
      data: {
        userId: user.id,
        label: options.label ?? null,
        readOnly: options.readOnly ?? false,
        expiresAt: options.expiresAt ?? null,
        ...tokenColumns(token),
      },
    }),
  );
  return { token, record };
}

export async function listTokens(db: Db, username?: string | null) {
  const user = username == null ? null : await findUserOrThrow(db, username);
  return db.prisma.apiToken.findMany({
    where: user ? { userId: user.id } : {},
    orderBy: { id: 'asc' },
    include: { user: true },
  });
}

export async function revokeToken(db: Db, id: number) {
  const token = await db.prisma.apiToken.findUnique({ where: { id } });
  if (!token) throw new NotFoundError('token', String(id));
  const revoked = await db.prisma.apiToken.update({
    where: { id },
    data: { revokedAt: token.revokedAt ?? new Date() },
    include: { user: true },
  });
  forgetCallers(db);
  return revoked;
}

/** Checked when the environment is read (env.ts). */
export interface BootstrapSettings {
  contexts: ContextName[];
  adminUser: Username;
  adminToken?: TokenText | undefined;
}

// Held while bootstrapping, so two instances starting on an empty database make one admin.
const BOOTSTRAP_LOCK_KEY = 72707370;

/**
 * On a database without users: the configured contexts, and an admin user granted all of them
 * with a token. Returns the token when it was generated here (to be shown once); null when the
 * database already had users or the token came from the settings.
 */
export async function bootstrapAccess(db: Db, settings: BootstrapSettings): Promise<string | null> {
  const { contexts, adminUser } = settings;
  const token = settings.adminToken ?? generateToken();
  const created = await db.prisma.$transaction(async (tx) => {
    await tx.$executeRawUnsafe('SELECT pg_advisory_xact_lock($1)', BOOTSTRAP_LOCK_KEY);
    if ((await tx.apiUser.count()) > 0) return false;
    const user = await tx.apiUser.create({ data: { username: adminUser, isAdmin: true } });
    for (const name of contexts) {
      const context = await tx.context.upsert({ where: { name }, create: { name }, update: {} });
      await tx.apiGrant.create({ data: { userId: user.id, contextId: context.id, canWrite: true } });
    }
    await tx.apiToken.create({ data: { userId: user.id, label: 'bootstrap', ...tokenColumns(token) } });
    return true;
  });
  return created && settings.adminToken === undefined ? token : null;
}
