import type { Actor } from '../access/types.js';
import type { Db } from '../db/handle.js';
import type { TransactionSession } from '../db/connection.js';
import { isExclusionViolation } from '../db/errors.js';
import type { CsvCustomer, CsvRecord } from '../domain/trisul-csv.js';
import type { Tenant } from '../access/types.js';
import { customerImageSql } from '../audit/store.js';
import { auditEvents, columnList, customers, mappings } from '../db/columns.js';
import { plainArrayLiteral, textArrayLiteral } from '../db/array-literal.js';
import { periodColumns, subnetColumns } from '../mappings/filters.js';
import { findOverlappingMappings } from '../mappings/overlaps.js';

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

const emptySummary = (): ImportSummary => ({
  rowsRead: 0,
  customersCreated: 0,
  customersUpdated: 0,
  customersUnchanged: 0,
  mappingsCreated: 0,
  duplicatesSkipped: 0,
  rowsSkipped: [],
});

class DryRun extends Error {}

// Rows are applied in batches, each by one set-based statement: the per-row cost is the
// database's own (index and constraint upkeep), not a round trip. While one batch's statement
// runs, the next one's waits in the session's queue, sent the moment the first ends: the
// database does not wait for this process to read an answer and send the next.
const BATCH_ROWS = 5000;
const BATCHES_IN_FLIGHT = 2;

// Both statements find stored rows by per-row index probes (LATERAL … LIMIT 1): a join the
// planner is free to hash would read the whole table once per batch, and a long import would
// slow down as it grows.

const c = customers.columns;
const m = mappings.columns;
const e = auditEvents.columns;

// Created records are audited by one event per run of consecutive ids (see the
// audit_entity_ranges migration): an image per record cost as much as writing the record.
// `id - row_number()` is the same along a run of consecutive ids; another writer's id between
// two of ours starts a new run.
const createdRunsSql = (step: number, entityType: 'customer' | 'mapping', created: string) => `
    SELECT ${step} AS step, '${entityType}' AS entity_type, 'create' AS action, min(id) AS entity_id, max(id) AS entity_id_last,
      NULL::jsonb AS before, NULL::jsonb AS after
    FROM (SELECT id, id - row_number() OVER (ORDER BY id) AS run FROM ${created}) numbered
    GROUP BY run`;

// The customer columns a row sets, in the order of the statement's arrays ($4-$9).
const CUSTOMER_FIELDS = ['userId', 'name', 'address', 'email', 'phoneNumber', 'altPhoneNumber'] as const;
const customerFields = columnList(customers, CUSTOMER_FIELDS);
// The columns an unchanged row would change (what the upsert compares), in the `c` and `excluded` rows.
const CHANGED_FIELDS = CUSTOMER_FIELDS.slice(1);
const changedIn = (row: string) => columnList(customers, CHANGED_FIELDS, row);

// The mapping columns a row sets, in the order of the statement's arrays ($10-$17); the
// customer's id is the statement's own.
const MAPPING_FIELDS = [
  'userId',
  'ipsubnet',
  'network',
  'ipFirst',
  'ipLast',
  'starttime',
  'endtime',
  'terminalId',
] as const;
const mappingFields = columnList(mappings, MAPPING_FIELDS);

/**
 * One statement applies a batch ($1-$3: the context and the actor): it upserts the batch's
 * customers by UserID (one row each, the file's last), adds the batch's mappings to the
 * customers' ids, skipping exact duplicates of stored mappings (only a customer stored before
 * the batch can have one: probing for the others was a quarter of the statement's time), and
 * audits what it wrote by one INSERT, so the events' order is fixed: the customers created (by
 * runs), those updated (with their images), then the mappings created (by runs).
 * It returns each customer's outcome, and one last row (no UserID) with the mapping counts.
 * Its parameters do not depend on an earlier batch's answer, so the next batch's statement is
 * sent as soon as this one ends, while this process reads the answer.
 */
