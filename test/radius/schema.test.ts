import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createContext } from '../../src/access/store.js';
import { importCsv } from '../../src/csv/cli.js';
import { checkContextName } from '../../src/domain/names.js';
import type { AccountingInput } from '../../src/domain/radius-session.js';
import { applyAccounting } from '../../src/radius/store.js';
import { countStatements, createCustomer, createMapping, graphql, graphqlData, resetData } from '../helpers.js';
import { rest } from '../rest/helpers.js';
import { ADMIN_TOKEN } from '../setup/credentials.js';
import { db, prisma } from '../setup/app.js';
import { nasEvent, sessionEvent } from './store-helpers.js';

// RADIUS sessions read back over GraphQL (and REST): their mappings answer every lookup as static
// ones do, carrying their source, session and how they ended.

const RULES = { sessionTimeout: 86_400 };
const REST_AUTH = { api_token: ADMIN_TOKEN, username: 'admin', contextname: 'default' };

let tenant: { id: number; name: string };

async function apply(...inputs: AccountingInput[]) {
  const [result] = await applyAccounting(db, [{ tenant, inputs }], RULES);
  return result!;
}

beforeAll(async () => {
  tenant = await prisma.context.findUniqueOrThrow({ where: { name: 'default' }, select: { id: true, name: true } });
});

const SESSION_FIELDS = `acctSessionId userName nasIpAddress nasIdentifier nasPortId callingStationId
  startedAt lastSeen endedAt endReason endInferred terminateCause customer { userId name }`;

