import { db } from '../setup/app.js';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { database, prisma } from '../setup/app.js';
import {
  MAPPING_FIELDS,
  createCustomer,
  createMapping,
  graphql,
  graphqlData,
  resetData,
  holdManyAddresses,
} from '../helpers.js';
import { parseIpSubnet } from '../../src/domain/ip.js';
import { checkTimeRange } from '../../src/domain/time.js';
import { ConflictError, MAX_LISTED_MAPPINGS } from '../../src/errors.js';
import { createMapping as storeCreateMapping } from '../../src/mappings/store.js';
import { rest } from '../rest/helpers.js';
import { ADMIN_TOKEN } from '../setup/credentials.js';

const RESULT = `__typename ... on IpMapping { ${MAPPING_FIELDS} } ... on Error { message }`;
const VALIDATION = '... on ValidationError { field reason }';
const CONFLICT = '... on ConflictError { conflicts { id ipsubnet customer { userId } } }';
const NOT_FOUND = '... on NotFoundError { entity key }';

// Listeners for the SQL Prisma sends (Prisma cannot remove one of its own, so there is one, here).
const listeners = new Set<(event: { query: string }) => void>();
(prisma.$on as (event: 'query', callback: (event: { query: string }) => void) => void)('query', (event) => {
  for (const listen of listeners) listen(event);
});

beforeEach(async () => {
  await resetData();
  await createCustomer('U1001');
  await createCustomer('U2002');
});

describe('createMapping', () => {
  it('stores a subnet as sent and describes its network', async () => {
    const mapping = await createMapping({
      userId: 'U1001',
      ipsubnet: '192.168.1.25/16',
      starttime: '1723431899',
      endtime: '1723444899',
      terminalId: 'TERM12345',
    });
    expect(mapping).toMatchObject({
      __typename: 'IpMapping',
      ipsubnet: '192.168.1.25/16',
      network: '192.168.0.0/16',
      family: 4,
      prefixLength: 16,
      firstAddress: '192.168.0.0',
      lastAddress: '192.168.255.255',
      starttime: 1723431899,
      endtime: 1723444899,
      terminalId: 'TERM12345',
      customer: { userId: 'U1001' },
    });
  });

  it('accepts IPv6 and times beyond 2038, and returns them unchanged', async () => {
    const mapping = await createMapping({
      userId: 'U1001',
      ipsubnet: '2001:DB8:ABCD:12::/64',
      starttime: 4102444800,
      endtime: 253402300799,
    });
    expect(mapping).toMatchObject({
      ipsubnet: '2001:DB8:ABCD:12::/64',
      network: '2001:db8:abcd:12::/64',
      family: 6,
      prefixLength: 64,
      firstAddress: '2001:db8:abcd:12::',
      lastAddress: '2001:db8:abcd:12:ffff:ffff:ffff:ffff',
      starttime: 4102444800,
      endtime: 253402300799,
    });
  });

  it('treats an absent or null end as ongoing', async () => {
    expect((await createMapping({ userId: 'U1001', ipsubnet: '10.0.0.1', starttime: 0 })).endtime).toBeNull();
    expect(
      (await createMapping({ userId: 'U1001', ipsubnet: '10.0.0.2', starttime: 0, endtime: null })).endtime,
    ).toBeNull();
  });

  it('rejects an end before the start as a ValidationError on endtime', async () => {
    const result = await createMapping({ userId: 'U1001', ipsubnet: '10.0.0.1', starttime: 200, endtime: 100 });
    expect(result).toMatchObject({ __typename: 'ValidationError', field: 'endtime' });
    expect(result.reason).toMatch(/before starttime/);
    expect(await prisma.ipMapping.count()).toBe(0);
  });

  it('reports an unknown customer as NotFoundError', async () => {
    const result = await createMapping({ userId: 'nobody', ipsubnet: '10.0.0.1', starttime: 0 });
    expect(result).toMatchObject({ __typename: 'NotFoundError', message: 'customer nobody not found' });
  });

  it.each([
    ['ipsubnet', { ipsubnet: '010.1.1.1' }, /ipsubnet.*canonical form/],
    ['ipsubnet', { ipsubnet: '127.1' }, /ipsubnet.*canonical form/],
    ['ipsubnet', { ipsubnet: '10.0.0.0/33' }, /ipsubnet.*out of range/],
    ['ipsubnet', { ipsubnet: 'fe80::1%eth0' }, /ipsubnet.*zone id/],
    ['starttime', { starttime: '-1' }, /starttime.*digits only/],
    ['starttime', { starttime: 253402300800 }, /starttime.*out of range/],
    ['endtime', { endtime: '17234.5' }, /endtime.*digits only/],
  ])('rejects a bad %s as a ValidationError naming the field and reason', async (field, change, pattern) => {
    const input = { userId: 'U1001', ipsubnet: '10.0.0.1', starttime: 0, ...change };
    const result = await graphql(
      `mutation ($input: MappingInput!) { createMapping(input: $input) { __typename ... on Error { message } ${VALIDATION} } }`,
      { input },
    );
    expect(result.errors).toBeUndefined();
    expect(result.data?.createMapping).toMatchObject({ __typename: 'ValidationError', field });
    expect(result.data?.createMapping.message).toMatch(pattern);
    expect(await prisma.ipMapping.count()).toBe(0);
  });

  it('answers bad values of input objects written inline, in patches and in choices as ValidationErrors too', async () => {
    await createMapping({ userId: 'U1001', ipsubnet: '10.0.0.1', starttime: 0 });
    const data = await graphqlData(`mutation {
      inline: createMapping(input: { userId: "U1001", ipsubnet: "10.0.0.256", starttime: 0 }) { __typename ${VALIDATION} }
      patch: updateCustomerMapping(userId: "U1001", input: { starttime: "soon" }) { __typename ${VALIDATION} }
      choose: deleteCustomerMapping(userId: "U1001", choose: { ipsubnet: "10.0.0.1/40" }) { __typename ${VALIDATION} }
    }`);
    expect(data).toMatchObject({
      inline: { __typename: 'ValidationError', field: 'ipsubnet' },
      patch: { __typename: 'ValidationError', field: 'starttime' },
      choose: { __typename: 'ValidationError', field: 'choose.ipsubnet' },
    });
    expect(data.inline.reason).toMatch(/10\.0\.0\.256/);
    expect(await prisma.ipMapping.count()).toBe(1);
  });

  it('rejects a bad address written inline in the query, too', async () => {
    const result = await graphql('{ whoHad(ip: "0x7f.0.0.1") { id } }');
    expect(result.errors?.[0]?.message).toMatch(/IPAddress.*canonical form/);
  });
});

