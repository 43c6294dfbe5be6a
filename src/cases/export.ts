import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { stringify } from 'csv-stringify/sync';
import type { Db } from '../db/handle.js';
import { findTenant } from '../access/store.js';
import { NotFoundError } from '../errors.js';
import { type SystemInstant, endOfSecond, microsSql, systemInstantOfColumn } from '../domain/system-time.js';
import { type AnswerImage, answerImage } from '../lookups/digest.js';
import {
  type Lookup,
  type LookupAnswer,
  PortRequired,
  lookupColumns,
  versioningStartedAt,
  whoHadBatch,
} from '../lookups/store.js';
import { contexts, lookupLog } from '../db/columns.js';
import { type EntryCheck, type LoggedEntry, checkEntry, isMismatch, isRederivable } from './check.js';

// ipdr-admin case export: every lookup logged under a case reference, with its answer derived
// again as the records stood when it was made (or as known at the asOf it was asked with), each
// entry checked against the digests logged with it. What a compliance desk hands over, and what
// shows that the answers given then are the ones the records give now for then.

/** The columns of the export, one row per lookup (per range, for ipHistory). */
export const CASE_EXPORT_HEADER = [
  'entry',
  'logged_at',
  'context',
  'channel',
  'username',
  'operation',
  'known_at',
  'check',
  'lookup',
  'ip',
  'at',
  'port',
  'from',
  'to',
  'answer',
  'mapping_id',
  'userid',
  'name',
  'ipsubnet',
  'starttime',
  'endtime',
  'nat',
] as const;

const CASE_COLUMNS = lookupColumns({
  mapping: new Set(['id', 'userId', 'ipsubnet', 'starttime', 'endtime']),
  customer: new Set(['name']),
});

// Entries are read a few at a time: each may hold 10,000 lookups.
const ENTRIES_PER_READ = 20;

interface EntryRow {
  id: string;
  atMicros: string;
  contextId: number;
  context: string;
  channel: string;
  username: string;
  operation: string;
  detail: { asked?: unknown[]; asOf?: number };
  requestDigest: string | null;
  answerDigest: string | null;
  answer: unknown;
  answerIsNull: boolean;
}

export interface CaseExportSummary {
  reason: string;
  /** The context asked for; null: every context. */
  contextName: string | null;
  entries: number;
  lookups: number;
  checks: Record<EntryCheck, number>;
  /** The ids of the entries that do not match their digests. */
  mismatched: string[];
}

/** Where the CSV goes: a file (created once there is something to write), or lines of output. */
export type CaseExportTarget = { path: string } | { lines: (text: string) => void };

/**
 * Writes every lookup logged under `reason` (in `contextName`, or in any context) with its
 * answer derived again, as CSV to `target`; NotFoundError when none was logged.
 */
export async function exportCase(
  db: Db,
  options: { reason: string; contextName?: string | undefined; target: CaseExportTarget },
): Promise<CaseExportSummary> {
  const contextId = options.contextName === undefined ? null : (await findTenant(db, options.contextName)).id;
  const versionedSince = await versioningStartedAt(db);
  const summary: CaseExportSummary = {
    reason: options.reason,
    contextName: options.contextName ?? null,
    entries: 0,
    lookups: 0,
    checks: { match: 0, 'request-differs': 0, 'answers-differ': 0, 'no-digest': 0, 'not-rederived': 0 },
    mismatched: [],
  };
  const sink = openSink(options.target);
  try {
    let after = '0';
    for (;;) {
      const entries = await readEntries(db, options.reason, contextId, after);
      if (entries.length === 0) break;
      if (summary.entries === 0) await sink.write(stringify([[...CASE_EXPORT_HEADER]]));
      for (const entry of entries) {
        await sink.write(stringify(await exportEntry(db, entry, versionedSince, summary)));
      }
      after = entries.at(-1)!.id;
    }
    if (summary.entries === 0) throw new NotFoundError('case', options.reason);
  } finally {
    await sink.close();
  }
  return summary;
}

async function readEntries(db: Db, reason: string, contextId: number | null, after: string) {
  const l = lookupLog.columns;
  return db.readRows<EntryRow>(
    `SELECT l.${l.id}::text AS id, ${microsSql(`l.${l.at}`)} AS "atMicros", l.${l.contextId} AS "contextId",
       c.${contexts.columns.name} AS context, l.${l.channel} AS channel, l.${l.username} AS username,
       l.${l.operation} AS operation, l.${l.detail} AS detail, l.${l.requestDigest} AS "requestDigest",
       l.${l.answerDigest} AS "answerDigest", l.${l.answer} AS answer, l.${l.answer} IS NULL AS "answerIsNull"
     FROM ${lookupLog.table} l JOIN ${contexts.table} c ON c.${contexts.columns.id} = l.${l.contextId}
     WHERE l.${l.reason} = $1 AND ($2::int IS NULL OR l.${l.contextId} = $2::int) AND l.${l.id} > $3::bigint
     ORDER BY l.${l.id} LIMIT ${ENTRIES_PER_READ}`,
    [reason, contextId, after],
  );
}

