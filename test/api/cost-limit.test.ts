import { getNamedType, getNullableType, isListType, isObjectType } from 'graphql';
import { beforeAll, describe, expect, it } from 'vitest';
import { env } from '../setup/app.js';
import { documents } from '../../src/rest/documents.js';
import { LIST_BOUND } from '../../src/schema/list-bounds.js';
import { schema } from '../../src/schema/index.js';
import { yoga } from '../setup/app.js';
import { ADMIN_TOKEN } from '../setup/credentials.js';
import { type GraphQLResponse, countStatements, createCustomer, graphql, graphqlData, resetData } from '../helpers.js';

// One request's cost is known before it runs (src/http/cost-limit.ts): lists weigh their size.

const MAPPINGS = 300;

/** Sends a request and returns its HTTP status with its body. */
async function send(query: string, variables?: Record<string, unknown>) {
  const response = await yoga.fetch('http://ipdr.test/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
    body: JSON.stringify({ query, variables }),
  });
  return { status: response.status, body: (await response.json()) as GraphQLResponse };
}

/** The statements a request sends beyond those of authenticating it (a request that runs nothing). */
async function statementsOf(run: () => Promise<unknown>) {
  const baseline = await countStatements(() => graphql('{ __typename }'));
  return (await countStatements(run)) - baseline;
}

const aliases = (n: number, field: string) => Array.from({ length: n }, (_, i) => `a${i}: ${field}`).join('\n');

beforeAll(async () => {
  await resetData();
  await createCustomer('BIG');
  // 300 mappings, 100 per request: 10.1.0.0, 10.1.0.1, ... each held from its own second.
  for (let batch = 0; batch < MAPPINGS / 100; batch++) {
    const creations = Array.from({ length: 100 }, (_, i) => {
      const n = batch * 100 + i;
      return `m${i}: createMapping(input: { userId: "BIG", ipsubnet: "10.1.${n >> 8}.${n & 255}", starttime: ${1000 + n} }) { __typename }`;
    });
    const created = await graphqlData(`mutation { ${creations.join('\n')} }`);
    expect(Object.values(created).every((result: any) => result.__typename === 'IpMapping')).toBe(true);
  }
}, 60_000);

describe('Customer.mappings', () => {
  const mappingsOf = async (args: string) =>
    (await graphqlData(`{ customer(userId: "BIG") { mappings${args} { id starttime } } }`)).customer.mappings as {
      starttime: number;
    }[];

  it('answers at most `first` mappings, oldest first: 250 unless told, up to 1000', async () => {
    const defaultPage = await mappingsOf('');
    expect(defaultPage).toHaveLength(250);
    expect(defaultPage.map((m) => m.starttime)).toEqual(Array.from({ length: 250 }, (_, i) => 1000 + i));
    expect(await mappingsOf('(first: 300)')).toHaveLength(MAPPINGS);
    expect((await mappingsOf('(first: 2)')).map((m) => m.starttime)).toEqual([1000, 1001]);
    expect(await mappingsOf('(first: 0)')).toEqual([]);
    expect(await mappingsOf('(first: null)')).toHaveLength(250);
  });

  it('refuses a `first` outside 0..1000, naming it', async () => {
    for (const first of [1001, -1]) {
      const result = await graphql(`{ customer(userId: "BIG") { mappings(first: ${first}) { id } } }`);
      expect(result.errors?.[0]).toMatchObject({
        message: `first: must be from 0 to 1000 (got ${first})`,
        extensions: { code: 'BAD_USER_INPUT', field: 'first' },
      });
    }
  });

  it('leaves paging through all of them to mappings(userId:)', async () => {
    const page = async (after: string | null) =>
      (
        await graphqlData(
          `query($after: String) { mappings(userId: "BIG", first: 250, after: $after) {
            pageInfo { hasNextPage endCursor } edges { node { id } } } }`,
          { after },
        )
      ).mappings;
    const first = await page(null);
    const second = await page(first.pageInfo.endCursor);
    expect(first.edges.length + second.edges.length).toBe(MAPPINGS);
    expect(second.pageInfo.hasNextPage).toBe(false);
  });
});

