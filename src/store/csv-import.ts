import type { Actor } from '../context.js';
import { isExclusionViolation } from '../db/errors.js';
import { prisma } from '../db.js';
import type { CsvCustomer, CsvMapping, CsvRecord } from '../domain/trisul-csv.js';
import type { Customer } from '../generated/prisma/client.js';
import type { Tenant } from '../tenant-access.js';
import { recordAudit, recordAudits } from './audit.js';
import { addressKeys, overlappingWhere, periodColumns, subnetColumns } from './mapping-filters.js';
import type { Transaction } from './transaction.js';

export interface ImportRow {
  line: number;
  record: CsvRecord;
}

export interface ImportSummary {
  rowsRead: number;
  customersCreated: number;
  customersUpdated: number;
  customersUnchanged: number;
  mappingsCreated: number;
  duplicatesSkipped: number;
  rowsSkipped: { line: number; reason: string }[];
}

export const emptySummary = (): ImportSummary => ({
  rowsRead: 0,
  customersCreated: 0,
  customersUpdated: 0,
  customersUnchanged: 0,
  mappingsCreated: 0,
  duplicatesSkipped: 0,
  rowsSkipped: [],
});

class DryRun extends Error {}

type Counts = Omit<ImportSummary, 'rowsRead' | 'rowsSkipped'>;

const noCounts = (): Counts => ({
  customersCreated: 0,
  customersUpdated: 0,
  customersUnchanged: 0,
  mappingsCreated: 0,
  duplicatesSkipped: 0,
});

function addCounts(summary: ImportSummary, counts: Counts) {
  summary.customersCreated += counts.customersCreated;
  summary.customersUpdated += counts.customersUpdated;
  summary.customersUnchanged += counts.customersUnchanged;
  summary.mappingsCreated += counts.mappingsCreated;
  summary.duplicatesSkipped += counts.duplicatesSkipped;
}

const customerFields = ['name', 'address', 'email', 'phoneNumber', 'altPhoneNumber'] as const;

const customerChanged = (stored: Customer, fields: CsvCustomer) =>
  customerFields.some((field) => stored[field] !== fields[field]);

function mappingData(tenant: Tenant, customerId: number, mapping: CsvMapping) {
  return {
    contextId: tenant.id,
    customerId,
    ...subnetColumns(mapping.subnet),
    ...periodColumns({ start: mapping.start, end: mapping.end }),
    terminalId: mapping.terminalId,
  };
}

/**
 * Applies one row: its customer upserted by UserID, its mappings added (exact duplicates
 * skipped). A row that would overlap another mapping changes nothing: it is rolled back to its
 * savepoint and reported.
 */
async function importRow(tx: Transaction, tenant: Tenant, actor: Actor, row: ImportRow, summary: ImportSummary) {
  const { customer: fields, mappings } = row.record;
  await tx.$executeRawUnsafe('SAVEPOINT csv_row');
  const counts = noCounts();
  try {
    const existing = await tx.customer.findUnique({
      where: { contextId_userId: { contextId: tenant.id, userId: fields.userId } },
    });
    let customer = existing;
    if (!existing) {
      customer = await tx.customer.create({ data: { ...fields, contextId: tenant.id } });
      await recordAudit(tx, tenant, actor, {
        action: 'create',
        entityType: 'customer',
        entityId: customer.id,
        before: null,
        after: customer,
      });
      counts.customersCreated++;
    } else if (customerChanged(existing, fields)) {
      customer = await tx.customer.update({ where: { id: existing.id }, data: fields });
      await recordAudit(tx, tenant, actor, {
        action: 'update',
        entityType: 'customer',
        entityId: existing.id,
        before: existing,
        after: customer,
      });
      counts.customersUpdated++;
    } else {
      counts.customersUnchanged++;
    }
    for (const mapping of mappings) {
      const data = mappingData(tenant, customer!.id, mapping);
      const { ipFirst, ipLast, starttime, endtime } = data;
      const duplicate = await tx.ipMapping.findFirst({
        where: { customerId: customer!.id, ipFirst, ipLast, starttime, endtime },
        select: { id: true },
      });
      if (duplicate) {
        counts.duplicatesSkipped++;
        continue;
      }
      const created = await tx.ipMapping.create({ data });
      await recordAudit(tx, tenant, actor, {
        action: 'create',
        entityType: 'mapping',
        entityId: created.id,
        before: null,
        after: { ...created, userId: fields.userId },
      });
      counts.mappingsCreated++;
    }
    await tx.$executeRawUnsafe('RELEASE SAVEPOINT csv_row');
  } catch (error) {
    if (!isExclusionViolation(error)) throw error;
    await tx.$executeRawUnsafe('ROLLBACK TO SAVEPOINT csv_row');
    summary.rowsSkipped.push({ line: row.line, reason: await describeOverlap(tx, tenant, row.record) });
    return;
  }
  addCounts(summary, counts);
}

const BATCH_ROWS = 500;

/**
 * Applies a batch of rows with a handful of statements. When any of its mappings would overlap
 * another one the batch is rolled back and applied row by row, so that only the offending rows
 * are skipped.
 */
async function importBatch(tx: Transaction, tenant: Tenant, actor: Actor, rows: ImportRow[], summary: ImportSummary) {
  await tx.$executeRawUnsafe('SAVEPOINT csv_batch');
  try {
    const counts = await importBatchAtOnce(tx, tenant, actor, rows);
    await tx.$executeRawUnsafe('RELEASE SAVEPOINT csv_batch');
    addCounts(summary, counts);
  } catch (error) {
    if (!isExclusionViolation(error)) throw error;
    await tx.$executeRawUnsafe('ROLLBACK TO SAVEPOINT csv_batch');
    for (const row of rows) await importRow(tx, tenant, actor, row, summary);
  }
}

