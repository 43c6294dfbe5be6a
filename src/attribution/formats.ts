import { Readable } from 'node:stream';
import { parse } from 'csv-parse';
import { INPUT_COLUMNS, OUTPUT_COLUMNS } from '../domain/attribution.js';
import { excerpt } from '../domain/invalid-value.js';
import type { AttributedRow, InputRow, SourceRow } from './attribute.js';

// The two forms rows are attributed in, read and written as streams: CSV (a header row naming
// ip, time and optionally port; any other columns are carried through) and NDJSON (one JSON
// object a line, its other fields carried through). POST /attribute and ipdr-admin attribute
// share them.

export type Format = 'csv' | 'ndjson';

/** Each format's media type, as the answer is sent with it. */
export const CONTENT_TYPES: Record<Format, string> = { csv: 'text/csv; charset=utf-8', ndjson: 'application/x-ndjson' };

/** A row longer than this is answered with an error instead of being read whole. */
export const MAX_ROW_BYTES = 64 * 1024;

/** The most columns a CSV header may have: each is written back on every row. */
const MAX_COLUMNS = 1000;

/** A CSV header that cannot be attributed: refused before any row is answered. */
export class HeaderError extends Error {
  constructor(
    readonly reason: string,
    /** `body` when the first bytes are no CSV at all (csv-parse's own refusal). */
    readonly field: 'header' | 'body' = 'header',
  ) {
    super(`${field}: ${reason}`);
  }
}

/**
 * `readRows`, with the first rows read at once: a CSV whose header cannot be attributed (none, an
 * unreadable one, one refused by its columns) is a HeaderError before anything is answered.
 */
export async function openRows(
  format: Format,
  body: AsyncIterable<Uint8Array>,
): Promise<{ columns: () => string[] | null; rows: AsyncGenerator<ReadRow[]> }> {
  const { columns, rows } = readRows(format, body);
  let first: IteratorResult<ReadRow[]>;
  try {
    first = await rows.next();
  } catch (error) {
    await rows.return(undefined);
    if (error instanceof Error && 'code' in error && String(error.code).startsWith('CSV_')) {
      throw new HeaderError(error.message, 'body');
    }
    throw error;
  }
  if (format === 'csv' && columns()?.length === 0) {
    await rows.return(undefined);
    const unreadable = first.done ? undefined : first.value[0]?.unreadable;
    throw new HeaderError(unreadable ? `the header row could not be read (${unreadable})` : 'no header row was sent');
  }
  async function* all(): AsyncGenerator<ReadRow[]> {
    if (first.done) return;
    yield first.value;
    yield* rows;
  }
  return { columns, rows: all() };
}

/** A row as read here: NDJSON answers echo the row's own object. */
export interface ReadRow extends SourceRow {
  echo?: Readonly<Record<string, unknown>>;
}

/** The header's columns, checked: ip and time needed, none that the answer adds. */
function checkHeader(header: string[]): string[] {
  if (header.length > MAX_COLUMNS) throw new HeaderError(`${header.length} columns: at most ${MAX_COLUMNS}`);
  const columns = header.map((name) => name.trim());
  for (const needed of [INPUT_COLUMNS.ip, INPUT_COLUMNS.time]) {
    if (!columns.includes(needed)) {
      throw new HeaderError(`no ${needed} column (the header row is ${excerpt(columns.join(','))})`);
    }
  }
  const taken = columns.find((name) => (OUTPUT_COLUMNS as readonly string[]).includes(name));
  if (taken) throw new HeaderError(`the column ${taken} is one the answer adds: rename it`);
  const repeated = columns.find((name, index) => columns.indexOf(name) !== index);
  if (repeated) throw new HeaderError(`the column ${excerpt(repeated)} is named twice`);
  return columns;
}

interface CsvInput {
  /** The header's columns, once the first row has been read. */
  columns: () => string[];
  rows: AsyncGenerator<ReadRow[]>;
}