async function exportEntry(db: Db, row: EntryRow, versionedSince: SystemInstant, summary: CaseExportSummary) {
  const asked = Array.isArray(row.detail.asked) ? row.detail.asked : [];
  const asOf = typeof row.detail.asOf === 'number' ? row.detail.asOf : null;
  const entry: LoggedEntry = {
    operation: row.operation,
    asked,
    asOf,
    requestDigest: row.requestDigest,
    answerDigest: row.answerDigest,
    ...(row.operation === 'whoHad' && !row.answerIsNull ? { answer: row.answer } : {}),
  };
  // Answered as known at its asOf, or else at the instant it was logged (just after it was answered).
  const knownAt = asOf === null ? systemInstantOfColumn(row.atMicros) : endOfSecond(asOf);
  const answers = isRederivable(entry, knownAt.micros < versionedSince.micros)
    ? await whoHadBatch(db, row.contextId, asked.map(asLookup), CASE_COLUMNS, knownAt)
    : null;
  const check = checkEntry(entry, answers?.map(answerImage) ?? null);
  summary.entries += 1;
  summary.lookups += asked.length;
  summary.checks[check] += 1;
  if (isMismatch(check)) summary.mismatched.push(row.id);
  const loggedAt = systemInstantOfColumn(row.atMicros);
  return asked.map((lookup, index) => [
    row.id,
    loggedAt.sql,
    row.context,
    row.channel,
    row.username,
    row.operation,
    answers === null ? '' : knownAt.sql,
    check,
    index + 1,
    ...askedCells(lookup),
    ...(answers === null ? ['', '', '', '', '', '', '', ''] : answerCells(answers[index]!)),
  ]);
}

// A logged lookup: { ip, at, port? } (ipHistory's: { ip, port?, from, to }).
const field = (lookup: unknown, name: string): unknown =>
  lookup !== null && typeof lookup === 'object' ? (lookup as Record<string, unknown>)[name] : undefined;

const asLookup = (lookup: unknown): Lookup => {
  const port = field(lookup, 'port');
  return {
    ip: String(field(lookup, 'ip')),
    at: Number(field(lookup, 'at')),
    ...(typeof port === 'number' ? { port } : {}),
  };
};

const cell = (value: unknown) => (value === undefined || value === null ? '' : String(value));

const askedCells = (lookup: unknown) => ['ip', 'at', 'port', 'from', 'to'].map((name) => cell(field(lookup, name)));

function answerCells(answer: LookupAnswer) {
  if (answer === null) return ['none', '', '', '', '', '', '', ''];
  if (answer instanceof PortRequired) return [`port-required (${answer.blocks})`, '', '', '', '', '', '', ''];
  return [
    'held',
    cell(answer.id),
    cell(answer.userId),
    cell(answer.customer?.name),
    cell(answer.ipsubnet),
    cell(answer.starttime),
    cell(answer.endtime),
    answer.nat ? `${answer.nat.kind}:${answer.nat.id}` : '',
  ];
}

function openSink(target: CaseExportTarget) {
  if ('lines' in target) {
    return {
      write: async (text: string) => target.lines(text.replace(/\n$/, '')),
      close: async () => {},
    };
  }
  let stream: ReturnType<typeof createWriteStream> | undefined;
  return {
    async write(text: string) {
      stream ??= createWriteStream(target.path);
      if (!stream.write(text)) await once(stream, 'drain');
    },
    async close() {
      if (!stream) return;
      stream.end();
      await once(stream, 'close');
    },
  };
}

/** Some entries of the case do not match their digests: the export is written, and the command fails. */
export class CaseMismatchError extends Error {
  override name = 'CaseMismatchError';
  constructor(readonly summary: CaseExportSummary) {
    super(
      `${summary.mismatched.length} of ${summary.entries} log entries of case ${summary.reason} do not match their logged digests (entries ${summary.mismatched.join(', ')})`,
    );
  }
}

/** The summary, for people: what was exported and how each entry compared with its digests. */
export function printCaseSummary(summary: CaseExportSummary, out: (line: string) => void) {
  const where = summary.contextName === null ? 'every context' : `context ${summary.contextName}`;
  out(`case ${summary.reason} (${where}): ${summary.entries} log entries, ${summary.lookups} lookups`);
  out(`  matching their logged digests: ${summary.checks.match}`);
  out(
    `  NOT matching their logged digests: ${summary.mismatched.length}` +
      (summary.mismatched.length === 0 ? '' : ` (entries ${summary.mismatched.join(', ')})`),
  );
  out(`  logged before the log kept digests (derived again, unchecked): ${summary.checks['no-digest']}`);
  out(
    `  not derived again: ${summary.checks['not-rederived']} (ipHistory, whose pages are not logged, or made before versions were kept)`,
  );
}