describe('mapping and mappings', () => {
  it('reads one mapping by id, null when unknown', async () => {
    const created = await createMapping({ userId: 'U1001', ipsubnet: '10.0.0.1', starttime: 0 });
    const data = await graphqlData(
      `query($id: Int!) { mapping(id: $id) { ${MAPPING_FIELDS} } missing: mapping(id: 999999) { id } }`,
      {
        id: created.id,
      },
    );
    const { __typename, ...fields } = created;
    expect(data.mapping).toEqual(fields);
    expect(data.missing).toBeNull();
  });

  it('filters by customer, containing address, subnet and instant, and pages', async () => {
    const a = await createMapping({ userId: 'U1001', ipsubnet: '10.1.0.0/16', starttime: 0, endtime: 99 });
    const b = await createMapping({ userId: 'U2002', ipsubnet: '10.1.2.0/24', starttime: 100 });
    const c = await createMapping({ userId: 'U1001', ipsubnet: '10.2.0.7', starttime: 50 });
    const d = await createMapping({ userId: 'U2002', ipsubnet: '2001:db8::/48', starttime: 0 });
    const ids = async (args: string) =>
      (
        await graphqlData(`{ mappings${args ? `(${args})` : ''} { totalCount edges { node { id } } } }`)
      ).mappings.edges.map((e: any) => e.node.id);
    expect(await ids('')).toEqual([a.id, b.id, c.id, d.id]);
    expect(await ids('userId: "U1001"')).toEqual([a.id, c.id]);
    expect(await ids('containsIp: "10.1.2.3"')).toEqual([a.id, b.id]);
    expect(await ids('containsIp: "10.1.2.3", activeAt: 120')).toEqual([b.id]);
    expect(await ids('withinSubnet: "10.0.0.0/8"')).toEqual([a.id, b.id, c.id]);
    expect(await ids('withinSubnet: "10.1.0.0/16"')).toEqual([a.id, b.id]);
    expect(await ids('withinSubnet: "2001:db8::/32"')).toEqual([d.id]);
    expect(await ids('containsIp: "2001:db8::1"')).toEqual([d.id]);
    expect(await ids('containsIp: "::ffff:10.2.0.7"')).toEqual([c.id]);
    expect(await ids('activeAt: 75')).toEqual([a.id, c.id, d.id]);
    const page = await graphqlData(
      '{ mappings(first: 3) { totalCount pageInfo { hasNextPage endCursor } edges { node { id } } } }',
    );
    expect(page.mappings.totalCount).toBe(4);
    expect(page.mappings.pageInfo.hasNextPage).toBe(true);
    const rest = await graphqlData(
      'query($after: String) { mappings(first: 3, after: $after) { edges { node { id } } } }',
      {
        after: page.mappings.pageInfo.endCursor,
      },
    );
    expect(rest.mappings.edges.map((e: any) => e.node.id)).toEqual([d.id]);
  });
});