function csvRow(cells: InputRow): ReadRow {
  let bytes = 0;
  for (const column in cells) bytes += (cells[column]?.length ?? 0) + 1;
  return { cells, bytes };
}

/** Resolves when `stream` has more to read, has ended or was destroyed; rejects on its error. */
function readableOrEnd(stream: Readable): Promise<void> {
  return new Promise((resolve, reject) => {
    const settle = (error?: Error) => {
      stream.off('readable', settle).off('end', settle).off('close', settle).off('error', settle);
      if (error) reject(error);
      else resolve();
    };
    stream.on('readable', settle).on('end', settle).on('close', settle).on('error', settle);
  });
}

function readCsv(body: AsyncIterable<Uint8Array>): CsvInput {
  let columns: string[] = [];
  // The records put in the parser's output in place of those it could not read.
  const unreadable = new WeakSet<object>();
  const source = Readable.from(body);
  const parser = parse({
    bom: true,
    columns: (header: string[]) => (columns = checkHeader(header)),
    relax_column_count: true,
    skip_empty_lines: true,
    max_record_size: MAX_ROW_BYTES,
    skip_records_with_error: true,
    // Called as the parser meets the record, before it pushes the next: the error takes its place.
    on_skip: (error) => {
      const row: ReadRow = { cells: {}, unreadable: `line ${error?.lines ?? '?'}: ${error?.message ?? 'unreadable'}` };
      unreadable.add(row);
      parser.push(row);
      return undefined;
    },
  });
  source.on('error', (error) => parser.destroy(error));
  source.pipe(parser);
  // Records are taken as many at a time as the parser has: a promise per row cost more than parsing it.
  async function* rows(): AsyncGenerator<ReadRow[]> {
    try {
      for (;;) {
        const chunk: ReadRow[] = [];
        let record: unknown;
        while ((record = parser.read()) !== null) {
          chunk.push(unreadable.has(record as object) ? (record as ReadRow) : csvRow(record as InputRow));
        }
        if (chunk.length > 0) {
          yield chunk;
          continue;
        }
        if (parser.errored) throw parser.errored;
        if (parser.readableEnded || parser.destroyed) return;
        await readableOrEnd(parser);
      }
    } finally {
      source.destroy();
      parser.destroy();
    }
  }
  return { columns: () => columns, rows: rows() };
}

// The cells an attribution reads: JSON numbers are taken as their text.
function cellOf(value: unknown): string | undefined | { invalid: string } {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  return { invalid: `must be a string or a number, not ${Array.isArray(value) ? 'an array' : typeof value}` };
}

function ndjsonRow(text: string, line: number): ReadRow | null {
  if (text.trim() === '') return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { cells: {}, unreadable: `line ${line}: not JSON`, echo: {} };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { cells: {}, unreadable: `line ${line}: not a JSON object`, echo: {} };
  }
  const echo = value as Record<string, unknown>;
  const taken = OUTPUT_COLUMNS.find((name) => Object.hasOwn(echo, name));
  if (taken) return { cells: {}, unreadable: `the field ${taken} is one the answer adds: rename it`, echo };
  const cells: Record<string, string | undefined> = {};
  for (const field of Object.values(INPUT_COLUMNS)) {
    const cell = cellOf(echo[field]);
    if (typeof cell === 'object') return { cells: {}, unreadable: `${field}: ${cell.invalid}`, echo };
    cells[field] = cell;
  }
  return { cells, echo, bytes: text.length };
}