const APPLY_BATCH_SQL = `
WITH input AS (
  SELECT * FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[]) WITH ORDINALITY
    AS i(${customerFields}, ord)
), stored AS (
  SELECT s.* FROM input i
  CROSS JOIN LATERAL (SELECT * FROM ${customers.table} c WHERE c.${c.contextId} = $1 AND c.${c.userId} = i.${c.userId} LIMIT 1) s
), written AS (
  INSERT INTO ${customers.table} AS c (${c.contextId}, ${customerFields}, ${c.source}, ${c.updatedAt})
  SELECT $1, ${customerFields}, 'CSV', now() FROM input ORDER BY ord
  ON CONFLICT (${c.contextId}, ${c.userId}) DO UPDATE SET
    ${CHANGED_FIELDS.map((field) => `${c[field]} = excluded.${c[field]}`).join(', ')}, ${c.updatedAt} = excluded.${c.updatedAt}
  WHERE (${changedIn('c')}) IS DISTINCT FROM (${changedIn('excluded')})
  RETURNING c.*
), changes AS (
  SELECT w.*, s.${c.id} IS NULL AS created, CASE WHEN s.${c.id} IS NULL THEN NULL ELSE ${customerImageSql('s')} END AS before
  FROM written w LEFT JOIN stored s ON s.${c.id} = w.${c.id}
), batch_customers AS (
  SELECT ${c.userId}, ${c.id}, CASE WHEN created THEN 'created' ELSE 'updated' END AS outcome FROM changes
  UNION ALL
  SELECT ${c.userId}, ${c.id}, 'unchanged' FROM stored WHERE ${c.id} NOT IN (SELECT ${c.id} FROM changes)
), customer_of AS (
  -- Each UserID's id and whether this batch created it, found by key below: a join of the two
  -- inputs was planned as a nested loop over both (their sizes are unknown to the planner).
  SELECT jsonb_object_agg(${c.userId}, jsonb_build_array(${c.id}, outcome = 'created')) AS by_user_id FROM batch_customers
), mapping_input AS (
  SELECT * FROM unnest($10::text[], $11::text[], $12::inet[], $13::text[], $14::text[], $15::int8[], $16::int8[], $17::text[])
    WITH ORDINALITY AS i(${mappingFields}, ord)
), fresh AS (
  SELECT i.*, b.customer_id FROM mapping_input i
  CROSS JOIN LATERAL (
    SELECT ((SELECT by_user_id FROM customer_of) -> i.${m.userId}) AS customer
  ) found
  CROSS JOIN LATERAL (SELECT (customer ->> 0)::int AS customer_id, (customer ->> 1)::bool AS customer_created) b
  LEFT JOIN LATERAL (
    SELECT true AS stored FROM ${mappings.table} m
    WHERE NOT b.customer_created AND m.${m.customerId} = b.customer_id AND m.${m.ipFirst} = i.${m.ipFirst} AND m.${m.ipLast} = i.${m.ipLast}
      AND m.${m.starttime} = i.${m.starttime} AND m.${m.endtime} IS NOT DISTINCT FROM i.${m.endtime}
    LIMIT 1
  ) duplicate ON true
  WHERE duplicate.stored IS NULL
), mappings_written AS (
  INSERT INTO ${mappings.table} (${m.contextId}, ${m.customerId}, ${mappingFields}, ${m.source}, ${m.updatedAt})
  SELECT $1, customer_id, ${mappingFields}, 'CSV', now() FROM fresh ORDER BY ord
  RETURNING ${m.id}
), audited AS (
  INSERT INTO ${auditEvents.table} (${columnList(auditEvents, ['contextId', 'actor', 'channel', 'action', 'entityType', 'entityId', 'entityIdLast', 'before', 'after'])})
  SELECT $1, $2, $3, action, entity_type, entity_id, entity_id_last, before, after FROM (
    ${createdRunsSql(1, 'customer', `(SELECT ${c.id} AS id FROM changes WHERE created) created`)}
    UNION ALL
    SELECT 2, 'customer', 'update', ${c.id}, NULL, before, ${customerImageSql('changes')} FROM changes WHERE NOT created
    UNION ALL
    ${createdRunsSql(3, 'mapping', 'mappings_written')}
  ) event ORDER BY step, entity_id
)
SELECT ${c.userId} AS "userId", outcome, NULL::int AS created FROM batch_customers
UNION ALL
SELECT NULL, NULL, (SELECT count(*) FROM mappings_written)::int`;