describe('whoHad', () => {
  it('answers who held an address at an instant, inclusive at both ends', async () => {
    await createMapping({ userId: 'U1001', ipsubnet: '10.0.0.0/24', starttime: 100, endtime: 200 });
    await createMapping({ userId: 'U2002', ipsubnet: '10.0.0.0/24', starttime: 201 });
    const data = await graphqlData(`{
      before: whoHad(ip: "10.0.0.9", at: 99) { id }
      start: whoHad(ip: "10.0.0.9", at: 100) { customer { userId } }
      end: whoHad(ip: "10.0.0.9", at: 200) { customer { userId } }
      after: whoHad(ip: "10.0.0.9", at: "201") { customer { userId } }
      now: whoHad(ip: "10.0.0.255") { customer { userId } }
      outside: whoHad(ip: "10.0.1.0", at: 150) { id }
    }`);
    expect(data).toEqual({
      before: null,
      start: { customer: { userId: 'U1001' } },
      end: { customer: { userId: 'U1001' } },
      after: { customer: { userId: 'U2002' } },
      now: { customer: { userId: 'U2002' } },
      outside: null,
    });
  });

  it('answers for IPv6 addresses in any text form', async () => {
    await createMapping({ userId: 'U1001', ipsubnet: '2001:db8:abcd:1200::/56', starttime: 0 });
    const data = await graphqlData(`{
      a: whoHad(ip: "2001:db8:abcd:12ff:ffff:ffff:ffff:ffff") { customer { userId } }
      b: whoHad(ip: "2001:0DB8:ABCD:1200:0000:0000:0000:0001") { customer { userId } }
      c: whoHad(ip: "2001:db8:abcd:1300::") { id }
    }`);
    expect(data).toEqual({ a: { customer: { userId: 'U1001' } }, b: { customer: { userId: 'U1001' } }, c: null });
  });
});