describe('RADIUS mappings in lookups', () => {
  beforeEach(async () => {
    await resetData();
    await createCustomer('static-1', 'Static One');
    await createMapping({ userId: 'static-1', ipsubnet: '198.51.100.0/24', starttime: 0, endtime: 5000 });
    await apply(
      sessionEvent('Start', {
        user: 'alice',
        session: 'a-1',
        at: 1000,
        ipv4: '100.64.1.2',
        ipv6Prefix: '2001:db8:a::/64',
        callingStationId: '00-11-22-33-44-55',
      }),
      sessionEvent('Start', { user: 'bob', session: 'b-1', at: 1000, ipv4: '100.64.1.3' }),
      sessionEvent('Stop', {
        user: 'bob',
        session: 'b-1',
        at: 1800,
        sessionTime: 800,
        terminateCause: 'Lost-Carrier',
      }),
      nasEvent('Accounting-On', 3000),
    );
  });

  it('whoHad answers from a session, with its source, session and inferred end', async () => {
    const data = await graphqlData(`{
      during: whoHad(ip: "100.64.1.2", at: 2000) {
        ipsubnet starttime endtime source endReason endInferred customer { userId name }
        radiusSession { ${SESSION_FIELDS} }
      }
      after: whoHad(ip: "100.64.1.2", at: 3001) { id }
      reported: whoHad(ip: "100.64.1.3", at: 1800) { endtime endReason endInferred radiusSession { endReason terminateCause } }
      static: whoHad(ip: "198.51.100.9", at: 2000) { source endReason endInferred radiusSession { acctSessionId } }
    }`);
    expect(data.during).toEqual({
      ipsubnet: '100.64.1.2',
      starttime: 1000,
      endtime: 3000,
      source: 'RADIUS',
      endReason: 'NAS_RESTARTED',
      endInferred: true,
      customer: { userId: 'alice', name: 'alice' },
      radiusSession: {
        acctSessionId: 'a-1',
        userName: 'alice',
        nasIpAddress: '192.0.2.1',
        nasIdentifier: null,
        nasPortId: null,
        callingStationId: '00-11-22-33-44-55',
        startedAt: 1000,
        lastSeen: 1000,
        endedAt: 3000,
        endReason: 'NAS_RESTARTED',
        endInferred: true,
        terminateCause: null,
        customer: { userId: 'alice', name: 'alice' },
      },
    });
    expect(data.after).toBeNull();
    expect(data.reported).toEqual({
      endtime: 1800,
      endReason: 'REPORTED',
      endInferred: false,
      radiusSession: { endReason: 'REPORTED', terminateCause: 'Lost-Carrier' },
    });
    expect(data.static).toEqual({ source: 'API', endReason: null, endInferred: false, radiusSession: null });
  });

  it('whoHadMany reads the sessions of every lookup in one statement', async () => {
    const lookups = (count: number) =>
      Array.from({ length: count }, (_, i) => ({ ip: i % 2 ? '100.64.1.2' : '2001:db8:a::9', at: 1000 + i }));
    const query = `query($lookups: [WhoHadLookup!]!) {
      whoHadMany(lookups: $lookups) { source endInferred radiusSession { acctSessionId customer { userId } } } }`;
    const baseline = await countStatements(() => graphqlData('{ __typename }'));
    const counted = (count: number) =>
      countStatements(async () => {
        const data = await graphqlData(query, { lookups: lookups(count) });
        expect(data.whoHadMany).toHaveLength(count);
        for (const answer of data.whoHadMany) {
          expect(answer).toEqual({
            source: 'RADIUS',
            endInferred: true,
            radiusSession: { acctSessionId: 'a-1', customer: { userId: 'alice' } },
          });
        }
      });
    const two = await counted(2);
    const forty = await counted(40);
    expect(forty).toBe(two);
    // The lookup, then the sessions, then their customers.
    expect(two - baseline).toBe(3);
  });

  it('ipHistory lists sessions and static mappings in one timeline, and mappings filters find them', async () => {
    await apply(sessionEvent('Start', { user: 'carol', session: 'c-1', at: 4000, ipv4: '100.64.1.2' }));
    const data = await graphqlData(`{
      ipHistory(ip: "100.64.1.0/24") {
        totalCount edges { node { ipsubnet starttime endtime source endReason customer { userId } radiusSession { acctSessionId } } }
      }
      mappings(containsIp: "100.64.1.2", activeAt: 4000) { edges { node { customer { userId } source } } }
    }`);
    expect(data.ipHistory.totalCount).toBe(3);
    expect(data.ipHistory.edges.map((edge: any) => edge.node)).toEqual([
      {
        ipsubnet: '100.64.1.2',
        starttime: 1000,
        endtime: 3000,
        source: 'RADIUS',
        endReason: 'NAS_RESTARTED',
        customer: { userId: 'alice' },
        radiusSession: { acctSessionId: 'a-1' },
      },
      {
        ipsubnet: '100.64.1.3',
        starttime: 1000,
        endtime: 1800,
        source: 'RADIUS',
        endReason: 'REPORTED',
        customer: { userId: 'bob' },
        radiusSession: { acctSessionId: 'b-1' },
      },
      {
        ipsubnet: '100.64.1.2',
        starttime: 4000,
        endtime: null,
        source: 'RADIUS',
        endReason: null,
        customer: { userId: 'carol' },
        radiusSession: { acctSessionId: 'c-1' },
      },
    ]);
    expect(data.mappings.edges.map((edge: any) => edge.node)).toEqual([
      { customer: { userId: 'carol' }, source: 'RADIUS' },
    ]);
  });

  it("REST's mapping list shows session mappings exactly as static ones", async () => {
    const response = await rest('GET', '/api/ipdrcustomers_mapping', REST_AUTH);
    expect(response.status).toBe(200);
    const list = response.body as Record<string, unknown>[];
    const radius = list.find((mapping) => mapping.ipsubnet === '100.64.1.3');
    const stored = await prisma.ipMapping.findFirstOrThrow({ where: { ipsubnet: '100.64.1.3' } });
    expect(radius).toEqual({
      id: stored.id,
      ipdr_customer_id: stored.customerId,
      ipsubnet: '100.64.1.3',
      starttime: 1000,
      endtime: 1800,
      terminalid: '',
    });
    const staticOne = list.find((mapping) => mapping.ipsubnet === '198.51.100.0/24')!;
    for (const mapping of list) expect(Object.keys(mapping)).toEqual(Object.keys(staticOne));
    expect(list).toHaveLength(4);
  });
});

