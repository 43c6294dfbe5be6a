import { needs } from '../access/scopes.js';
import { builder, totalCountField } from '../schema/builder.js';
import { loadersOf, tenantOf } from '../context.js';
import { optionalText } from '../domain/customer.js';
import { type IpSubnet, parseIpSubnet } from '../domain/ip.js';
import { checkTimeRange } from '../domain/time.js';
import {
  AmbiguousMappingError,
  BusyError,
  ConflictError,
  HolderConflictError,
  NotFoundError,
  ValidationError,
  checkField,
} from '../errors.js';
import type { IpMapping, Prisma } from '../generated/prisma/client.js';
import {
  type MappingPatch,
  createMapping,
  deleteCustomerMapping,
  deleteMapping,
  reassignMapping,
  updateCustomerMapping,
  updateMapping,
} from './store.js';
import { CustomerRef } from '../customers/schema.js';
import { type Lenient, accepted } from '../schema/lenient.js';
import { customerCarriedBy } from '../lookups/fields.js';
import { columnsOf } from '../schema/columns.js';
import {
  type RecordSource,
  activeAtWhere,
  containsIpWhere,
  overlapsWindowWhere,
  withinSubnetWhere,
} from './filters.js';

// BusyError: a write that kept losing to concurrent writers, or found no connection (db/transaction.ts).
const mappingErrors = [ValidationError, NotFoundError, ConflictError, HolderConflictError, BusyError];

// The derived fields (network, family, ...) all come from the stored text; parse it once per row.
const parsedSubnets = new WeakMap<Pick<IpMapping, 'ipsubnet'>, IpSubnet>();
function subnetOf(mapping: Pick<IpMapping, 'ipsubnet'>): IpSubnet {
  let subnet = parsedSubnets.get(mapping);
  if (!subnet) {
    subnet = parseIpSubnet(mapping.ipsubnet);
    parsedSubnets.set(mapping, subnet);
  }
  return subnet;
}

// The columns each field that is not exposed reads (lookups select only those: schema/columns.ts).
const fromMapping = columnsOf<IpMapping>();

const SOURCES = ['API', 'REST', 'CSV', 'RADIUS'] as const satisfies readonly RecordSource[];

export const MappingSourceRef = builder.enumType('MappingSource', {
  description: 'Where a mapping came from.',
  values: {
    API: { description: 'Written through the GraphQL API.' },
    REST: { description: "Written through Trisul's REST API." },
    CSV: { description: 'Imported from a CSV file (ipdr-admin import).' },
    RADIUS: { description: 'An address of a RADIUS accounting session (see radiusSession).' },
  } satisfies Record<(typeof SOURCES)[number], unknown>,
});

const isSource = (value: string): value is RecordSource => (SOURCES as readonly string[]).includes(value);

export const IpMappingRef = builder.prismaObject('IpMapping', {
  description: 'An IP address or subnet held by a customer from starttime to endtime, both inclusive.',
  fields: (t) => ({
    id: t.exposeInt('id', { description: "The mapping's id (Trisul: id)." }),
    customer: t.field({
      type: CustomerRef,
      description: 'The customer holding the address (Trisul: ipdr_customer_id names its id).',
      // Lookups bring the customer along; a page of mappings loads its customers in one statement.
      ...fromMapping(
        ['customerId'],
        (mapping, _args, ctx) => customerCarriedBy(mapping) ?? loadersOf(ctx).customerById.load(mapping.customerId),
      ),
    }),
    ipsubnet: t.expose('ipsubnet', {
      type: 'IPSubnet',
      description: 'The address or subnet as it was sent (Trisul: ipsubnet), host bits and all.',
    }),
    network: t.string({
      description: 'The canonical network in CIDR form (host bits cleared).',
      ...fromMapping(['ipsubnet'], (mapping) => subnetOf(mapping).network),
    }),
    family: t.int({ description: '4 or 6.', ...fromMapping(['ipsubnet'], (mapping) => subnetOf(mapping).family) }),
    prefixLength: t.int({
      description: "The network's prefix length: 32 (IPv4) or 128 (IPv6) for a single address.",
      ...fromMapping(['ipsubnet'], (mapping) => subnetOf(mapping).prefixLength),
    }),
    firstAddress: t.field({
      type: 'IPAddress',
      description: 'The lowest address of the network.',
      ...fromMapping(['ipsubnet'], (mapping) => subnetOf(mapping).first.text),
    }),
    lastAddress: t.field({
      type: 'IPAddress',
      description: 'The highest address of the network (the address itself, for a single address).',
      ...fromMapping(['ipsubnet'], (mapping) => subnetOf(mapping).last.text),
    }),
    starttime: t.expose('starttime', {
      type: 'UnixTime',
      description: 'The first instant the address is held, inclusive (Trisul: starttime); 0: since ever.',
    }),
    endtime: t.expose('endtime', {
      type: 'UnixTime',
      nullable: true,
      description: 'The last instant the address is held, inclusive (Trisul: endtime); null while ongoing.',
    }),
    terminalId: t.exposeString('terminalId', {
      nullable: true,
      description: 'The terminal the address was assigned to (Trisul: terminalid); null when none was given.',
    }),
    source: t.field({
      type: MappingSourceRef,
      description: 'Where the mapping came from: the API, REST, a CSV import, or a RADIUS session.',
      ...fromMapping(['source'], (mapping) => {
        if (!isSource(mapping.source)) throw new Error(`mapping source ${mapping.source} is not one of ${SOURCES}`);
        return mapping.source;
      }),
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the mapping was written.' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime', description: 'When the mapping last changed.' }),
  }),
});

