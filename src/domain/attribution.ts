import { InvalidValueError, quoted } from './invalid-value.js';
import { parseIpAddress } from './ip.js';
import { portProblem } from './nat.js';
import { parseTrisulDate } from './trisul-csv.js';
import { MAX_UNIX_TIME, parseUnixTime } from './time.js';
import { isRealWallTime, utcSeconds, wallTimeOf, zoneClock } from './time-zone.js';

// The rows a report generator sends to be attributed (POST /attribute, ipdr-admin attribute):
// an address, an instant and maybe a port, each as text, read strictly. Pure.

/** The columns a row must have, and the one it may have. */
export const INPUT_COLUMNS = { ip: 'ip', time: 'time', port: 'port' } as const;

/**
 * What each answer adds after the input's own columns, in this order: the mapping that held the
 * address (and its customer), the carrier-grade NAT hop it was reached through, and why the row
 * could not be answered.
 */
export const OUTPUT_COLUMNS = [
  'userid',
  'name',
  'mapping_id',
  'ipsubnet',
  'starttime',
  'endtime',
  'source',
  'nat_kind',
  'nat_id',
  'nat_port_first',
  'nat_port_last',
  'nat_inside_address',
  'nat_inside_context',
  'nat_source',
  'error',
] as const;

export type OutputColumn = (typeof OUTPUT_COLUMNS)[number];

/**
 * A row's question, read: canonical address text, unix seconds, and the port if one was given.
 * A type literal, not an interface: the lookup log stores these as JSON.
 */
export type AttributionLookup = { ip: string; at: number; port?: number };

export type ReadRow = { lookup: AttributionLookup } | { error: string };

const ISO_8601 =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:(Z)|([+-])(\d{2}):?(\d{2}))$/i;
const ISO_WITHOUT_ZONE = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?$/i;
const TRISUL_DATE_TIME = /^(\d{2})-(\d{2})-(\d{4}) (\d{2}):(\d{2}):(\d{2})$/;
const DIGITS = /^\d+$/;

function inRange(text: string, seconds: number): number {
  if (seconds < 0 || seconds > MAX_UNIX_TIME)
    throw new InvalidValueError(`${quoted(text)} is out of range (1970 to 9999)`);
  return seconds;
}

/**
 * An instant as a report row gives it: unix seconds, ISO 8601 with its zone (`Z` or an offset;
 * a fraction of a second is dropped: the instant is within that second), or Trisul's
 * `DD-MM-YYYY HH:MM:SS` read in `timeZone` (an IANA name the caller gave; none: refused, since the
 * text does not say which instant it is).
 */
export function parseAttributionTime(text: string, timeZone: string | null): number {
  const trimmed = text.trim();
  if (trimmed === '') throw new InvalidValueError('a time is required');
  if (DIGITS.test(trimmed)) return parseUnixTime(trimmed);
  const iso = ISO_8601.exec(trimmed);
  if (iso) {
    const wall = wallTimeOf(iso.slice(1, 7));
    if (!isRealWallTime(...wall)) throw new InvalidValueError(`${quoted(trimmed)} is not a real date and time`);
    const sign = iso[9] === '-' ? -1 : 1;
    const offsetHours = Number(iso[10] ?? 0);
    const offsetMinutes = Number(iso[11] ?? 0);
    if (offsetHours > 23 || offsetMinutes > 59)
      throw new InvalidValueError(`${quoted(trimmed)} has no real UTC offset`);
    const offset = iso[8] ? 0 : sign * (offsetHours * 3600 + offsetMinutes * 60);
    return inRange(trimmed, utcSeconds(...wall) - offset);
  }
  if (ISO_WITHOUT_ZONE.test(trimmed)) {
    throw new InvalidValueError(`${quoted(trimmed)} has no zone: end it with Z or an offset such as +05:30`);
  }
  const trisul = TRISUL_DATE_TIME.exec(trimmed);
  if (trisul) {
    if (timeZone === null) {
      throw new InvalidValueError(
        `${quoted(trimmed)} names no zone: give timezone= (e.g. Asia/Kolkata) for DD-MM-YYYY HH:MM:SS`,
      );
    }
    // The date's own checks (real day, hours, range) as Trisul's CSV reads it, then the zone's offset then.
    parseTrisulDate(trimmed);
    const [day, month, year, hour, minute, second] = trisul.slice(1, 7);
    const wall = wallTimeOf([year, month, day, hour, minute, second]);
    return inRange(trimmed, zoneClock(timeZone).instant(...wall));
  }
  throw new InvalidValueError(
    `${quoted(trimmed)} is not a time: unix seconds, ISO 8601 with a zone, or DD-MM-YYYY HH:MM:SS with timezone=`,
  );
}

/** A port cell: empty is none. */
function parsePort(text: string): number | undefined {
  const trimmed = text.trim();
  if (trimmed === '') return undefined;
  if (!DIGITS.test(trimmed) || trimmed.length > 5)
    throw new InvalidValueError(`${quoted(trimmed)} is not a port (0-65535)`);
  const problem = portProblem(Number(trimmed));
  if (problem !== null) throw new InvalidValueError(problem);
  return Number(trimmed);
}

/**
 * Reads one row's cells (absent: undefined) into its question, or says which cell is wrong and why,
 * as `field: reason`.
 */
export function readAttributionRow(
  cells: { ip?: string | undefined; time?: string | undefined; port?: string | undefined },
  timeZone: string | null,
): ReadRow {
  const read = <T>(field: string, parse: () => T): T | { error: string } => {
    try {
      return parse();
    } catch (error) {
      if (error instanceof InvalidValueError) return { error: `${field}: ${error.message}` };
      throw error;
    }
  };
  const ip = read('ip', () => parseIpAddress((cells.ip ?? '').trim()).text);
  if (typeof ip !== 'string') return ip;
  const at = read('time', () => parseAttributionTime(cells.time ?? '', timeZone));
  if (typeof at !== 'number') return at;
  const port = read('port', () => parsePort(cells.port ?? ''));
  if (typeof port === 'object') return port;
  return { lookup: port === undefined ? { ip, at } : { ip, at, port } };
}