describe('radiusSessions', () => {
  beforeAll(async () => {
    await resetData();
    await apply(
      sessionEvent('Start', { user: 'alice', session: 'a-1', at: 1000, ipv4: '100.64.1.2', nas: '192.0.2.1' }),
      sessionEvent('Start', {
        user: 'alice',
        session: 'a-2',
        at: 1100,
        ipv6Prefix: '2001:db8:a::/64',
        nas: '192.0.2.2',
      }),
      sessionEvent('Start', { user: 'bob', session: 'b-1', at: 1200, ipv4: '100.64.1.3', nas: '192.0.2.2' }),
      sessionEvent('Stop', { user: 'bob', session: 'b-1', at: 1300, sessionTime: 100, nas: '192.0.2.2' }),
    );
    // A NAS known by its identifier only.
    const identified = sessionEvent('Start', { user: 'carol', session: 'c-1', at: 1400, ipv4: '100.64.1.9' });
    if (identified.kind !== 'session') throw new Error('a session event');
    await apply({
      ...identified,
      nas: { ipAddress: null, identifier: 'bng-north', key: '/bng-north' },
    });
  });

  const sessions = async (args: string) => {
    const data = await graphqlData(`{ radiusSessions${args} { totalCount edges { node { acctSessionId } } } }`);
    return {
      total: data.radiusSessions.totalCount,
      ids: data.radiusSessions.edges.map((edge: any) => edge.node.acctSessionId),
    };
  };

  it('lists every session newest first', async () => {
    expect(await sessions('')).toEqual({ total: 4, ids: ['c-1', 'b-1', 'a-2', 'a-1'] });
  });

  it('filters by User-Name, NAS address or identifier, open or ended, and address held', async () => {
    expect(await sessions('(userName: "alice")')).toEqual({ total: 2, ids: ['a-2', 'a-1'] });
    expect(await sessions('(nas: "192.0.2.2")')).toEqual({ total: 2, ids: ['b-1', 'a-2'] });
    expect(await sessions('(nas: "bng-north")')).toEqual({ total: 1, ids: ['c-1'] });
    expect(await sessions('(open: true)')).toEqual({ total: 3, ids: ['c-1', 'a-2', 'a-1'] });
    expect(await sessions('(open: false)')).toEqual({ total: 1, ids: ['b-1'] });
    expect(await sessions('(address: "2001:db8:a::1234")')).toEqual({ total: 1, ids: ['a-2'] });
    expect(await sessions('(address: "100.64.1.3", open: true)')).toEqual({ total: 0, ids: [] });
    expect(await sessions('(userName: "alice", nas: "192.0.2.1", open: true, address: "100.64.1.2")')).toEqual({
      total: 1,
      ids: ['a-1'],
    });
  });

  it('pages with first and after', async () => {
    const first = await graphqlData(
      '{ radiusSessions(first: 3) { edges { cursor node { acctSessionId } } pageInfo { hasNextPage endCursor } } }',
    );
    expect(first.radiusSessions.edges.map((edge: any) => edge.node.acctSessionId)).toEqual(['c-1', 'b-1', 'a-2']);
    expect(first.radiusSessions.pageInfo.hasNextPage).toBe(true);
    const rest = await graphqlData(
      `query($after: String) { radiusSessions(first: 3, after: $after) { edges { node { acctSessionId } } pageInfo { hasNextPage } } }`,
      { after: first.radiusSessions.pageInfo.endCursor },
    );
    expect(rest.radiusSessions.edges.map((edge: any) => edge.node.acctSessionId)).toEqual(['a-1']);
    expect(rest.radiusSessions.pageInfo.hasNextPage).toBe(false);
  });

  it("gives a session's customer and its mappings", async () => {
    const data = await graphqlData(`{ radiusSessions(userName: "bob") { edges { node {
      nasIpAddress endedAt endReason customer { userId name }
      mappings { ipsubnet starttime endtime source radiusSession { acctSessionId } }
    } } } }`);
    expect(data.radiusSessions.edges[0].node).toEqual({
      nasIpAddress: '192.0.2.2',
      endedAt: 1300,
      endReason: 'REPORTED',
      customer: { userId: 'bob', name: 'bob' },
      mappings: [
        {
          ipsubnet: '100.64.1.3',
          starttime: 1200,
          endtime: 1300,
          source: 'RADIUS',
          radiusSession: { acctSessionId: 'b-1' },
        },
      ],
    });
  });

  it("is refused in a context the caller may not use, and shows no other context's sessions", async () => {
    const refused = await graphql('{ radiusSessions { totalCount } }', undefined, {
      authorization: `Bearer ${ADMIN_TOKEN}`,
      'x-context': 'no-such-context',
    });
    expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

    const other = await createContext(db, checkContextName(`radius-other-${Date.now()}`));
    await applyAccounting(
      db,
      [
        {
          tenant: other,
          inputs: [sessionEvent('Start', { user: 'erin', session: 'e-1', at: 1000, ipv4: '100.64.1.2' })],
        },
      ],
      RULES,
    );
    const inOther = await graphql('{ radiusSessions { edges { node { acctSessionId } } } }', undefined, {
      authorization: `Bearer ${ADMIN_TOKEN}`,
      'x-context': other.name,
    });
    expect(inOther).toEqual({ data: { radiusSessions: { edges: [{ node: { acctSessionId: 'e-1' } }] } } });
    expect(await sessions('(userName: "erin")')).toEqual({ total: 0, ids: [] });
  });
});