const MappingInput = builder.inputType('MappingInput', {
  description: 'A new mapping: which customer holds which address or subnet, from when to when.',
  fields: (t) => ({
    userId: t.string({
      required: true,
      description: 'The UserID of the customer that holds the address (Trisul: UserID).',
    }),
    ipsubnet: t.field({
      type: 'IPSubnetInput',
      required: true,
      description: 'The address or subnet held (Trisul: ipsubnet), kept as sent.',
    }),
    starttime: t.field({
      type: 'UnixTimeInput',
      required: true,
      description: 'The first instant it is held, inclusive (Trisul: starttime); 0: since ever.',
    }),
    endtime: t.field({
      type: 'UnixTimeInput',
      description: 'The last instant it is held, inclusive (Trisul: endtime); absent or null: ongoing.',
    }),
    terminalId: t.string({ description: 'The terminal it is assigned to (Trisul: terminalid); absent: none.' }),
  }),
});

const MappingPatchInput = builder.inputType('MappingPatch', {
  description: 'Some fields of a mapping: absent fields stay as they are; null endtime makes it ongoing.',
  fields: (t) => ({
    userId: t.string({ description: 'Moves the mapping to the customer with this UserID (Trisul: UserID).' }),
    ipsubnet: t.field({ type: 'IPSubnetInput', description: 'A new address or subnet (Trisul: ipsubnet).' }),
    starttime: t.field({ type: 'UnixTimeInput', description: 'A new first instant, inclusive (Trisul: starttime).' }),
    endtime: t.field({
      type: 'UnixTimeInput',
      description: 'A new last instant, inclusive (Trisul: endtime); null makes the mapping ongoing.',
    }),
    terminalId: t.string({ description: 'A new terminal (Trisul: terminalid); null clears it.' }),
  }),
});

const MappingChoice = builder.inputType('MappingChoice', {
  description: "Which of a customer's mappings is meant, when it has several: by id, or by subnet.",
  fields: (t) => ({
    id: t.int({
      description:
        "Only the mapping with this id (Trisul: id); if it is not the customer's, the answer lists those that are.",
    }),
    ipsubnet: t.field({ type: 'IPSubnetInput', description: 'Only the mapping with this network.' }),
    ipsubnetHint: t.field({
      type: 'IPSubnetInput',
      description: 'Picks the mapping with this network among several; ignored when the customer has just one.',
    }),
    customerId: t.int({
      description:
        "The customer's id (Trisul: ipdr_customer_id), when writing back a mapping as read: must be the customer's (ValidationError on `customerId`).",
    }),
  }),
});

const checkTerminalId = (value: string | null | undefined) => checkField('terminalId', () => optionalText(value));

const acceptedOrAbsent = <T>(field: string, value: Lenient<T> | null | undefined) =>
  value == null ? undefined : accepted(field, value);

function choiceOf(choose: typeof MappingChoice.$inferInput | null | undefined) {
  return {
    id: choose?.id,
    customerId: choose?.customerId,
    // Named by their path: `ipsubnet` alone is the input's, which updateCustomerMapping also takes.
    subnet: acceptedOrAbsent('choose.ipsubnet', choose?.ipsubnet),
    subnetHint: acceptedOrAbsent('choose.ipsubnetHint', choose?.ipsubnetHint),
  };
}

