import { needs } from '../access/scopes.js';
import { builder, totalCountField } from '../schema/builder.js';
import { tenantOf } from '../context.js';
import { AlreadyExistsError, BusyError, CustomerHasMappingsError, NotFoundError, ValidationError } from '../errors.js';
import type { Customer, Prisma } from '../generated/prisma/client.js';
import { createCustomer, deleteCustomer, nameContainsWhere, updateCustomer } from './store.js';
import { checkCustomerInput, completeCustomerFields } from './input.js';
import { activeAtWhere } from '../mappings/filters.js';
import { firstDescription, listBound, takeFirst } from '../schema/list-bounds.js';
import { readsColumns } from '../schema/columns.js';

// A customer's mappings are a list, not a connection (selections written before it was bounded
// keep working); `mappings(userId:)` pages through any number of them.
const CUSTOMER_MAPPINGS = { default: 250, max: 1000 };

export const CustomerRef = builder.prismaObject('Customer', {
  description: 'An ISP customer (Trisul: IPDR customer), identified by its UserID within a context.',
  fields: (t) => ({
    id: t.exposeInt('id', {
      description: "The customer's id in this gateway (Trisul: id; its mappings name it as ipdr_customer_id).",
    }),
    userId: t.exposeString('userId', {
      description: "The operator's customer id (Trisul: UserID), unique within the context.",
    }),
    name: t.exposeString('name', { description: "The customer's name (Trisul: Name)." }),
    address: t.exposeString('address', {
      nullable: true,
      description: 'Postal address (Trisul: Address); null when there is none.',
    }),
    email: t.exposeString('email', {
      nullable: true,
      description: 'Email address (Trisul: Email); null when there is none.',
    }),
    phoneNumber: t.exposeString('phoneNumber', {
      nullable: true,
      description: 'Primary phone number (Trisul: PhoneNumber); null when there is none.',
    }),
    altPhoneNumber: t.exposeString('altPhoneNumber', {
      nullable: true,
      description: 'Alternate phone number (Trisul: AltPhoneNumber); null when there is none.',
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the customer was created.' }),
    updatedAt: t.expose('updatedAt', {
      type: 'DateTime',
      description: "When the customer's own fields last changed (its mappings changing does not count).",
    }),
    mappings: t.relation('mappings', {
      description: `The IP mappings of this customer, oldest first, at most \`first\` (${CUSTOMER_MAPPINGS.default} unless told); with \`activeAt\`, only those held then. To page through all of them: \`mappings(userId:)\`.`,
      args: {
        activeAt: t.arg({
          type: 'UnixTime',
          required: false,
          description: 'Only the mappings held at this instant; absent: all of them, ended ones included.',
        }),
        first: t.arg.int({
          defaultValue: CUSTOMER_MAPPINGS.default,
          description: firstDescription('mappings (the oldest)', CUSTOMER_MAPPINGS),
        }),
      },
      // Pothos loads the mappings of a customer it did not load itself by the customer's id.
      extensions: {
        ...listBound({ kind: 'argument', argument: 'first', ...CUSTOMER_MAPPINGS }),
        ...readsColumns<Customer>(['id']),
      },
      query: (args) => ({
        where: args.activeAt == null ? {} : activeAtWhere(args.activeAt),
        orderBy: [{ starttime: 'asc' }, { id: 'asc' }],
        take: takeFirst(args.first, CUSTOMER_MAPPINGS),
      }),
    }),
  }),
});

const CustomerInput = builder.inputType('CustomerInput', {
  description: 'Every field of a customer; absent optional fields are cleared.',
  fields: (t) => ({
    userId: t.string({
      required: true,
      description: "The operator's customer id (Trisul: UserID), unique within the context; not empty.",
    }),
    name: t.string({ required: true, description: "The customer's name (Trisul: Name); not empty." }),
    address: t.string({ description: 'Postal address (Trisul: Address); absent or null: none.' }),
    email: t.string({ description: 'Email address (Trisul: Email); absent or null: none.' }),
    phoneNumber: t.string({ description: 'Primary phone number (Trisul: PhoneNumber); absent or null: none.' }),
    altPhoneNumber: t.string({ description: 'Alternate phone number (Trisul: AltPhoneNumber); absent or null: none.' }),
  }),
});

const CustomerPatch = builder.inputType('CustomerPatch', {
  description: 'Some fields of a customer: absent fields stay as they are, null clears an optional one.',
  fields: (t) => ({
    userId: t.string({
      description: 'A new UserID (Trisul: UserID), unique within the context; its mappings follow. Cannot be null.',
    }),
    name: t.string({ description: 'A new name (Trisul: Name). Cannot be null.' }),
    address: t.string({ description: 'A new postal address (Trisul: Address); null clears it.' }),
    email: t.string({ description: 'A new email address (Trisul: Email); null clears it.' }),
    phoneNumber: t.string({ description: 'A new primary phone number (Trisul: PhoneNumber); null clears it.' }),
    altPhoneNumber: t.string({ description: 'A new alternate phone number (Trisul: AltPhoneNumber); null clears it.' }),
  }),
});

function customersWhere(contextId: number, args: { userId?: string | null; nameContains?: string | null }) {
  const where: Prisma.CustomerWhereInput = { contextId };
  if (args.userId != null) where.userId = args.userId;
  if (args.nameContains != null) where.name = nameContainsWhere(args.nameContains);
  return where;
}

const CustomerConnection = builder.connectionObject(
  {
    type: CustomerRef,
    name: 'CustomerConnection',
    description: 'A page of customers, with how many there are in all.',
    fields: (t) => ({
      totalCount: t.int(totalCountField('How many customers match the arguments, on every page together.')),
    }),
  },
  { description: 'A customer on a page of customers, with its cursor.' },
);

builder.queryFields((t) => ({
  customer: t.prismaField({
    ...needs.tenantRead,
    type: 'Customer',
    nullable: true,
    description: "The customer with this UserID in the request's context, or null when there is none.",
    args: { userId: t.arg.string({ required: true, description: 'The customer id (Trisul: UserID).' }) },
    resolve: (query, _root, args, ctx) =>
      ctx.reads.reader().prisma.customer.findUnique({
        ...query,
        where: { contextId_userId: { contextId: tenantOf(ctx).id, userId: args.userId } },
      }),
  }),
  customers: t.prismaConnection(
    {
      ...needs.tenantRead,
      type: 'Customer',
      cursor: 'id',
      description: 'Customers in id order, optionally only one UserID or names containing a text (any case).',
      args: {
        userId: t.arg.string({ description: 'Only the customer with this UserID (at most one).' }),
        nameContains: t.arg.string({ description: 'Only customers whose name contains this text, in any case.' }),
      },
      totalCount: (_connection, args, ctx) =>
        ctx.reads.reader().prisma.customer.count({ where: customersWhere(tenantOf(ctx).id, args) }),
      resolve: (query, _root, args, ctx) =>
        ctx.reads.reader().prisma.customer.findMany({
          ...query,
          where: customersWhere(tenantOf(ctx).id, args),
          orderBy: { id: 'asc' },
        }),
    },
    CustomerConnection,
  ),
}));

builder.mutationFields((t) => ({
  createCustomer: t.field({
    ...needs.tenantWrite,
    type: CustomerRef,
    description: "Creates a customer in the request's context and returns it.",
    errors: { types: [ValidationError, AlreadyExistsError, BusyError] },
    args: { input: t.arg({ type: CustomerInput, required: true, description: "The new customer's fields." }) },
    resolve: (_root, args, ctx) => createCustomer(ctx.db, tenantOf(ctx), ctx.actor, completeCustomerFields(args.input)),
  }),
  updateCustomer: t.field({
    ...needs.tenantWrite,
    type: CustomerRef,
    description: 'Replaces every field of the customer (UserID included); absent optional fields are cleared.',
    errors: { types: [ValidationError, NotFoundError, AlreadyExistsError, BusyError] },
    args: {
      userId: t.arg.string({ required: true, description: 'The UserID the customer has now.' }),
      id: t.arg.int({
        description:
          "The customer's id, when writing back a customer as read: if another customer has the UserID now, nothing changes (ValidationError on `id`).",
      }),
      input: t.arg({ type: CustomerInput, required: true, description: 'Every field the customer is to have.' }),
    },
    resolve: (_root, args, ctx) =>
      updateCustomer(ctx.db, tenantOf(ctx), ctx.actor, args.userId, completeCustomerFields(args.input), args.id),
  }),
  patchCustomer: t.field({
    ...needs.tenantWrite,
    type: CustomerRef,
    description: 'Changes only the fields given and returns the customer.',
    errors: { types: [ValidationError, NotFoundError, AlreadyExistsError, BusyError] },
    args: {
      userId: t.arg.string({ required: true, description: 'The UserID the customer has now.' }),
      id: t.arg.int({
        description:
          "The customer's id, when writing back a customer as read: if another customer has the UserID now, nothing changes (ValidationError on `id`).",
      }),
      input: t.arg({ type: CustomerPatch, required: true, description: 'The fields to change.' }),
    },
    resolve: (_root, args, ctx) =>
      updateCustomer(ctx.db, tenantOf(ctx), ctx.actor, args.userId, checkCustomerInput(args.input), args.id),
  }),
  deleteCustomer: t.field({
    ...needs.tenantWrite,
    type: CustomerRef,
    description:
      'Deletes a customer and returns it. With mappings it fails unless `cascade` is true; what is deleted stays readable in the audit trail.',
    errors: { types: [NotFoundError, CustomerHasMappingsError, BusyError] },
    args: {
      userId: t.arg.string({ required: true, description: 'The UserID of the customer to delete.' }),
      cascade: t.arg.boolean({
        defaultValue: false,
        description: 'Also delete its mappings; without it, a customer with mappings is not deleted.',
      }),
    },
    resolve: (_root, args, ctx) => deleteCustomer(ctx.db, tenantOf(ctx), ctx.actor, args.userId, args.cascade ?? false),
  }),
}));