describe('the cost of a request', () => {
  it(`is ${env.MAX_COST} at most by default`, () => {
    expect(env.MAX_COST).toBe(100_000);
  });

  it("refuses 100 aliases of a customer's mappings before any statement runs", async () => {
    const query = `{ ${aliases(100, 'customer(userId: "BIG") { mappings { id ipsubnet starttime endtime } }')} }`;
    let answer = { status: 0, body: {} as GraphQLResponse };
    expect(
      await statementsOf(async () => {
        answer = await send(query);
      }),
    ).toBe(0);
    expect(answer.status).toBe(400);
    expect(answer.body.data).toBeUndefined();
    expect(answer.body.errors).toHaveLength(1);
    // Each alias: the customer (1) and 250 mappings of 1 + 4 fields, 1251.
    expect(answer.body.errors![0]).toMatchObject({
      message: expect.stringMatching(/^Query cost 125100 exceeds the limit of 100000/),
      extensions: { code: 'COST_LIMIT_EXCEEDED', cost: 125_100, maxCost: 100_000 },
    });
    // The same query asking for a few mappings each is answered.
    const few = await graphqlData(query.replaceAll('mappings {', 'mappings(first: 5) {'));
    expect(Object.values(few).every((customer: any) => customer.mappings.length === 5)).toBe(true);
  });

  it('counts the page size of connections and the size bound sent in variables', async () => {
    const query = `query($n: Int) { customers(first: 250) { edges { node { userId mappings(first: $n) { id } } } } }`;
    // 250 customers of (edge 1 + node 1 + userId 1 + n mappings of 1 + id 1).
    const refused = await send(query, { n: 1000 });
    expect(refused.status).toBe(400);
    expect(refused.body.errors?.[0]?.extensions).toMatchObject({ code: 'COST_LIMIT_EXCEEDED', cost: 250 * 2003 + 1 });
    // Without `$n`, the default of 250 mappings: still too many.
    expect((await send(query, {})).body.errors?.[0]?.extensions?.cost).toBe(250 * 503 + 1);
    const answered = await graphqlData(query, { n: 10 });
    expect(answered.customers.edges[0].node.mappings).toHaveLength(10);
    // A connection with no `first` is a page of 20; `last` bounds it too.
    const pageCost = async (args: string) =>
      (
        await send(`{ a: customers${args} { edges { node { mappings(first: 1000) { id } } } } b: customers(first: 250) {
          edges { node { mappings(first: 1000) { id } } } } }`)
      ).body.errors?.[0]?.extensions?.cost;
    expect(await pageCost('')).toBe(20 * 2002 + 1 + 250 * 2002 + 1);
    expect(await pageCost('(last: 3)')).toBe(3 * 2002 + 1 + 250 * 2002 + 1);
    expect(await pageCost('(first: 9, last: 3)')).toBe(3 * 2002 + 1 + 250 * 2002 + 1);
  });

  it('answers the REST layer’s pages of 250', async () => {
    const customers = await send(documents.RestListCustomers, { after: null });
    expect(customers.body.errors).toBeUndefined();
    expect(customers.body.data?.page.edges).toHaveLength(1);
    const mappings = await send(documents.RestListMappings, { after: null });
    expect(mappings.body.errors).toBeUndefined();
    expect(mappings.body.data?.page.edges).toHaveLength(250);
    expect(mappings.body.data?.page.pageInfo.hasNextPage).toBe(true);
  });

  it('counts a union as its dearest member, and bounded error lists by their `first`', async () => {
    const attempt = (first: string) => `createMapping(input: { userId: "BIG", ipsubnet: "10.1.0.0/16", starttime: 0 }) {
      __typename ... on ConflictError { conflicts${first} { id ipsubnet customer { userId } } } }`;
    const conflicting = (first: string) => `mutation { ${attempt(first)} }`;
    const conflict = (await graphqlData(conflicting(''))).createMapping;
    expect(conflict.__typename).toBe('ConflictError');
    // 100 of the 300 conflicting mappings unless told.
    expect(conflict.conflicts).toHaveLength(100);
    expect((await graphqlData(conflicting('(first: 300)'))).createMapping.conflicts).toHaveLength(MAPPINGS);
    // 30 attempts of up to 1000 conflicts of 1 + 2 fields + a customer of 1 + 1.
    const refused = await send(`mutation { ${aliases(30, attempt('(first: 1000)'))} }`);
    expect(refused.body.errors?.[0]?.extensions).toMatchObject({ code: 'COST_LIMIT_EXCEEDED', cost: 30 * 5001 });
  });

  it('leaves a variable of the wrong type to its own error, which names it, however large the query', async () => {
    const costly = `query($f: Int) { customers(first: 250) { edges { node { mappings(first: $f) { id } } } } }`;
    const cheap = `query($f: Int) { customers(first: 1) { edges { node { mappings(first: $f) { id } } } } }`;
    for (const f of ['abc', 2.5, 1e10, [3], { n: 3 }]) {
      const answer = await send(costly, { f });
      expect(answer.body.data).toBeUndefined();
      expect(answer.body.errors).toHaveLength(1);
      expect(answer.body.errors![0]!.message).toMatch(/^Variable "\$f" got invalid value .*; Int cannot represent/);
      expect(answer.body.errors![0]!.extensions?.code).not.toBe('COST_LIMIT_EXCEEDED');
      // The answer graphql-js gives the same value where the cost is no question.
      expect(answer).toEqual(await send(cheap, { f }));
    }
    // A variable that does coerce is still weighed: the same query with a real `first` is refused.
    expect((await send(costly, { f: 1000 })).body.errors?.[0]?.extensions?.code).toBe('COST_LIMIT_EXCEEDED');
  });

  it('knows the size of every list the schema can return', () => {
    const unbounded: string[] = [];
    for (const type of Object.values(schema.getTypeMap())) {
      if (!isObjectType(type) || type.name.startsWith('__')) continue;
      for (const field of Object.values(type.getFields())) {
        if (!isListType(getNullableType(field.type))) continue;
        const isEdges = field.name === 'edges' && type.name.endsWith('Connection');
        if (!isEdges && !field.extensions[LIST_BOUND]) unbounded.push(`${type.name}.${field.name}`);
        expect(getNamedType(field.type)).toBeDefined();
      }
    }
    expect(unbounded).toEqual([]);
  });
});

