import { beforeAll, describe, expect, it } from 'vitest';
import { parseIpAddress } from '../../src/domain/ip.js';
import { applyPortBlocks } from '../../src/nat/store.js';
import { applyAccounting } from '../../src/radius/store.js';
import { createCustomer, createMapping, graphql, graphqlData, resetData } from '../helpers.js';
import { sessionEvent } from '../radius/store-helpers.js';
import { db, prisma } from '../setup/app.js';

// whoHad through carrier-grade NAT: public address and port → the port block (or deterministic
// rule) that held it → the inside address's holder (a static mapping or a RADIUS session).

const PUBLIC = '203.0.113.100';
const NAT_FIELDS = `customer { userId } ipsubnet nat { kind publicAddress port portFirst portLast insideAddress insideContext source }`;

beforeAll(async () => {
  await resetData();
  const tenant = await prisma.context.findUniqueOrThrow({
    where: { name: 'default' },
    select: { id: true, name: true },
  });
  await createCustomer('static-sub');
  expect(await createMapping({ userId: 'static-sub', ipsubnet: '100.64.0.10', starttime: 0 })).toMatchObject({
    __typename: 'IpMapping',
  });
  await applyAccounting(
    db,
    [{ tenant, inputs: [sessionEvent('Start', { user: 'radius-sub', session: 's1', at: 900, ipv4: '100.64.0.11' })] }],
    {
      sessionTimeout: 86_400,
    },
  );
  const block = (ports: [number, number], inside: string) => ({
    event: {
      kind: 'ALLOC' as const,
      at: 1000,
      publicAddress: parseIpAddress(PUBLIC),
      portFirst: ports[0],
      portLast: ports[1],
      insideAddress: parseIpAddress(inside),
    },
    source: 'SYSLOG' as const,
    device: '192.0.2.7',
    rawLine: `ALLOC ${inside}`,
  });
  const [result] = await applyPortBlocks(db, [
    {
      tenant,
      insideTenant: tenant,
      records: [
        block([1024, 1279], '100.64.0.10'),
        block([1280, 1535], '100.64.0.11'),
        block([1536, 1791], '100.64.0.99'),
      ],
      unparsable: [],
    },
  ]);
  expect(result!.outcomes).toEqual(['applied', 'applied', 'applied']);
  // Deterministic NAT, VPP det44's worked example (src/plugins/nat/det44/det44_cli.c): 10.0.0.0/18
  // onto a /30 gives 15 ports a host from 1024, and outside x.x.x.1:1276 is inside 10.0.16.16.
  await prisma.natRule.create({
    data: {
      contextId: tenant.id,
      insidePrefix: '10.0.0.0/18',
      outsidePrefix: '198.51.100.0/30',
      firstPort: 1024,
      portsPerHost: 15,
      starttime: 0n,
      insideContextId: tenant.id,
    },
  });
  await createCustomer('det-sub');
  expect(await createMapping({ userId: 'det-sub', ipsubnet: '10.0.16.16', starttime: 0 })).toMatchObject({
    __typename: 'IpMapping',
  });
});

const whoHad = (args: string) => graphql(`{ whoHad(${args}) { ${NAT_FIELDS} } }`);

