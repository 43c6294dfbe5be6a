import { beforeAll, describe, expect, it } from 'vitest';
import { createCustomer, createMapping, graphql, resetData } from '../helpers.js';
import { prisma } from '../setup/app.js';

// Port-block bindings and deterministic NAT rules written through GraphQL: what they hold, what the
// database refuses as a second holder (named in a HolderConflictError), and the lookups through them.

const BINDING = `id publicAddress portFirst portLast starttime endtime endKind insideAddress insideContext source`;
const RESULT = (fields: string) =>
  `__typename ... on Error { message } ... on ValidationError { field reason }
   ... on HolderConflictError { holders { kind id description } } ${fields}`;

const createBinding = (input: Record<string, unknown>) =>
  graphql(
    `mutation($input: NatBindingInput!) { createNatBinding(input: $input) { ${RESULT(`... on NatBinding { ${BINDING} }`)} } }`,
    {
      input,
    },
  ).then((response) => response.data?.createNatBinding);
const createRule = (input: Record<string, unknown>) =>
  graphql(
    `mutation($input: NatRuleInput!) { createNatRule(input: $input) { ${RESULT('... on NatRule { id insidePrefix outsidePrefix firstPort portsPerHost starttime endtime insideContext description }')} } }`,
    { input },
  ).then((response) => response.data?.createNatRule);
const whoHad = (ip: string, port: number, at: number) =>
  graphql(
    `{ whoHad(ip: "${ip}", port: ${port}, at: ${at}) { customer { userId } nat { kind id insideAddress } } }`,
  ).then((response) => response.data?.whoHad);

const block = { publicAddress: '203.0.113.7', insideAddress: '100.64.7.1', starttime: 1000 };

beforeAll(async () => {
  await resetData();
  await createCustomer('sub-1');
  expect(await createMapping({ userId: 'sub-1', ipsubnet: '100.64.7.1', starttime: 0 })).toMatchObject({
    __typename: 'IpMapping',
  });
  await createCustomer('det-sub');
  expect(await createMapping({ userId: 'det-sub', ipsubnet: '10.0.16.16', starttime: 0 })).toMatchObject({
    __typename: 'IpMapping',
  });
});

