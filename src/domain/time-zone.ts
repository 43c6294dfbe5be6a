import { InvalidValueError, quoted } from './invalid-value.js';

// Wall times in IANA time zones, from the runtime's zone data through Intl (no dependency): what
// RFC 3164 syslog headers and Trisul's dates without an offset are read in.

/** Unix seconds of a UTC wall time; years 0-99 are themselves (Date.UTC takes them for 1900-1999). */
export function utcSeconds(year: number, month: number, day: number, hour: number, minute: number, second: number) {
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, 0);
  return date.getTime() / 1000;
}

export type WallTime = [year: number, month: number, day: number, hour: number, minute: number, second: number];

export interface ZoneClock {
  /** The wall time in the zone at an instant. */
  wallTime(at: number): WallTime;
  /** The instant a wall time in the zone names. */
  instant(...wall: WallTime): number;
}

const zoneClocks = new Map<string, ZoneClock>();

/** A zone's clock, from the runtime's zone data through Intl (no dependency), made once per zone. */
export function zoneClock(timeZone: string): ZoneClock {
  const known = zoneClocks.get(timeZone);
  if (known) return known;
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      era: 'short',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    throw new InvalidValueError(`timeZone ${quoted(timeZone)} is not an IANA time zone the runtime knows`);
  }
  const wallTime = (at: number): WallTime => {
    const parts: Record<string, string> = {};
    for (const part of format.formatToParts(at * 1000)) parts[part.type] = part.value;
    const year = Number(parts.year);
    return [
      parts.era === 'BC' ? 1 - year : year,
      Number(parts.month),
      Number(parts.day),
      Number(parts.hour),
      Number(parts.minute),
      Number(parts.second),
    ];
  };
  const offsetAt = (at: number) => utcSeconds(...wallTime(at)) - Math.floor(at);
  const clock: ZoneClock = {
    wallTime,
    instant(...wall) {
      const asUtc = utcSeconds(...wall);
      // The zone's offsets around that wall time (a day either side covers any one transition):
      // each gives a candidate instant, right if the zone's offset there is the one assumed.
      const offsets = new Set([offsetAt(asUtc - 86_400), offsetAt(asUtc), offsetAt(asUtc + 86_400)]);
      const candidates = [...offsets].map((offset) => asUtc - offset);
      const right = candidates.filter((at) => offsetAt(at) === asUtc - at);
      // In an overlap (clocks set back) the wall time names two instants, in a gap (clocks set
      // forward) none: either way we take the earlier instant (Temporal's 'earlier'), so that a time
      // in a gap is read with the offset after it (02:30 on a New York spring-forward day is 06:30Z,
      // 01:30 EST) and one in an overlap with the offset before it (01:30 EDT, not EST).
      return Math.min(...(right.length > 0 ? right : candidates));
    },
  };
  zoneClocks.set(timeZone, clock);
  return clock;
}

/** A wall time from captured groups in the order year, month, day, hour, minute, second (absent: 0). */
export function wallTimeOf(groups: readonly (string | undefined)[]): WallTime {
  const [year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0] = groups.map((group) => Number(group ?? 0));
  return [year, month, day, hour, minute, second];
}

export function daysInMonth(year: number, month: number): number {
  return new Date(utcSeconds(year, month + 1, 0, 0, 0, 0) * 1000).getUTCDate();
}

/** Whether a wall time names a real calendar date and clock time (no leap second). */
export function isRealWallTime(...[year, month, day, hour, minute, second]: WallTime): boolean {
  return (
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day <= daysInMonth(year, month) &&
    hour <= 23 &&
    minute <= 59 &&
    second <= 59
  );
}