describe('whoHad through carrier-grade NAT', () => {
  it('reaches a static inside mapping and a RADIUS session through their port blocks', async () => {
    expect((await whoHad(`ip: "${PUBLIC}", port: 1100, at: 1500`)).data?.whoHad).toEqual({
      customer: { userId: 'static-sub' },
      ipsubnet: '100.64.0.10',
      nat: {
        kind: 'binding',
        publicAddress: PUBLIC,
        port: 1100,
        portFirst: 1024,
        portLast: 1279,
        insideAddress: '100.64.0.10',
        insideContext: 'default',
        source: 'SYSLOG',
      },
    });
    expect((await whoHad(`ip: "${PUBLIC}", port: 1535, at: 1500`)).data?.whoHad).toMatchObject({
      customer: { userId: 'radius-sub' },
      nat: { portFirst: 1280, portLast: 1535, insideAddress: '100.64.0.11' },
    });
  });

  it('answers null for a port no block covered, and for a block whose inside address nobody held', async () => {
    expect((await whoHad(`ip: "${PUBLIC}", port: 4000, at: 1500`)).data?.whoHad).toBeNull();
    expect((await whoHad(`ip: "${PUBLIC}", port: 1600, at: 1500`)).data?.whoHad).toBeNull();
    // Before the blocks were allocated the address was nobody's.
    expect((await whoHad(`ip: "${PUBLIC}", at: 500`)).data?.whoHad).toBeNull();
  });

  it('says a port is needed for a shared address asked about without one', async () => {
    const response = await whoHad(`ip: "${PUBLIC}", at: 1500`);
    expect(response.data?.whoHad).toBeNull();
    expect(response.errors).toEqual([
      expect.objectContaining({
        message: `port: ${PUBLIC} was shared through carrier-grade NAT at 1500 (3 port blocks): a port is needed to name its holder`,
        extensions: expect.objectContaining({ code: 'BAD_USER_INPUT', field: 'port' }),
      }),
    ]);
  });

  it('refuses a port that is not one, naming the field', async () => {
    const response = await whoHad(`ip: "${PUBLIC}", port: 70000, at: 1500`);
    expect(response.errors?.[0]).toMatchObject({ message: 'port: 70000 is not a port (0-65535)' });
  });

  it('computes the inside address of a deterministic rule (both directions of det44 agree)', async () => {
    expect((await whoHad(`ip: "198.51.100.1", port: 1276, at: 2000`)).data?.whoHad).toMatchObject({
      customer: { userId: 'det-sub' },
      nat: { kind: 'rule', insideAddress: '10.0.16.16', portFirst: 1264, portLast: 1278, source: 'RULE' },
    });
    // 4096 hosts share each outside address of the rule.
    expect((await whoHad(`ip: "198.51.100.1", at: 2000`)).errors?.[0]?.message).toContain('(4096 port blocks)');
    // Below the rule's first port no host holds a port.
    expect((await whoHad(`ip: "198.51.100.1", port: 80, at: 2000`)).data?.whoHad).toBeNull();
  });

  it('answers an address a customer held whole whatever the port', async () => {
    expect((await whoHad(`ip: "100.64.0.10", port: 80, at: 1500`)).data?.whoHad).toMatchObject({
      customer: { userId: 'static-sub' },
      nat: null,
    });
  });

  it('answers a batch with ports in one statement, a port-less shared lookup refused at its index', async () => {
    const response = await graphql(
      `
        query ($lookups: [WhoHadLookup!]!) {
          whoHadMany(lookups: $lookups) {
            customer {
              userId
            }
            nat {
              portFirst
            }
          }
        }
      `,
      {
        lookups: [
          { ip: PUBLIC, port: 1300, at: 1500 },
          { ip: PUBLIC, at: 1500 },
          { ip: '100.64.0.10', at: 1500 },
          { ip: PUBLIC, port: 70000, at: 1500 },
          { ip: PUBLIC, port: 1024, at: 1500 },
        ],
      },
    );
    expect(response.data?.whoHadMany).toEqual([
      { customer: { userId: 'radius-sub' }, nat: { portFirst: 1280 } },
      null,
      { customer: { userId: 'static-sub' }, nat: null },
      null,
      { customer: { userId: 'static-sub' }, nat: { portFirst: 1024 } },
    ]);
    expect(response.errors?.map((error) => [error.path, (error.extensions as { field?: string }).field])).toEqual([
      [['whoHadMany', 1], 'lookups[1].port'],
      [['whoHadMany', 3], 'lookups[3].port'],
    ]);
  });
});

