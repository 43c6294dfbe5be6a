import { beforeEach, describe, expect, it } from 'vitest';
import { parseIpAddress } from '../../src/domain/ip.js';
import type { PortBlockEvent, PortBlockEventKind } from '../../src/domain/nat-binding.js';
import { type PortBlockRecord, applyPortBlocks } from '../../src/nat/store.js';
import { createCustomer, createMapping, resetData } from '../helpers.js';
import { db, prisma } from '../setup/app.js';

let tenant: { id: number; name: string };

beforeEach(async () => {
  await resetData();
  tenant = await prisma.context.findUniqueOrThrow({ where: { name: 'default' }, select: { id: true, name: true } });
});

function record(
  kind: PortBlockEventKind,
  at: number,
  { address = '203.0.113.100', ports = [1024, 1279] as const, inside = '100.64.0.10' } = {},
): PortBlockRecord {
  const event: PortBlockEvent = {
    kind,
    at,
    publicAddress: parseIpAddress(address),
    portFirst: ports[0],
    portLast: ports[1],
    insideAddress: parseIpAddress(inside),
  };
  return {
    event,
    source: 'SYSLOG',
    device: '192.0.2.7',
    rawLine: `${kind} ${address} ${ports[0]}-${ports[1]} ${inside} @${at}`,
  };
}

async function apply(records: PortBlockRecord[], unparsable: { line: string; reason: string }[] = []) {
  const [result] = await applyPortBlocks(db, [
    {
      tenant,
      insideTenant: tenant,
      records,
      unparsable: unparsable.map((one) => ({
        ...one,
        source: 'SYSLOG',
        device: '192.0.2.7',
        receivedAt: 1_700_000_000,
      })),
    },
  ]);
  return result!;
}

const bindingsNow = () =>
  prisma.natPortBlock.findMany({
    orderBy: { id: 'asc' },
    select: {
      id: true,
      publicAddress: true,
      portFirst: true,
      portLast: true,
      insideAddress: true,
      starttime: true,
      endtime: true,
      endKind: true,
      releasedAt: true,
      lastSeen: true,
      source: true,
      device: true,
      rawLine: true,
    },
  });

describe('applyPortBlocks', () => {
  it('opens a binding on ALLOC, confirms it on INTERIM and ends it on RELEASE, each line once', async () => {
    const alloc = record('ALLOC', 1000);
    expect((await apply([alloc])).outcomes).toEqual(['applied']);
    expect((await apply([alloc, record('INTERIM', 1300), record('INTERIM', 1300)])).outcomes).toEqual([
      'duplicate',
      'applied',
      'duplicate',
    ]);
    expect((await apply([record('RELEASE', 1600), record('RELEASE', 1600)])).outcomes).toEqual([
      'applied',
      'duplicate',
    ]);
    expect(await bindingsNow()).toEqual([
      {
        id: 1,
        publicAddress: '203.0.113.100',
        portFirst: 1024,
        portLast: 1279,
        insideAddress: '100.64.0.10',
        starttime: 1000n,
        endtime: 1600n,
        endKind: 'RELEASED',
        releasedAt: 1600n,
        lastSeen: 1300n,
        source: 'SYSLOG',
        device: '192.0.2.7',
        rawLine: alloc.rawLine,
      },
    ]);
    const audit = await prisma.auditEvent.findMany({ orderBy: { id: 'asc' } });
    expect(audit.map((event) => [event.action, event.entityType, event.entityId, event.channel])).toEqual([
      ['create', 'natBinding', 1, 'nat'],
      ['update', 'natBinding', 1, 'nat'],
      ['update', 'natBinding', 1, 'nat'],
    ]);
    expect(audit[2]!.before).toMatchObject({ endtime: null, lastSeen: 1300 });
    expect(audit[2]!.after).toMatchObject({ endtime: 1600, endKind: 'RELEASED', publicAddress: '203.0.113.100' });
  });

  it('ends a binding whose RELEASE was lost when its block is allocated again', async () => {
    await apply([record('ALLOC', 1000)]);
    await apply([record('ALLOC', 2000, { inside: '100.64.0.11' })]);
    expect((await bindingsNow()).map((row) => [row.insideAddress, row.starttime, row.endtime, row.endKind])).toEqual([
      ['100.64.0.10', 1000n, 1999n, 'SUPERSEDED'],
      ['100.64.0.11', 2000n, null, null],
    ]);
  });

  it('answers conflict for a block of an address a customer holds then, and applies the rest', async () => {
    await createCustomer('static');
    await createMapping({ userId: 'static', ipsubnet: '203.0.113.0/28', starttime: 0, endtime: 5000 });
    const result = await apply([
      record('ALLOC', 1000, { address: '203.0.113.100' }),
      record('ALLOC', 1000, { address: '203.0.113.5' }),
      record('ALLOC', 6000, { address: '203.0.113.5' }),
    ]);
    expect(result.outcomes).toEqual(['applied', 'conflict', 'applied']);
    expect((await bindingsNow()).map((row) => [row.publicAddress, row.starttime])).toEqual([
      ['203.0.113.100', 1000n],
      ['203.0.113.5', 6000n],
    ]);
  });

  it('keeps the lines it could not read', async () => {
    const result = await apply([], [{ line: 'RT_SRC_NAT_PBA_ALLOC: garbage\0', reason: 'no Subscriber' }]);
    expect(result.unparsableKept).toBe(1);
    expect(
      await prisma.natUnparsableLine.findMany({ select: { line: true, reason: true, device: true, contextId: true } }),
    ).toEqual([
      {
        line: 'RT_SRC_NAT_PBA_ALLOC: garbage\uFFFD',
        reason: 'no Subscriber',
        device: '192.0.2.7',
        contextId: tenant.id,
      },
    ]);
  });
});