describe('whoHadMany lookups', () => {
  const WHO_HAD_MANY = (n: number, selection = 'id customer { userId }') =>
    `query($l: [WhoHadLookup!]!) { ${aliases(n, `whoHadMany(lookups: $l) { ${selection} }`)} }`;
  const lookups = (n: number) =>
    Array.from({ length: n }, (_, i) => ({ ip: `10.1.${(i >> 8) & 1}.${i & 255}`, at: 5000 }));

  it('are capped for the whole request: 50 aliases reusing $l are refused before anything runs', async () => {
    let answer = { status: 0, body: {} as GraphQLResponse };
    expect(
      await statementsOf(async () => {
        answer = await send(WHO_HAD_MANY(50), { l: lookups(10_000) });
      }),
    ).toBe(0);
    expect(answer.status).toBe(400);
    expect(answer.body.data).toBeUndefined();
    expect(answer.body.errors).toEqual([
      expect.objectContaining({
        message: 'lookups: at most 10000 per request (got 500000)',
        extensions: expect.objectContaining({ code: 'BAD_USER_INPUT', field: 'lookups', lookups: 500_000 }),
      }),
    ]);
    // Just over the cap, through a literal list and a variable together.
    const literal = `{ ip: "10.1.0.1" }, { ip: "10.1.0.2" }`;
    const over = await send(
      `query($l: [WhoHadLookup!]!) { a: whoHadMany(lookups: $l) { id } b: whoHadMany(lookups: [${literal}]) { id } }`,
      { l: lookups(9_999) },
    );
    expect(over.body.errors?.[0]?.message).toBe('lookups: at most 10000 per request (got 10001)');
  });

  it('of the wrong type get the variable’s own error, not the cap’s', async () => {
    const one = `query($l: [WhoHadLookup!]!) { whoHadMany(lookups: $l) { id } }`;
    for (const l of [Array.from({ length: 10_001 }, () => 7), lookups(10_001).map((lookup) => ({ ...lookup, x: 1 }))]) {
      const answer = await send(one, { l });
      expect(answer.body.data).toBeUndefined();
      expect(answer.body.errors?.[0]?.message).toMatch(/^Variable "\$l" got invalid value .* at "l\[0\]"/);
      expect(answer.body.errors!.some((error) => error.extensions?.field === 'lookups')).toBe(false);
      // The answer graphql-js gives the same values where the cap is no question.
      const few = await send(one, { l: l.slice(0, 3) });
      expect(answer.status).toBe(few.status);
      expect(answer.body.errors![0]).toEqual(few.body.errors![0]);
    }
    // Lookups that do coerce are still capped.
    expect((await send(one, { l: lookups(10_001) })).body.errors?.[0]?.message).toBe(
      'lookups: at most 10000 per request (got 10001)',
    );
  });

  it('answer 10,000 lookups in one request, in one field or several, with customer fields', async () => {
    const one = await send(WHO_HAD_MANY(1, 'id ipsubnet starttime endtime terminalId customer { userId name email }'), {
      l: lookups(10_000),
    });
    expect(one.body.errors).toBeUndefined();
    expect(one.body.data?.a0).toHaveLength(10_000);
    expect(one.body.data?.a0[1]).toMatchObject({ ipsubnet: '10.1.0.1', customer: { userId: 'BIG' } });
    const two = await send(WHO_HAD_MANY(2), { l: lookups(5_000) });
    expect(two.body.errors).toBeUndefined();
    expect(two.body.data?.a1).toHaveLength(5_000);
  });
});
