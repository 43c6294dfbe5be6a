import { beforeEach, describe, expect, it } from 'vitest';
import { prisma } from '../setup/app.js';
import { holdingsConflict } from '../../src/domain/mapping.js';
import { parseIpSubnet } from '../../src/domain/ip.js';
import { type GraphQLResponse, createCustomer, createMapping, graphql, resetData } from '../helpers.js';

// Writers racing on one subnet, on PGlite and (with TEST_DATABASE_URL) PostgreSQL, where 50
// concurrent reassignMapping used to answer mostly "Unexpected error.": each must get a typed
// answer, and what is stored must still be one owner per address per instant.

const CUSTOMERS = ['A', 'B', 'C', 'D', 'E'];
const SUBNET = '10.1.0.0/24';
const TYPED = new Set(['IpMapping', 'ConflictError', 'BusyError', 'ValidationError', 'NotFoundError']);
const RESULT = `__typename ... on Error { message } ... on BusyError { retryAfterSeconds }`;

beforeEach(async () => {
  await resetData();
  for (const userId of CUSTOMERS) await createCustomer(userId);
});

function reassign(toUserId: string, at: number) {
  return graphql(
    `mutation($s: IPSubnet!, $u: String!, $at: UnixTime!) {
      result: reassignMapping(ipsubnet: $s, toUserId: $u, at: $at) { ${RESULT} }
    }`,
    { s: SUBNET, u: toUserId, at },
  );
}

function create(userId: string, ipsubnet: string, starttime: number, endtime: number) {
  return graphql(`mutation($input: MappingInput!) { result: createMapping(input: $input) { ${RESULT} } }`, {
    input: { userId, ipsubnet, starttime, endtime },
  });
}

function update(id: number, input: Record<string, unknown>) {
  return graphql(
    `mutation($id: Int!, $input: MappingPatch!) { result: updateMapping(id: $id, input: $input) { ${RESULT} } }`,
    {
      id,
      input,
    },
  );
}

/** The answers' types, failing on any request-level error (a masked one included). */
function kindsOf(results: GraphQLResponse[]) {
  for (const result of results) expect(result.errors).toBeUndefined();
  const kinds = results.map((result) => result.data!.result.__typename as string);
  for (const kind of kinds) expect(TYPED).toContain(kind);
  return kinds;
}

async function expectOneOwnerPerInstant() {
  const rows = await prisma.ipMapping.findMany({ orderBy: { id: 'asc' } });
  const holdings = rows.map((row) => ({
    subnet: parseIpSubnet(row.network),
    period: { start: Number(row.starttime), end: row.endtime === null ? null : Number(row.endtime) },
  }));
  for (let i = 0; i < holdings.length; i++)
    for (let j = i + 1; j < holdings.length; j++) expect(holdingsConflict(holdings[i]!, holdings[j]!)).toBe(false);
  return rows;
}

describe('concurrent writers on one subnet', () => {
  it('50 reassignMapping each get a typed answer, and the subnet keeps one owner per instant', async () => {
    await createMapping({ userId: 'A', ipsubnet: SUBNET, starttime: 0 });
    // Cutovers in increasing time to customers in turn: run one after another, every one succeeds.
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => reassign(CUSTOMERS[1 + (i % 4)]!, 1000 + i * 10)),
    );
    const kinds = kindsOf(results);
    const rows = await expectOneOwnerPerInstant();
    expect(rows.length).toBe(1 + kinds.filter((kind) => kind === 'IpMapping').length);
    // The subnet is held without a gap from 0 on: every cutover ended the holder it found.
    const periods = rows
      .map((row) => [Number(row.starttime), row.endtime === null ? null : Number(row.endtime)] as const)
      .sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < periods.length; i++) expect(periods[i]![0]).toBe(periods[i - 1]![1]! + 1);
    expect(periods.at(-1)![1]).toBeNull();
    // Losers are told why: an overlap (a later cutover went first), a busy database, or that the
    // customer already holds it. The first to run always finds the holder and goes through.
    expect(kinds).toContain('IpMapping');
    for (const result of results) {
      const answer = result.data!.result;
      if (answer.__typename === 'ValidationError') expect(answer.message).toMatch(/already holds|a cutover must/);
      if (answer.__typename === 'BusyError') expect(answer.retryAfterSeconds).toBeGreaterThan(0);
    }
  });

  it('a mix of reassignMapping, createMapping and updateMapping gets typed answers only', async () => {
    const first = await createMapping({ userId: 'A', ipsubnet: SUBNET, starttime: 0 });
    const writes = Array.from({ length: 60 }, (_, i) => {
      if (i % 3 === 0) return reassign(CUSTOMERS[1 + (i % 4)]!, 1000 + i * 10);
      if (i % 3 === 1) return create(CUSTOMERS[i % 5]!, `10.1.0.${i}`, 500 + i * 7, 600 + i * 7);
      return update(first.id, { endtime: 2000 + i * 5 });
    });
    const kinds = kindsOf(await Promise.all(writes));
    await expectOneOwnerPerInstant();
    expect(kinds).toContain('IpMapping');
  });
});
