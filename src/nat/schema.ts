import { needs } from '../access/scopes.js';
import { type RequestContext, loadersOf, tenantOf } from '../context.js';
import { optionalText } from '../domain/customer.js';
import { deterministicNatRule, DeterministicNatRuleError } from '../domain/nat.js';
import { checkTimeRange } from '../domain/time.js';
import { BusyError, HolderConflictError, NotFoundError, ValidationError, checkField } from '../errors.js';
import type { Prisma } from '../generated/prisma/client.js';
import { builder, totalCountField } from '../schema/builder.js';
import { accepted } from '../schema/lenient.js';
import { findTenant } from '../access/store.js';
import { checkPortRange, createBinding, createRule, endBinding, endRule } from './manage.js';

// Carrier-grade NAT records read and written through GraphQL: port-block bindings (from NAT logs,
// files or this API) and deterministic NAT rules. Lookups through them are whoHad's (lookups/).

const natErrors = [ValidationError, NotFoundError, HolderConflictError, BusyError];

const contextName = (ctx: RequestContext, id: number): Promise<string> => loadersOf(ctx).contextNameById.load(id);

const NatBindingSourceRef = builder.enumType('NatBindingSource', {
  description: "Where a port-block binding's evidence came from.",
  values: {
    SYSLOG: { description: "A NAT device's syslog line (the NAT syslog listener)." },
    FILE: { description: 'A log file read by `ipdr-admin nat import`.' },
    API: { description: 'Written through the GraphQL API (createNatBinding).' },
  } as const,
});

const NatBindingEndRef = builder.enumType('NatBindingEnd', {
  description: 'How a port-block binding ended.',
  values: {
    RELEASED: { description: 'Reported: a RELEASE line, or endNatBinding.' },
    SUPERSEDED: {
      description: 'Inferred: its block was allocated again (its RELEASE was lost); it ended just before.',
    },
  } as const,
});

export const NatBindingRef = builder.prismaObject('NatPortBlock', {
  name: 'NatBinding',
  description:
    'A carrier-grade NAT port-block binding: a block of ports of a public IPv4 address held by an inside (subscriber) address for a period.',
  fields: (t) => ({
    id: t.exposeInt('id', { description: "The binding's id." }),
    publicAddress: t.expose('publicAddress', { type: 'IPAddress', description: 'The public IPv4 address.' }),
    portFirst: t.exposeInt('portFirst', { description: "The block's first port, inclusive." }),
    portLast: t.exposeInt('portLast', { description: "The block's last port, inclusive." }),
    starttime: t.expose('starttime', { type: 'UnixTime', description: 'The first instant it is held, inclusive.' }),
    endtime: t.expose('endtime', {
      type: 'UnixTime',
      nullable: true,
      description: 'The last instant it is held, inclusive; null while open.',
    }),
    endKind: t.field({
      type: NatBindingEndRef,
      nullable: true,
      description: 'How it ended; null while open.',
      resolve: (binding) => binding.endKind as 'RELEASED' | 'SUPERSEDED' | null,
    }),
    lastSeen: t.expose('lastSeen', {
      type: 'UnixTime',
      description: 'The time of the last line that confirmed it (ALLOC or INTERIM); its start for one from the API.',
    }),
    insideAddress: t.expose('insideAddress', {
      type: 'IPAddress',
      description: 'The inside (subscriber) address the block was given to.',
    }),
    insideContext: t.string({
      description: 'The context the inside address is looked up in.',
      resolve: (binding, _args, ctx) => contextName(ctx, binding.insideContextId),
    }),
    source: t.field({
      type: NatBindingSourceRef,
      description: 'Where it came from.',
      resolve: (binding) => binding.source as 'SYSLOG' | 'FILE' | 'API',
    }),
    device: t.exposeString('device', {
      nullable: true,
      description: "The sending device's address (syslog) or the file's name (import); null from the API.",
    }),
    rawLine: t.exposeString('rawLine', {
      nullable: true,
      description: 'The log line that opened it, as received; null from the API.',
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When it was first written.' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime', description: 'When it last changed.' }),
  }),
});

