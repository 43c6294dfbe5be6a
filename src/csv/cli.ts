import { createReadStream, createWriteStream, statSync } from 'node:fs';
import type { Db } from '../db/handle.js';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { SingleBar } from 'cli-progress';
import { parse } from 'csv-parse';
import { stringify } from 'csv-stringify';
import { InvalidValueError } from '../domain/invalid-value.js';
import { CSV_HEADER, isHeaderRow, parseCsvRow } from '../domain/trisul-csv.js';
import { exportRows } from './export.js';
import { type ImportRow, type ImportSummary, importRows } from './import.js';
import { cliActor, findTenant } from '../access/store.js';

// `ipdr-admin import` and `ipdr-admin export`: Trisul's CSV of static IP customers.

/** Parsed rows of a CSV file, streamed; a bad row becomes an error naming its line. */
async function* readRows(
  path: string,
  onBytes: (bytes: number) => void,
): AsyncGenerator<ImportRow | { line: number; error: string }> {
  const input = createReadStream(path);
  input.on('data', (chunk) => onBytes(chunk.length));
  const parser = input.pipe(parse({ relax_column_count: true, skip_empty_lines: true, bom: true, info: true }));
  let first = true;
  for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
    const line = info.lines;
    if (first && isHeaderRow(record)) {
      first = false;
      continue;
    }
    first = false;
    try {
      yield { line, record: parseCsvRow(record) };
    } catch (error) {
      if (!(error instanceof InvalidValueError)) throw error;
      yield { line, error: error.message };
    }
  }
}

export async function importCsv(db: Db, path: string, contextName: string, dryRun: boolean): Promise<ImportSummary> {
  const tenant = await findTenant(db, contextName);
  const size = statSync(path).size;
  const bar = process.stderr.isTTY
    ? new SingleBar({ format: 'importing [{bar}] {percentage}% {value}/{total} bytes' })
    : null;
  bar?.start(size, 0);
  let read = 0;
  try {
    return await importRows(
      db,
      tenant,
      cliActor('cli'),
      readRows(path, (bytes) => bar?.update((read += bytes))),
      { dryRun },
    );
  } finally {
    bar?.stop();
  }
}

export function printSummary(summary: ImportSummary, dryRun: boolean, out: (line: string) => void) {
  out(`${dryRun ? 'dry run (nothing was written): ' : ''}${summary.rowsRead} rows read`);
  out(`customers created: ${summary.customersCreated}`);
  out(`customers updated: ${summary.customersUpdated}`);
  out(`customers unchanged: ${summary.customersUnchanged}`);
  out(`mappings created: ${summary.mappingsCreated}`);
  out(`duplicate mappings skipped: ${summary.duplicatesSkipped}`);
  out(`rows skipped: ${summary.rowsSkipped.length}`);
  for (const skipped of summary.rowsSkipped) out(`  line ${skipped.line}: ${skipped.reason}`);
}

export async function exportCsv(db: Db, contextName: string, path: string | undefined): Promise<void> {
  const tenant = await findTenant(db, contextName);
  const output = path ? createWriteStream(path) : process.stdout;
  async function* rows() {
    yield CSV_HEADER;
    yield* exportRows(db, tenant);
  }
  await pipeline(Readable.from(rows()), stringify(), output, { end: output !== process.stdout });
}