describe('NAT bindings and rules through GraphQL', () => {
  it('creates a binding, answers lookups through it, ends it, and keeps both changes in the audit trail', async () => {
    const created = await createBinding({ ...block, portFirst: 1024, portLast: 2047 });
    expect(created).toMatchObject({
      __typename: 'NatBinding',
      publicAddress: '203.0.113.7',
      portFirst: 1024,
      portLast: 2047,
      starttime: 1000,
      endtime: null,
      endKind: null,
      insideAddress: '100.64.7.1',
      insideContext: 'default',
      source: 'API',
    });
    expect(await whoHad('203.0.113.7', 1500, 5000)).toEqual({
      customer: { userId: 'sub-1' },
      nat: { kind: 'binding', id: created.id, insideAddress: '100.64.7.1' },
    });

    const ended = await graphql(
      `mutation { endNatBinding(id: ${created.id}, at: 4000) { ${RESULT(`... on NatBinding { ${BINDING} }`)} } }`,
    );
    expect(ended.data?.endNatBinding).toMatchObject({ endtime: 4000, endKind: 'RELEASED' });
    expect(await whoHad('203.0.113.7', 1500, 4000)).toMatchObject({ customer: { userId: 'sub-1' } });
    expect(await whoHad('203.0.113.7', 1500, 4001)).toBeNull();

    const listed = await graphql(`
      {
        natBindings(publicAddress: "203.0.113.7", at: 2000) {
          totalCount
          edges {
            node {
              id
            }
          }
        }
      }
    `);
    expect(listed.data?.natBindings).toEqual({ totalCount: 1, edges: [{ node: { id: created.id } }] });
    const audit = await prisma.auditEvent.findMany({
      where: { entityType: 'natBinding', entityId: created.id },
      orderBy: { id: 'asc' },
    });
    expect(audit.map((event) => [event.action, event.channel])).toEqual([
      ['create', 'graphql'],
      ['update', 'graphql'],
    ]);
    expect(audit[1]!.after).toMatchObject({ endtime: 4000, endKind: 'RELEASED' });
  });

  it('refuses a binding sharing a port and an instant with another, naming it, and writes nothing', async () => {
    const first = await createBinding({ ...block, publicAddress: '203.0.113.8', portFirst: 3000, portLast: 3999 });
    expect(first.__typename).toBe('NatBinding');
    const clash = await createBinding({
      ...block,
      publicAddress: '203.0.113.8',
      insideAddress: '100.64.7.2',
      portFirst: 3999,
      portLast: 4999,
      starttime: 1500,
    });
    expect(clash).toMatchObject({
      __typename: 'HolderConflictError',
      holders: [{ kind: 'binding', id: first.id }],
    });
    expect(clash.message).toContain(`NAT port block ${first.id} (203.0.113.8 ports 3000-3999`);
    // The next port up is free.
    expect(
      (
        await createBinding({
          ...block,
          publicAddress: '203.0.113.8',
          portFirst: 4000,
          portLast: 4999,
          starttime: 1500,
        })
      ).__typename,
    ).toBe('NatBinding');
    expect(await prisma.natPortBlock.count({ where: { publicAddress: '203.0.113.8' } })).toBe(2);
  });

  it('names the field of a bad value', async () => {
    expect(await createBinding({ ...block, portFirst: 2000, portLast: 1999 })).toMatchObject({
      __typename: 'ValidationError',
      field: 'portLast',
    });
    expect(await createBinding({ ...block, portFirst: -1, portLast: 10 })).toMatchObject({
      __typename: 'ValidationError',
      field: 'portFirst',
    });
    expect(await createBinding({ ...block, publicAddress: '127.1', portFirst: 1, portLast: 2 })).toMatchObject({
      __typename: 'ValidationError',
      field: 'publicAddress',
    });
    expect(await createBinding({ ...block, publicAddress: '2001:db8::1', portFirst: 1, portLast: 2 })).toMatchObject({
      __typename: 'ValidationError',
      field: 'publicAddress',
    });
    expect(await createBinding({ ...block, portFirst: 1, portLast: 2, endtime: 999 })).toMatchObject({
      __typename: 'ValidationError',
      field: 'endtime',
    });
    expect(await createBinding({ ...block, portFirst: 1, portLast: 2, insideContext: 'nowhere' })).toMatchObject({
      __typename: 'NotFoundError',
    });
    expect(
      await createRule({ insidePrefix: '10.1.0.0/24', outsidePrefix: '198.51.100.0/16', starttime: 0 }),
    ).toMatchObject({ __typename: 'ValidationError', field: 'outsidePrefix' });
    expect(
      await createRule({
        insidePrefix: '10.1.0.0/24',
        outsidePrefix: '198.51.100.0/30',
        portsPerHost: 10_000,
        starttime: 0,
      }),
    ).toMatchObject({ __typename: 'ValidationError', field: 'portsPerHost' });
  });

  it('creates a deterministic rule (VPP det44’s worked example), refuses an overlapping rule, a binding and a mapping in it', async () => {
    // src/plugins/nat/det44/det44_cli.c: 10.0.0.0/18 onto a /30, 15 ports a host from 1024;
    // outside 1.1.1.1:1276 is inside 10.0.16.16.
    const rule = await createRule({
      insidePrefix: '10.0.0.0/18',
      outsidePrefix: '198.51.100.0/30',
      firstPort: 1024,
      portsPerHost: 15,
      starttime: 0,
      description: 'det44 example',
    });
    expect(rule).toMatchObject({
      __typename: 'NatRule',
      insidePrefix: '10.0.0.0/18',
      outsidePrefix: '198.51.100.0/30',
      firstPort: 1024,
      portsPerHost: 15,
      insideContext: 'default',
      description: 'det44 example',
    });
    expect(await whoHad('198.51.100.1', 1276, 100)).toEqual({
      customer: { userId: 'det-sub' },
      nat: { kind: 'rule', id: rule.id, insideAddress: '10.0.16.16' },
    });

    const overlapping = await createRule({
      insidePrefix: '10.2.0.0/18',
      outsidePrefix: '198.51.100.2/31',
      starttime: 50,
    });
    expect(overlapping).toMatchObject({ __typename: 'HolderConflictError', holders: [{ kind: 'rule', id: rule.id }] });
    const binding = await createBinding({
      ...block,
      publicAddress: '198.51.100.3',
      portFirst: 1,
      portLast: 2,
      starttime: 10,
    });
    expect(binding).toMatchObject({ __typename: 'HolderConflictError', holders: [{ kind: 'rule', id: rule.id }] });
    const mapping = await graphql(
      `mutation { createMapping(input: { userId: "sub-1", ipsubnet: "198.51.100.0/31", starttime: 10, endtime: 20 }) { ${RESULT('')} } }`,
    );
    expect(mapping.data?.createMapping).toMatchObject({
      __typename: 'HolderConflictError',
      holders: [{ kind: 'rule', id: rule.id }],
    });

    // Ended, it holds no more: a rule onto the same prefix may begin after its end.
    const ended = await graphql(
      `mutation { endNatRule(id: ${rule.id}, at: 1000) { ${RESULT('... on NatRule { endtime }')} } }`,
    );
    expect(ended.data?.endNatRule).toMatchObject({ endtime: 1000 });
    expect(await whoHad('198.51.100.1', 1276, 1001)).toBeNull();
    const next = await createRule({ insidePrefix: '10.0.0.0/18', outsidePrefix: '198.51.100.0/30', starttime: 1001 });
    expect(next.__typename).toBe('NatRule');
    expect(next.portsPerHost).toBe(Math.floor((65536 - 1024) / 4096));
    const rules = await graphql('{ natRules { totalCount } }');
    expect(rules.data?.natRules.totalCount).toBe(2);
  });

  it('refuses a rule over a binding, and ending a binding into another holder', async () => {
    const held = await createBinding({
      ...block,
      publicAddress: '192.0.2.77',
      portFirst: 100,
      portLast: 199,
      endtime: 2000,
    });
    expect(held.__typename).toBe('NatBinding');
    const rule = await createRule({ insidePrefix: '10.9.0.0/24', outsidePrefix: '192.0.2.76/30', starttime: 1500 });
    expect(rule).toMatchObject({ __typename: 'HolderConflictError', holders: [{ kind: 'binding', id: held.id }] });

    const after = await createBinding({
      ...block,
      publicAddress: '192.0.2.77',
      insideAddress: '100.64.7.3',
      portFirst: 150,
      portLast: 160,
      starttime: 3000,
    });
    expect(after.__typename).toBe('NatBinding');
    const extended = await graphql(
      `mutation { endNatBinding(id: ${held.id}, at: 3500) { ${RESULT('... on NatBinding { endtime }')} } }`,
    );
    expect(extended.data?.endNatBinding).toMatchObject({
      __typename: 'HolderConflictError',
      holders: [{ kind: 'binding', id: after.id }],
    });
    const early = await graphql(`mutation { endNatBinding(id: ${held.id}, at: 999) { ${RESULT('')} } }`);
    expect(early.data?.endNatBinding).toMatchObject({ __typename: 'ValidationError', field: 'at' });
    const missing = await graphql(`mutation { endNatBinding(id: 999999, at: 5000) { ${RESULT('')} } }`);
    expect(missing.data?.endNatBinding.__typename).toBe('NotFoundError');
  });
});
