import { db } from '../setup/app.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { prisma } from '../setup/app.js';
import { createToken, createUser, grantAccess } from '../../src/access/store.js';
import {
  type GraphQLResponse,
  countStatements,
  createCustomer,
  createMapping,
  graphql,
  graphqlData,
  resetData,
} from '../helpers.js';
import { checkUsername } from '../../src/domain/names.js';
import { MAX_LOOKUPS } from '../../src/lookups/store.js';
import { type DigestedAnswer, expectedAnswerDigest, expectedRequestDigest } from '../log-digests.js';

const ids: Record<string, number> = {};

beforeAll(async () => {
  await resetData();
  for (const userId of ['A', 'B', 'C']) await createCustomer(userId);
  ids.a1 = (await createMapping({ userId: 'A', ipsubnet: '10.0.0.0/24', starttime: 100, endtime: 199 })).id;
  ids.b = (await createMapping({ userId: 'B', ipsubnet: '10.0.0.7', starttime: 200, endtime: 299 })).id;
  ids.c = (await createMapping({ userId: 'C', ipsubnet: '10.0.0.0/16', starttime: 300 })).id;
  ids.v6 = (await createMapping({ userId: 'A', ipsubnet: '2001:db8::/56', starttime: 0 })).id;
});

const WHO_HAD_MANY = `query($lookups: [WhoHadLookup!]!, $reason: String) {
  whoHadMany(lookups: $lookups, reason: $reason) { id customer { userId } } }`;

