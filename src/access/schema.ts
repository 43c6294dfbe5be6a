import { needs } from './scopes.js';
import { builder } from '../schema/builder.js';
import { MAX_TOKEN_LENGTH, MIN_TOKEN_LENGTH, checkTokenExpiry, checkTokenFormat } from './tokens.js';
import { checkContextName, checkUsername } from '../domain/names.js';
import { AlreadyExistsError, NotFoundError, ValidationError, checkField } from '../errors.js';
import {
  createContext,
  createToken,
  createUser,
  grantAccess,
  listContexts,
  listTokens,
  listUsers,
  revokeAccess,
  revokeToken,
} from './store.js';
import { firstDescription, listBound, takeFirst } from '../schema/list-bounds.js';

// Admins' lists are short in practice, but every list is bounded (see list-bounds.ts).
const ADMIN_LISTS = { default: 100, max: 1000 };

// Contexts, users, grants and tokens. Except `contexts`, every field here is for admins only.

const ContextRef = builder.prismaObject('Context', {
  description: 'A named partition of customers and mappings (Trisul: context).',
  fields: (t) => ({
    id: t.exposeInt('id', { description: "The context's id in this gateway." }),
    name: t.exposeString('name', {
      description: 'The name callers send as the X-Context header (Trisul: contextname), e.g. `default`.',
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the context was created.' }),
  }),
});

const GrantRef = builder.prismaObject('ApiGrant', {
  name: 'Grant',
  description: "A user's access to one context: read, or read and write.",
  fields: (t) => ({
    context: t.relation('context', { description: 'The context the user may use.' }),
    canWrite: t.exposeBoolean('canWrite', {
      description: 'Whether the user may also change customers and mappings there (false: read only).',
    }),
  }),
});

const ApiUserRef = builder.prismaObject('ApiUser', {
  description: 'Someone (a person or a program) that calls the API with a token.',
  fields: (t) => ({
    id: t.exposeInt('id', { description: "The user's id in this gateway." }),
    username: t.exposeString('username', {
      description: 'The name the user is known by (Trisul: username, sent with the token by REST callers).',
    }),
    isAdmin: t.exposeBoolean('isAdmin', {
      description: 'Whether the user may use every context and manage contexts, users, grants and tokens.',
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the user was created.' }),
    grants: t.relation('grants', {
      description:
        'The contexts the user may use (at most `first`, by context id), and whether it may change them (an admin needs none).',
      args: {
        first: t.arg.int({ defaultValue: ADMIN_LISTS.default, description: firstDescription('grants', ADMIN_LISTS) }),
      },
      extensions: listBound({ kind: 'argument', argument: 'first', ...ADMIN_LISTS }),
      query: (args) => ({ orderBy: { contextId: 'asc' }, take: takeFirst(args.first, ADMIN_LISTS) }),
    }),
  }),
});

const ApiTokenRef = builder.prismaObject('ApiToken', {
  description: 'A token, as far as it can be shown: the token itself is only ever shown at creation.',
  fields: (t) => ({
    id: t.exposeInt('id', { description: "The token's id, as `revokeToken` takes it." }),
    user: t.relation('user', { description: 'The user the token authenticates as.' }),
    hint: t.exposeString('hint', { description: 'The last characters of the token, to tell tokens apart.' }),
    label: t.exposeString('label', {
      nullable: true,
      description: 'A note saying what the token is for; null when none was given.',
    }),
    readOnly: t.exposeBoolean('readOnly', {
      description: "Whether the token may only read, whatever its user's grants allow.",
    }),
    expiresAt: t.expose('expiresAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When the token stops working; null: never.',
    }),
    revokedAt: t.expose('revokedAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When the token was revoked (it works no more); null while it is not.',
    }),
    lastUsedAt: t.expose('lastUsedAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When the token was last used, updated at most once a minute; null: never used.',
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the token was created.' }),
  }),
});

const CreatedTokenRef = builder.objectRef<Awaited<ReturnType<typeof createToken>>>('CreatedToken').implement({
  description: 'A token just created: the token itself, shown this once, and what is kept of it.',
  fields: (t) => ({
    token: t.exposeString('token', { description: 'The token. Store it now: it cannot be shown again.' }),
    apiToken: t.field({
      type: ApiTokenRef,
      description: 'The token as `tokens` lists it from now on.',
      resolve: (created) => created.record,
    }),
  }),
});

builder.queryFields((t) => ({
  contexts: t.field({
    type: [ContextRef],
    ...needs.caller,
    description: 'The contexts the caller may use (all of them, for an admin), by name, at most `first`.',
    args: {
      first: t.arg.int({ defaultValue: ADMIN_LISTS.default, description: firstDescription('contexts', ADMIN_LISTS) }),
    },
    extensions: listBound({ kind: 'argument', argument: 'first', ...ADMIN_LISTS }),
    resolve: async (_root, args, ctx) => {
      const take = takeFirst(args.first, ADMIN_LISTS);
      const contexts = await listContexts(ctx.db);
      if (ctx.caller.isAdmin) return contexts.slice(0, take);
      const granted = new Set(ctx.caller.grants.map((grant) => grant.contextId));
      return contexts.filter((context) => granted.has(context.id)).slice(0, take);
    },
  }),
  users: t.field({
    type: [ApiUserRef],
    ...needs.admin,
    description: 'Users by username, at most `first`.',
    args: {
      first: t.arg.int({ defaultValue: ADMIN_LISTS.default, description: firstDescription('users', ADMIN_LISTS) }),
    },
    extensions: listBound({ kind: 'argument', argument: 'first', ...ADMIN_LISTS }),
    resolve: async (_root, args, ctx) => {
      const take = takeFirst(args.first, ADMIN_LISTS);
      return (await listUsers(ctx.db)).slice(0, take);
    },
  }),
  tokens: t.field({
    type: [ApiTokenRef],
    ...needs.admin,
    description: 'Tokens in the order they were created, revoked and expired ones included, at most `first`.',
    args: {
      username: t.arg.string({ description: "Only this user's tokens; absent: every user's." }),
      first: t.arg.int({ defaultValue: ADMIN_LISTS.default, description: firstDescription('tokens', ADMIN_LISTS) }),
    },
    extensions: listBound({ kind: 'argument', argument: 'first', ...ADMIN_LISTS }),
    resolve: async (_root, args, ctx) => {
      const take = takeFirst(args.first, ADMIN_LISTS);
      return (await listTokens(ctx.db, args.username)).slice(0, take);
    },
  }),
}));

builder.mutationFields((t) => ({
  createContext: t.field({
    type: ContextRef,
    ...needs.adminWrite,
    description: 'Creates a context, empty; users other than admins need a grant to use it.',
    errors: { types: [ValidationError, AlreadyExistsError] },
    args: { name: t.arg.string({ required: true, description: 'Its name: 1 to 64 letters, digits, _ or -.' }) },
    resolve: (_root, args, ctx) =>
      createContext(
        ctx.db,
        checkField('name', () => checkContextName(args.name)),
      ),
  }),
  createUser: t.field({
    type: ApiUserRef,
    ...needs.adminWrite,
    description: 'Creates a user, with no grants and no token yet.',
    errors: { types: [ValidationError, AlreadyExistsError] },
    args: {
      username: t.arg.string({ required: true, description: 'Its name: 1 to 64 letters, digits, ., _, @ or -.' }),
      isAdmin: t.arg.boolean({ defaultValue: false, description: 'Whether the user is an admin.' }),
    },
    resolve: (_root, args, ctx) =>
      createUser(
        ctx.db,
        checkField('username', () => checkUsername(args.username)),
        args.isAdmin ?? false,
      ),
  }),
  grantAccess: t.field({
    type: GrantRef,
    ...needs.adminWrite,
    description: 'Lets a user read (or, with canWrite, also change) a context; replaces an earlier grant.',
    errors: { types: [NotFoundError] },
    args: {
      username: t.arg.string({ required: true, description: 'The user.' }),
      context: t.arg.string({ required: true, description: "The context's name." }),
      canWrite: t.arg.boolean({ defaultValue: false, description: 'Whether the user may also change it.' }),
    },
    resolve: (_root, args, ctx) => grantAccess(ctx.db, args.username, args.context, args.canWrite ?? false),
  }),
  revokeAccess: t.field({
    type: ApiUserRef,
    ...needs.adminWrite,
    description: "Takes away a user's grant on a context and returns the user.",
    errors: { types: [NotFoundError] },
    args: {
      username: t.arg.string({ required: true, description: 'The user.' }),
      context: t.arg.string({ required: true, description: "The context's name." }),
    },
    resolve: (_root, args, ctx) => revokeAccess(ctx.db, args.username, args.context),
  }),
  createToken: t.field({
    type: CreatedTokenRef,
    ...needs.adminWrite,
    description: 'Creates a token for a user, or registers an existing one (`token`) so a legacy caller keeps working.',
    errors: { types: [ValidationError, NotFoundError, AlreadyExistsError] },
    args: {
      username: t.arg.string({ required: true, description: 'The user the token authenticates as.' }),
      readOnly: t.arg.boolean({ defaultValue: false, description: 'Whether the token may only read.' }),
      expiresAt: t.arg({ type: 'DateTime', description: 'When it stops working (in the future); absent: never.' }),
      label: t.arg.string({ description: 'A note saying what the token is for.' }),
      token: t.arg.string({
        description: `An existing token to register (${MIN_TOKEN_LENGTH} to ${MAX_TOKEN_LENGTH} letters, digits, . _ ~ -); absent: a new one is made.`,
      }),
    },
    resolve: (_root, args, ctx) => {
      const token = args.token == null ? null : checkField('token', () => checkTokenFormat(args.token!));
      const expiresAt =
        args.expiresAt == null ? null : checkField('expiresAt', () => checkTokenExpiry(args.expiresAt!));
      return createToken(ctx.db, args.username, {
        readOnly: args.readOnly ?? false,
        expiresAt,
        label: args.label,
        token,
      });
    },
  }),
  revokeToken: t.field({
    type: ApiTokenRef,
    ...needs.adminWrite,
    description: 'Stops a token from working, at once, and returns it; revoking it again changes nothing.',
    errors: { types: [NotFoundError] },
    args: { id: t.arg.int({ required: true, description: "The token's id (see `tokens`)." }) },
    resolve: (_root, args, ctx) => revokeToken(ctx.db, args.id),
  }),
}));
