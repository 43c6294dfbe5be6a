import SchemaBuilder from '@pothos/core';
import ErrorsPlugin from '@pothos/plugin-errors';
import PrismaPlugin from '@pothos/plugin-prisma';
import RelayPlugin from '@pothos/plugin-relay';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import { type AuthScopes, authScopes, refusal } from './authorization.js';
import { forbidden } from './context.js';
import type { RequestContext } from './context.js';
import { prisma } from './db.js';
import type { IpAddress, IpSubnet } from './domain/ip.js';
import type PrismaTypes from './generated/pothos-prisma-types.js';
import { getDatamodel } from './generated/pothos-prisma-types.js';

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
    DateTime: { Input: Date; Output: Date };
    JSON: { Input: unknown; Output: unknown };
  };
}>({
  plugins: [ErrorsPlugin, ScopeAuthPlugin, PrismaPlugin, RelayPlugin],
  scopeAuth: {
    authScopes,
    unauthorizedError: (_parent, context, _info, result) => forbidden(refusal(context, result.failure)),
  },
  defaultFieldNullability: false,
  errors: { directResult: true },
  relay: {
    // Our ids are the database ids Trisul's API shows; no global Node ids.
    clientMutationId: 'omit',
    cursorType: 'String',
  },
  prisma: {
    client: prisma,
    dmmf: getDatamodel(),
    exposeDescriptions: false,
    filterConnectionTotalCount: true,
    onUnusedQuery: null,
    // Pages of up to 250: the REST layer reads whole lists through them.
    maxConnectionSize: 250,
  },
});

// Every root field names its scopes (test/api/access-scopes.test.ts checks that none is missing).
builder.queryType({});
builder.mutationType({});