describe('whoHadMany', () => {
  it('answers each lookup in input order, null where nobody held the address', async () => {
    const data = await graphqlData(WHO_HAD_MANY, {
      lookups: [
        { ip: '10.0.0.7', at: 250 },
        { ip: '10.0.0.7', at: 150 },
        { ip: '10.0.0.7', at: 50 },
        { ip: '10.0.9.9', at: '400' },
        { ip: '2001:db8::ff' },
        { ip: '10.0.0.7', at: 250 },
      ],
    });
    expect(data.whoHadMany).toEqual([
      { id: ids.b, customer: { userId: 'B' } },
      { id: ids.a1, customer: { userId: 'A' } },
      null,
      { id: ids.c, customer: { userId: 'C' } },
      { id: ids.v6, customer: { userId: 'A' } },
      { id: ids.b, customer: { userId: 'B' } },
    ]);
  });

  it('answers 10,000 lookups with a constant number of statements', async () => {
    const lookups = (n: number) =>
      Array.from({ length: n }, (_, i) => ({ ip: `10.0.${(i >> 8) & 255}.${i & 255}`, at: 100 + (i % 400) }));
    const ten = await countStatements(() => graphqlData(WHO_HAD_MANY, { lookups: lookups(10) }));
    let answered: unknown[] = [];
    const tenThousand = await countStatements(async () => {
      answered = (await graphqlData(WHO_HAD_MANY, { lookups: lookups(10_000) })).whoHadMany;
    });
    expect(answered).toHaveLength(10_000);
    // Each answer in its place.
    const owner = (i: number) => {
      const [third, fourth, at] = [(i >> 8) & 255, i & 255, 100 + (i % 400)];
      if (at >= 300) return 'C';
      if (third === 0 && at <= 199) return 'A';
      return third === 0 && fourth === 7 && at >= 200 ? 'B' : null;
    };
    expect(answered.map((found: any) => found?.customer.userId ?? null)).toEqual(
      Array.from({ length: 10_000 }, (_, i) => owner(i)),
    );
    // A batch this large is split over four statements sent at once (see lookups/store.ts).
    expect(tenThousand - ten).toBe(3);
  });

  it('reads only the fields asked for, and every field asked for, through aliases and fragments', async () => {
    const CUSTOMER = 'id userId name address email phoneNumber altPhoneNumber createdAt updatedAt';
    const EVERY_FIELD = `id ipsubnet network family prefixLength firstAddress lastAddress starttime endtime terminalId
      createdAt updatedAt customer { ${CUSTOMER} mappings { id } }`;
    const listed = await graphqlData(`{ mappings(containsIp: "10.0.0.7", activeAt: 250, first: 1) {
      edges { node { ${EVERY_FIELD} } } } }`);
    const data = await graphqlData(
      `query($lookups: [WhoHadLookup!]!) {
        every: whoHadMany(lookups: $lookups) { ...Every }
        few: whoHadMany(lookups: $lookups) { ... on IpMapping { start: starttime } owner: customer { ...Name } }
        bare: whoHadMany(lookups: $lookups) { __typename }
      }
      fragment Every on IpMapping { ${EVERY_FIELD} }
      fragment Name on Customer { name }`,
      {
        lookups: [
          { ip: '10.0.0.7', at: 250 },
          { ip: '10.0.9.9', at: 50 },
        ],
      },
    );
    expect(data.every).toEqual([listed.mappings.edges[0].node, null]);
    expect(data.few).toEqual([{ start: 200, owner: { name: 'Customer B' } }, null]);
    expect(data.bare).toEqual([{ __typename: 'IpMapping' }, null]);
  });

  it('answers the other lookups when some are malformed, with an error at each bad index', async () => {
    const result = await graphql(WHO_HAD_MANY, {
      lookups: [
        { ip: '10.0.0.7', at: 250 },
        { ip: '10.20.1.256', at: 250 },
        { ip: '10.0.9.9', at: 400 },
        { ip: '10.0.0.7', at: 'yesterday' },
        { ip: '2001:db8::ff' },
      ],
    });
    expect(result.data?.whoHadMany).toEqual([
      { id: ids.b, customer: { userId: 'B' } },
      null,
      { id: ids.c, customer: { userId: 'C' } },
      null,
      { id: ids.v6, customer: { userId: 'A' } },
    ]);
    expect(result.errors).toHaveLength(2);
    expect(result.errors![0]).toMatchObject({
      path: ['whoHadMany', 1],
      extensions: { code: 'BAD_USER_INPUT', field: 'lookups[1].ip', index: 1 },
    });
    expect(result.errors![0]!.message).toMatch(/^lookups\[1\]\.ip: .*10\.20\.1\.256.*canonical form/);
    expect(result.errors![1]).toMatchObject({
      path: ['whoHadMany', 3],
      extensions: { code: 'BAD_USER_INPUT', field: 'lookups[3].at', index: 3 },
    });
  });

  it('answers a batch of only malformed lookups without asking the database', async () => {
    let result: GraphQLResponse = {};
    const statements = await countStatements(async () => {
      result = await graphql(WHO_HAD_MANY, { lookups: [{ ip: '127.1' }, { ip: 'fe80::1%eth0' }] });
    });
    expect(statements).toBe(0);
    expect(result.data?.whoHadMany).toEqual([null, null]);
    expect(result.errors?.map((error) => error.path)).toEqual([
      ['whoHadMany', 0],
      ['whoHadMany', 1],
    ]);
  });

  it('refuses more than 10,000 lookups, saying so', async () => {
    const result = await graphql(WHO_HAD_MANY, { lookups: Array.from({ length: 10_001 }, () => ({ ip: '10.0.0.1' })) });
    expect(result.errors?.[0]?.message).toBe('lookups: at most 10000 per request (got 10001)');
    expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});

const WHO_HAD_MANY_LISTS = `query($ips: [IPAddressInput!], $ats: [UnixTimeInput], $ports: [Int], $lookups: [WhoHadLookup!]) {
  whoHadMany(ips: $ips, ats: $ats, ports: $ports, lookups: $lookups) { id customer { userId } } }`;

describe('whoHadMany with parallel lists (ips, ats, ports)', () => {
  it('answers as the same lookups given as objects, in input order', async () => {
    const lookups = [
      { ip: '10.0.0.7', at: 250 },
      { ip: '10.0.0.7', at: 150 },
      { ip: '10.0.0.7', at: 50 },
      { ip: '10.0.9.9', at: 400 },
      { ip: '2001:db8::ff', at: null },
    ];
    const asObjects = await graphqlData(WHO_HAD_MANY, { lookups });
    const asLists = await graphqlData(WHO_HAD_MANY_LISTS, {
      ips: lookups.map((l) => l.ip),
      ats: lookups.map((l) => l.at),
    });
    expect(asLists.whoHadMany).toEqual(asObjects.whoHadMany);
    expect(asLists.whoHadMany[0]).toEqual({ id: ids.b, customer: { userId: 'B' } });
    // Without ats every lookup is of now: the ongoing /16 holds both addresses.
    const now = await graphqlData(WHO_HAD_MANY_LISTS, { ips: ['10.0.0.7', '10.0.9.9'] });
    expect(now.whoHadMany).toEqual([
      { id: ids.c, customer: { userId: 'C' } },
      { id: ids.c, customer: { userId: 'C' } },
    ]);
  });

  it('answers the other lookups when some values are malformed, naming the list and index', async () => {
    const result = await graphql(WHO_HAD_MANY_LISTS, {
      ips: ['10.0.0.7', '10.20.1.256', '10.0.0.7', '10.0.0.7'],
      ats: [250, 250, 'yesterday', 250],
      ports: [null, null, null, 70000],
    });
    expect(result.data?.whoHadMany).toEqual([{ id: ids.b, customer: { userId: 'B' } }, null, null, null]);
    expect(result.errors?.map((error) => [error.path, error.extensions?.field, error.extensions?.index])).toEqual([
      [['whoHadMany', 1], 'ips[1]', 1],
      [['whoHadMany', 2], 'ats[2]', 2],
      [['whoHadMany', 3], 'ports[3]', 3],
    ]);
    expect(result.errors![0]!.message).toMatch(/^ips\[1\]: .*10\.20\.1\.256.*canonical form/);
  });

  it('refuses lists of different lengths, both shapes at once, neither, and ats without ips, naming the field', async () => {
    const refusal = async (variables: Record<string, unknown>) => {
      const result = await graphql(WHO_HAD_MANY_LISTS, variables);
      expect(result.data?.whoHadMany ?? null).toBeNull();
      return [result.errors?.[0]?.extensions?.field, result.errors?.[0]?.message];
    };
    expect(await refusal({ ips: ['10.0.0.7', '10.0.0.8'], ats: [250] })).toEqual([
      'ats',
      'ats: has 1 elements: one for each of the 2 ips is needed',
    ]);
    expect(await refusal({ ips: ['10.0.0.7'], ports: [1, 2] })).toEqual([
      'ports',
      'ports: has 2 elements: one for each of the 1 ips is needed',
    ]);
    expect((await refusal({ ips: ['10.0.0.7'], lookups: [{ ip: '10.0.0.7' }] }))[0]).toBe('lookups');
    expect((await refusal({}))[0]).toBe('lookups');
    expect((await refusal({ ats: [250] }))[0]).toBe('ips');
  });

  it('refuses more than 10,000 addresses, saying so', async () => {
    const result = await graphql(WHO_HAD_MANY_LISTS, {
      ips: Array.from({ length: 10_001 }, () => '10.0.0.7'),
    });
    expect(result.data ?? null).toBeNull();
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'lookups' });
    expect(result.errors?.[0]?.message).toContain('at most 10000 per request (got 10001)');
  });
});

