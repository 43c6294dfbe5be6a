import { copyFileSync, mkdtempSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminInProcess } from '../admin-command.js';
import { createCustomer, createMapping, graphql, resetData } from '../helpers.js';
import { prisma } from '../setup/app.js';

// `ipdr-admin nat import` in this process, on this file's database, through the function the CLI's
// entry calls. The fixture mixes the forms a file holds: syslog daemon lines in the traditional and
// the high-precision format, a message kept with its PRI, Juniper's brief and structured lines,
// Cisco CGN records, a repeated line, an unparsable one, another message and an empty line.

const FIXTURE = 'test/fixtures/nat/cgnat-20261101.log';
const T0 = 1793512800; // Sun Nov  1 06:00:00 2026 UTC, the fixture's first line
const PUBLIC = '203.0.113.100';

const dir = mkdtempSync(join(tmpdir(), 'ipdr-nat-import-'));
const file = join(dir, 'cgnat-20261101.log');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeAll(async () => {
  await resetData();
  // Its times carry no year: it is the one nearest the file's last change (here, the next day).
  copyFileSync(FIXTURE, file);
  utimesSync(file, T0 + 86_400, T0 + 86_400);
  for (const [userId, address] of [
    ['sub-10', '100.64.0.10'],
    ['sub-11', '100.64.0.11'],
    ['sub-12', '100.64.0.12'],
  ] as const) {
    await createCustomer(userId);
    expect(await createMapping({ userId, ipsubnet: address, starttime: 0 })).toMatchObject({ __typename: 'IpMapping' });
  }
});

async function customerBehind(port: number, at: number) {
  const response = await graphql(
    `{ whoHad(ip: "${PUBLIC}", port: ${port}, at: ${at}) { customer { userId } nat { portFirst portLast } } }`,
  );
  expect(response.errors).toBeUndefined();
  return response.data?.whoHad?.customer?.userId ?? null;
}

describe('ipdr-admin nat import', () => {
  it('imports a file of port-block lines and says what became of each', async () => {
    const result = await adminInProcess('nat', 'import', file, '--context', 'default');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const lines = result.stdout.split('\n');
    expect(lines.slice(0, 10)).toEqual([
      '10 lines read',
      'port-block lines applied: 6',
      'duplicates (applied before): 1',
      'stale (older than what is known of their block): 0',
      'unmatched (a release or interim of a block nothing is known of): 0',
      'conflicts (a mapping or rule held the address then): 0',
      'ignored (other messages, empty lines): 2',
      'unparsable (kept for review): 1',
      expect.stringMatching(/^ {2}line 7: .*100\.64\.0\.300/),
      expect.stringMatching(/^binding changes written: \d+$/),
    ]);

    // Brief line timed by its header; structured by epoch-time-64; Cisco's by its header.
    expect(await customerBehind(1100, T0 - 1)).toBeNull();
    expect(await customerBehind(1100, T0)).toBe('sub-10');
    expect(await customerBehind(1100, T0 + 3600)).toBe('sub-10');
    expect(await customerBehind(1100, T0 + 3601)).toBeNull();
    expect(await customerBehind(1535, T0 + 29)).toBeNull();
    expect(await customerBehind(1535, T0 + 30)).toBe('sub-11');
    expect(await customerBehind(3071, T0 + 120)).toBe('sub-12');
    expect(await customerBehind(3071, T0 + 5401)).toBeNull();

    const bindings = await prisma.natPortBlock.findMany({ orderBy: { portFirst: 'asc' } });
    expect(bindings.map((binding) => [binding.portFirst, binding.source, binding.device])).toEqual([
      [1024, 'FILE', 'cgnat-20261101.log'],
      [1280, 'FILE', 'cgnat-20261101.log'],
      [2048, 'FILE', 'cgnat-20261101.log'],
    ]);
    expect(bindings[0]!.rawLine).toMatch(
      /^Nov {2}1 06:00:00 cgnat-1 RT_NAT: RT_SRC_NAT_PBA_ALLOC: Subscriber 100\.64\.0\.10 /,
    );
    const kept = await prisma.natUnparsableLine.findMany();
    expect(kept).toHaveLength(1);
    expect(kept[0]).toMatchObject({ source: 'FILE', device: 'cgnat-20261101.log' });
    expect(kept[0]!.line).toContain('100.64.0.300');
    expect(kept[0]!.reason).toMatch(/^line 7: /);
    const audit = await prisma.auditEvent.findMany({ where: { entityType: 'natBinding' } });
    expect(audit.length).toBeGreaterThanOrEqual(3);
    expect(audit.every((event) => event.channel === 'nat' && event.actor.startsWith('cli:'))).toBe(true);
  });

  it('writes nothing new when the same file is imported again', async () => {
    const before = await prisma.natPortBlock.findMany({ orderBy: { id: 'asc' } });
    const result = await adminInProcess('nat', 'import', file, '--context', 'default');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('port-block lines applied: 0\n');
    expect(result.stdout).toContain('duplicates (applied before): 7\n');
    expect(result.stdout).toContain('binding changes written: 0\n');
    expect(await prisma.natPortBlock.findMany({ orderBy: { id: 'asc' } })).toEqual(before);
  });

  it('refuses an unknown context, a missing file and a bad zone, each by name', async () => {
    const context = await adminInProcess('nat', 'import', file, '--context', 'nowhere');
    expect(context.code).toBe(1);
    expect(context.stderr).toMatch(/context "?nowhere"? not found/);
    const missing = await adminInProcess('nat', 'import', join(dir, 'absent.log'), '--context', 'default');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/FILE: .*absent\.log cannot be read \(ENOENT\)/);
    const zone = await adminInProcess('nat', 'import', file, '--context', 'default', '--timezone', 'Mars/Olympus');
    expect(zone.code).not.toBe(0);
    expect(zone.stderr).toMatch(/--timezone.*IANA time zone/);
  });
});