type CustomerOutcome = 'created' | 'updated' | 'unchanged';

interface BatchResult {
  customers: { userId: string; outcome: CustomerOutcome }[];
  mappingsCreated: number;
  duplicatesSkipped: number;
}

/** What an import has done so far; each customer of the file counts once. */
interface ImportProgress {
  summary: ImportSummary;
  customers: Map<string, CustomerOutcome>;
}

const outcomeCount = {
  created: 'customersCreated',
  updated: 'customersUpdated',
  unchanged: 'customersUnchanged',
} as const satisfies Record<CustomerOutcome, keyof ImportSummary>;

// A customer whose rows fall in several batches is counted once: created if this import created
// it, otherwise updated if any of its rows changed it, otherwise unchanged.
function addBatch({ summary, customers }: ImportProgress, batch: BatchResult) {
  for (const { userId, outcome } of batch.customers) {
    const earlier = customers.get(userId);
    if (earlier !== undefined && !(earlier === 'unchanged' && outcome === 'updated')) continue;
    if (earlier !== undefined) summary[outcomeCount[earlier]]--;
    summary[outcomeCount[outcome]]++;
    customers.set(userId, outcome);
  }
  summary.mappingsCreated += batch.mappingsCreated;
  summary.duplicatesSkipped += batch.duplicatesSkipped;
}

/**
 * A batch's statement parameters ($4-$17, as array literals), made while the database still
 * applies the previous batch. A customer's row is its file's last in the batch, placed where
 * that row is; a mapping that repeats an earlier one of the batch exactly (same customer, subnet
 * and period) is left out here and counted as a duplicate.
 */
interface PreparedBatch {
  rows: ImportRow[];
  params: string[];
  mappingsSent: number;
  duplicatesInBatch: number;
}

type MappingColumns = { userId: string } & ReturnType<typeof subnetColumns> &
  ReturnType<typeof periodColumns> & { terminalId: string | null };

function prepareBatch(rows: ImportRow[]): PreparedBatch {
  const lastOfCustomer = new Map<string, CsvCustomer>();
  for (const { record } of rows) {
    lastOfCustomer.delete(record.customer.userId);
    lastOfCustomer.set(record.customer.userId, record.customer);
  }
  const batchCustomers = [...lastOfCustomer.values()];
  const seen = new Set<string>();
  const batchMappings: MappingColumns[] = [];
  for (const { record } of rows) {
    for (const mapping of record.mappings) {
      const columns = {
        userId: record.customer.userId,
        ...subnetColumns(mapping.subnet),
        ...periodColumns({ start: mapping.start, end: mapping.end }),
        terminalId: mapping.terminalId,
      };
      const identity = `${columns.userId}\0${columns.ipFirst}\0${columns.ipLast}\0${columns.starttime}\0${columns.endtime}`;
      if (seen.has(identity)) continue;
      seen.add(identity);
      batchMappings.push(columns);
    }
  }
  const customerColumn = (column: (customer: CsvCustomer) => string | null) =>
    textArrayLiteral(batchCustomers.map(column));
  const mappingColumn = (column: (mapping: MappingColumns) => string | null) =>
    textArrayLiteral(batchMappings.map(column));
  return {
    rows,
    params: [
      customerColumn((c) => c.userId),
      customerColumn((c) => c.name),
      customerColumn((c) => c.address),
      customerColumn((c) => c.email),
      customerColumn((c) => c.phoneNumber),
      customerColumn((c) => c.altPhoneNumber),
      mappingColumn((m) => m.userId),
      mappingColumn((m) => m.ipsubnet),
      plainArrayLiteral(batchMappings.map((m) => m.network)),
      mappingColumn((m) => m.ipFirst),
      mappingColumn((m) => m.ipLast),
      plainArrayLiteral(batchMappings.map((m) => m.starttime)),
      plainArrayLiteral(batchMappings.map((m) => m.endtime)),
      mappingColumn((m) => m.terminalId),
    ],
    mappingsSent: batchMappings.length,
    duplicatesInBatch: rows.reduce((count, { record }) => count + record.mappings.length, 0) - batchMappings.length,
  };
}