async function* readNdjson(body: AsyncIterable<Uint8Array>): AsyncGenerator<ReadRow[]> {
  const decoder = new TextDecoder();
  let pending = '';
  let line = 0;
  // Past MAX_ROW_BYTES without a line break: the rest of that line is dropped as it arrives.
  let skipping = false;
  for await (const bytes of body) {
    pending += decoder.decode(bytes, { stream: true });
    const chunk: ReadRow[] = [];
    let newline: number;
    while ((newline = pending.indexOf('\n')) >= 0) {
      const text = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      line += 1;
      if (skipping) {
        skipping = false;
        continue;
      }
      const row = ndjsonRow(text, line);
      if (row) chunk.push(row);
    }
    if (!skipping && pending.length > MAX_ROW_BYTES) {
      chunk.push({ cells: {}, unreadable: `line ${line + 1}: longer than ${MAX_ROW_BYTES} bytes`, echo: {} });
      skipping = true;
    }
    if (skipping) pending = '';
    if (chunk.length > 0) yield chunk;
  }
  pending += decoder.decode();
  if (!skipping) {
    const row = ndjsonRow(pending, line + 1);
    if (row) yield [row];
  }
}

// ---- Writing answers ----

// RFC 4180 (lines end in LF, as the CSV export's do): a cell with a comma, a quote or a line
// break is quoted, its quotes doubled; the others are written as they are. Written here, not by
// csv-stringify, which was the largest share of a request's own work (BENCHMARKS.md).
const NEEDS_QUOTES = /[",\r\n]/;
const csvCell = (value: string | number | null | undefined): string => {
  if (value === null || value === undefined) return '';
  // A number's text has none of the characters that need quotes.
  if (typeof value === 'number') return String(value);
  return NEEDS_QUOTES.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
};
const csvLine = (cells: readonly (string | number | null | undefined)[]) => `${cells.map(csvCell).join(',')}\n`;

// Built as one string a row, cell by cell: the arrays a row's cells were gathered in were most of
// what writing a batch allocated.
function csvChunk(rows: readonly AttributedRow<ReadRow>[], columns: readonly string[]): string {
  let chunk = '';
  for (const { row, answer } of rows) {
    const { cells } = row;
    let line = '';
    for (let index = 0; index < columns.length; index++) {
      const column = columns[index]!;
      // Own cells only: a column named "constructor" is no property of Object's.
      line += (index === 0 ? '' : ',') + (Object.hasOwn(cells, column) ? csvCell(cells[column]) : '');
    }
    for (const column of OUTPUT_COLUMNS) line += `,${csvCell(answer[column])}`;
    chunk += `${line}\n`;
  }
  return chunk;
}

/** A row's object written back with its answer; one JSON cannot write (nested too deep) says so in its place. */
function ndjsonLine({ row, answer }: AttributedRow<ReadRow>): string {
  try {
    return `${JSON.stringify({ ...row.echo, ...answer })}\n`;
  } catch {
    return `${JSON.stringify({ ...answer, error: answer.error ?? 'the row could not be written back (nested too deeply)' })}\n`;
  }
}

const ndjsonChunk = (rows: readonly AttributedRow<ReadRow>[]) => rows.map(ndjsonLine).join('');

/**
 * Reads rows of `format` from a body's bytes, as many at a time as have arrived; `columns` names a
 * CSV's header once the first rows are read.
 */
function readRows(
  format: Format,
  body: AsyncIterable<Uint8Array>,
): { columns: () => string[] | null; rows: AsyncGenerator<ReadRow[]> } {
  if (format === 'ndjson') return { columns: () => null, rows: readNdjson(body) };
  const csv = readCsv(body);
  return { columns: csv.columns, rows: csv.rows };
}

/** What opens the answer: a CSV's header row (the input's columns, then the answer's); nothing for NDJSON. */
export const answerHeader = (columns: readonly string[] | null): string =>
  columns === null ? '' : csvLine([...columns, ...OUTPUT_COLUMNS]);

/** Rows a piece of an answer holds: a batch is written in pieces, none of them one huge string. */
const ROWS_PER_PIECE = 1000;

/** A batch of answers in the input's form, in pieces. */
export function* answerChunks(
  rows: readonly AttributedRow<ReadRow>[],
  columns: readonly string[] | null,
): Generator<string> {
  for (let offset = 0; offset < rows.length; offset += ROWS_PER_PIECE) {
    const piece = rows.slice(offset, offset + ROWS_PER_PIECE);
    yield columns === null ? ndjsonChunk(piece) : csvChunk(piece, columns);
  }
}
