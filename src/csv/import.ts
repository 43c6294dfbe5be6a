import type { Actor } from '../access/types.js';
import type { Db } from '../db/handle.js';
import type { DriverSession } from '../db/connection.js';
import { isExclusionViolation } from '../db/errors.js';
import type { CsvCustomer, CsvRecord } from '../domain/trisul-csv.js';
import type { Tenant } from '../access/types.js';
import { customerImageSql } from '../audit/store.js';
import { auditEvents, columnList, customers, mappings } from '../db/columns.js';
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

// Rows are applied in batches, each by two set-based statements: the per-row cost is the
// database's own (index and constraint upkeep), not a round trip.
const BATCH_ROWS = 5000;

// Both statements find stored rows by per-row index probes (LATERAL … LIMIT 1): a join the
// planner is free to hash would read the whole table once per batch, and a long import would
// slow down as it grows.

const c = customers.columns;
const m = mappings.columns;
const audit = `${auditEvents.table} (${columnList(auditEvents, ['contextId', 'actor', 'channel', 'action', 'entityType', 'entityId'])}`;

// Created records are audited by one event per run of consecutive ids (see the
// audit_entity_ranges migration): an image per record cost as much as writing the record.
// `id - row_number()` is the same along a run of consecutive ids; another writer's id between
// two of ours starts a new run.
const auditCreatedRunsSql = (entityType: 'customer' | 'mapping', created: string) => `
  INSERT INTO ${audit}, ${auditEvents.columns.entityIdLast})
  SELECT $1, $2, $3, 'create', '${entityType}', min(id), max(id)
  FROM (SELECT id, id - row_number() OVER (ORDER BY id) AS run FROM ${created}) numbered
  GROUP BY run ORDER BY min(id)`;

// The customer columns a row sets, in the order of the statement's arrays ($4-$9).
const CUSTOMER_FIELDS = ['userId', 'name', 'address', 'email', 'phoneNumber', 'altPhoneNumber'] as const;
const customerFields = columnList(customers, CUSTOMER_FIELDS);
// The columns an unchanged row would change (what the upsert compares), in the `c` and `excluded` rows.
const CHANGED_FIELDS = CUSTOMER_FIELDS.slice(1);
const changedIn = (row: string) => columnList(customers, CHANGED_FIELDS, row);

// Upserts the batch's customers by UserID (a customer's last row wins), audits what changed (an
// update with its images, creations by runs), and
// returns the id and outcome of every customer of the batch.
const UPSERT_CUSTOMERS_SQL = `
WITH input AS (
  SELECT DISTINCT ON (${c.userId}) *
  FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[]) WITH ORDINALITY
    AS i(${customerFields}, ord)
  ORDER BY ${c.userId}, ord DESC
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
), created_runs AS (${auditCreatedRunsSql('customer', `(SELECT ${c.id} AS id FROM changes WHERE created) created`)}
), updated AS (
  INSERT INTO ${audit}, ${auditEvents.columns.before}, ${auditEvents.columns.after})
  SELECT $1, $2, $3, 'update', 'customer', ${c.id}, before, ${customerImageSql('changes')}
  FROM changes WHERE NOT created ORDER BY ${c.id}
)
SELECT ${c.userId} AS "userId", ${c.id} AS id, CASE WHEN created THEN 'created' ELSE 'updated' END AS outcome FROM changes
UNION ALL
SELECT ${c.userId}, ${c.id}, 'unchanged' FROM stored WHERE ${c.id} NOT IN (SELECT ${c.id} FROM changes)`;

