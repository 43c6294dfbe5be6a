import { InvalidValueError, quoted } from './invalid-value.js';
import type { AccountingAttributes } from './radius.js';
import { MAX_UNIX_TIME, MONTH_ABBREVIATIONS as MONTHS } from './time.js';

// FreeRADIUS's `detail` files, as its detail module writes them (rlm_detail) and radrelay reads
// them (src/main/detail.c): a date line (`Tue Dec  1 18:00:00 2026`, ctime's layout), then one
// tab-indented `Attribute = value` line per attribute, then a blank line. Values are printed in
// FreeRADIUS's text form: strings and dates in double quotes with C-like escapes (`\"`, `\\`, `\n`,
// `\r`, `\t`, and `\ooo` for a byte that is not printable UTF-8), numbers, enum names, addresses
// and prefixes bare. The module adds `Timestamp = <unix seconds>` (when the packet arrived) last;
// a reader that tracks what it relayed overwrites it as `Donestamp`. Pure: lines in, records out.

/** One record of a detail file. */
export interface DetailRecord {
  /** The line number of its date line (the first line is 1). */
  line: number;
  /** Unix seconds at which the packet arrived: its Timestamp (or Donestamp), else its date line read as UTC. */
  at: number;
  /** Every attribute with its values in the order they were written, unquoted and unescaped. */
  attributes: AccountingAttributes;
  /** The line number of each of an attribute's values, in the same order. */
  lines: ReadonlyMap<string, readonly number[]>;
}

/** What a detail file holds, record by record: a record, or why the one at `line` cannot be read. */
export type DetailEntry =
  { kind: 'record'; record: DetailRecord } | { kind: 'unreadable'; line: number; reason: string };

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
// ctime's `%a %b %e %H:%M:%S %Y`: the day of the month padded with a space, not a zero.
const DATE_LINE = /^([A-Z][a-z]{2}) ([A-Z][a-z]{2}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) (\d{4})\s*$/;
// dotAll: a value may hold U+2028 and U+2029, which `.` alone does not match (lines are split
// where readline splits them: CR, LF, CRLF).
const ATTRIBUTE_LINE = /^[ \t]*([A-Za-z0-9][A-Za-z0-9_.:/-]*)[ \t]*=[ \t]*(.*)$/s;
const BARE_VALUE = /^[A-Za-z0-9][A-Za-z0-9_.:/+-]*$/;
const UNIX_SECONDS = /^\d{1,12}$/;

/** Whether `line` has a date line's layout (it may still name a day that does not exist). */
const looksLikeDateLine = (line: string) => DATE_LINE.test(line);

/**
 * A date line's time, read as UTC (the detail module writes the server's local time; a file
 * carries no zone, and the Timestamp attribute, when present, is what counts).
 */
export function parseDetailDate(line: string): number {
  const match = DATE_LINE.exec(line);
  if (!match) throw new InvalidValueError(`${quoted(line)} is not a date line (e.g. "Tue Dec  1 18:00:00 2026")`);
  const [, weekday, monthName, day, hour, minute, second, year] = match;
  const month = MONTHS.indexOf(monthName!);
  if (!WEEKDAYS.includes(weekday!) || month === -1)
    throw new InvalidValueError(`${quoted(line)} does not name a weekday and a month as ctime does (e.g. "Tue Dec")`);
  const seconds = Date.UTC(Number(year), month, Number(day), Number(hour), Number(minute), Number(second)) / 1000;
  const date = new Date(seconds * 1000);
  // Date.UTC rolls Feb 30 over into March and 24:00 into the next day: such a line names no time.
  if (
    Number(year) < 1970 ||
    date.getUTCDate() !== Number(day) ||
    date.getUTCMonth() !== month ||
    date.getUTCHours() !== Number(hour) ||
    date.getUTCMinutes() !== Number(minute) ||
    date.getUTCSeconds() !== Number(second)
  )
    throw new InvalidValueError(`${quoted(line)} names a date or time that does not exist (or is before 1970)`);
  return seconds;
}

/** `at` as a date line, in UTC: `Tue Dec  1 18:00:00 2026`. */
export function formatDetailDate(at: number): string {
  const date = new Date(at * 1000);
  const two = (n: number) => String(n).padStart(2, '0');
  return (
    `${WEEKDAYS[date.getUTCDay()]} ${MONTHS[date.getUTCMonth()]} ${String(date.getUTCDate()).padStart(2, ' ')} ` +
    `${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())} ${date.getUTCFullYear()}`
  );
}

