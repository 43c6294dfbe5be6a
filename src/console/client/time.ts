import { parseAttributionTime } from '../../domain/attribution.js';
import { InvalidValueError } from '../../domain/invalid-value.js';
import { isRealWallTime, wallTimeOf, zoneClock } from '../../domain/time-zone.js';

// The console's Time fields: what a person types, read as the attribution endpoint reads a report's
// times (unix seconds, ISO 8601 with a zone, Trisul's DD-MM-YYYY HH:MM:SS in the chosen zone), and
// also ISO 8601 without a zone, read in the chosen zone as the Trisul form is: a person copying
// "2026-11-01 10:15" from a ticket means the zone they picked.

const ISO_WITHOUT_ZONE = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?$/;

/** Unix seconds of `text` in `timeZone`; throws InvalidValueError saying why it is no time. */
export function parseConsoleTime(text: string, timeZone: string): number {
  const trimmed = text.trim();
  const local = ISO_WITHOUT_ZONE.exec(trimmed);
  if (local) {
    const wall = wallTimeOf(local.slice(1, 7));
    if (!isRealWallTime(...wall)) throw new InvalidValueError(`"${trimmed}" is not a real date and time`);
    return zoneClock(timeZone).instant(...wall);
  }
  return parseAttributionTime(trimmed, timeZone);
}

/** A unix time as the console shows it: in `timeZone`, ISO-like, with the zone's offset. */
export function formatConsoleTime(seconds: number, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
    timeZoneName: 'longOffset',
  }).formatToParts(new Date(seconds * 1000));
  const part = (type: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === type)?.value ?? '';
  const offset = part('timeZoneName').replace(/^GMT/, '') || '+00:00';
  return `${part('year')}-${part('month')}-${part('day')} ${part('hour')}:${part('minute')}:${part('second')} ${offset}`;
}