/** Applies one batch by its statement; an overlap anywhere fails it (an exclusion violation). */
async function applyBatch(
  tx: TransactionSession,
  tenant: Tenant,
  actor: Actor,
  batch: PreparedBatch,
): Promise<BatchResult> {
  const rows = await tx.query<{ userId: string | null; outcome: CustomerOutcome | null; created: number | null }>(
    APPLY_BATCH_SQL,
    [tenant.id, actor.name, actor.channel, ...batch.params],
  );
  const created = rows.at(-1)!.created!;
  return {
    customers: rows.slice(0, -1) as BatchResult['customers'],
    mappingsCreated: created,
    duplicatesSkipped: batch.duplicatesInBatch + batch.mappingsSent - created,
  };
}

/**
 * Applies rows in file order, all or nothing per row, inside a savepoint of their own. When some
 * mapping would overlap another, the rows are rolled back to it and applied as two halves, down
 * to the single rows at fault, which are skipped and reported: a few bad rows cost a few extra
 * statements each.
 */
async function importBatch(
  tx: TransactionSession,
  tenant: Tenant,
  actor: Actor,
  batch: PreparedBatch,
  progress: ImportProgress,
) {
  await tx.exec('SAVEPOINT csv_rows');
  try {
    addBatch(progress, await applyBatch(tx, tenant, actor, batch));
    await tx.exec('RELEASE SAVEPOINT csv_rows');
    return;
  } catch (error) {
    if (!isExclusionViolation(error)) throw error;
    await tx.exec('ROLLBACK TO SAVEPOINT csv_rows; RELEASE SAVEPOINT csv_rows');
  }
  await bisect(tx, tenant, actor, batch.rows, progress);
}

async function bisect(
  tx: TransactionSession,
  tenant: Tenant,
  actor: Actor,
  rows: ImportRow[],
  progress: ImportProgress,
) {
  if (rows.length === 1) {
    const reason = await describeOverlap(tx, tenant, rows[0]!.record);
    progress.summary.rowsSkipped.push({ line: rows[0]!.line, reason });
    return;
  }
  const half = Math.ceil(rows.length / 2);
  await importBatch(tx, tenant, actor, prepareBatch(rows.slice(0, half)), progress);
  await importBatch(tx, tenant, actor, prepareBatch(rows.slice(half)), progress);
}

type BatchOutcome = { sent: true; result: BatchResult } | { sent: true; error: unknown } | { sent: false };

/**
 * Sends batches one after another, each the moment the one before has ended, with no wait for
 * the caller to read that one's answer: while one batch runs, the next is already prepared and
 * queued. Each runs after a savepoint (the previous batch's end releases it and opens the next,
 * in one round trip). A batch that fails stops the queue: the batches after it are not sent;
 * `settleOldest` rolls back to the savepoint, applies the failed batch's rows by halves (when the
 * failure is an overlap) and sends the others again.
 */