describe('ipHistory', () => {
  const HISTORY = `query($ip: IPSubnet!, $from: UnixTime, $to: UnixTime) {
    ipHistory(ip: $ip, from: $from, to: $to) { totalCount edges { node { id starttime endtime customer { userId } } } } }`;
  const history = async (vars: Record<string, unknown>) =>
    (await graphqlData(HISTORY, vars)).ipHistory.edges.map((e: any) => [e.node.customer.userId, e.node.starttime]);

  it('gives the ownership timeline of an address, in time order', async () => {
    expect(await history({ ip: '10.0.0.7' })).toEqual([
      ['A', 100],
      ['B', 200],
      ['C', 300],
    ]);
  });

  it('limits the timeline to a window and covers every mapping sharing an address with a subnet', async () => {
    expect(await history({ ip: '10.0.0.7', from: 150, to: 250 })).toEqual([
      ['A', 100],
      ['B', 200],
    ]);
    expect(await history({ ip: '10.0.0.7', from: 301 })).toEqual([['C', 300]]);
    expect(await history({ ip: '10.0.0.128/25' })).toEqual([
      ['A', 100],
      ['C', 300],
    ]);
    expect(await history({ ip: '2001:db8::/32' })).toEqual([['A', 0]]);
    expect(await history({ ip: '10.1.0.0/16' })).toEqual([]);
  });
});

