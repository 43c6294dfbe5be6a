import { needs } from '../authorization.js';
import { builder } from '../builder.js';
import { AlreadyExistsError, NotFoundError, ValidationError } from '../errors.js';
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
} from '../store/access.js';

// Contexts, users, grants and tokens. Except `contexts`, every field here is for admins only.

const ContextRef = builder.prismaObject('Context', {
  description: 'A named partition of customers and mappings (Trisul: context).',
  fields: (t) => ({
    id: t.exposeInt('id'),
    name: t.exposeString('name'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const GrantRef = builder.prismaObject('ApiGrant', {
  name: 'Grant',
  fields: (t) => ({
    context: t.relation('context'),
    canWrite: t.exposeBoolean('canWrite'),
  }),
});

const ApiUserRef = builder.prismaObject('ApiUser', {
  fields: (t) => ({
    id: t.exposeInt('id'),
    username: t.exposeString('username'),
    isAdmin: t.exposeBoolean('isAdmin'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    grants: t.relation('grants'),
  }),
});

const ApiTokenRef = builder.prismaObject('ApiToken', {
  description: 'A token, as far as it can be shown: the token itself is only ever shown at creation.',
  fields: (t) => ({
    id: t.exposeInt('id'),
    user: t.relation('user'),
    hint: t.exposeString('hint', { description: 'The last characters of the token, to tell tokens apart.' }),
    label: t.exposeString('label', { nullable: true }),
    readOnly: t.exposeBoolean('readOnly'),
    expiresAt: t.expose('expiresAt', { type: 'DateTime', nullable: true }),
    revokedAt: t.expose('revokedAt', { type: 'DateTime', nullable: true }),
    lastUsedAt: t.expose('lastUsedAt', {
      type: 'DateTime',
      nullable: true,
      description: 'Updated at most once a minute.',
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const CreatedTokenRef = builder.objectRef<Awaited<ReturnType<typeof createToken>>>('CreatedToken').implement({
  fields: (t) => ({
    token: t.exposeString('token', { description: 'The token. Store it now: it cannot be shown again.' }),
    apiToken: t.field({ type: ApiTokenRef, resolve: (created) => created.record }),
  }),
});

builder.queryFields((t) => ({
  contexts: t.field({
    type: [ContextRef],
    ...needs.caller,
    description: 'The contexts the caller may use (all of them, for an admin).',
    resolve: async (_root, _args, ctx) => {
      const contexts = await listContexts();
      if (ctx.caller.isAdmin) return contexts;
      const granted = new Set(ctx.caller.grants.map((grant) => grant.contextId));
      return contexts.filter((context) => granted.has(context.id));
    },
  }),
  users: t.field({ type: [ApiUserRef], ...needs.admin, resolve: () => listUsers() }),
  tokens: t.field({
    type: [ApiTokenRef],
    ...needs.admin,
    args: { username: t.arg.string() },
    resolve: (_root, args) => listTokens(args.username),
  }),
}));

builder.mutationFields((t) => ({
  createContext: t.field({
    type: ContextRef,
    ...needs.adminWrite,
    errors: { types: [ValidationError, AlreadyExistsError] },
    args: { name: t.arg.string({ required: true }) },
    resolve: (_root, args) => createContext(args.name),
  }),
  createUser: t.field({
    type: ApiUserRef,
    ...needs.adminWrite,
    errors: { types: [ValidationError, AlreadyExistsError] },
    args: { username: t.arg.string({ required: true }), isAdmin: t.arg.boolean({ defaultValue: false }) },
    resolve: (_root, args) => createUser(args.username, args.isAdmin ?? false),
  }),
  grantAccess: t.field({
    type: GrantRef,
    ...needs.adminWrite,
    description: 'Lets a user read (or, with canWrite, also change) a context; replaces an earlier grant.',
    errors: { types: [NotFoundError] },
    args: {
      username: t.arg.string({ required: true }),
      context: t.arg.string({ required: true }),
      canWrite: t.arg.boolean({ defaultValue: false }),
    },
    resolve: (_root, args) => grantAccess(args.username, args.context, args.canWrite ?? false),
  }),
  revokeAccess: t.field({
    type: ApiUserRef,
    ...needs.adminWrite,
    errors: { types: [NotFoundError] },
    args: { username: t.arg.string({ required: true }), context: t.arg.string({ required: true }) },
    resolve: (_root, args) => revokeAccess(args.username, args.context),
  }),
  createToken: t.field({
    type: CreatedTokenRef,
    ...needs.adminWrite,
    description: 'Creates a token for a user, or registers an existing one (`token`) so a legacy caller keeps working.',
    errors: { types: [ValidationError, NotFoundError, AlreadyExistsError] },
    args: {
      username: t.arg.string({ required: true }),
      readOnly: t.arg.boolean({ defaultValue: false }),
      expiresAt: t.arg({ type: 'DateTime' }),
      label: t.arg.string(),
      token: t.arg.string(),
    },
    resolve: (_root, args) =>
      createToken(args.username, {
        readOnly: args.readOnly ?? false,
        expiresAt: args.expiresAt,
        label: args.label,
        token: args.token,
      }),
  }),
  revokeToken: t.field({
    type: ApiTokenRef,
    ...needs.adminWrite,
    errors: { types: [NotFoundError] },
    args: { id: t.arg.int({ required: true }) },
    resolve: (_root, args) => revokeToken(args.id),
  }),
}));