export const NatRuleRef = builder.prismaObject('NatRule', {
  name: 'NatRule',
  description:
    'A deterministic NAT rule (RFC 7422): every address of the inside prefix onto an address of the outside prefix and a fixed block of its ports, for a period; lookups compute the inside address from (public address, port).',
  fields: (t) => ({
    id: t.exposeInt('id', { description: "The rule's id." }),
    insidePrefix: t.expose('insidePrefix', { type: 'IPSubnet', description: 'The inside (subscriber) prefix.' }),
    outsidePrefix: t.expose('outsidePrefix', { type: 'IPSubnet', description: 'The outside (public) prefix.' }),
    firstPort: t.exposeInt('firstPort', { description: "The first port of the first inside host's block." }),
    portsPerHost: t.exposeInt('portsPerHost', { description: 'Ports each inside host holds.' }),
    starttime: t.expose('starttime', { type: 'UnixTime', description: 'The first instant it holds, inclusive.' }),
    endtime: t.expose('endtime', {
      type: 'UnixTime',
      nullable: true,
      description: 'The last instant it holds, inclusive; null: ongoing.',
    }),
    insideContext: t.string({
      description: 'The context the inside addresses are looked up in.',
      resolve: (rule, _args, ctx) => contextName(ctx, rule.insideContextId),
    }),
    description: t.exposeString('description', { nullable: true, description: 'What it is for, as written.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When it was written.' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime', description: 'When it last changed.' }),
  }),
});

const NatBindingInput = builder.inputType('NatBindingInput', {
  description: 'A port-block binding: which inside address held which ports of a public address, from when to when.',
  fields: (t) => ({
    publicAddress: t.field({ type: 'IPAddressInput', required: true, description: 'The public IPv4 address.' }),
    portFirst: t.int({ required: true, description: "The block's first port (0-65535)." }),
    portLast: t.int({ required: true, description: "The block's last port (portFirst-65535)." }),
    insideAddress: t.field({
      type: 'IPAddressInput',
      required: true,
      description: 'The inside (subscriber) address given the block.',
    }),
    insideContext: t.string({
      description: "The context the inside address is looked up in; absent: the request's own.",
    }),
    starttime: t.field({ type: 'UnixTimeInput', required: true, description: 'The first instant held, inclusive.' }),
    endtime: t.field({
      type: 'UnixTimeInput',
      description: 'The last instant held, inclusive; absent or null: open.',
    }),
  }),
});

const NatRuleInput = builder.inputType('NatRuleInput', {
  description: 'A deterministic NAT rule (RFC 7422, the arithmetic of VPP det44).',
  fields: (t) => ({
    insidePrefix: t.field({ type: 'IPSubnetInput', required: true, description: 'The inside IPv4 prefix.' }),
    outsidePrefix: t.field({
      type: 'IPSubnetInput',
      required: true,
      description: 'The outside IPv4 prefix: no larger than the inside one.',
    }),
    firstPort: t.int({ description: "The first port of the first inside host's block; absent: 1024." }),
    portsPerHost: t.int({
      description:
        'Ports each inside host holds; absent: as many as fit above firstPort ((65536 − firstPort) / hosts per outside address).',
    }),
    insideContext: t.string({
      description: "The context the inside addresses are looked up in; absent: the request's own.",
    }),
    starttime: t.field({ type: 'UnixTimeInput', required: true, description: 'The first instant it holds.' }),
    endtime: t.field({ type: 'UnixTimeInput', description: 'The last instant it holds; absent or null: ongoing.' }),
    description: t.string({ description: 'What it is for (free text).' }),
  }),
});

const RULE_FIELDS = {
  inside: 'insidePrefix',
  outside: 'outsidePrefix',
  firstPort: 'firstPort',
  portsPerHost: 'portsPerHost',
};

builder.mutationFields((t) => ({
  createNatBinding: t.field({
    ...needs.tenantWrite,
    type: NatBindingRef,
    description:
      'Writes a port-block binding and returns it. It may share no port of its address at any instant with another binding, nor the address with a mapping or a deterministic rule (a HolderConflictError names them).',
    errors: { types: natErrors },
    args: { input: t.arg({ type: NatBindingInput, required: true, description: 'The binding.' }) },
    resolve: async (_root, { input }, ctx) => {
      const publicAddress = accepted('publicAddress', input.publicAddress);
      checkPortRange(input.portFirst, input.portLast);
      const insideAddress = accepted('insideAddress', input.insideAddress);
      const start = accepted('starttime', input.starttime);
      const end = input.endtime == null ? null : accepted('endtime', input.endtime);
      const period = checkField('endtime', () => checkTimeRange({ start, end }));
      const tenant = tenantOf(ctx);
      const insideTenant = input.insideContext == null ? tenant : await findTenant(ctx.db, input.insideContext);
      return createBinding(ctx.db, tenant, ctx.actor, {
        publicAddress,
        portFirst: input.portFirst,
        portLast: input.portLast,
        insideAddress,
        insideTenant,
        period,
      });
    },
  }),
  endNatBinding: t.field({
    ...needs.tenantWrite,
    type: NatBindingRef,
    description: 'Sets the last instant a binding holds its block (inclusive) and returns it.',
    errors: { types: natErrors },
    args: {
      id: t.arg.int({ required: true, description: "The binding's id." }),
      at: t.arg({ type: 'UnixTime', required: true, description: 'Its new endtime: not before its starttime.' }),
    },
    resolve: (_root, args, ctx) => endBinding(ctx.db, tenantOf(ctx), ctx.actor, args.id, args.at),
  }),
  createNatRule: t.field({
    ...needs.tenantWrite,
    type: NatRuleRef,
    description:
      'Writes a deterministic NAT rule and returns it. Its outside prefix may share no address at any instant with another rule, a binding or a mapping (a HolderConflictError names them).',
    errors: { types: natErrors },
    args: { input: t.arg({ type: NatRuleInput, required: true, description: 'The rule.' }) },
    resolve: async (_root, { input }, ctx) => {
      const inside = accepted('insidePrefix', input.insidePrefix);
      const outside = accepted('outsidePrefix', input.outsidePrefix);
      const rule = checkField('insidePrefix', () => {
        try {
          return deterministicNatRule({
            inside,
            outside,
            ...(input.firstPort == null ? {} : { firstPort: input.firstPort }),
            ...(input.portsPerHost == null ? {} : { portsPerHost: input.portsPerHost }),
          });
        } catch (error) {
          if (error instanceof DeterministicNatRuleError)
            throw new ValidationError(RULE_FIELDS[error.field], error.message);
          throw error;
        }
      });
      const start = accepted('starttime', input.starttime);
      const end = input.endtime == null ? null : accepted('endtime', input.endtime);
      const period = checkField('endtime', () => checkTimeRange({ start, end }));
      const tenant = tenantOf(ctx);
      const insideTenant = input.insideContext == null ? tenant : await findTenant(ctx.db, input.insideContext);
      const description =
        input.description == null ? null : checkField('description', () => optionalText(input.description));
      return createRule(ctx.db, tenant, ctx.actor, { rule, insideTenant, period, description });
    },
  }),
  endNatRule: t.field({
    ...needs.tenantWrite,
    type: NatRuleRef,
    description: 'Sets the last instant a deterministic NAT rule holds (inclusive) and returns it.',
    errors: { types: natErrors },
    args: {
      id: t.arg.int({ required: true, description: "The rule's id." }),
      at: t.arg({ type: 'UnixTime', required: true, description: 'Its new endtime: not before its starttime.' }),
    },
    resolve: (_root, args, ctx) => endRule(ctx.db, tenantOf(ctx), ctx.actor, args.id, args.at),
  }),
}));

const NatBindingConnection = builder.connectionObject(
  {
    type: NatBindingRef,
    name: 'NatBindingConnection',
    description: 'A page of port-block bindings, with how many there are in all.',
    fields: (t) => ({
      totalCount: t.int(totalCountField('How many bindings match the arguments, on every page together.')),
    }),
  },
  { description: 'A binding on a page of bindings, with its cursor.' },
);

const NatRuleConnection = builder.connectionObject(
  {
    type: NatRuleRef,
    name: 'NatRuleConnection',
    description: 'A page of deterministic NAT rules, with how many there are in all.',
    fields: (t) => ({
      totalCount: t.int(totalCountField('How many rules there are, on every page together.')),
    }),
  },
  { description: 'A rule on a page of rules, with its cursor.' },
);

function bindingsWhere(
  contextId: number,
  args: { publicAddress?: { text: string } | null; insideAddress?: { text: string } | null; at?: number | null },
): Prisma.NatPortBlockWhereInput {
  const where: Prisma.NatPortBlockWhereInput = { contextId };
  if (args.publicAddress) where.publicAddress = args.publicAddress.text;
  if (args.insideAddress) where.insideAddress = args.insideAddress.text;
  if (args.at != null) {
    where.starttime = { lte: BigInt(args.at) };
    where.OR = [{ endtime: null }, { endtime: { gte: BigInt(args.at) } }];
  }
  return where;
}

builder.queryFields((t) => ({
  natBindings: t.prismaConnection(
    {
      ...needs.tenantRead,
      type: 'NatPortBlock',
      cursor: 'id',
      description: "Port-block bindings in the request's context, newest first, filtered by every argument given.",
      args: {
        publicAddress: t.arg({ type: 'IPAddress', description: 'Only the blocks of this public address.' }),
        insideAddress: t.arg({ type: 'IPAddress', description: 'Only the blocks given to this inside address.' }),
        at: t.arg({ type: 'UnixTime', description: 'Only the blocks held at this instant.' }),
      },
      totalCount: (_connection, args, ctx) =>
        ctx.reads.reader().prisma.natPortBlock.count({ where: bindingsWhere(tenantOf(ctx).id, args) }),
      resolve: (query, _root, args, ctx) =>
        ctx.reads.reader().prisma.natPortBlock.findMany({
          ...query,
          where: bindingsWhere(tenantOf(ctx).id, args),
          orderBy: { id: 'desc' },
        }),
    },
    NatBindingConnection,
  ),
  natRules: t.prismaConnection(
    {
      ...needs.tenantRead,
      type: 'NatRule',
      cursor: 'id',
      description: "Deterministic NAT rules in the request's context, newest first.",
      totalCount: (_connection, _args, ctx) =>
        ctx.reads.reader().prisma.natRule.count({ where: { contextId: tenantOf(ctx).id } }),
      resolve: (query, _root, _args, ctx) =>
        ctx.reads
          .reader()
          .prisma.natRule.findMany({ ...query, where: { contextId: tenantOf(ctx).id }, orderBy: { id: 'desc' } }),
    },
    NatRuleConnection,
  ),
}));