// Exact duplicates of stored mappings, among the candidates (1-based positions).
const DUPLICATES_SQL = `
SELECT q.i::int AS i FROM unnest($1::int[], $2::text[], $3::text[], $4::int8[], $5::int8[]) WITH ORDINALITY AS q(customer, first, last, s, e, i)
WHERE EXISTS (SELECT 1 FROM ipdr_customers_mapping m WHERE m.ipdr_customer_id = q.customer
  AND m.ip_first = q.first AND m.ip_last = q.last AND m.starttime = q.s AND m.endtime IS NOT DISTINCT FROM q.e)`;

async function importBatchAtOnce(tx: Transaction, tenant: Tenant, actor: Actor, rows: ImportRow[]) {
  const counts = noCounts();
  // A customer may have several rows (one per period); its last row's fields are what it ends with.
  const wanted = new Map(rows.map((row) => [row.record.customer.userId, row.record.customer]));
  const existing = await tx.customer.findMany({ where: { contextId: tenant.id, userId: { in: [...wanted.keys()] } } });
  const byUserId = new Map(existing.map((customer) => [customer.userId, customer]));
  const audit: Parameters<typeof recordAudits>[3] = [];
  const created = await tx.customer.createManyAndReturn({
    data: [...wanted.values()].filter((c) => !byUserId.has(c.userId)).map((c) => ({ ...c, contextId: tenant.id })),
  });
  for (const customer of created) {
    byUserId.set(customer.userId, customer);
    audit.push({ action: 'create', entityType: 'customer', entityId: customer.id, before: null, after: customer });
  }
  counts.customersCreated = created.length;
  for (const before of existing) {
    const fields = wanted.get(before.userId)!;
    if (!customerChanged(before, fields)) {
      counts.customersUnchanged++;
      continue;
    }
    const after = await tx.customer.update({ where: { id: before.id }, data: fields });
    byUserId.set(after.userId, after);
    audit.push({ action: 'update', entityType: 'customer', entityId: after.id, before, after });
    counts.customersUpdated++;
  }

  const seen = new Set<string>();
  const candidates = rows.flatMap((row) =>
    row.record.mappings.map((mapping) => mappingData(tenant, byUserId.get(row.record.customer.userId)!.id, mapping)),
  );
  const stored = new Set(
    candidates.length === 0
      ? []
      : (
          await tx.$queryRawUnsafe<{ i: number }[]>(
            DUPLICATES_SQL,
            candidates.map((c) => c.customerId),
            candidates.map((c) => c.ipFirst),
            candidates.map((c) => c.ipLast),
            candidates.map((c) => String(c.starttime)),
            candidates.map((c) => (c.endtime === null ? null : String(c.endtime))),
          )
        ).map((row) => row.i - 1),
  );
  const fresh = candidates.filter((c, i) => {
    const key = JSON.stringify([c.customerId, c.ipFirst, c.ipLast, String(c.starttime), String(c.endtime)]);
    const duplicate = stored.has(i) || seen.has(key);
    seen.add(key);
    if (duplicate) counts.duplicatesSkipped++;
    return !duplicate;
  });
  const mappings = await tx.ipMapping.createManyAndReturn({ data: fresh });
  const userIds = new Map([...byUserId.values()].map((c) => [c.id, c.userId]));
  for (const mapping of mappings) {
    audit.push({
      action: 'create',
      entityType: 'mapping',
      entityId: mapping.id,
      before: null,
      after: { ...mapping, userId: userIds.get(mapping.customerId) },
    });
  }
  counts.mappingsCreated = mappings.length;
  await recordAudits(tx, tenant, actor, audit);
  return counts;
}

async function describeOverlap(tx: Transaction, tenant: Tenant, record: CsvRecord): Promise<string> {
  for (const mapping of record.mappings) {
    const overlapping = await tx.ipMapping.findFirst({
      where: overlappingWhere(tenant.id, addressKeys(mapping.subnet), { start: mapping.start, end: mapping.end }),
      include: { customer: true },
    });
    if (overlapping) {
      return `${mapping.subnet.input} overlaps mapping ${overlapping.id} (${overlapping.ipsubnet} of UserID ${overlapping.customer.userId}, ${overlapping.starttime} to ${overlapping.endtime ?? 'ongoing'})`;
    }
  }
  return 'overlaps another mapping';
}

/**
 * Imports rows in one transaction: all of the file or, on an unexpected failure, none of it.
 * Rows come from a stream and are applied as they arrive; with `dryRun` everything is rolled
 * back at the end and the summary says what would have happened.
 */
export async function importRows(
  tenant: Tenant,
  actor: Actor,
  rows: AsyncIterable<ImportRow | { line: number; error: string }>,
  options: { dryRun: boolean },
): Promise<ImportSummary> {
  const summary = emptySummary();
  try {
    await prisma.$transaction(
      async (tx) => {
        let batch: ImportRow[] = [];
        for await (const row of rows) {
          summary.rowsRead++;
          if ('error' in row) summary.rowsSkipped.push({ line: row.line, reason: row.error });
          else batch.push(row);
          if (batch.length === BATCH_ROWS) {
            await importBatch(tx, tenant, actor, batch, summary);
            batch = [];
          }
        }
        if (batch.length > 0) await importBatch(tx, tenant, actor, batch, summary);
        if (options.dryRun) throw new DryRun();
      },
      { timeout: 24 * 60 * 60 * 1000, maxWait: 60_000 },
    );
  } catch (error) {
    if (!(error instanceof DryRun)) throw error;
  }
  summary.rowsSkipped.sort((a, b) => a.line - b.line);
  return summary;
}