function patchOf(input: typeof MappingPatchInput.$inferInput): MappingPatch {
  return {
    userId: input.userId ?? undefined,
    subnet: acceptedOrAbsent('ipsubnet', input.ipsubnet),
    starttime: acceptedOrAbsent('starttime', input.starttime),
    endtime: input.endtime === null ? null : acceptedOrAbsent('endtime', input.endtime),
    terminalId: input.terminalId === undefined ? undefined : checkTerminalId(input.terminalId),
  };
}

interface MappingsFilter {
  userId?: string | null | undefined;
  containsIp?: Parameters<typeof containsIpWhere>[0] | null | undefined;
  withinSubnet?: Parameters<typeof withinSubnetWhere>[0] | null | undefined;
  activeAt?: number | null | undefined;
  from?: number | null | undefined;
  to?: number | null | undefined;
}

function mappingsWhere(contextId: number, args: MappingsFilter): Prisma.IpMappingWhereInput {
  const and: Prisma.IpMappingWhereInput[] = [{ contextId }];
  if (args.userId != null) and.push({ customer: { userId: args.userId } });
  if (args.containsIp != null) and.push(containsIpWhere(args.containsIp));
  if (args.withinSubnet != null) and.push(withinSubnetWhere(args.withinSubnet));
  if (args.activeAt != null) and.push(activeAtWhere(args.activeAt));
  if (args.from != null || args.to != null) and.push(overlapsWindowWhere(args.from, args.to));
  return { AND: and };
}

/** One page of mappings: `mappings` and `ipHistory` answer the same shape. */
export const MappingConnection = builder.connectionObject(
  {
    type: IpMappingRef,
    name: 'MappingConnection',
    description: 'A page of mappings, with how many there are in all.',
    fields: (t) => ({
      totalCount: t.int(totalCountField('How many mappings match the arguments, on every page together.')),
    }),
  },
  { description: 'A mapping on a page of mappings, with its cursor.' },
);

builder.queryFields((t) => ({
  mapping: t.prismaField({
    ...needs.tenantRead,
    type: 'IpMapping',
    nullable: true,
    description: "The mapping with this id in the request's context, or null when there is none.",
    args: { id: t.arg.int({ required: true, description: "The mapping's id (Trisul: id)." }) },
    resolve: (query, _root, args, ctx) =>
      ctx.reads.reader().prisma.ipMapping.findFirst({ ...query, where: { id: args.id, contextId: tenantOf(ctx).id } }),
  }),
  mappings: t.prismaConnection(
    {
      ...needs.tenantRead,
      type: 'IpMapping',
      cursor: 'id',
      description: 'Mappings in id order, filtered by every argument given.',
      args: {
        userId: t.arg.string({ description: 'Only this customer’s mappings.' }),
        containsIp: t.arg({ type: 'IPAddress', description: 'Only mappings whose subnet contains this address.' }),
        withinSubnet: t.arg({ type: 'IPSubnet', description: 'Only mappings inside this subnet.' }),
        activeAt: t.arg({ type: 'UnixTime', description: 'Only mappings held at this instant.' }),
        from: t.arg({ type: 'UnixTime', description: 'Only mappings held at some instant from this one on.' }),
        to: t.arg({ type: 'UnixTime', description: 'Only mappings held at some instant up to this one.' }),
      },
      totalCount: (_connection, args, ctx) =>
        ctx.reads.reader().prisma.ipMapping.count({ where: mappingsWhere(tenantOf(ctx).id, args) }),
      resolve: (query, _root, args, ctx) =>
        ctx.reads.reader().prisma.ipMapping.findMany({
          ...query,
          where: mappingsWhere(tenantOf(ctx).id, args),
          orderBy: { id: 'asc' },
        }),
    },
    MappingConnection,
  ),
}));