describe('updateMapping, endMapping, deleteMapping', () => {
  it('changes only the fields sent; a null end makes it ongoing again', async () => {
    const created = await createMapping({
      userId: 'U1001',
      ipsubnet: '10.0.0.1',
      starttime: 0,
      endtime: 50,
      terminalId: 'T1',
    });
    const update = async (input: Record<string, unknown>) =>
      (
        await graphqlData(
          `mutation($id: Int!, $input: MappingPatch!) { updateMapping(id: $id, input: $input) { ${RESULT} ${VALIDATION} ${CONFLICT} } }`,
          {
            id: created.id,
            input,
          },
        )
      ).updateMapping;
    expect(await update({ ipsubnet: '10.0.0.0/30', userId: 'U2002' })).toMatchObject({
      ipsubnet: '10.0.0.0/30',
      starttime: 0,
      endtime: 50,
      terminalId: 'T1',
      customer: { userId: 'U2002' },
    });
    expect(await update({ endtime: null, terminalId: null })).toMatchObject({ endtime: null, terminalId: null });
    expect(await update({ starttime: 10, endtime: 5 })).toMatchObject({
      __typename: 'ValidationError',
      field: 'endtime',
    });
  });

  it('reports an unknown mapping or customer as NotFoundError', async () => {
    const created = await createMapping({ userId: 'U1001', ipsubnet: '10.0.0.1', starttime: 0 });
    const update = async (id: number, input: Record<string, unknown>) =>
      (
        await graphqlData(
          `mutation($id: Int!, $input: MappingPatch!) { updateMapping(id: $id, input: $input) { ${RESULT} ${NOT_FOUND} } }`,
          { id, input },
        )
      ).updateMapping;
    expect(await update(999999, { starttime: 5 })).toMatchObject({
      __typename: 'NotFoundError',
      entity: 'mapping',
      key: '999999',
    });
    expect(await update(created.id, { userId: 'nobody' })).toMatchObject({
      __typename: 'NotFoundError',
      entity: 'customer',
      key: 'nobody',
    });
    const stored = await prisma.ipMapping.findUniqueOrThrow({ where: { id: created.id }, include: { customer: true } });
    expect([stored.customer.userId, stored.starttime]).toEqual(['U1001', 0n]);
  });

  it('reports an overlap and leaves the mapping as it was', async () => {
    const first = await createMapping({ userId: 'U1001', ipsubnet: '10.0.0.1', starttime: 0, endtime: 50 });
    const second = await createMapping({ userId: 'U2002', ipsubnet: '10.0.0.1', starttime: 51 });
    const result = (
      await graphqlData(
        `mutation($id: Int!) { updateMapping(id: $id, input: { endtime: 60 }) { ${RESULT} ${CONFLICT} } }`,
        { id: first.id },
      )
    ).updateMapping;
    expect(result.__typename).toBe('ConflictError');
    expect(result.conflicts).toEqual([{ id: second.id, ipsubnet: '10.0.0.1', customer: { userId: 'U2002' } }]);
    expect(Number((await prisma.ipMapping.findUniqueOrThrow({ where: { id: first.id } })).endtime)).toBe(50);
  });

  it('ends a mapping at an instant, keeping it in history', async () => {
    const created = await createMapping({ userId: 'U1001', ipsubnet: '10.0.0.1', starttime: 100 });
    const ended = (
      await graphqlData(`mutation($id: Int!) { endMapping(id: $id, at: 150) { ${RESULT} } }`, { id: created.id })
    ).endMapping;
    expect(ended).toMatchObject({ __typename: 'IpMapping', starttime: 100, endtime: 150 });
    const early = (
      await graphqlData(`mutation($id: Int!) { endMapping(id: $id, at: 99) { ${RESULT} ${VALIDATION} } }`, {
        id: created.id,
      })
    ).endMapping;
    expect(early).toMatchObject({ __typename: 'ValidationError', field: 'endtime' });
    const missing = (await graphqlData(`mutation { endMapping(id: 999999, at: 99) { ${RESULT} ${NOT_FOUND} } }`))
      .endMapping;
    expect(missing).toMatchObject({ __typename: 'NotFoundError', entity: 'mapping', key: '999999' });
  });

  it('deletes a mapping and returns it', async () => {
    const created = await createMapping({ userId: 'U1001', ipsubnet: '10.0.0.1', starttime: 100 });
    const deleted = (
      await graphqlData(`mutation($id: Int!) { deleteMapping(id: $id) { ${RESULT} } }`, { id: created.id })
    ).deleteMapping;
    expect(deleted).toMatchObject({
      __typename: 'IpMapping',
      id: created.id,
      ipsubnet: '10.0.0.1',
      customer: { userId: 'U1001' },
    });
    expect(await prisma.ipMapping.count()).toBe(0);
    const again = (
      await graphqlData(`mutation($id: Int!) { deleteMapping(id: $id) { ${RESULT} ${NOT_FOUND} } }`, { id: created.id })
    ).deleteMapping;
    expect(again.__typename).toBe('NotFoundError');
  });
});