// The mapping columns a row sets, in the order of the statement's arrays ($4-$12).
const MAPPING_FIELDS = [
  'customerId',
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
// What makes a row an exact duplicate of another.
const identity = columnList(mappings, ['customerId', 'ipFirst', 'ipLast', 'starttime', 'endtime']);

// Adds the batch's mappings, skipping exact duplicates (of stored mappings or of an earlier row),
// ($13: whether the row's customer was stored before this batch: one created by it has no
// stored mapping to probe for, and the probes were a quarter of the statement's time)
// and audits the runs of them added.
const INSERT_MAPPINGS_SQL = `
WITH input AS (
  SELECT * FROM unnest($4::int[], $5::text[], $6::text[], $7::inet[], $8::text[], $9::text[], $10::int8[], $11::int8[], $12::text[], $13::bool[])
    WITH ORDINALITY AS i(${mappingFields}, customer_was_stored, ord)
), fresh AS (
  SELECT DISTINCT ON (${identity}) i.* FROM input i
  LEFT JOIN LATERAL (
    SELECT true AS stored FROM ${mappings.table} m
    WHERE i.customer_was_stored AND m.${m.customerId} = i.${m.customerId} AND m.${m.ipFirst} = i.${m.ipFirst} AND m.${m.ipLast} = i.${m.ipLast}
      AND m.${m.starttime} = i.${m.starttime} AND m.${m.endtime} IS NOT DISTINCT FROM i.${m.endtime}
    LIMIT 1
  ) duplicate ON true
  WHERE duplicate.stored IS NULL
  ORDER BY ${identity}, ord
), written AS (
  INSERT INTO ${mappings.table}
    (${m.contextId}, ${mappingFields}, ${m.source}, ${m.updatedAt})
  SELECT $1, ${mappingFields}, 'CSV', now()
  FROM fresh ORDER BY ord
  RETURNING *
), audited AS (${auditCreatedRunsSql('mapping', `(SELECT ${m.id} AS id FROM written) created`)}
)
SELECT (SELECT count(*) FROM written)::int AS created, (SELECT count(*) FROM input)::int AS candidates`;

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
 * A batch's statement parameters, one array per column in the order of each statement's unnest,
 * worked out before the batch's turn: while the database still applies the previous one. Only the
 * mappings' customer ids wait for the customers' statement.
 */
interface PreparedBatch {
  rows: ImportRow[];
  customerColumns: unknown[][];
  mappingUserIds: string[];
  mappingColumns: unknown[][];
}

function prepareBatch(rows: ImportRow[]): PreparedBatch {
  const customers = rows.map((row) => row.record.customer);
  const mappings = rows.flatMap((row) =>
    row.record.mappings.map((mapping) => ({
      userId: row.record.customer.userId,
      ...subnetColumns(mapping.subnet),
      ...periodColumns({ start: mapping.start, end: mapping.end }),
      terminalId: mapping.terminalId,
    })),
  );
  const customerColumn = (column: (customer: CsvCustomer) => unknown) => customers.map(column);
  const mappingColumn = (column: (mapping: (typeof mappings)[number]) => unknown) => mappings.map(column);
  return {
    rows,
    customerColumns: [
      customerColumn((c) => c.userId),
      customerColumn((c) => c.name),
      customerColumn((c) => c.address),
      customerColumn((c) => c.email),
      customerColumn((c) => c.phoneNumber),
      customerColumn((c) => c.altPhoneNumber),
    ],
    mappingUserIds: mappings.map((m) => m.userId),
    mappingColumns: [
      mappingColumn((m) => m.ipsubnet),
      mappingColumn((m) => m.network),
      mappingColumn((m) => m.ipFirst),
      mappingColumn((m) => m.ipLast),
      mappingColumn((m) => String(m.starttime)),
      mappingColumn((m) => (m.endtime === null ? null : String(m.endtime))),
      mappingColumn((m) => m.terminalId),
    ],
  };
}

/**
 * Applies the rows with two statements ($1-$3: the context and the actor); an overlap anywhere
 * fails them all (an exclusion violation).
 */
async function applyRows(tx: DriverSession, tenant: Tenant, actor: Actor, batch: PreparedBatch): Promise<BatchResult> {
  const statementParams = (columns: unknown[][]) => [tenant.id, actor.name, actor.channel, ...columns];
  const batchCustomers = await tx.query<{ userId: string; id: number; outcome: CustomerOutcome }>(
    UPSERT_CUSTOMERS_SQL,
    statementParams(batch.customerColumns),
  );
  const customerIds = new Map(batchCustomers.map((customer) => [customer.userId, customer]));
  const [mappingCounts] = await tx.query<{ created: number; candidates: number }>(
    INSERT_MAPPINGS_SQL,
    statementParams([
      batch.mappingUserIds.map((userId) => customerIds.get(userId)!.id),
      batch.mappingUserIds,
      ...batch.mappingColumns,
      batch.mappingUserIds.map((userId) => customerIds.get(userId)!.outcome !== 'created'),
    ]),
  );
  return {
    customers: batchCustomers,
    mappingsCreated: mappingCounts!.created,
    duplicatesSkipped: mappingCounts!.candidates - mappingCounts!.created,
  };
}

/**
 * Applies rows in file order, all or nothing per row. When some mapping would overlap another,
 * the rows are rolled back to their savepoint and applied as two halves, down to the single rows
 * at fault, which are skipped and reported: a few bad rows cost a few extra statements each.
 */
async function importBatch(
  tx: DriverSession,
  tenant: Tenant,
  actor: Actor,
  batch: PreparedBatch,
  progress: ImportProgress,
) {
  await tx.query('SAVEPOINT csv_batch');
  try {
    const result = await applyRows(tx, tenant, actor, batch);
    await tx.query('RELEASE SAVEPOINT csv_batch');
    addBatch(progress, result);
    return;
  } catch (error) {
    if (!isExclusionViolation(error)) throw error;
    await tx.query('ROLLBACK TO SAVEPOINT csv_batch');
    await tx.query('RELEASE SAVEPOINT csv_batch');
  }
  const { rows } = batch;
  if (rows.length === 1) {
    const reason = await describeOverlap(tx, tenant, rows[0]!.record);
    progress.summary.rowsSkipped.push({ line: rows[0]!.line, reason });
    return;
  }
  const half = Math.ceil(rows.length / 2);
  await importBatch(tx, tenant, actor, prepareBatch(rows.slice(0, half)), progress);
  await importBatch(tx, tenant, actor, prepareBatch(rows.slice(half)), progress);
}

// Inside the import's transaction: the mapping in the way may be one of the file's own earlier rows.
async function describeOverlap(tx: DriverSession, tenant: Tenant, record: CsvRecord): Promise<string> {
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
    await db.database.transaction(async (tx) => {
      let applying: Promise<void> = Promise.resolve();
      const apply = async (rows: ImportRow[]) => {
        const batch = prepareBatch(rows);
        await applying;
        applying = importBatch(tx, tenant, actor, batch, progress);
        // Awaited before the next batch or at the end; until then a failure must not go unhandled.
        applying.catch(() => {});
      };
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
      await applying;
      if (options.dryRun) throw new DryRun();
    });
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