builder.mutationFields((t) => ({
  createMapping: t.field({
    ...needs.tenantWrite,
    type: IpMappingRef,
    description: 'Creates a mapping and returns it; it may share no address at any instant with another mapping.',
    errors: { types: mappingErrors },
    args: { input: t.arg({ type: MappingInput, required: true, description: 'The new mapping.' }) },
    resolve: (_root, { input }, ctx) => {
      // Each field on its own first, in the input's order; then whether the times fit together.
      const subnet = accepted('ipsubnet', input.ipsubnet);
      const start = accepted('starttime', input.starttime);
      const end = input.endtime == null ? null : accepted('endtime', input.endtime);
      const terminalId = checkTerminalId(input.terminalId);
      const period = checkField('endtime', () => checkTimeRange({ start, end }));
      return createMapping(ctx.db, tenantOf(ctx), ctx.actor, input.userId, { subnet, period, terminalId });
    },
  }),
  updateMapping: t.field({
    ...needs.tenantWrite,
    type: IpMappingRef,
    description: 'Changes the fields given of the mapping with this id and returns it.',
    errors: { types: mappingErrors },
    args: {
      id: t.arg.int({ required: true, description: "The mapping's id (Trisul: id)." }),
      input: t.arg({ type: MappingPatchInput, required: true, description: 'The fields to change.' }),
    },
    resolve: (_root, { id, input }, ctx) => updateMapping(ctx.db, tenantOf(ctx), ctx.actor, id, patchOf(input)),
  }),
  updateCustomerMapping: t.field({
    type: IpMappingRef,
    ...needs.tenantWrite,
    description:
      "Changes a customer's mapping: its only one, or the one `choose` names (Trisul's PUT /api/ipdrcustomers_mapping/{UserID}). Never changes more than one.",
    errors: { types: [...mappingErrors, AmbiguousMappingError] },
    args: {
      userId: t.arg.string({ required: true, description: 'The UserID of the customer whose mapping it is.' }),
      choose: t.arg({
        type: MappingChoice,
        description: 'Which of its mappings, when it has several; absent: its only one.',
      }),
      input: t.arg({ type: MappingPatchInput, required: true, description: 'The fields to change.' }),
    },
    resolve: (_root, { userId, choose, input }, ctx) =>
      updateCustomerMapping(ctx.db, tenantOf(ctx), ctx.actor, userId, choiceOf(choose), patchOf(input)),
  }),
  deleteCustomerMapping: t.field({
    type: IpMappingRef,
    ...needs.tenantWrite,
    description: "Deletes a customer's mapping: its only one, or the one `choose` names.",
    errors: { types: [NotFoundError, AmbiguousMappingError, ValidationError, BusyError] },
    args: {
      userId: t.arg.string({ required: true, description: 'The UserID of the customer whose mapping it is.' }),
      choose: t.arg({
        type: MappingChoice,
        description: 'Which of its mappings, when it has several; absent: its only one.',
      }),
    },
    resolve: (_root, { userId, choose }, ctx) =>
      deleteCustomerMapping(ctx.db, tenantOf(ctx), ctx.actor, userId, choiceOf(choose)),
  }),
  deleteMapping: t.field({
    ...needs.tenantWrite,
    type: IpMappingRef,
    description: 'Deletes a mapping and returns it; prefer endMapping, which keeps history for old reports.',
    errors: { types: [NotFoundError, BusyError] },
    args: { id: t.arg.int({ required: true, description: "The mapping's id (Trisul: id)." }) },
    resolve: (_root, args, ctx) => deleteMapping(ctx.db, tenantOf(ctx), ctx.actor, args.id),
  }),
  endMapping: t.field({
    ...needs.tenantWrite,
    type: IpMappingRef,
    description: 'Sets the last instant the mapping is held (inclusive).',
    errors: { types: mappingErrors },
    args: {
      id: t.arg.int({ required: true, description: "The mapping's id (Trisul: id)." }),
      at: t.arg({
        type: 'UnixTime',
        required: true,
        description: 'Its new endtime: the last instant it is held; not before its starttime.',
      }),
    },
    resolve: (_root, args, ctx) => updateMapping(ctx.db, tenantOf(ctx), ctx.actor, args.id, { endtime: args.at }),
  }),
  reassignMapping: t.field({
    ...needs.tenantWrite,
    type: IpMappingRef,
    description:
      'Moves a subnet to another customer at `at`, atomically: the mapping holding exactly this subnet then ends at `at - 1`, and the returned mapping opens at `at`.',
    errors: { types: mappingErrors },
    args: {
      ipsubnet: t.arg({
        type: 'IPSubnet',
        required: true,
        description: 'The address or subnet that changes hands (the same network as the ending mapping).',
      }),
      toUserId: t.arg.string({ required: true, description: 'The UserID of the customer that holds it from `at`.' }),
      at: t.arg({ type: 'UnixTime', required: true, description: 'The first instant the new customer holds it.' }),
      terminalId: t.arg.string({ description: "The new mapping's terminal (Trisul: terminalid); absent: none." }),
    },
    resolve: async (_root, args, ctx) => {
      const terminalId = checkTerminalId(args.terminalId);
      const { opened } = await reassignMapping(
        ctx.db,
        tenantOf(ctx),
        ctx.actor,
        args.ipsubnet,
        args.toUserId,
        args.at,
        terminalId,
      );
      return opened;
    },
  }),
}));
