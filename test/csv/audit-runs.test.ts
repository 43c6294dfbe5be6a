import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { importCsv } from '../../src/csv/cli.js';
import { graphqlData, resetData } from '../helpers.js';
import { db, prisma } from '../setup/app.js';

const dir = mkdtempSync(join(tmpdir(), 'ipdr-csv-runs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeEach(() => resetData());

const EVENTS = `query($type: String, $id: Int) { auditEvents(entityType: $type, entityId: $id) {
  totalCount edges { node { actor channel action entityType entityId entityIdLast before after } } } }`;
const events = async (type: string, id: number) =>
  (await graphqlData(EVENTS, { type, id })).auditEvents.edges.map((edge: any) => edge.node);

describe('CSV import audit: runs of created rows', () => {
  it("finds each imported row's creation by its id, and its later changes after it", async () => {
    // 7,000 rows, two batches, one bad row in the first (its batch is split, leaving id gaps).
    const rows = Array.from({ length: 7000 }, (_, i) => `10.${i >> 8}.${i & 255}.1,C${i},,,,,U${i},,,`);
    rows[1234] = '10.0.0.0/16,Late,,,,,L1,,,';
    const path = join(dir, 'runs.csv');
    writeFileSync(path, `Subnet/IP,Cust Name,Address,Email,Phone No,Alt Phone No,User/Cust ID\n${rows.join('\n')}\n`);
    const summary = await importCsv(db, path, 'default', false);
    expect(summary).toMatchObject({ customersCreated: 6999, mappingsCreated: 6999 });
    // Far fewer than one a row: the split batch is applied as a few dozen statements, a run or two each.
    expect(await prisma.auditEvent.count()).toBeLessThan(100);

    const mappings = await prisma.ipMapping.findMany({ orderBy: { id: 'asc' } });
    for (const mapping of [mappings[0]!, mappings[1233]!, mappings[1234]!, mappings.at(-1)!]) {
      const [created, ...rest] = await events('mapping', mapping.id);
      expect(rest).toEqual([]);
      expect(created).toMatchObject({ action: 'create', channel: 'cli', before: null, after: null });
      expect(created.entityId).toBeLessThanOrEqual(mapping.id);
      expect(created.entityIdLast).toBeGreaterThanOrEqual(mapping.id);
    }

    // A later change keeps the image at creation as its before-image.
    const customer = await prisma.customer.findFirstOrThrow({ where: { userId: 'U5' } });
    await graphqlData('mutation { patchCustomer(userId: "U5", input: { name: "Renamed" }) { __typename } }');
    const trail = await events('customer', customer.id);
    expect(trail.map((e: any) => e.action)).toEqual(['create', 'update']);
    expect(trail[1].before).toMatchObject({ id: customer.id, userId: 'U5', name: 'C5', source: 'CSV' });
  });
});
