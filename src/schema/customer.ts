import { needs } from '../authorization.js';
import { builder } from '../builder.js';
import { tenantOf } from '../context.js';
import { prisma } from '../db.js';
import { AlreadyExistsError, CustomerHasMappingsError, NotFoundError, ValidationError } from '../errors.js';
import type { Prisma } from '../generated/prisma/client.js';
import {
  checkCustomerInput,
  completeCustomerFields,
  createCustomer,
  deleteCustomer,
  updateCustomer,
} from '../store/customers.js';
import { activeAtWhere } from '../store/mapping-filters.js';

export const CustomerRef = builder.prismaObject('Customer', {
  description: 'An ISP customer (Trisul: IPDR customer), identified by its UserID within a context.',
  fields: (t) => ({
    id: t.exposeInt('id'),
    userId: t.exposeString('userId', { description: "The operator's customer id (Trisul: UserID)." }),
    name: t.exposeString('name'),
    address: t.exposeString('address', { nullable: true }),
    email: t.exposeString('email', { nullable: true }),
    phoneNumber: t.exposeString('phoneNumber', { nullable: true }),
    altPhoneNumber: t.exposeString('altPhoneNumber', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    mappings: t.relation('mappings', {
      description: 'The IP mappings of this customer, oldest first; with `activeAt`, only those held then.',
      args: { activeAt: t.arg({ type: 'UnixTime', required: false }) },
      query: (args) => ({
        where: args.activeAt == null ? {} : activeAtWhere(args.activeAt),
        orderBy: [{ starttime: 'asc' }, { id: 'asc' }],
      }),
    }),
  }),
});

const CustomerInput = builder.inputType('CustomerInput', {
  description: 'Every field of a customer; absent optional fields are cleared.',
  fields: (t) => ({
    userId: t.string({ required: true }),
    name: t.string({ required: true }),
    address: t.string(),
    email: t.string(),
    phoneNumber: t.string(),
    altPhoneNumber: t.string(),
  }),
});

const CustomerPatch = builder.inputType('CustomerPatch', {
  description: 'Some fields of a customer: absent fields stay as they are, null clears an optional one.',
  fields: (t) => ({
    userId: t.string(),
    name: t.string(),
    address: t.string(),
    email: t.string(),
    phoneNumber: t.string(),
    altPhoneNumber: t.string(),
  }),
});

function customersWhere(contextId: number, args: { userId?: string | null; nameContains?: string | null }) {
  const where: Prisma.CustomerWhereInput = { contextId };
  if (args.userId != null) where.userId = args.userId;
  if (args.nameContains != null) where.name = { contains: args.nameContains, mode: 'insensitive' };
  return where;
}

builder.queryFields((t) => ({
  customer: t.prismaField({
    ...needs.tenantRead,
    type: 'Customer',
    nullable: true,
    args: { userId: t.arg.string({ required: true }) },
    resolve: (query, _root, args, ctx) =>
      prisma.customer.findUnique({
        ...query,
        where: { contextId_userId: { contextId: tenantOf(ctx).id, userId: args.userId } },
      }),
  }),
  customers: t.prismaConnection({
    ...needs.tenantRead,
    type: 'Customer',
    cursor: 'id',
    description: 'Customers in id order, optionally only one UserID or names containing a text (any case).',
    args: { userId: t.arg.string(), nameContains: t.arg.string() },
    totalCount: (_connection, args, ctx) => prisma.customer.count({ where: customersWhere(tenantOf(ctx).id, args) }),
    resolve: (query, _root, args, ctx) =>
      prisma.customer.findMany({ ...query, where: customersWhere(tenantOf(ctx).id, args), orderBy: { id: 'asc' } }),
  }),
}));

builder.mutationFields((t) => ({
  createCustomer: t.field({
    ...needs.tenantWrite,
    type: CustomerRef,
    errors: { types: [ValidationError, AlreadyExistsError] },
    args: { input: t.arg({ type: CustomerInput, required: true }) },
    resolve: (_root, args, ctx) => createCustomer(tenantOf(ctx), ctx.actor, completeCustomerFields(args.input)),
  }),
  updateCustomer: t.field({
    ...needs.tenantWrite,
    type: CustomerRef,
    description: 'Replaces every field of the customer (UserID included); absent optional fields are cleared.',
    errors: { types: [ValidationError, NotFoundError, AlreadyExistsError] },
    args: { userId: t.arg.string({ required: true }), input: t.arg({ type: CustomerInput, required: true }) },
    resolve: (_root, args, ctx) =>
      updateCustomer(tenantOf(ctx), ctx.actor, args.userId, completeCustomerFields(args.input)),
  }),
  patchCustomer: t.field({
    ...needs.tenantWrite,
    type: CustomerRef,
    description: 'Changes only the fields given.',
    errors: { types: [ValidationError, NotFoundError, AlreadyExistsError] },
    args: { userId: t.arg.string({ required: true }), input: t.arg({ type: CustomerPatch, required: true }) },
    resolve: (_root, args, ctx) =>
      updateCustomer(tenantOf(ctx), ctx.actor, args.userId, checkCustomerInput(args.input)),
  }),
  deleteCustomer: t.field({
    ...needs.tenantWrite,
    type: CustomerRef,
    description:
      'Deletes a customer and returns it. With mappings it fails unless `cascade` is true; what is deleted stays readable in the audit trail.',
    errors: { types: [NotFoundError, CustomerHasMappingsError] },
    args: { userId: t.arg.string({ required: true }), cascade: t.arg.boolean({ defaultValue: false }) },
    resolve: (_root, args, ctx) => deleteCustomer(tenantOf(ctx), ctx.actor, args.userId, args.cascade ?? false),
  }),
}));
