import { expect } from 'vitest';
import { db, prisma } from './setup/app.js';
import { yoga } from './setup/app.js';
import { ADMIN_TOKEN } from './setup/credentials.js';
import { parseIpSubnet } from '../src/domain/ip.js';
import { subnetColumns } from '../src/mappings/filters.js';
import { forgetCallers } from '../src/access/store.js';

export interface GraphQLResponse<Data = Record<string, any>> {
  data?: Data;
  errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, unknown> }[];
}

/** Sends one GraphQL request through the app, as a client would over HTTP. */
export async function graphql<Data = Record<string, any>>(
  query: string,
  variables?: Record<string, unknown>,
  headers: Record<string, string> = { authorization: `Bearer ${ADMIN_TOKEN}` },
): Promise<GraphQLResponse<Data>> {
  const response = await yoga.fetch('http://ipdr.test/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as GraphQLResponse<Data>;
}

/** Like `graphql`, but fails the test on any GraphQL error and returns `data`. */
export async function graphqlData<Data = Record<string, any>>(query: string, variables?: Record<string, unknown>) {
  const result = await graphql<Data>(query, variables);
  expect(result.errors).toBeUndefined();
  return result.data as Data;
}

/** Empties the tables a test writes (contexts stay); `next` sets the ids the next rows get. */
/** The audit trail's chain links and heads, gone with the trail a test truncated (its ids start again). */
export async function forgetAuditChain() {
  await prisma.$executeRawUnsafe(`DELETE FROM chain_links WHERE log = 'audit'`);
  await prisma.$executeRawUnsafe(`DELETE FROM chain_heads WHERE log = 'audit'`);
  await prisma.$executeRawUnsafe(`DELETE FROM chain_purged WHERE log = 'audit'`);
}

export async function resetData(next: { customer?: number; mapping?: number } = {}) {
  await prisma.$executeRawUnsafe(
    'TRUNCATE audit_events, radius_conflicts, radius_sessions, ipdr_customers_mapping, ipdr_customers, nat_port_blocks, nat_rules, nat_unparsable_lines, ipdr_customers_mapping_history, ipdr_customers_history, nat_port_blocks_history, nat_rules_history RESTART IDENTITY CASCADE',
  );
  await forgetAuditChain();
  for (const [table, id] of [
    ['ipdr_customers', next.customer],
    ['ipdr_customers_mapping', next.mapping],
  ] as const) {
    if (id) await prisma.$queryRawUnsafe(`SELECT setval(pg_get_serial_sequence('${table}', 'id'), ${id - 1})`);
  }
}

// Every SQL statement sent is counted: Prisma's, and lookups' sent below it (Prisma has no way to
// remove a listener, so there is one for each test file that imports this module).
let statementsSent = 0;
(prisma.$on as (event: 'query', callback: () => void) => void)('query', () => {
  statementsSent++;
});
db.events.on('read', () => {
  statementsSent++;
});

/** How many SQL statements the app sends while `run` runs. */
export async function countStatements(run: () => Promise<unknown>): Promise<number> {
  // A caller is looked up again once its remembered authentication expires (AUTH_CACHE_MS), and a
  // token's last use is written at most once a minute, by whichever request comes when it is due:
  // both are made here, before counting, by a request that authenticates afresh, so that neither
  // falls into `run` (nor into the baseline a test subtracts) however slowly the suite runs.
  forgetCallers(db);
  await graphqlData('{ __typename }');
  const before = statementsSent;
  await run();
  return statementsSent - before;
}

export const MAPPING_FIELDS = `id ipsubnet network family prefixLength firstAddress lastAddress starttime endtime terminalId customer { userId }`;

export async function createCustomer(userId: string, name = `Customer ${userId}`) {
  const data = await graphqlData(
    `mutation($input: CustomerInput!) { createCustomer(input: $input) { __typename ... on Customer { id userId } } }`,
    { input: { userId, name } },
  );
  expect(data.createCustomer.__typename).toBe('Customer');
  return data.createCustomer as { id: number; userId: string };
}

export async function createMapping(input: {
  userId: string;
  ipsubnet: string;
  starttime: number | string;
  endtime?: number | string | null;
  terminalId?: string;
}) {
  const data = await graphqlData(
    `mutation($input: MappingInput!) { createMapping(input: $input) {
      __typename
      ... on IpMapping { ${MAPPING_FIELDS} }
      ... on Error { message }
      ... on ConflictError { conflicts { id ipsubnet } }
      ... on ValidationError { field reason }
    } }`,
    { input },
  );
  return data.createMapping;
}

/**
 * Writes `count` single addresses held by the customer `userId` from 0 on, written directly
 * (fast): `${prefix}.0.0`, `${prefix}.0.1`, … (`prefix` names the first two octets, e.g. '10.5').
 */
export async function holdManyAddresses(userId: string, prefix: string, count: number) {
  const customer = await prisma.customer.findFirstOrThrow({ where: { userId } });
  await prisma.ipMapping.createMany({
    data: Array.from({ length: count }, (_, n) => ({
      ...subnetColumns(parseIpSubnet(`${prefix}.${n >> 8}.${n & 255}`)),
      contextId: customer.contextId,
      customerId: customer.id,
      userId: customer.userId,
      starttime: 0n,
    })),
  });
}