describe('ipHistory of an address and port', () => {
  const SHARED = '203.0.113.101';
  const HISTORY_FIELDS = `totalCount edges { node { ipsubnet starttime endtime customer { userId }
    nat { kind id portFirst portLast insideAddress starttime endtime }
    natHops { id starttime endtime } } }`;
  const history = (args: string) => graphql(`{ ipHistory(${args}) { ${HISTORY_FIELDS} } }`);
  const bindingIds: number[] = [];

  beforeAll(async () => {
    await createCustomer('pool-owner');
    // The address was a customer's whole before the NAT pool took it.
    expect(await createMapping({ userId: 'pool-owner', ipsubnet: SHARED, starttime: 0, endtime: 999 })).toMatchObject({
      __typename: 'IpMapping',
    });
    const bind = async (insideAddress: string, starttime: number, endtime: number | null) => {
      const data = await graphqlData(
        `mutation($input: NatBindingInput!) { createNatBinding(input: $input) { __typename ... on NatBinding { id } } }`,
        { input: { publicAddress: SHARED, portFirst: 2048, portLast: 2303, insideAddress, starttime, endtime } },
      );
      expect(data.createNatBinding.__typename).toBe('NatBinding');
      bindingIds.push(data.createNatBinding.id);
    };
    // The static subscriber's block, then the RADIUS subscriber's twice (released and given again).
    await bind('100.64.0.10', 1000, 1499);
    await bind('100.64.0.11', 1500, 1599);
    await bind('100.64.0.11', 1700, null);
  });

  it("lists the whole-address mapping and each inside holder reached through the blocks that gave it the port, in order of the mappings' starts", async () => {
    const response = await history(`ip: "${SHARED}", port: 2100`);
    expect(response.errors).toBeUndefined();
    const page = response.data!.ipHistory;
    expect(page.totalCount).toBe(3);
    expect(page.edges.map((edge: any) => edge.node)).toEqual([
      {
        ipsubnet: '100.64.0.10',
        starttime: 0,
        endtime: null,
        customer: { userId: 'static-sub' },
        nat: {
          kind: 'binding',
          id: bindingIds[0],
          portFirst: 2048,
          portLast: 2303,
          insideAddress: '100.64.0.10',
          starttime: 1000,
          endtime: 1499,
        },
        natHops: [{ id: bindingIds[0], starttime: 1000, endtime: 1499 }],
      },
      {
        ipsubnet: SHARED,
        starttime: 0,
        endtime: 999,
        customer: { userId: 'pool-owner' },
        nat: null,
        natHops: [],
      },
      {
        ipsubnet: '100.64.0.11',
        starttime: 900,
        endtime: null,
        customer: { userId: 'radius-sub' },
        nat: {
          kind: 'binding',
          id: bindingIds[1],
          portFirst: 2048,
          portLast: 2303,
          insideAddress: '100.64.0.11',
          starttime: 1500,
          endtime: 1599,
        },
        // One session held the address while both of its blocks gave it the port.
        natHops: [
          { id: bindingIds[1], starttime: 1500, endtime: 1599 },
          { id: bindingIds[2], starttime: 1700, endtime: null },
        ],
      },
    ]);
  });

  it('keeps to the window, and a port no block covered has only the whole-address holders', async () => {
    const window = await history(`ip: "${SHARED}", port: 2100, from: 1550, to: 1650`);
    expect(window.data!.ipHistory.edges.map((edge: any) => [edge.node.ipsubnet, edge.node.natHops.length])).toEqual([
      ['100.64.0.11', 1],
    ]);
    const uncovered = await history(`ip: "${SHARED}", port: 80`);
    expect(uncovered.data!.ipHistory.edges.map((edge: any) => edge.node.customer.userId)).toEqual(['pool-owner']);
    // Without a port, the address's own timeline, as before.
    const whole = await history(`ip: "${SHARED}"`);
    expect(whole.data!.ipHistory.edges.map((edge: any) => edge.node.customer.userId)).toEqual(['pool-owner']);
  });

  it('pages through the timeline with cursors', async () => {
    const first = await graphql(
      `{ ipHistory(ip: "${SHARED}", port: 2100, first: 2) { edges { node { ipsubnet natHops { id } } } pageInfo { hasNextPage endCursor } } }`,
    );
    const page = first.data!.ipHistory;
    expect(page.edges.map((edge: any) => edge.node.ipsubnet)).toEqual(['100.64.0.10', SHARED]);
    expect(page.pageInfo.hasNextPage).toBe(true);
    const next = await graphql(
      `{ ipHistory(ip: "${SHARED}", port: 2100, first: 2, after: "${page.pageInfo.endCursor}") { edges { node { ipsubnet natHops { id } } } pageInfo { hasNextPage } } }`,
    );
    expect(next.data!.ipHistory.edges.map((edge: any) => [edge.node.ipsubnet, edge.node.natHops.length])).toEqual([
      ['100.64.0.11', 2],
    ]);
    expect(next.data!.ipHistory.pageInfo.hasNextPage).toBe(false);
  });

  it('goes through a deterministic rule', async () => {
    const response = await history('ip: "198.51.100.1", port: 1276');
    expect(response.data!.ipHistory.edges.map((edge: any) => [edge.node.customer.userId, edge.node.nat?.kind])).toEqual(
      [['det-sub', 'rule']],
    );
  });

  it('refuses a port of a subnet or of an IPv6 address, and a port that is not one, naming the field', async () => {
    for (const [args, field] of [
      [`ip: "203.0.113.0/24", port: 80`, 'ip'],
      [`ip: "2001:db8::1", port: 80`, 'ip'],
      [`ip: "${SHARED}", port: 65536`, 'port'],
    ] as const) {
      const response = await history(args);
      expect(response.data?.ipHistory ?? null, args).toBeNull();
      expect(response.errors?.[0]?.extensions, args).toMatchObject({ code: 'BAD_USER_INPUT', field });
    }
  });
});
