import { db } from './setup/app.js';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { exportCsv, importCsv } from '../src/csv/cli.js';
import { prisma } from './setup/app.js';
import { createContext } from '../src/access/store.js';
import { lookupColumns, whoHadSql } from '../src/lookups/store.js';
import { resetData } from './helpers.js';
import { checkContextName } from '../src/domain/names.js';

const dir = mkdtempSync(join(tmpdir(), 'ipdr-csv-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, lines: string[]) {
  const path = join(dir, name);
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

const HEADER = 'Subnet/IP,Cust Name,Address,Email,Phone No ,Alt Phone No,User/Cust ID,Valid From,Valid To,Terminal ID';
const sample = () =>
  file('sample.csv', [
    HEADER,
    '"192.168.1.25/16,10.0.0.1",Trisul,Chennai,demo@gmail.com,1234567890,9999999999,B68t19,01-08-2024 00:00:00,31-12-2024 23:59:59,aa:bb:cc:dd:ee:ff',
    '2001:db8::/56,Other,India,,,,X1,01-01-2025,,',
    '10.0.0.0/8,Clash,,,,,X2,,,',
    'bad-ip,Broken,,,,,X3,,,',
  ]);

beforeEach(() => resetData());

describe('CSV import', () => {
  it('imports what it can, and says which rows it skipped and why', async () => {
    const summary = await importCsv(db, sample(), 'default', false);
    expect(summary).toEqual({
      rowsRead: 4,
      customersCreated: 2,
      customersUpdated: 0,
      customersUnchanged: 0,
      mappingsCreated: 3,
      duplicatesSkipped: 0,
      rowsSkipped: [
        {
          line: 4,
          reason: expect.stringMatching(
            /^10\.0\.0\.0\/8 overlaps mapping \d+ \(10\.0\.0\.1 of UserID B68t19, 1722470400 to 1735689599\)$/,
          ),
        },
        { line: 5, reason: expect.stringMatching(/^Subnet\/IP: "bad-ip" is not an IPv4 address/) },
      ],
    });
    // A skipped row leaves nothing behind, not even its customer.
    expect((await prisma.customer.findMany({ orderBy: { id: 'asc' } })).map((c) => c.userId)).toEqual(['B68t19', 'X1']);
    // Every created row is in exactly one creation event: its own or a run's (entityId..entityIdLast).
    const trail = await prisma.auditEvent.findMany();
    expect(new Set(trail.map((e) => [e.channel, e.actor.startsWith('cli:'), e.action].join()))).toEqual(
      new Set(['cli,true,create']),
    );
    const covering = (entityType: string, id: number) =>
      trail.filter((e) => e.entityType === entityType && e.entityId <= id && (e.entityIdLast ?? e.entityId) >= id);
    for (const customer of await prisma.customer.findMany()) expect(covering('customer', customer.id)).toHaveLength(1);
    for (const mapping of await prisma.ipMapping.findMany()) expect(covering('mapping', mapping.id)).toHaveLength(1);
    expect(trail.reduce((n, e) => n + (e.entityIdLast ?? e.entityId) - e.entityId + 1, 0)).toBe(5);
  });

  it('merges: a second import skips exact duplicates and updates changed customers', async () => {
    await importCsv(db, sample(), 'default', false);
    const again = await importCsv(db, sample(), 'default', false);
    expect(again).toMatchObject({
      customersCreated: 0,
      customersUpdated: 0,
      customersUnchanged: 2,
      mappingsCreated: 0,
      duplicatesSkipped: 3,
    });
    const changed = file('changed.csv', [HEADER, '"192.168.1.25/16,10.0.0.1",Trisul,Mumbai,,,,B68t19,01-01-2025,,']);
    expect(await importCsv(db, changed, 'default', false)).toMatchObject({ customersUpdated: 1, mappingsCreated: 2 });
    expect((await prisma.customer.findFirstOrThrow({ where: { userId: 'B68t19' } })).address).toBe('Mumbai');
    expect(await prisma.ipMapping.count()).toBe(5);
  });

  it('skips a row repeated within the file as a duplicate', async () => {
    const twice = file('twice.csv', [HEADER, '10.0.0.1,A,,,,,U1,,,', '10.0.0.1,A,,,,,U1,,,']);
    expect(await importCsv(db, twice, 'default', false)).toMatchObject({
      customersCreated: 1,
      mappingsCreated: 1,
      duplicatesSkipped: 1,
      rowsSkipped: [],
    });
  });

  it('skips exactly the rows that overlap, wherever they are in a file of several batches', async () => {
    // 12,000 rows (three batches): each its own address; a few claim an address another row or a
    // stored mapping holds at the same time, one at each batch edge.
    await importCsv(db, file('held.csv', [HEADER, '172.16.0.0/24,Held,,,,,H1,,,']), 'default', false);
    const rows = Array.from({ length: 12_000 }, (_, i) => `10.${i >> 8}.${i & 255}.1,C${i},,,,,U${i},,,`);
    const clashes = { 5000: '10.0.7.1', 5001: '172.16.0.9', 9999: '10.0.0.0/16', 11_999: '10.0.7.1' };
    for (const [index, ip] of Object.entries(clashes)) rows[Number(index)] = `${ip},Late,,,,,L${index},,,`;
    const summary = await importCsv(db, file('many.csv', [HEADER, ...rows]), 'default', false);
    expect(summary.rowsSkipped.map((skipped) => skipped.line)).toEqual([5002, 5003, 10_001, 12_001]);
    expect(summary.rowsSkipped[0]!.reason).toMatch(/^10\.0\.7\.1 overlaps mapping \d+ \(10\.0\.7\.1 of UserID U7,/);
    expect(summary).toMatchObject({ rowsRead: 12_000, customersCreated: 11_996, mappingsCreated: 11_996 });
    expect(await prisma.customer.count({ where: { userId: { startsWith: 'L' } } })).toBe(0);
    expect(await prisma.ipMapping.count()).toBe(11_997);
  });

  it('keeps every batch after one that overlaps, and skips repeats within a batch and across batches', async () => {
    // Three batches of 5,000 rows, all sent before the first has ended: the first has an overlap,
    // so the two after it are sent again; exact repeats of an earlier row, in its own batch or a
    // later one, are duplicates.
    const rows = Array.from({ length: 15_000 }, (_, i) => `10.${i >> 8}.${i & 255}.1,C${i},,,,,U${i},,,`);
    rows[10] = '10.0.3.1,Late,,,,,L10,,,';
    rows[20] = rows[19]!;
    rows[7000] = rows[30]!;
    rows[14_999] = rows[6000]!;
    const summary = await importCsv(db, file('repeats.csv', [HEADER, ...rows]), 'default', false);
    expect(summary.rowsSkipped.map((skipped) => skipped.line)).toEqual([12]);
    expect(summary).toMatchObject({
      rowsRead: 15_000,
      customersCreated: 14_996,
      mappingsCreated: 14_996,
      duplicatesSkipped: 3,
    });
    expect(await prisma.ipMapping.count()).toBe(14_996);
    expect(await prisma.customer.count()).toBe(14_996);
  });

  it('counts each customer of the file once, however many batches its rows fall in', async () => {
    await importCsv(db, file('stored.csv', [HEADER, '172.16.0.1,Stored,,,,,S1,,,']), 'default', false);
    // U0 and S1 have rows in the first and the second batch (5,000 rows each); S1's second row
    // changes its name, so it ends up updated rather than unchanged.
    const rows = Array.from({ length: 5000 }, (_, i) => `10.${i >> 8}.${i & 255}.1,C${i},,,,,U${i},,,`);
    rows[1] = '172.16.0.1,Stored,,,,,S1,,,';
    rows.push('10.200.0.1,C0,,,,,U0,,,', '172.16.0.2,Renamed,,,,,S1,,,');
    const summary = await importCsv(db, file('straddling.csv', [HEADER, ...rows]), 'default', false);
    expect(summary).toMatchObject({
      rowsRead: 5002,
      customersCreated: 4999,
      customersUpdated: 1,
      customersUnchanged: 0,
      mappingsCreated: 5001,
      duplicatesSkipped: 1,
    });
  });

  it('audits imported changes as the API does: the stored row before and after', async () => {
    await importCsv(db, file('one.csv', [HEADER, '10.0.0.1,First,,,,,U1,01-01-2025,,T1']), 'default', false);
    const created = await prisma.customer.findFirstOrThrow({ where: { userId: 'U1' } });
    const mapping = await prisma.ipMapping.findFirstOrThrow();
    await importCsv(db, file('two.csv', [HEADER, '10.0.0.1,Renamed,,,,,U1,01-01-2025,,T1']), 'default', false);
    const updated = await prisma.customer.findFirstOrThrow({ where: { userId: 'U1' } });
    const image = (row: object) => JSON.parse(JSON.stringify(row, (_k, v) => (typeof v === 'bigint' ? Number(v) : v)));
    const trail = await prisma.auditEvent.findMany({ orderBy: { id: 'asc' } });
    // Creations are runs of ids without images: a record's image at creation is the before-image
    // of its first later event (here the update), or the record as stored.
    expect(
      trail.map((event) => [
        event.action,
        event.entityType,
        event.entityId,
        event.entityIdLast,
        event.before,
        event.after,
      ]),
    ).toEqual([
      ['create', 'customer', created.id, created.id, null, null],
      ['create', 'mapping', mapping.id, mapping.id, null, null],
      ['update', 'customer', created.id, null, image(created), image(updated)],
    ]);
  });

  it('leaves the loaded tables vacuumed and analysed, so lookups scan only indexes', async () => {
    await importCsv(db, sample(), 'default', false);
    const [mappings] = await prisma.$queryRawUnsafe<{ reltuples: number; relallvisible: number }[]>(
      "SELECT reltuples::float8 AS reltuples, relallvisible FROM pg_class WHERE relname = 'ipdr_customers_mapping'",
    );
    expect(mappings!.reltuples).toBe(3);
    expect(mappings!.relallvisible).toBeGreaterThan(0);
    // What a report asks: the mapping's id and end, and its customer's UserID.
    const statement = whoHadSql(lookupColumns({ mapping: new Set(['id', 'endtime']), customer: new Set(['userId']) }));
    // Three rows are cheaper to read whole; the plan for a large table is what is checked.
    const plan = await prisma.$transaction(async (tx) => {
      await tx.$executeRawUnsafe('SET LOCAL enable_seqscan = off');
      return tx.$queryRawUnsafe<{ 'QUERY PLAN': string }[]>(
        `EXPLAIN ${statement}`,
        1,
        ['10.0.0.1'],
        ['1730000000'],
        null,
      );
    });
    const planText = plan.map((line) => line['QUERY PLAN']).join('\n');
    expect(planText).toContain('Index Only Scan Backward using ipdr_customers_mapping_lookup_idx');
    // The UserID is in the lookup index too: no customer is probed.
    expect(planText).not.toMatch(/on ipdr_customers c\b/);
  });

  it('reads the older 7-column layout', async () => {
    const legacy = file('legacy.csv', [
      'Subnet/IP,Cust Name,Address,Email,Phone No ,Alt Phone No,User/Cust ID',
      '172.27.19.224,Legacy,Addr,l@x.com,1,2,L1',
    ]);
    expect(await importCsv(db, legacy, 'default', false)).toMatchObject({ customersCreated: 1, mappingsCreated: 1 });
    const mapping = await prisma.ipMapping.findFirstOrThrow();
    expect([mapping.starttime, mapping.endtime, mapping.terminalId]).toEqual([0n, null, null]);
  });

  it('writes nothing on a dry run, but counts the same', async () => {
    const dry = await importCsv(db, sample(), 'default', true);
    expect(dry).toMatchObject({ customersCreated: 2, mappingsCreated: 3 });
    expect(await prisma.customer.count()).toBe(0);
    expect(await prisma.auditEvent.count()).toBe(0);
  });

  it('writes nothing when the file turns out to be broken part way', async () => {
    const broken = file('broken.csv', [HEADER, '10.0.0.1,Fine,,,,,U1,,,', '10.0.0.2,"Unclosed,,,,,U2,,,']);
    await expect(importCsv(db, broken, 'default', false)).rejects.toThrow(/quote/i);
    expect(await prisma.customer.count()).toBe(0);
  });

  it('refuses an unknown context', async () => {
    await expect(importCsv(db, sample(), 'nowhere', false)).rejects.toThrow('context nowhere not found');
  });
});

describe('CSV export', () => {
  it('round-trips: a context exported and imported into an empty one exports the same', async () => {
    await importCsv(db, sample(), 'default', false);
    await importCsv(
      db,
      file('more.csv', [HEADER, ',No IPs,,,,,N1,,,', '10.9.0.0/16,Later,,,,,X1,01-01-2026,02-01-2026 10:00:00,T9']),
      'default',
      false,
    );
    const first = join(dir, 'first.csv');
    await exportCsv(db, 'default', first);
    await createContext(db, checkContextName(`copy${Date.now()}`));
    const copy = (await prisma.context.findFirstOrThrow({ where: { name: { startsWith: 'copy' } } })).name;
    const imported = await importCsv(db, first, copy, false);
    expect(imported.rowsSkipped).toEqual([]);
    const second = join(dir, 'second.csv');
    await exportCsv(db, copy, second);
    expect(readFileSync(second, 'utf8')).toBe(readFileSync(first, 'utf8'));
    expect(readFileSync(first, 'utf8').split('\n').slice(0, 2)).toEqual([
      'Subnet/IP,Cust Name,Address,Email,Phone No,Alt Phone No,User/Cust ID,Valid From,Valid To,Terminal ID',
      '"192.168.1.25/16,10.0.0.1",Trisul,Chennai,demo@gmail.com,1234567890,9999999999,B68t19,01-08-2024 00:00:00,31-12-2024 23:59:59,aa:bb:cc:dd:ee:ff',
    ]);
  });
});
