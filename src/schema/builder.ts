import SchemaBuilder, { type MaybePromise } from '@pothos/core';
import ErrorsPlugin from '@pothos/plugin-errors';
import PrismaPlugin from '@pothos/plugin-prisma';
import RelayPlugin from '@pothos/plugin-relay';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import RelayFirstAndLastPlugin from './relay-first-and-last.js';
import { type AuthScopes, authScopes, refusal } from '../access/scopes.js';
import { forbidden } from '../context.js';
import type { RequestContext } from '../context.js';
import type { IpAddress, IpSubnet } from '../domain/ip.js';
import type { Lenient } from './lenient.js';
import type PrismaTypes from '../generated/pothos-prisma-types.js';
import { getDatamodel } from '../generated/pothos-prisma-types.js';

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 250;

const capitalize = (name: string) => `${name.slice(0, 1).toUpperCase()}${name.slice(1)}`;
// A root field's result is named after the field alone (CreateMappingResult); another type's
// field keeps the type's name in front, as two types may have fields of the same name.
const resultTypePrefix = (parentTypeName: string) =>
  parentTypeName === 'Query' || parentTypeName === 'Mutation' ? '' : parentTypeName;

export const builder = new SchemaBuilder<{
  PrismaTypes: PrismaTypes;
  Context: RequestContext;
  AuthScopes: AuthScopes;
  DefaultFieldNullability: false;
  DefaultInputFieldRequiredness: false;
  Scalars: {
    IPAddress: { Input: IpAddress; Output: string };
    IPSubnet: { Input: IpSubnet; Output: string };
    UnixTime: { Input: number; Output: number | bigint };
    IPAddressInput: { Input: Lenient<IpAddress>; Output: never };
    IPSubnetInput: { Input: Lenient<IpSubnet>; Output: never };
    UnixTimeInput: { Input: Lenient<number>; Output: never };
    DateTime: { Input: Date; Output: Date };
    JSON: { Input: unknown; Output: unknown };
  };
}>({
  plugins: [ErrorsPlugin, ScopeAuthPlugin, PrismaPlugin, RelayPlugin, RelayFirstAndLastPlugin],
  scopeAuth: {
    authScopes,
    unauthorizedError: (_parent, context, _info, result) => forbidden(refusal(context, result.failure)),
  },
  defaultFieldNullability: false,
  errors: {
    directResult: true,
    // Clients name these unions in fragments: `... on CreateMappingResult`, not the plugin's
    // `MutationCreateMappingResult`.
    defaultUnionOptions: {
      name: ({ parentTypeName, fieldName }) => `${resultTypePrefix(parentTypeName)}${capitalize(fieldName)}Result`,
      description:
        "Either the field's result (for a mutation: what it wrote, or for a delete what it removed) or one of the listed errors saying why there is none; a mutation that answers an error changed nothing.",
    },
    defaultItemUnionOptions: {
      name: ({ parentTypeName, fieldName }) => `${resultTypePrefix(parentTypeName)}${capitalize(fieldName)}ItemResult`,
      description: 'One item of the list: its answer, or the error saying why this item has none.',
    },
  },
  relay: {
    // Our ids are the database ids Trisul's API shows; no global Node ids.
    clientMutationId: 'omit',
    cursorType: 'String',
    // Connection and edge types are named where they are declared (builder.connectionObject):
    // <Entity>Connection and <Entity>Edge. What follows describes the parts every connection shares.
    pageInfoTypeOptions: {
      description: 'Where a page lies in its connection (Relay cursor connections).',
    },
    pageInfoFieldOptions: {
      description: "This page's place in the connection: the cursors of its ends, and whether items lie beyond them.",
    },
    hasNextPageFieldOptions: {
      description: "Whether items follow this page's last one; ask for them with `after: endCursor`.",
    },
    hasPreviousPageFieldOptions: {
      description: "Whether items precede this page's first one; ask for them with `before: startCursor`.",
    },
    startCursorFieldOptions: {
      description: "The cursor of this page's first edge; null when the page is empty.",
    },
    endCursorFieldOptions: {
      description: "The cursor of this page's last edge; null when the page is empty.",
    },
    edgesFieldOptions: {
      description: "This page's items, each with its cursor, in the connection's order.",
    },
    nodeFieldOptions: { description: 'The item at this position.' },
    cursorFieldOptions: {
      description: "This item's position, an opaque text: pass it as `after` or `before` to page on from here.",
    },
    firstArgOptions: {
      description: `Take at most this many items from the start: of the whole list, or of those after \`after\`. At most ${MAX_PAGE_SIZE}; with neither \`first\` nor \`last\`, ${DEFAULT_PAGE_SIZE}.`,
    },
    lastArgOptions: {
      description: `Take at most this many items from the end: of the whole list, of those before \`before\`, or of the \`first\` taken. At most ${MAX_PAGE_SIZE}.`,
    },
    afterArgOptions: { description: 'Only items after the edge with this cursor (an `endCursor` or edge `cursor`).' },
    beforeArgOptions: {
      description: 'Only items before the edge with this cursor (a `startCursor` or edge `cursor`).',
    },
  },
  prisma: {
    // The client of the request's app: the schema itself holds no database. Where the request
    // reads: a replica for a query, the primary for a mutation (db/replicas.ts).
    client: (ctx) => ctx.reads.reader().prisma,
    dmmf: getDatamodel(),
    exposeDescriptions: false,
    filterConnectionTotalCount: true,
    onUnusedQuery: null,
    // Pages of up to 250: the REST layer reads whole lists through them.
    maxConnectionSize: MAX_PAGE_SIZE,
    defaultConnectionSize: DEFAULT_PAGE_SIZE,
  },
});

// Every root field names its scopes (test/api/access-scopes.test.ts checks that none is missing).
builder.queryType({
  description:
    "Reads, in the request's context (the X-Context header) unless the field says otherwise: customers, mappings, who held an address, and the audit and lookup logs.",
});
builder.mutationType({
  description:
    "Changes, in the request's context; each answers its result or a typed error (see the Error interface), and is recorded in the audit trail.",
});

/**
 * The options of a connection's `totalCount` field. prismaConnection adds an undescribed one only
 * to the connections it names itself; the named connection objects declare theirs with these.
 */
export function totalCountField(description: string) {
  return {
    nullable: false as const,
    description,
    // prismaConnection reads no page when a query selects only fields marked so.
    extensions: { pothosPrismaTotalCount: true },
    resolve: (connection: object): MaybePromise<number> => {
      const { totalCount } = connection as { totalCount?: number | (() => MaybePromise<number>) };
      if (totalCount === undefined) throw new Error('this connection field has no totalCount');
      return typeof totalCount === 'function' ? totalCount() : totalCount;
    },
  };
}