const ESCAPES: Record<string, string> = { n: '\n', r: '\r', t: '\t', '\\': '\\', '"': '"', "'": "'" };
const utf8 = new TextDecoder('utf-8');

/** An attribute line's value as FreeRADIUS printed it, unquoted and unescaped. */
export function parseDetailValue(text: string): string {
  if (!text.startsWith('"')) {
    const bare = text.trim();
    if (bare === '') throw new InvalidValueError('has no value');
    if (bare.includes('"')) throw new InvalidValueError(`${quoted(bare)} has a quote inside an unquoted value`);
    return bare;
  }
  let value = '';
  // `\ooo` escapes are bytes: consecutive ones are decoded together, as the UTF-8 they spell.
  let bytes: number[] = [];
  const flush = () => {
    if (bytes.length === 0) return;
    value += utf8.decode(new Uint8Array(bytes));
    bytes = [];
  };
  for (let i = 1; i < text.length; i++) {
    const char = text[i]!;
    if (char === '"') {
      flush();
      if (text.slice(i + 1).trim() !== '')
        throw new InvalidValueError(`${quoted(text)} has text after its closing quote`);
      return value;
    }
    if (char !== '\\') {
      flush();
      value += char;
      continue;
    }
    const next = text[i + 1];
    const octal = /^[0-7]{3}$/.test(text.slice(i + 1, i + 4)) ? text.slice(i + 1, i + 4) : null;
    if (octal !== null && Number.parseInt(octal, 8) <= 0xff) {
      bytes.push(Number.parseInt(octal, 8));
      i += 3;
    } else if (next !== undefined && ESCAPES[next] !== undefined) {
      flush();
      value += ESCAPES[next];
      i += 1;
    } else {
      throw new InvalidValueError(
        `${quoted(text)} has an unknown escape ${next === undefined ? 'at its end' : `\\${next}`} (\\" \\\\ \\n \\r \\t \\ooo)`,
      );
    }
  }
  throw new InvalidValueError(`${quoted(text)} has no closing quote`);
}

// Attributes whose values FreeRADIUS prints quoted whatever they hold (strings and dates), so that
// a printed record looks as the detail module writes it.
const QUOTED_ATTRIBUTES = new Set([
  'User-Name',
  'Acct-Session-Id',
  'Acct-Multi-Session-Id',
  'Acct-Unique-Session-Id',
  'NAS-Identifier',
  'NAS-Port-Id',
  'Calling-Station-Id',
  'Called-Station-Id',
  'Connect-Info',
  'Event-Timestamp',
  'Class',
  'Reply-Message',
]);

/** A value as FreeRADIUS prints it: bare when it is a number, name or address; else quoted and escaped. */
export function printDetailValue(value: string, alwaysQuoted = false): string {
  if (!alwaysQuoted && BARE_VALUE.test(value)) return value;
  let text = '"';
  for (const char of value) {
    const code = char.codePointAt(0)!;
    if (char === '\\' || char === '"') text += `\\${char}`;
    else if (char === '\n') text += '\\n';
    else if (char === '\r') text += '\\r';
    else if (char === '\t') text += '\\t';
    else if (code < 0x20 || code === 0x7f) text += `\\${code.toString(8).padStart(3, '0')}`;
    else text += char;
  }
  return `${text}"`;
}

/** A record as the detail module writes it, blank line included: the date line is `at`, in UTC. */
export function printDetailRecord(at: number, attributes: AccountingAttributes): string {
  let text = `${formatDetailDate(at)}\n`;
  for (const [name, values] of attributes)
    for (const value of values) text += `\t${name} = ${printDetailValue(value, QUOTED_ATTRIBUTES.has(name))}\n`;
  return `${text}\n`;
}

interface OpenRecord {
  line: number;
  dateLineAt: number;
  arrival: number | null;
  attributes: Map<string, string[]>;
  lines: Map<string, number[]>;
  /** The first thing wrong with it: the rest of its lines are skipped. */
  problem: { line: number; reason: string } | null;
}

/**
 * Reads a detail file line by line: `line` takes the next line (without its line break) and
 * returns the entry it completes, if any; `end` returns the last one. Keeps one record in memory.
 */
export class DetailReader {
  private lineNumber = 0;
  private record: OpenRecord | null = null;