describe('reassignMapping', () => {
  const reassign = async (vars: Record<string, unknown>) =>
    (
      await graphqlData(
        `mutation($ipsubnet: IPSubnet!, $to: String!, $at: UnixTime!) { reassignMapping(ipsubnet: $ipsubnet, toUserId: $to, at: $at) { ${RESULT} ${VALIDATION} ${CONFLICT} ${NOT_FOUND} } }`,
        vars,
      )
    ).reassignMapping;

  it('ends the current holder at at-1 and opens the new holder at at', async () => {
    const old = await createMapping({ userId: 'U1001', ipsubnet: '100.64.0.0/24', starttime: 1000 });
    const opened = await reassign({ ipsubnet: '100.64.0.0/24', to: 'U2002', at: 2000 });
    expect(opened).toMatchObject({
      __typename: 'IpMapping',
      starttime: 2000,
      endtime: null,
      customer: { userId: 'U2002' },
    });
    expect(Number((await prisma.ipMapping.findUniqueOrThrow({ where: { id: old.id } })).endtime)).toBe(1999);
    const data = await graphqlData(`{
      a: whoHad(ip: "100.64.0.1", at: 1999) { customer { userId } }
      b: whoHad(ip: "100.64.0.1", at: 2000) { customer { userId } }
    }`);
    expect(data).toEqual({ a: { customer: { userId: 'U1001' } }, b: { customer: { userId: 'U2002' } } });
  });

  it('creates the mapping when nobody holds the subnet', async () => {
    const opened = await reassign({ ipsubnet: '100.64.0.0/24', to: 'U2002', at: 2000 });
    expect(opened).toMatchObject({ __typename: 'IpMapping', customer: { userId: 'U2002' } });
  });

  it('refuses a cutover to the same customer, at the holder’s first second, or to an unknown customer', async () => {
    await createMapping({ userId: 'U1001', ipsubnet: '100.64.0.0/24', starttime: 1000 });
    expect(await reassign({ ipsubnet: '100.64.0.0/24', to: 'U1001', at: 2000 })).toMatchObject({
      __typename: 'ValidationError',
      field: 'toUserId',
    });
    expect(await reassign({ ipsubnet: '100.64.0.0/24', to: 'U2002', at: 1000 })).toMatchObject({
      __typename: 'ValidationError',
      field: 'at',
    });
    expect(await reassign({ ipsubnet: '100.64.0.0/24', to: 'nobody', at: 2000 })).toMatchObject({
      __typename: 'NotFoundError',
    });
    expect(await prisma.ipMapping.count()).toBe(1);
  });

  it('changes nothing when the new mapping would overlap another one', async () => {
    const old = await createMapping({ userId: 'U1001', ipsubnet: '100.64.0.0/24', starttime: 1000 });
    const inner = await createMapping({ userId: 'U1001', ipsubnet: '100.64.1.0/24', starttime: 1000 });
    const result = await reassign({ ipsubnet: '100.64.0.0/23', to: 'U2002', at: 2000 });
    expect(result.__typename).toBe('ConflictError');
    expect(result.conflicts.map((c: { id: number }) => c.id)).toEqual([old.id, inner.id]);
    expect((await prisma.ipMapping.findMany({ orderBy: { id: 'asc' } })).map((m) => m.endtime)).toEqual([null, null]);
  });
});

describe('unexpected failures', () => {
  it('are masked: the caller learns nothing of the cause', async () => {
    const spy = vi
      .spyOn(database, 'read')
      .mockRejectedValueOnce(new Error('could not connect to postgres://admin:secret@db.internal'));
    try {
      const result = await graphql('{ whoHad(ip: "10.0.0.1", at: 5) { id } }');
      expect(result.errors?.map((error) => error.message)).toEqual(['Unexpected error.']);
      expect(JSON.stringify(result)).not.toContain('secret');
    } finally {
      spy.mockRestore();
    }
  });
});

