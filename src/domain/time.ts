import { type Checked, accept } from './checked.js';
import { InvalidValueError, excerpt, quoted } from './invalid-value.js';

/** 9999-12-31T23:59:59Z: the largest unix time accepted (and the database's CHECK). */
export const MAX_UNIX_TIME = 253402300799;

/** The English month abbreviations C's strftime %b prints (FreeRADIUS dates, syslog's RFC 3164), January first. */
export const MONTH_ABBREVIATIONS: readonly string[] = [
  'Jan',
  'Feb',
  'Mar',
  'Apr',
  'May',
  'Jun',
  'Jul',
  'Aug',
  'Sep',
  'Oct',
  'Nov',
  'Dec',
];

const digits = /^(?:0|[1-9]\d*)$/;

/** Unix seconds from a non-negative integer or a string of digits (Trisul sends `"1723431899"`). */
export function parseUnixTime(value: unknown): number {
  let seconds: number;
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new InvalidValueError(`${value} is not a whole number of seconds`);
    seconds = value;
  } else if (typeof value === 'bigint') {
    if (value < 0n || value > BigInt(MAX_UNIX_TIME)) throw outOfRange(String(value));
    seconds = Number(value);
  } else if (typeof value === 'string') {
    if (!digits.test(value)) throw new InvalidValueError(`${quoted(value)} is not a unix time (digits only, seconds)`);
    if (value.length > 12) throw outOfRange(value);
    seconds = Number(value);
  } else {
    throw new InvalidValueError('a unix time must be a number or a string of digits');
  }
  if (seconds < 0 || seconds > MAX_UNIX_TIME) throw outOfRange(String(seconds));
  return seconds;
}

function outOfRange(text: string) {
  return new InvalidValueError(`${excerpt(text)} is out of range (0-${MAX_UNIX_TIME})`);
}

/** An end time: absent, null or `""` means the holding is ongoing. */
export function parseEndTime(value: unknown): number | null {
  if (value === undefined || value === null || value === '') return null;
  return parseUnixTime(value);
}

/** A holding period, inclusive at both ends; `end === null` is open (ongoing). */
export interface TimeRange {
  start: number;
  end: number | null;
}

/** A period whose end is not before its start. */
export type Period = Checked<TimeRange, 'period'>;

export function checkTimeRange(range: TimeRange): Period {
  if (range.end !== null && range.end < range.start) {
    throw new InvalidValueError(`endtime ${range.end} is before starttime ${range.start}`);
  }
  return accept(range);
}

export function rangesOverlap(a: TimeRange, b: TimeRange): boolean {
  return (a.end === null || b.start <= a.end) && (b.end === null || a.start <= b.end);
}

export function rangeContains(range: TimeRange, at: number): boolean {
  return range.start <= at && (range.end === null || at <= range.end);
}

export function nowUnixTime(): number {
  return Math.floor(Date.now() / 1000);
}

/** Whether the runtime's zone data (through Intl) knows `name` as a time zone. */
export function isKnownTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch (error) {
    if (error instanceof RangeError) return false;
    throw error;
  }
}