describe('mappings in a time window', () => {
  it('keeps those held at some instant of [from, to]', async () => {
    const ids = async (args: string) =>
      (
        await graphqlData(`{ mappings(${args}) { edges { node { customer { userId } starttime } } } }`)
      ).mappings.edges.map((e: any) => `${e.node.customer.userId}@${e.node.starttime}`);
    expect(await ids('from: 150, to: 210')).toEqual(['A@100', 'B@200', 'A@0']);
    expect(await ids('from: 199, to: 199, containsIp: "10.0.0.7"')).toEqual(['A@100']);
    expect(await ids('to: 50')).toEqual(['A@0']);
  });
});

describe('the lookup log', () => {
  it('records lookups made with a reason, with the caller, in one statement per request', async () => {
    await prisma.lookupLogEntry.deleteMany();
    await graphqlData('{ whoHad(ip: "10.0.0.7", at: 150) { id } }');
    const statements = await countStatements(() =>
      graphqlData(`{
        a: whoHad(ip: "10.0.0.7", at: 150, reason: "CASE-17") { id }
        b: whoHad(ip: "10.0.0.8", at: 150, reason: "CASE-17") { id }
        c: ipHistory(ip: "10.0.0.7", reason: "CASE-18") { totalCount }
      }`),
    );
    await graphqlData(WHO_HAD_MANY, {
      lookups: [
        { ip: '10.0.0.1', at: 5 },
        { ip: '10.0.0.2', at: 6 },
      ],
      reason: 'CASE-19',
    });
    const log = await graphqlData(
      `{ lookupLog { edges { node { username channel operation reason lookups detail } } } }`,
    );
    expect(log.lookupLog.edges.map((e: any) => e.node)).toEqual([
      {
        username: 'admin',
        channel: 'graphql',
        operation: 'whoHadMany',
        reason: 'CASE-19',
        lookups: 2,
        detail: {
          asked: [
            { ip: '10.0.0.1', at: 5 },
            { ip: '10.0.0.2', at: 6 },
          ],
        },
      },
      {
        username: 'admin',
        channel: 'graphql',
        operation: 'whoHad',
        reason: 'CASE-17',
        lookups: 1,
        detail: { asked: [{ ip: '10.0.0.8', at: 150 }] },
      },
      {
        username: 'admin',
        channel: 'graphql',
        operation: 'whoHad',
        reason: 'CASE-17',
        lookups: 1,
        detail: { asked: [{ ip: '10.0.0.7', at: 150 }] },
      },
      {
        username: 'admin',
        channel: 'graphql',
        operation: 'ipHistory',
        reason: 'CASE-18',
        lookups: 1,
        detail: { asked: [{ ip: '10.0.0.7', from: null, to: null }] },
      },
    ]);
    // Beyond authentication: one batch of lookups, the ipHistory count, a write for ipHistory's
    // entry (written before its count) and one for both whoHad (written once their batch answered);
    // each write is its insert and the seal that chains it, in one transaction (three statements
    // as Prisma reports them: the insert, the seal, the commit).
    const baseline = await countStatements(() => graphqlData('{ __typename }'));
    expect(statements - baseline).toBe(8);
    const filtered = await graphqlData('{ lookupLog(reason: "CASE-17") { edges { node { operation } } } }');
    expect(filtered.lookupLog.edges).toHaveLength(2);
  });

  it('is for admins only, and a bad reason is refused', async () => {
    await createUser(db, checkUsername('analyst'), false);
    await grantAccess(db, 'analyst', 'default', false);
    const { token } = await createToken(db, 'analyst');
    const denied = await graphql(
      '{ lookupLog { edges { node { reason } } } }',
      {},
      { authorization: `Bearer ${token}` },
    );
    expect(denied.errors?.[0]?.message).toBe('The user (analyst) is not an admin');
    const bad = await graphql('{ whoHad(ip: "10.0.0.7", reason: "line\\nbreak") { id } }');
    expect(bad.errors?.[0]?.message).toBe('reason: must not contain control characters');
    // Asked for alone, ipHistory's count logs the lookup below the root field: refused the same way.
    const count = await graphql('{ ipHistory(ip: "10.0.0.7", reason: "line\\nbreak") { totalCount } }');
    expect(count.errors?.[0]).toMatchObject({
      message: 'reason: must not contain control characters',
      extensions: { code: 'BAD_USER_INPUT', field: 'reason' },
    });
  });

  it('keeps every lookup of a batch whole, with digests of the request and of the answers', async () => {
    const lookups = Array.from({ length: MAX_LOOKUPS }, (_, i) => ({
      ip: `10.0.${i >> 8}.${i & 255}`,
      at: 150 + (i % 3) * 100,
    }));
    // The records: A held 10.0.0.0/24 over [100, 199], B 10.0.0.7 over [200, 299], C 10.0.0.0/16 from 300.
    const held = ({ ip, at }: { ip: string; at: number }): DigestedAnswer =>
      at === 150
        ? ip.startsWith('10.0.0.')
          ? { mappingId: ids.a1!, userId: 'A' }
          : null
        : at === 250
          ? ip === '10.0.0.7'
            ? { mappingId: ids.b!, userId: 'B' }
            : null
          : { mappingId: ids.c!, userId: 'C' };
    const data = await graphqlData(
      `query($ips: [IPAddressInput!], $ats: [UnixTimeInput]) {
        whoHadMany(ips: $ips, ats: $ats, reason: "CASE-WHOLE") { id } }`,
      { ips: lookups.map((lookup) => lookup.ip), ats: lookups.map((lookup) => lookup.at) },
    );
    expect(data.whoHadMany.map((answer: { id: number } | null) => answer?.id ?? null)).toEqual(
      lookups.map((lookup) => held(lookup)?.mappingId ?? null),
    );
    const entry = await prisma.lookupLogEntry.findFirstOrThrow({ where: { reason: 'CASE-WHOLE' } });
    expect(entry.lookups).toBe(MAX_LOOKUPS);
    expect(entry.detail).toEqual({ asked: lookups });
    expect(entry.requestDigest).toBe(expectedRequestDigest(lookups));
    expect(entry.answerDigest).toBe(expectedAnswerDigest(lookups.map(held)));
    expect(entry.answer).toBeNull();
  });

  it("records a single whoHad's answer, and the asOf it was answered as known at", async () => {
    const asOf = Math.floor(Date.now() / 1000);
    await graphqlData(`{
      held: whoHad(ip: "10.0.0.7", at: 250, reason: "CASE-ONE") { ipsubnet }
      none: whoHad(ip: "10.9.0.1", at: 250, reason: "CASE-NONE") { id }
      known: whoHad(ip: "10.0.0.7", at: 150, asOf: ${asOf}, reason: "CASE-ASOF") { id }
    }`);
    const logged = async (reason: string) =>
      (
        await graphqlData(
          `query($reason: String) { lookupLog(reason: $reason) { edges { node { detail requestDigest answerDigest answer } } } }`,
          { reason },
        )
      ).lookupLog.edges.map((edge: { node: unknown }) => edge.node);
    expect(await logged('CASE-ONE')).toEqual([
      {
        detail: { asked: [{ ip: '10.0.0.7', at: 250 }] },
        requestDigest: expectedRequestDigest([{ ip: '10.0.0.7', at: 250 }]),
        answerDigest: expectedAnswerDigest([{ mappingId: ids.b!, userId: 'B' }]),
        answer: { mappingId: ids.b!, userId: 'B', nat: null },
      },
    ]);
    expect(await logged('CASE-NONE')).toEqual([
      {
        detail: { asked: [{ ip: '10.9.0.1', at: 250 }] },
        requestDigest: expectedRequestDigest([{ ip: '10.9.0.1', at: 250 }]),
        answerDigest: expectedAnswerDigest([null]),
        answer: null,
      },
    ]);
    expect(await logged('CASE-ASOF')).toEqual([
      {
        detail: { asked: [{ ip: '10.0.0.7', at: 150 }], asOf },
        requestDigest: expectedRequestDigest([{ ip: '10.0.0.7', at: 150 }], asOf),
        answerDigest: expectedAnswerDigest([{ mappingId: ids.a1!, userId: 'A' }]),
        answer: { mappingId: ids.a1!, userId: 'A', nat: null },
      },
    ]);
    // Nobody held it: the answer is JSON's null, not a missing one.
    const [none] = await prisma.$queryRaw<{ kept: boolean }[]>`
      SELECT answer IS NOT NULL AND answer = 'null'::jsonb AS kept FROM lookup_log WHERE reason = 'CASE-NONE'`;
    expect(none).toEqual({ kept: true });
  });
});
