import { beforeEach, describe, expect, it } from 'vitest';
import { prisma } from '../setup/app.js';
import { parseIpSubnet } from '../../src/domain/ip.js';
import { holdingsConflict } from '../../src/domain/mapping.js';
import { createCustomer, createMapping, graphql, resetData } from '../helpers.js';

// The non-overlap rule lives in the database (an EXCLUDE constraint); these go through the API
// and run on PGlite and, with TEST_DATABASE_URL, on PostgreSQL.

beforeEach(async () => {
  await resetData();
  await createCustomer('A');
  await createCustomer('B');
});

/** Sends one createMapping and returns the type of its result. */
async function createMappingKind(input: Record<string, unknown>): Promise<string> {
  const result = await graphql(
    `
      mutation ($input: MappingInput!) {
        createMapping(input: $input) {
          __typename
        }
      }
    `,
    { input },
  );
  if (!result.data) throw new Error(JSON.stringify(result.errors));
  return result.data.createMapping.__typename;
}

async function expectConflict(input: Parameters<typeof createMapping>[0], conflictingIds: number[]) {
  const result = await createMapping(input);
  expect(result.__typename).toBe('ConflictError');
  expect(result.conflicts.map((c: { id: number }) => c.id)).toEqual(conflictingIds);
}

describe('non-overlap constraint', () => {
  it.each([
    ['an equal subnet', '10.0.0.0/16'],
    ['a subnet inside', '10.0.5.0/24'],
    ['a single address inside', '10.0.200.1'],
    ['a supernet', '10.0.0.0/8'],
    ['the same network written with host bits', '10.0.77.1/16'],
    ['the IPv4-mapped IPv6 form', '::ffff:10.0.1.0/120'],
  ])('rejects %s during the same period', async (_case, ipsubnet) => {
    const held = await createMapping({ userId: 'A', ipsubnet: '10.0.0.0/16', starttime: 100, endtime: 200 });
    await expectConflict({ userId: 'B', ipsubnet, starttime: 150, endtime: 160 }, [held.id]);
  });

  it('accepts a period starting the second after the last one ends', async () => {
    await createMapping({ userId: 'A', ipsubnet: '10.0.0.0/16', starttime: 100, endtime: 200 });
    const next = await createMapping({ userId: 'B', ipsubnet: '10.0.0.0/16', starttime: 201 });
    expect(next.__typename).toBe('IpMapping');
    const before = await createMapping({ userId: 'B', ipsubnet: '10.0.0.0/24', starttime: 0, endtime: 99 });
    expect(before.__typename).toBe('IpMapping');
  });

  it('rejects periods that touch at one second (both ends are inclusive)', async () => {
    const held = await createMapping({ userId: 'A', ipsubnet: '10.0.0.0/16', starttime: 100, endtime: 200 });
    await expectConflict({ userId: 'B', ipsubnet: '10.0.0.1', starttime: 200, endtime: 300 }, [held.id]);
    await expectConflict({ userId: 'B', ipsubnet: '10.0.0.1', starttime: 0, endtime: 100 }, [held.id]);
  });

  it('treats an ongoing mapping as held forever', async () => {
    const held = await createMapping({ userId: 'A', ipsubnet: '10.0.0.0/16', starttime: 100 });
    await expectConflict({ userId: 'B', ipsubnet: '10.0.9.9', starttime: 253402300799 }, [held.id]);
    const earlier = await createMapping({ userId: 'B', ipsubnet: '10.0.9.9', starttime: 0, endtime: 99 });
    expect(earlier.__typename).toBe('IpMapping');
  });

  it('applies to IPv6 subnets and keeps the families apart', async () => {
    const held = await createMapping({ userId: 'A', ipsubnet: '2001:db8:abcd::/48', starttime: 0 });
    await expectConflict({ userId: 'B', ipsubnet: '2001:db8:abcd:12::/64', starttime: 5 }, [held.id]);
    await expectConflict({ userId: 'B', ipsubnet: '2001:db8::/32', starttime: 5 }, [held.id]);
    await expectConflict({ userId: 'B', ipsubnet: '2001:DB8:ABCD:0:0:0:0:1', starttime: 5 }, [held.id]);
    const beside = await createMapping({ userId: 'B', ipsubnet: '2001:db8:abce::/48', starttime: 5 });
    expect(beside.__typename).toBe('IpMapping');
    const v4 = await createMapping({ userId: 'B', ipsubnet: '0.0.0.0/0', starttime: 5 });
    expect(v4.__typename).toBe('IpMapping');
  });

  // The constraint compares IPv6 addresses in three slices of bits (0-52, 53-104, 105-127; see
  // the box_exclusion migration): neighbours differing in a bit near a slice edge must pass, and
  // blocks nested across an edge must clash.
  it.each([
    ['2001:db8:0:800::/53', '2001:db8:0:0::/53', '2001:db8::/52'],
    ['2001:db8:0:400::/54', '2001:db8:0:0::/54', '2001:db8::/53'],
    ['2001:db8::80:0/105', '2001:db8::/105', '2001:db8::/104'],
    ['2001:db8::100:0/104', '2001:db8::/104', '2001:db8::/103'],
    ['2001:db8::1/128', '2001:db8::/128', '2001:db8::/127'],
  ])('tells %s and %s apart, and both clash with %s', async (held, beside, around) => {
    const first = await createMapping({ userId: 'A', ipsubnet: held, starttime: 0 });
    expect((await createMapping({ userId: 'B', ipsubnet: beside, starttime: 0 })).__typename).toBe('IpMapping');
    const result = await createMapping({ userId: 'B', ipsubnet: around, starttime: 0 });
    expect(result.__typename).toBe('ConflictError');
    expect(result.conflicts.map((c: { id: number }) => c.id)).toContain(first.id);
  });

  it('names every mapping the new one overlaps', async () => {
    const first = await createMapping({ userId: 'A', ipsubnet: '10.0.1.0/24', starttime: 0, endtime: 10 });
    const second = await createMapping({ userId: 'A', ipsubnet: '10.0.2.0/24', starttime: 5, endtime: 20 });
    await createMapping({ userId: 'A', ipsubnet: '10.0.3.0/24', starttime: 50 });
    const result = await createMapping({ userId: 'B', ipsubnet: '10.0.0.0/16', starttime: 8, endtime: 30 });
    expect(result.__typename).toBe('ConflictError');
    expect(result.conflicts.map((c: { id: number }) => c.id)).toEqual([first.id, second.id]);
    expect(result.message).toContain('10.0.1.0/24 [0, 10]');
  });

  it('holds in the database itself, whatever the application does', async () => {
    const customer = await prisma.customer.findFirstOrThrow({ where: { userId: 'A' } });
    const row = {
      contextId: customer.contextId,
      customerId: customer.id,
      userId: customer.userId,
      ipsubnet: '10.9.0.0/16',
      network: '10.9.0.0/16',
      ipFirst: '40a090000',
      ipLast: '40a09ffff',
      starttime: 0n,
    };
    await prisma.ipMapping.create({ data: row });
    await expect(prisma.ipMapping.create({ data: { ...row, network: '10.9.8.0/24' } })).rejects.toThrow(
      /exclusion constraint/,
    );
    // Host bits in the network column, an end before the start and negative times are refused too.
    await expect(prisma.ipMapping.create({ data: { ...row, network: '10.8.0.1/16' } })).rejects.toThrow();
    await expect(
      prisma.ipMapping.create({ data: { ...row, network: '10.7.0.0/16', starttime: 5n, endtime: 4n } }),
    ).rejects.toThrow();
    await expect(
      prisma.ipMapping.create({ data: { ...row, network: '10.6.0.0/16', starttime: -1n } }),
    ).rejects.toThrow();
    expect(await prisma.ipMapping.count()).toBe(1);
  });

  it('never stores two overlapping mappings from 51 concurrent writers', async () => {
    // Fifty disjoint /24s inside 10.20.0.0/16, racing a writer of the /16 itself.
    const inputs = Array.from({ length: 50 }, (_, i) => ({
      userId: i % 2 ? 'A' : 'B',
      ipsubnet: `10.20.${i}.0/24`,
      starttime: 1000 + i,
      endtime: 5000,
    }));
    inputs.push({ userId: 'A', ipsubnet: '10.20.0.0/16', starttime: 0, endtime: 9000 });
    const kinds = await Promise.all(inputs.map(createMappingKind));
    const rows = await prisma.ipMapping.findMany({ orderBy: { id: 'asc' } });
    expect(rows.length).toBe(kinds.filter((kind) => kind === 'IpMapping').length);
    expect(kinds.filter((kind) => kind !== 'IpMapping').every((kind) => kind === 'ConflictError')).toBe(true);
    // Whoever won, no two stored mappings share an address at any instant.
    const holdings = rows.map((row) => ({
      subnet: parseIpSubnet(row.ipsubnet),
      period: { start: Number(row.starttime), end: row.endtime === null ? null : Number(row.endtime) },
    }));
    for (const [i, a] of holdings.entries()) {
      for (const b of holdings.slice(i + 1)) expect(holdingsConflict(a, b)).toBe(false);
    }
  });

  it('lets exactly one of 50 concurrent writers of the same subnet win', async () => {
    const kinds = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        createMappingKind({ userId: i % 2 ? 'A' : 'B', ipsubnet: '172.16.0.0/12', starttime: 1000 + i }),
      ),
    );
    expect(kinds.filter((kind) => kind === 'IpMapping')).toHaveLength(1);
    expect(kinds.filter((kind) => kind === 'ConflictError')).toHaveLength(49);
    expect(await prisma.ipMapping.count()).toBe(1);
  });
});