describe('a bad subnet in choose', () => {
  it("names the field it was sent in: choose.ipsubnet, choose.ipsubnetHint, or the input's ipsubnet", async () => {
    await createMapping({ userId: 'U1001', ipsubnet: '10.0.0.1', starttime: 0 });
    await createMapping({ userId: 'U1001', ipsubnet: '10.0.0.2', starttime: 0 });
    const update = (choose: string, input: string) =>
      `updateCustomerMapping(userId: "U1001", choose: ${choose}, input: ${input}) { __typename ${VALIDATION} }`;
    const data = await graphqlData(`mutation {
      network: ${update('{ ipsubnet: "10.0.0.1/40" }', '{ ipsubnet: "10.0.0.9" }')}
      hint: ${update('{ ipsubnetHint: "10.0.0.256" }', '{ ipsubnet: "10.0.0.9" }')}
      input: ${update('{ ipsubnetHint: "10.0.0.1" }', '{ ipsubnet: "10.0.0.1/40" }')}
      deleteNetwork: deleteCustomerMapping(userId: "U1001", choose: { ipsubnet: "10.0.0.1/40" }) { __typename ${VALIDATION} }
      deleteHint: deleteCustomerMapping(userId: "U1001", choose: { ipsubnetHint: "10.0.0.256" }) { __typename ${VALIDATION} }
    }`);
    expect(data).toEqual({
      network: { __typename: 'ValidationError', field: 'choose.ipsubnet', reason: expect.stringMatching(/40/) },
      hint: { __typename: 'ValidationError', field: 'choose.ipsubnetHint', reason: expect.stringMatching(/256/) },
      input: { __typename: 'ValidationError', field: 'ipsubnet', reason: expect.stringMatching(/40/) },
      deleteNetwork: { __typename: 'ValidationError', field: 'choose.ipsubnet', reason: expect.stringMatching(/40/) },
      deleteHint: { __typename: 'ValidationError', field: 'choose.ipsubnetHint', reason: expect.stringMatching(/256/) },
    });
    expect((await prisma.ipMapping.findMany({ orderBy: { id: 'asc' } })).map((m) => m.ipsubnet)).toEqual([
      '10.0.0.1',
      '10.0.0.2',
    ]);
  });

  it("is still the body's ipsubnet on the REST API, which chooses by it", async () => {
    await createMapping({ userId: 'U1001', ipsubnet: '10.0.0.1', starttime: 0 });
    await createMapping({ userId: 'U1001', ipsubnet: '10.0.0.2', starttime: 0 });
    const auth = { api_token: ADMIN_TOKEN, username: 'admin', contextname: 'default' };
    const refused = { status: 422, body: { status: 'Error', message: expect.stringMatching(/^ipsubnet: .*40/) } };
    expect(
      await rest('PUT', '/api/ipdrcustomers_mapping/U1001', { ...auth, ipsubnet: '10.0.0.1/40', starttime: '5' }),
    ).toMatchObject(refused);
    expect(
      await rest('DELETE', '/api/ipdrcustomers_mapping/U1001', { ...auth, ipsubnet: '10.0.0.1/40' }),
    ).toMatchObject(refused);
    expect(await prisma.ipMapping.count()).toBe(2);
  });
});

describe('a write overlapping more mappings than an answer lists', () => {
  const HELD = 1500;

  beforeEach(async () => {
    await holdManyAddresses('U2002', '10.5', HELD);
  });

  it(`loads only the first ${MAX_LISTED_MAPPINGS} of them, and counts them all`, async () => {
    const tenant = await prisma.context.findUniqueOrThrow({ where: { name: 'default' } });
    const held = (await prisma.ipMapping.findMany({ orderBy: { id: 'asc' }, select: { id: true } })).map((m) => m.id);
    const attempt = storeCreateMapping(db, tenant, { name: 'admin', channel: 'graphql' }, 'U1001', {
      subnet: parseIpSubnet('10.5.0.0/16'),
      period: checkTimeRange({ start: 5, end: null }),
      terminalId: null,
    });
    const error = await attempt.then(
      () => expect.unreachable('the write overlaps'),
      (failure: unknown) => failure,
    );
    expect(error).toBeInstanceOf(ConflictError);
    const conflict = error as ConflictError;
    expect(conflict.conflicts.map((m) => m.id)).toEqual(held.slice(0, MAX_LISTED_MAPPINGS));
    expect(conflict.conflictCount).toBe(HELD);
    expect(conflict.message).toMatch(/^overlaps 10\.5\.0\.0 \[0, ongoing\] \(mapping \d+\), 10\.5\.0\.1 /);
    expect(conflict.message).toMatch(/10\.5\.0\.9 \[0, ongoing\] \(mapping \d+\) and 1490 more$/);
  });

  it('answers the first of them, as many as asked, with how many there are', async () => {
    const held = (await prisma.ipMapping.findMany({ orderBy: { id: 'asc' }, select: { id: true } })).map((m) => m.id);
    const result = (
      await graphqlData(`mutation { createMapping(input: { userId: "U1001", ipsubnet: "10.5.0.0/16", starttime: 5 }) {
        __typename ... on ConflictError { message conflictCount few: conflicts { id } most: conflicts(first: 1000) { id } }
      } }`)
    ).createMapping;
    expect(result.__typename).toBe('ConflictError');
    expect(result.conflictCount).toBe(HELD);
    expect(result.few.map((m: { id: number }) => m.id)).toEqual(held.slice(0, 100));
    expect(result.most.map((m: { id: number }) => m.id)).toEqual(held.slice(0, 1000));
    expect(result.message).toMatch(/ and 1490 more$/);
    expect(await prisma.ipMapping.count()).toBe(HELD);
  });

  it('names every one when there are few', async () => {
    const result = (
      await graphqlData(`mutation { createMapping(input: { userId: "U1001", ipsubnet: "10.5.0.0/30", starttime: 5 }) {
        __typename ... on ConflictError { message conflictCount conflicts { ipsubnet } }
      } }`)
    ).createMapping;
    expect(result).toMatchObject({
      __typename: 'ConflictError',
      conflictCount: 4,
      conflicts: ['10.5.0.0', '10.5.0.1', '10.5.0.2', '10.5.0.3'].map((ipsubnet) => ({ ipsubnet })),
    });
    expect(result.message).not.toMatch(/more/);
    expect(result.message.match(/\(mapping \d+\)/g)).toHaveLength(4);
  });
});