  line(text: string): DetailEntry | null {
    const number = ++this.lineNumber;
    if (text.trim() === '') return this.finish();
    const record = this.record;
    if (record === null) {
      this.open(number, text);
      return null;
    }
    if (!/^[ \t]/.test(text) && looksLikeDateLine(text)) {
      // The writer ends every record with a blank line: without one, it stopped mid-record.
      const unfinished: DetailEntry = record.problem
        ? { kind: 'unreadable', ...record.problem }
        : {
            kind: 'unreadable',
            line: record.line,
            reason: 'the record has no blank line after it (it may be cut short)',
          };
      this.record = null;
      this.open(number, text);
      return unfinished;
    }
    if (record.problem === null) this.attribute(record, number, text);
    return null;
  }

  end(): DetailEntry | null {
    const record = this.record;
    if (record === null) return null;
    this.record = null;
    if (record.problem) return { kind: 'unreadable', ...record.problem };
    // As radrelay does: a record the file ends in without its blank line was cut short (a full disk).
    return {
      kind: 'unreadable',
      line: record.line,
      reason: 'the file ends inside this record (no blank line after it): it may be cut short',
    };
  }

  private open(number: number, text: string) {
    const record: OpenRecord = {
      line: number,
      dateLineAt: 0,
      arrival: null,
      attributes: new Map(),
      lines: new Map(),
      problem: null,
    };
    this.record = record;
    try {
      record.dateLineAt = parseDetailDate(text);
    } catch (error) {
      if (!(error instanceof InvalidValueError)) throw error;
      record.problem = {
        line: number,
        reason: ATTRIBUTE_LINE.test(text)
          ? `${quoted(text.trim())} is an attribute with no date line before it (a record begins with one)`
          : error.reason,
      };
    }
  }

  private attribute(record: OpenRecord, number: number, text: string) {
    const match = ATTRIBUTE_LINE.exec(text);
    if (!match) {
      record.problem = { line: number, reason: `${quoted(text.trim())} is not an "Attribute = value" line` };
      return;
    }
    const [, name, rest] = match as unknown as [string, string, string];
    let value: string;
    try {
      value = parseDetailValue(rest);
    } catch (error) {
      if (!(error instanceof InvalidValueError)) throw error;
      record.problem = { line: number, reason: `${name} ${error.reason}` };
      return;
    }
    if ((name === 'Timestamp' || name === 'Donestamp') && record.arrival === null) {
      if (!UNIX_SECONDS.test(value) || Number(value) > MAX_UNIX_TIME) {
        record.problem = { line: number, reason: `${name} ${quoted(value)} is not unix seconds` };
        return;
      }
      record.arrival = Number(value);
    }
    const values = record.attributes.get(name);
    if (values) {
      values.push(value);
      record.lines.get(name)!.push(number);
    } else {
      record.attributes.set(name, [value]);
      record.lines.set(name, [number]);
    }
  }

  private finish(): DetailEntry | null {
    const record = this.record;
    if (record === null) return null;
    this.record = null;
    if (record.problem) return { kind: 'unreadable', ...record.problem };
    if (record.attributes.size === 0)
      return { kind: 'unreadable', line: record.line, reason: 'the date line is followed by no attributes' };
    return {
      kind: 'record',
      record: {
        line: record.line,
        at: record.arrival ?? record.dateLineAt,
        attributes: record.attributes,
        lines: record.lines,
      },
    };
  }
}

/** The entries of a detail file read as a stream of lines (without their line breaks), one record in memory at a time. */
export async function* readDetailRecords(lines: AsyncIterable<string> | Iterable<string>): AsyncGenerator<DetailEntry> {
  const reader = new DetailReader();
  for await (const line of lines) {
    const entry = reader.line(line);
    if (entry) yield entry;
  }
  const last = reader.end();
  if (last) yield last;
}

/** The entries of a whole detail file's text (line breaks as Node's readline splits them). */
export function parseDetailText(text: string): DetailEntry[] {
  const reader = new DetailReader();
  const lines = text.split(/\r\n|\n|\r/);
  // The text's final line break ends the last line; it does not begin another.
  if (lines.at(-1) === '') lines.pop();
  const entries = lines.map((line) => reader.line(line));
  entries.push(reader.end());
  return entries.filter((entry): entry is DetailEntry => entry !== null);
}
