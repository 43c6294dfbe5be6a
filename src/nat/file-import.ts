import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { createInterface } from 'node:readline';
import { SingleBar } from 'cli-progress';
import type { Db } from '../db/handle.js';
import { excerpt } from '../domain/invalid-value.js';
import { fileLineAsSyslog, readPortBlockMessage } from '../domain/nat-syslog.js';
import { NotFoundError, ValidationError } from '../errors.js';
import { type PortBlockRecord, type PortBlockResult, type UnparsableLine, applyPortBlocks } from './store.js';
import { cliActor, findTenant } from '../access/store.js';

// `ipdr-admin nat import`: CGNAT port-block logs from files, for backfill, read line by line as
// the syslog listener reads messages (domain/nat-syslog.ts) and written by the same store. Each
// batch commits on its own, so an import that stops half-way has kept what it committed, and
// running it again applies only the rest: lines applied already come back as duplicates.

/** Lines applied per transaction. */
export const NAT_IMPORT_BATCH_LINES = 1000;
/** The unparsable lines a summary lists (it counts them all; all are kept for review). */
export const LISTED_UNPARSABLE = 100;

export interface NatImportOptions {
  /** The context the public addresses are in. */
  contextName: string;
  /** The context the inside addresses are looked up in; default: the same. */
  insideContextName?: string;
  /** IANA zone of RFC 3164 times (they carry none). */
  timeZone: string;
  batchLines?: number;
  /** Shows a progress bar on stderr; by default when stderr is a terminal. */
  progress?: boolean;
}

export interface NatImportSummary {
  linesRead: number;
  applied: number;
  duplicates: number;
  /** Older than what is known of their block. */
  stale: number;
  /** A RELEASE or INTERIM for a block nothing is known of, that could not open one. */
  unmatched: number;
  /** Refused: a mapping or a rule held the address then. */
  conflicts: number;
  /** Lines of other kinds, and empty lines. */
  ignored: number;
  unparsable: number;
  /** The first LISTED_UNPARSABLE, in file order. */
  unparsableLines: { line: number; reason: string }[];
  bindingsChanged: number;
  elapsedSeconds: number;
}

function addResult(summary: NatImportSummary, result: PortBlockResult) {
  for (const outcome of result.outcomes) {
    if (outcome === 'applied') summary.applied++;
    else if (outcome === 'duplicate') summary.duplicates++;
    else if (outcome === 'stale') summary.stale++;
    else if (outcome === 'unmatched') summary.unmatched++;
    else summary.conflicts++;
  }
  summary.bindingsChanged += result.bindingsChanged;
}

/**
 * Imports a file of port-block log lines into `options.contextName`, in file order. A line may be
 * a syslog message as received (`<PRI>…`) or as a syslog daemon writes it to a file. RFC 3164
 * times, which carry no year, take the year nearest the file's last change. Throws NotFoundError
 * for an unknown context and ValidationError naming FILE when the file cannot be read.
 */
export async function importNatLogFile(db: Db, path: string, options: NatImportOptions): Promise<NatImportSummary> {
  const started = performance.now();
  const tenant = await findTenant(db, options.contextName);
  const insideTenant =
    options.insideContextName === undefined ? tenant : await findTenant(db, options.insideContextName);
  let size: number;
  let modifiedAt: number;
  try {
    const file = await stat(path);
    if (!file.isFile()) throw new ValidationError('FILE', `${excerpt(path)} is not a file`);
    size = file.size;
    modifiedAt = Math.floor(file.mtimeMs / 1000);
  } catch (error) {
    if (error instanceof ValidationError) throw error;
    throw new ValidationError('FILE', `${excerpt(path)} cannot be read (${(error as NodeJS.ErrnoException).code})`);
  }
  const actor = cliActor('nat');
  const device = basename(path);
  const batchLines = options.batchLines ?? NAT_IMPORT_BATCH_LINES;
  const summary: NatImportSummary = {
    linesRead: 0,
    applied: 0,
    duplicates: 0,
    stale: 0,
    unmatched: 0,
    conflicts: 0,
    ignored: 0,
    unparsable: 0,
    unparsableLines: [],
    bindingsChanged: 0,
    elapsedSeconds: 0,
  };

  const bar =
    (options.progress ?? process.stderr.isTTY)
      ? new SingleBar({ format: 'importing [{bar}] {percentage}% {value}/{total} bytes, {lines} lines' })
      : null;
  bar?.start(size, 0, { lines: 0 });
  const input = createReadStream(path);
  let bytesRead = 0;
  input.on('data', (chunk) => bar?.update((bytesRead += chunk.length), { lines: summary.linesRead }));
  const apply = async (records: PortBlockRecord[], unparsable: UnparsableLine[]) => {
    const [result] = await applyPortBlocks(db, [{ tenant, insideTenant, records, unparsable }], actor);
    addResult(summary, result!);
  };
  // The next batch is read while the database applies the previous one; batches stay in file order.
  let applying: Promise<void> = Promise.resolve();
  try {
    let records: PortBlockRecord[] = [];
    let unparsable: UnparsableLine[] = [];
    for await (const line of createInterface({ input, crlfDelay: Infinity })) {
      summary.linesRead++;
      if (line.trim() === '') {
        summary.ignored++;
        continue;
      }
      const reading = readPortBlockMessage(fileLineAsSyslog(line), {
        timeZone: options.timeZone,
        receivedAt: modifiedAt,
      });
      if ('ignored' in reading) summary.ignored++;
      else if ('unparsable' in reading) {
        summary.unparsable++;
        if (summary.unparsableLines.length < LISTED_UNPARSABLE) {
          summary.unparsableLines.push({ line: summary.linesRead, reason: reading.unparsable });
        }
        unparsable.push({
          source: 'FILE',
          device,
          receivedAt: modifiedAt,
          line,
          reason: `line ${summary.linesRead}: ${reading.unparsable}`,
        });
      } else records.push({ event: reading.event, source: 'FILE', device, rawLine: line });
      if (records.length + unparsable.length >= batchLines) {
        await applying;
        applying = apply(records, unparsable);
        // Awaited before the next batch or at the end; until then its failure must not go unheard.
        applying.catch(() => {});
        records = [];
        unparsable = [];
      }
    }
    await applying;
    if (records.length + unparsable.length > 0) await apply(records, unparsable);
  } finally {
    input.destroy();
    bar?.update(bytesRead, { lines: summary.linesRead });
    bar?.stop();
  }
  summary.elapsedSeconds = (performance.now() - started) / 1000;
  return summary;
}

export function printNatImportSummary(summary: NatImportSummary, out: (line: string) => void) {
  out(`${summary.linesRead} lines read`);
  out(`port-block lines applied: ${summary.applied}`);
  out(`duplicates (applied before): ${summary.duplicates}`);
  out(`stale (older than what is known of their block): ${summary.stale}`);
  out(`unmatched (a release or interim of a block nothing is known of): ${summary.unmatched}`);
  out(`conflicts (a mapping or rule held the address then): ${summary.conflicts}`);
  out(`ignored (other messages, empty lines): ${summary.ignored}`);
  out(`unparsable (kept for review): ${summary.unparsable}`);
  for (const line of summary.unparsableLines) out(`  line ${line.line}: ${line.reason}`);
  const unlisted = summary.unparsable - summary.unparsableLines.length;
  if (unlisted > 0) out(`  and ${unlisted} more`);
  out(`binding changes written: ${summary.bindingsChanged}`);
  out(`elapsed: ${summary.elapsedSeconds.toFixed(1)} s`);
}