describe('radiusConflicts', () => {
  it('lists the addresses refused because a static mapping held them, with the session and the mapping', async () => {
    await resetData();
    await createCustomer('static-1', 'Static One');
    const held = await createMapping({ userId: 'static-1', ipsubnet: '100.64.9.0/24', starttime: 0 });
    await apply(sessionEvent('Start', { user: 'dave', session: 'd-1', at: 1000, ipv4: '100.64.9.5' }));
    const data = await graphqlData(`{ radiusConflicts { totalCount edges { node {
      kind ipsubnet starttime endtime holderUserId mappingId
      mapping { ipsubnet source customer { userId } }
      session { acctSessionId userName mappings { id } }
    } } } }`);
    expect(data.radiusConflicts).toEqual({
      totalCount: 1,
      edges: [
        {
          node: {
            kind: 'STATIC_MAPPING',
            ipsubnet: '100.64.9.5',
            starttime: 1000,
            endtime: null,
            holderUserId: 'static-1',
            mappingId: held.id,
            mapping: { ipsubnet: '100.64.9.0/24', source: 'API', customer: { userId: 'static-1' } },
            session: { acctSessionId: 'd-1', userName: 'dave', mappings: [] },
          },
        },
      ],
    });
  });
});

describe('radiusConflicts with carrier-grade NAT', () => {
  it('records a Start for a public address a NAT port block or rule holds as a conflict, and applies the rest of the batch', async () => {
    await resetData();
    const binding = await graphqlData(
      `mutation($input: NatBindingInput!) { createNatBinding(input: $input) { __typename ... on NatBinding { id } } }`,
      {
        input: {
          publicAddress: '198.51.100.7',
          portFirst: 1024,
          portLast: 2047,
          insideAddress: '100.64.1.9',
          starttime: 500,
        },
      },
    );
    const rule = await graphqlData(
      `mutation($input: NatRuleInput!) { createNatRule(input: $input) { __typename ... on NatRule { id } } }`,
      {
        input: {
          insidePrefix: '100.64.2.0/28',
          outsidePrefix: '198.51.100.16/30',
          firstPort: 1024,
          portsPerHost: 1000,
          starttime: 0,
        },
      },
    );
    const bindingId = binding.createNatBinding.id;
    const ruleId = rule.createNatRule.id;
    expect([binding.createNatBinding.__typename, rule.createNatRule.__typename]).toEqual(['NatBinding', 'NatRule']);

    // One batch: before this, the mapping trigger refused the whole batch (23P01) on every retry.
    const result = await apply(
      sessionEvent('Start', { user: 'erin', session: 'e-1', at: 1000, ipv4: '198.51.100.7' }),
      sessionEvent('Start', { user: 'fred', session: 'f-1', at: 1000, ipv4: '198.51.100.18' }),
      sessionEvent('Start', { user: 'gina', session: 'g-1', at: 1000, ipv4: '100.64.1.9' }),
    );
    expect(result.outcomes).toEqual(['applied', 'applied', 'applied']);
    expect(result.conflicts).toBe(2);

    const data = await graphqlData(`{ radiusConflicts { totalCount edges { node {
      kind ipsubnet starttime holderUserId mappingId mapping { id } natHolderId
      natBinding { id publicAddress portFirst portLast } natRule { id outsidePrefix }
      session { acctSessionId mappings { id } }
    } } } }`);
    const nodes = data.radiusConflicts.edges.map((edge: any) => edge.node);
    expect(data.radiusConflicts.totalCount).toBe(2);
    const none = { holderUserId: null, mappingId: null, mapping: null, starttime: 1000 };
    expect(nodes).toEqual(
      expect.arrayContaining([
        {
          ...none,
          kind: 'NAT_BINDING',
          ipsubnet: '198.51.100.7',
          natHolderId: bindingId,
          natBinding: { id: bindingId, publicAddress: '198.51.100.7', portFirst: 1024, portLast: 2047 },
          natRule: null,
          session: { acctSessionId: 'e-1', mappings: [] },
        },
        {
          ...none,
          kind: 'NAT_RULE',
          ipsubnet: '198.51.100.18',
          natHolderId: ruleId,
          natBinding: null,
          natRule: { id: ruleId, outsidePrefix: '198.51.100.16/30' },
          session: { acctSessionId: 'f-1', mappings: [] },
        },
      ]),
    );
    // The inside address is no NAT holder's: its session holds it, and the block reaches it.
    const reached = await graphqlData(
      '{ whoHad(ip: "198.51.100.7", port: 1500, at: 1200) { customer { userId } nat { kind insideAddress } } }',
    );
    expect(reached.whoHad).toEqual({
      customer: { userId: 'gina' },
      nat: { kind: 'binding', insideAddress: '100.64.1.9' },
    });
    // Sent again, nothing new is recorded.
    expect(
      (await apply(sessionEvent('Start', { user: 'erin', session: 'e-1', at: 1000, ipv4: '198.51.100.7' }))).conflicts,
    ).toBe(0);
    expect(await prisma.radiusConflict.count()).toBe(2);
  });
});