describe('a customer holding more mappings than an answer lists', () => {
  const HELD = 1500;
  let held: number[];

  // The SQL of every statement sent while `run` runs that reads mapping rows (not a count).
  async function mappingReads(run: () => Promise<unknown>): Promise<string[]> {
    const reads: string[] = [];
    const listen = (event: { query: string }) => {
      if (/FROM "public"\."ipdr_customers_mapping"/.test(event.query) && !/COUNT\(/i.test(event.query))
        reads.push(event.query);
    };
    listeners.add(listen);
    try {
      await run();
    } finally {
      listeners.delete(listen);
    }
    return reads;
  }

  beforeEach(async () => {
    await holdManyAddresses('U1001', '10.6', HELD);
    held = (await prisma.ipMapping.findMany({ orderBy: { id: 'asc' }, select: { id: true } })).map((m) => m.id);
  });

  const AMBIGUOUS = `__typename ... on AmbiguousMappingError { message candidateCount candidates { id } most: candidates(first: 1000) { id } }`;

  it('names the first 10 candidates and counts the rest, in the message and the typed list', async () => {
    for (const [mutation, choose] of [
      ['updateCustomerMapping(userId: "U1001", input: { terminalId: "T" })', 'none'],
      ['deleteCustomerMapping(userId: "U1001")', 'none'],
      ['deleteCustomerMapping(userId: "U1001", choose: { id: 999999 })', 'id'],
      ['deleteCustomerMapping(userId: "U1001", choose: { ipsubnet: "10.7.0.0" })', 'ipsubnet'],
    ] as const) {
      let result: any;
      const reads = await mappingReads(async () => {
        result = Object.values(await graphqlData(`mutation { ${mutation} { ${AMBIGUOUS} } }`))[0];
      });
      expect(result.__typename).toBe('AmbiguousMappingError');
      expect(result.candidateCount).toBe(HELD);
      expect(result.candidates.map((m: { id: number }) => m.id)).toEqual(held.slice(0, 100));
      expect(result.most.map((m: { id: number }) => m.id)).toEqual(held.slice(0, MAX_LISTED_MAPPINGS));
      const ids = held.slice(0, 10).join(', ');
      expect(result.message).toBe(
        choose === 'none'
          ? `customer U1001 has ${HELD} mappings (ids ${ids} and 1490 more); name one with "id" or "ipsubnet"`
          : `customer U1001 has no mapping with ${choose === 'id' ? 'id 999999' : 'ipsubnet 10.7.0.0'} (its mappings: ids ${ids} and 1490 more); name one with "id" or "ipsubnet"`,
      );
      // Every read of mapping rows is bounded by what the error can list.
      expect(reads.length).toBeGreaterThan(0);
      for (const read of reads) expect(read).toMatch(/\bLIMIT\b/);
    }
    expect(await prisma.ipMapping.count()).toBe(HELD);
  });

  it('reads only the mapping it names when one is named', async () => {
    const target = held[700]!;
    let result: any;
    const reads = await mappingReads(async () => {
      result = (
        await graphqlData(
          `mutation { updateCustomerMapping(userId: "U1001", choose: { ipsubnet: "10.6.2.188" }, input: { terminalId: "T" }) { __typename ... on IpMapping { id terminalId } } }`,
        )
      ).updateCustomerMapping;
    });
    expect(result).toEqual({ __typename: 'IpMapping', id: target, terminalId: 'T' });
    for (const read of reads) expect(read).toMatch(/\bLIMIT\b|"id" = \$/);
    const deleted = (
      await graphqlData(
        `mutation { deleteCustomerMapping(userId: "U1001", choose: { id: ${target} }) { __typename ... on IpMapping { id } } }`,
      )
    ).deleteCustomerMapping;
    expect(deleted).toEqual({ __typename: 'IpMapping', id: target });
    expect(await prisma.ipMapping.count()).toBe(HELD - 1);
  });
});
