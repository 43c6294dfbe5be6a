import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { SingleBar } from 'cli-progress';
import type { Db } from '../db/handle.js';
import { excerpt } from '../domain/invalid-value.js';
import { type DetailRecord, readDetailRecords } from '../domain/radius-detail.js';
import type { AccountingInput, AccountingRules, EventOutcome } from '../domain/radius-session.js';
import { InvalidAccountingRecordError, readAccountingEvent } from '../domain/radius.js';
import { NotFoundError, ValidationError } from '../errors.js';
import { type AccountingResult, applyAccounting } from './store.js';
import { cliActor, findTenant } from '../access/store.js';

// `ipdr-admin radius import`: FreeRADIUS detail files through the same rules as the live feed.
// The file is streamed; events are applied a batch at a time, each batch committed on its own,
// so an import that stops half-way (a failure, ^C) has kept what it committed, and running it
// again applies only the rest: what was applied already comes back as duplicates.

/** Events applied per transaction: enough that per-transaction costs vanish, few enough to keep it short. */
export const DETAIL_BATCH_EVENTS = 1000;
/** The refused records a summary lists (it counts them all). */
export const LISTED_REFUSALS = 100;

export interface DetailImportOptions {
  /** RADIUS_SESSION_TIMEOUT, seconds: sessions silent for longer end inferred at the closing sweep. */
  sessionTimeout: number;
  /** Unix seconds now: the closing sweep's time. */
  now?: () => number;
  batchEvents?: number;
  /** Shows a progress bar on stderr; by default when stderr is a terminal. */
  progress?: boolean;
}

export interface RefusedRecord {
  line: number;
  reason: string;
}

export interface DetailImportSummary {
  /** Records in the file, refused ones included. */
  recordsRead: number;
  eventsApplied: number;
  duplicates: number;
  stale: number;
  /** Records that report nothing about who held an address (Failed, Access-Request, ...). */
  ignored: number;
  refused: number;
  /** The first LISTED_REFUSALS refused records, in file order. */
  refusedRecords: RefusedRecord[];
  /** Addresses not written because another holder had them (see radiusConflicts). */
  conflicts: number;
  /** Sessions each batch changed, summed: a session changed in several batches counts in each. */
  sessionsChanged: number;
  /** Mappings each batch created or changed, summed likewise. */
  mappingsChanged: number;
  /** The closing sweep: at the time of the import, sessions silent for longer than the timeout end. */
  sweep: { at: number; sessionTimeout: number; sessionsEnded: number; mappingsEnded: number };
  elapsedSeconds: number;
}

const firstValue = (record: DetailRecord, name: string) => record.attributes.get(name)?.[0] ?? null;

/** The line of the attribute an error names: the value it quotes, if the attribute is repeated. */
function lineOf(record: DetailRecord, error: InvalidAccountingRecordError): number {
  const lines = record.lines.get(error.field);
  if (!lines) return record.line;
  const values = record.attributes.get(error.field) ?? [];
  const index = values.findIndex((value) => error.message.includes(`"${excerpt(value)}"`));
  return lines[Math.max(index, 0)] ?? record.line;
}

type RecordReading = { input: AccountingInput } | { ignored: true } | { refused: RefusedRecord };

function readRecord(record: DetailRecord): RecordReading {
  // A detail module in the authorize or post-auth section logs Access-Requests and replies too.
  const packetType = firstValue(record, 'Packet-Type');
  if (packetType !== null && packetType !== 'Accounting-Request' && packetType !== '4') return { ignored: true };
  // The NAS's address when the record has no NAS-IP-Address (readAccountingEvent reads
  // Packet-Src-IP-Address itself); radrelay's older files name it Client-IP-Address.
  const sourceAddress = firstValue(record, 'Packet-Src-IPv6-Address') ?? firstValue(record, 'Client-IP-Address');
  try {
    const event = readAccountingEvent(record.attributes, { at: record.at, sourceAddress });
    return event === null ? { ignored: true } : { input: event };
  } catch (error) {
    if (!(error instanceof InvalidAccountingRecordError)) throw error;
    return { refused: { line: lineOf(record, error), reason: error.message } };
  }
}

function addResult(summary: DetailImportSummary, result: AccountingResult) {
  const counted: Record<EventOutcome, keyof DetailImportSummary> = {
    applied: 'eventsApplied',
    duplicate: 'duplicates',
    stale: 'stale',
    ignored: 'ignored',
  };
  for (const outcome of result.outcomes) (summary[counted[outcome]] as number)++;
  summary.conflicts += result.conflicts;
  summary.sessionsChanged += result.sessionsChanged;
  summary.mappingsChanged += result.mappingsChanged;
}

/**
 * Imports a FreeRADIUS detail file into `contextName`: every accounting record through the
 * accounting rules, in file order, then a timeout sweep at the current time. Throws NotFoundError
 * for an unknown context and ValidationError naming FILE when the file cannot be read.
 */