describe('sources', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ipdr-radius-sources-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('are API for GraphQL writes, REST for REST, CSV for an import and RADIUS for sessions', async () => {
    await resetData();
    await createCustomer('api-1');
    await createMapping({ userId: 'api-1', ipsubnet: '10.1.0.1', starttime: 0 });
    await rest('POST', '/api/ipdrcustomers', { ...REST_AUTH, UserID: 'rest-1', Name: 'Rest' });
    await rest('POST', '/api/ipdrcustomers_mapping', {
      ...REST_AUTH,
      UserID: 'rest-1',
      ipsubnet: '10.1.0.2',
      starttime: 0,
    });
    const path = join(dir, 'one.csv');
    writeFileSync(path, '10.1.0.3,Imported,,,,,csv-1,01-01-2025,,\n');
    await importCsv(db, path, 'default', false);
    await apply(sessionEvent('Start', { user: 'radius-1', session: 'r-1', at: 1000, ipv4: '10.1.0.4' }));

    const data = await graphqlData('{ mappings { edges { node { ipsubnet source customer { userId } } } } }');
    expect(data.mappings.edges.map((edge: any) => edge.node)).toEqual([
      { ipsubnet: '10.1.0.1', source: 'API', customer: { userId: 'api-1' } },
      { ipsubnet: '10.1.0.2', source: 'REST', customer: { userId: 'rest-1' } },
      { ipsubnet: '10.1.0.3', source: 'CSV', customer: { userId: 'csv-1' } },
      { ipsubnet: '10.1.0.4', source: 'RADIUS', customer: { userId: 'radius-1' } },
    ]);
    expect(
      (await prisma.customer.findMany({ orderBy: { id: 'asc' } })).map((customer) => [
        customer.userId,
        customer.source,
      ]),
    ).toEqual([
      ['api-1', 'API'],
      ['rest-1', 'REST'],
      ['csv-1', 'CSV'],
      ['radius-1', 'RADIUS'],
    ]);
  });

  it('an end set through the API on a session mapping is no inferred end', async () => {
    await resetData();
    await apply(sessionEvent('Start', { user: 'alice', session: 'a-1', at: 1000, ipv4: '100.64.1.2' }));
    await apply({ kind: 'sweep', at: 1000 + RULES.sessionTimeout + 1 });
    const mapping = await prisma.ipMapping.findFirstOrThrow();
    expect(mapping.endKind).toBe('TIMED_OUT');
    const data = await graphqlData(
      `mutation { endMapping(id: ${mapping.id}, at: 500000) { __typename ... on IpMapping { endtime endReason endInferred source } } }`,
    );
    expect(data.endMapping).toEqual({
      __typename: 'IpMapping',
      endtime: 500000,
      endReason: null,
      endInferred: false,
      source: 'RADIUS',
    });
  });
});