function batchQueue(tx: TransactionSession, tenant: Tenant, actor: Actor, progress: ImportProgress) {
  const queued: { batch: PreparedBatch; outcome: Promise<BatchOutcome> }[] = [];
  let last: Promise<unknown> = tx.exec('SAVEPOINT csv_batch');
  let stopped = false;
  const send = (batch: PreparedBatch) => {
    const outcome = last.then(async (): Promise<BatchOutcome> => {
      if (stopped) return { sent: false };
      try {
        const result = await applyBatch(tx, tenant, actor, batch);
        await tx.exec('RELEASE SAVEPOINT csv_batch; SAVEPOINT csv_batch');
        return { sent: true, result };
      } catch (error) {
        stopped = true;
        return { sent: true, error };
      }
    });
    last = outcome;
    queued.push({ batch, outcome });
  };
  const settleOldest = async () => {
    const { batch, outcome } = queued.shift()!;
    const settled = await outcome;
    if (settled.sent && 'result' in settled) return addBatch(progress, settled.result);
    const after = queued.splice(0);
    await Promise.all(after.map((entry) => entry.outcome));
    if (!settled.sent || !isExclusionViolation(settled.error))
      throw settled.sent ? settled.error : new Error('batch not sent');
    await tx.exec('ROLLBACK TO SAVEPOINT csv_batch');
    await bisect(tx, tenant, actor, batch.rows, progress);
    // What the halves applied is kept from here on: the next failure rolls back to after it.
    await tx.exec('RELEASE SAVEPOINT csv_batch; SAVEPOINT csv_batch');
    stopped = false;
    for (const entry of after) send(entry.batch);
  };
  return {
    /** Queues the batch, once fewer than BATCHES_IN_FLIGHT are waiting or running. */
    async add(batch: PreparedBatch) {
      while (queued.length >= BATCHES_IN_FLIGHT) await settleOldest();
      send(batch);
    },
    async finish() {
      while (queued.length > 0) await settleOldest();
      await last;
    },
  };
}

// Inside the import's transaction: the mapping in the way may be one of the file's own earlier rows.
async function describeOverlap(tx: TransactionSession, tenant: Tenant, record: CsvRecord): Promise<string> {
  for (const mapping of record.mappings) {
    const {
      mappings: [overlapping],
    } = await findOverlappingMappings(
      tx,
      { contextId: tenant.id, subnet: mapping.subnet, period: { start: mapping.start, end: mapping.end } },
      { limit: 1 },
    );
    if (overlapping) {
      return `${mapping.subnet.input} overlaps mapping ${overlapping.id} (${overlapping.ipsubnet} of UserID ${overlapping.userId}, ${overlapping.starttime} to ${overlapping.endtime ?? 'ongoing'})`;
    }
  }
  return 'overlaps another mapping';
}

/**
 * Imports rows in one transaction: all of the file or, on an unexpected failure, none of it.
 * Rows come from a stream; the next batch is read and parsed while the database applies the
 * last one. With `dryRun` everything is rolled back at the end and the summary says what would
 * have happened.
 */
export async function importRows(
  db: Db,
  tenant: Tenant,
  actor: Actor,
  rows: AsyncIterable<ImportRow | { line: number; error: string }>,
  options: { dryRun: boolean },
): Promise<ImportSummary> {
  const summary = emptySummary();
  const progress: ImportProgress = { summary, customers: new Map() };
  try {
    await db.database.transaction(
      async (tx) => {
        const queue = batchQueue(tx, tenant, actor, progress);
        const apply = (rows: ImportRow[]) => queue.add(prepareBatch(rows));
        let batch: ImportRow[] = [];
        for await (const row of rows) {
          summary.rowsRead++;
          if ('error' in row) summary.rowsSkipped.push({ line: row.line, reason: row.error });
          else batch.push(row);
          if (batch.length === BATCH_ROWS) {
            await apply(batch);
            batch = [];
          }
        }
        if (batch.length > 0) await apply(batch);
        await queue.finish();
        if (options.dryRun) throw new DryRun();
      },
      { sealChains: true },
    );
  } catch (error) {
    if (!(error instanceof DryRun)) throw error;
  }
  if (!options.dryRun && summary.mappingsCreated + summary.customersCreated + summary.customersUpdated > 0) {
    await refreshAfterBulkLoad(db);
  }
  summary.rowsSkipped.sort((a, b) => a.line - b.line);
  return summary;
}

/**
 * PostgreSQL's advice after a bulk load: VACUUM ANALYZE. The planner gets statistics of the rows
 * just loaded, and vacuum marks their pages all-visible, which lookups need to stay index-only
 * (see the covering_lookup_index migration). PostgreSQL's autovacuum would do both, later; PGlite
 * has no autovacuum at all. Pages already all-visible are skipped, so a small import costs little.
 */
async function refreshAfterBulkLoad(db: Db) {
  await db.prisma.$executeRawUnsafe(`VACUUM (ANALYZE) ${mappings.table}, ${customers.table}`);
}