export async function importDetailFile(
  db: Db,
  path: string,
  contextName: string,
  options: DetailImportOptions,
): Promise<DetailImportSummary> {
  const started = performance.now();
  const tenant = await findTenant(db, contextName);
  let size: number;
  try {
    const file = await stat(path);
    if (!file.isFile()) throw new ValidationError('FILE', `${excerpt(path)} is not a file`);
    size = file.size;
  } catch (error) {
    if (error instanceof ValidationError) throw error;
    throw new ValidationError('FILE', `${excerpt(path)} cannot be read (${(error as NodeJS.ErrnoException).code})`);
  }
  const rules: AccountingRules = { sessionTimeout: options.sessionTimeout };
  const actor = cliActor('radius');
  const batchEvents = options.batchEvents ?? DETAIL_BATCH_EVENTS;
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  const summary: DetailImportSummary = {
    recordsRead: 0,
    eventsApplied: 0,
    duplicates: 0,
    stale: 0,
    ignored: 0,
    refused: 0,
    refusedRecords: [],
    conflicts: 0,
    sessionsChanged: 0,
    mappingsChanged: 0,
    sweep: { at: 0, sessionTimeout: options.sessionTimeout, sessionsEnded: 0, mappingsEnded: 0 },
    elapsedSeconds: 0,
  };
  const refuse = (refused: RefusedRecord) => {
    summary.refused++;
    if (summary.refusedRecords.length < LISTED_REFUSALS) summary.refusedRecords.push(refused);
  };

  const showProgress = options.progress ?? process.stderr.isTTY;
  const bar = showProgress
    ? new SingleBar({ format: 'importing [{bar}] {percentage}% {value}/{total} bytes, {records} records' })
    : null;
  bar?.start(size, 0, { records: 0 });
  const input = createReadStream(path);
  let bytesRead = 0;
  input.on('data', (chunk) => bar?.update((bytesRead += chunk.length), { records: summary.recordsRead }));
  const apply = async (inputs: AccountingInput[]) => {
    const [result] = await applyAccounting(db, [{ tenant, inputs }], rules, actor);
    addResult(summary, result!);
  };
  // The next batch is read while the database applies the previous one; batches stay in file order.
  let applying: Promise<void> = Promise.resolve();
  try {
    let batch: AccountingInput[] = [];
    for await (const entry of readDetailRecords(createInterface({ input, crlfDelay: Infinity }))) {
      summary.recordsRead++;
      if (entry.kind === 'unreadable') {
        refuse({ line: entry.line, reason: entry.reason });
        continue;
      }
      const reading = readRecord(entry.record);
      if ('refused' in reading) refuse(reading.refused);
      else if ('ignored' in reading) summary.ignored++;
      else batch.push(reading.input);
      if (batch.length >= batchEvents) {
        await applying;
        applying = apply(batch);
        // Awaited before the next batch or at the end; until then its failure must not go unheard.
        applying.catch(() => {});
        batch = [];
      }
    }
    await applying;
    if (batch.length > 0) await apply(batch);

    const at = now();
    const [swept] = await applyAccounting(db, [{ tenant, inputs: [{ kind: 'sweep', at }] }], rules, actor);
    summary.sweep = {
      at,
      sessionTimeout: options.sessionTimeout,
      sessionsEnded: swept!.sessionsChanged,
      mappingsEnded: swept!.mappingsChanged,
    };
  } finally {
    input.destroy();
    bar?.update(bytesRead, { records: summary.recordsRead });
    bar?.stop();
  }
  summary.elapsedSeconds = (performance.now() - started) / 1000;
  return summary;
}

export function printDetailImportSummary(summary: DetailImportSummary, out: (line: string) => void) {
  out(`${summary.recordsRead} records read`);
  out(`events applied: ${summary.eventsApplied}`);
  out(`duplicates (applied before): ${summary.duplicates}`);
  out(`stale (older than what is known of their session): ${summary.stale}`);
  out(`ignored (nothing about who held an address): ${summary.ignored}`);
  out(`records refused: ${summary.refused}`);
  for (const refused of summary.refusedRecords) out(`  line ${refused.line}: ${refused.reason}`);
  const unlisted = summary.refused - summary.refusedRecords.length;
  if (unlisted > 0) out(`  and ${unlisted} more`);
  out(`conflicts (addresses another holder had): ${summary.conflicts}`);
  out(`session changes written: ${summary.sessionsChanged}`);
  out(`mapping changes written: ${summary.mappingsChanged}`);
  const { sweep } = summary;
  out(
    `timeout sweep at ${new Date(sweep.at * 1000).toISOString()} (silent for over ${sweep.sessionTimeout} s): ` +
      `${sweep.sessionsEnded} sessions and ${sweep.mappingsEnded} mappings ended`,
  );
  out(`elapsed: ${summary.elapsedSeconds.toFixed(1)} s`);
}
