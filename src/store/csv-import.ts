import type { Actor } from '../context.js';
import { isExclusionViolation } from '../db/errors.js';
import { prisma } from '../db.js';
import { addressKey } from '../domain/ip.js';
import type { CsvRecord } from '../domain/trisul-csv.js';
import type { Tenant } from '../tenant-access.js';
import { recordAudit } from './audit.js';
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

const customerFields = ['name', 'address', 'email', 'phoneNumber', 'altPhoneNumber'] as const;

/**
 * Applies one row: its customer upserted by UserID, its mappings added (exact duplicates
 * skipped). A row that would overlap another mapping changes nothing: it is rolled back to its
 * savepoint and reported.
 */
async function importRow(tx: Transaction, tenant: Tenant, actor: Actor, row: ImportRow, summary: ImportSummary) {
  const { customer: fields, mappings } = row.record;
  await tx.$executeRawUnsafe('SAVEPOINT csv_row');
  const counts = { created: 0, updated: 0, unchanged: 0, mappings: 0, duplicates: 0 };
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
      counts.created++;
    } else if (customerFields.some((field) => existing[field] !== fields[field])) {
      customer = await tx.customer.update({ where: { id: existing.id }, data: fields });
      await recordAudit(tx, tenant, actor, {
        action: 'update',
        entityType: 'customer',
        entityId: existing.id,
        before: existing,
        after: customer,
      });
      counts.updated++;
    } else {
      counts.unchanged++;
    }
    for (const mapping of mappings) {
      const keys = { ipFirst: addressKey(mapping.subnet.first), ipLast: addressKey(mapping.subnet.last) };
      const period = { starttime: BigInt(mapping.start), endtime: mapping.end === null ? null : BigInt(mapping.end) };
      const duplicate = await tx.ipMapping.findFirst({
        where: { customerId: customer!.id, ...keys, ...period },
        select: { id: true },
      });
      if (duplicate) {
        counts.duplicates++;
        continue;
      }
      const created = await tx.ipMapping.create({
        data: {
          contextId: tenant.id,
          customerId: customer!.id,
          ipsubnet: mapping.subnet.input,
          network: mapping.subnet.network,
          ...keys,
          ...period,
          terminalId: mapping.terminalId,
        },
      });
      await recordAudit(tx, tenant, actor, {
        action: 'create',
        entityType: 'mapping',
        entityId: created.id,
        before: null,
        after: { ...created, userId: fields.userId },
      });
      counts.mappings++;
    }
    await tx.$executeRawUnsafe('RELEASE SAVEPOINT csv_row');
  } catch (error) {
    if (!isExclusionViolation(error)) throw error;
    await tx.$executeRawUnsafe('ROLLBACK TO SAVEPOINT csv_row');
    summary.rowsSkipped.push({ line: row.line, reason: await describeOverlap(tx, tenant, row.record) });
    return;
  }
  summary.customersCreated += counts.created;
  summary.customersUpdated += counts.updated;
  summary.customersUnchanged += counts.unchanged;
  summary.mappingsCreated += counts.mappings;
  summary.duplicatesSkipped += counts.duplicates;
}

async function describeOverlap(tx: Transaction, tenant: Tenant, record: CsvRecord): Promise<string> {
  for (const mapping of record.mappings) {
    const overlapping = await tx.ipMapping.findFirst({
      where: {
        contextId: tenant.id,
        ipFirst: { lte: addressKey(mapping.subnet.last) },
        ipLast: { gte: addressKey(mapping.subnet.first) },
        ...(mapping.end === null ? {} : { starttime: { lte: BigInt(mapping.end) } }),
        OR: [{ endtime: null }, { endtime: { gte: BigInt(mapping.start) } }],
      },
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
        for await (const row of rows) {
          summary.rowsRead++;
          if ('error' in row) summary.rowsSkipped.push({ line: row.line, reason: row.error });
          else await importRow(tx, tenant, actor, row, summary);
        }
        if (options.dryRun) throw new DryRun();
      },
      { timeout: 24 * 60 * 60 * 1000, maxWait: 60_000 },
    );
  } catch (error) {
    if (!(error instanceof DryRun)) throw error;
  }
  return summary;
}
