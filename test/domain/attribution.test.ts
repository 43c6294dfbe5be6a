import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseAttributionTime, readAttributionRow } from '../../src/domain/attribution.js';
import { InvalidValueError } from '../../src/domain/invalid-value.js';
import { MAX_UNIX_TIME } from '../../src/domain/time.js';

const reasonOf = (run: () => unknown) => {
  try {
    run();
  } catch (error) {
    if (error instanceof InvalidValueError) return error.reason;
    throw error;
  }
  return null;
};

const pad = (value: number, width = 2) => String(value).padStart(width, '0');

/** `at` as ISO 8601 in a zone `offsetMinutes` east of UTC, as a report might write it. */
function isoAt(at: number, offsetMinutes: number): string {
  const wall = new Date((at + offsetMinutes * 60) * 1000);
  const sign = offsetMinutes < 0 ? '-' : '+';
  const offset = Math.abs(offsetMinutes);
  return (
    `${pad(wall.getUTCFullYear(), 4)}-${pad(wall.getUTCMonth() + 1)}-${pad(wall.getUTCDate())}` +
    `T${pad(wall.getUTCHours())}:${pad(wall.getUTCMinutes())}:${pad(wall.getUTCSeconds())}` +
    (offsetMinutes === 0 ? 'Z' : `${sign}${pad(Math.floor(offset / 60))}:${pad(offset % 60)}`)
  );
}

// Years 1971-9998 keep every offset's wall time inside 0001-9999.
const instant = fc.integer({ min: 31_536_000, max: MAX_UNIX_TIME - 2 * 86_400 });

describe('parseAttributionTime', () => {
  it('reads unix seconds, ISO 8601 with Z or an offset, and DD-MM-YYYY HH:MM:SS in the zone given', () => {
    expect(parseAttributionTime('1700000000', null)).toBe(1_700_000_000);
    expect(parseAttributionTime(' 2023-11-14T22:13:20Z ', null)).toBe(1_700_000_000);
    expect(parseAttributionTime('2023-11-15T03:43:20+05:30', null)).toBe(1_700_000_000);
    expect(parseAttributionTime('2023-11-14 17:13:20-0500', null)).toBe(1_700_000_000);
    // A fraction of a second: the instant is within that second.
    expect(parseAttributionTime('2023-11-14T22:13:20.999Z', null)).toBe(1_700_000_000);
    expect(parseAttributionTime('15-11-2023 03:43:20', 'Asia/Kolkata')).toBe(1_700_000_000);
    expect(parseAttributionTime('14-11-2023 22:13:20', 'UTC')).toBe(1_700_000_000);
    // New York's spring-forward gap: 02:30 does not exist; read with the offset after it (EDT).
    expect(parseAttributionTime('10-03-2024 02:30:00', 'America/New_York')).toBe(Date.UTC(2024, 2, 10, 6, 30) / 1000);
  });

  it('refuses what names no instant, saying why', () => {
    expect(reasonOf(() => parseAttributionTime('', null))).toBe('a time is required');
    expect(reasonOf(() => parseAttributionTime('2023-11-14T22:13:20', null))).toMatch(/has no zone: end it with Z/);
    expect(reasonOf(() => parseAttributionTime('14-11-2023 22:13:20', null))).toMatch(/names no zone: give timezone=/);
    expect(reasonOf(() => parseAttributionTime('2023-02-30T00:00:00Z', null))).toMatch(/is not a real date and time/);
    expect(reasonOf(() => parseAttributionTime('2023-11-14T24:00:00Z', null))).toMatch(/is not a real date and time/);
    expect(reasonOf(() => parseAttributionTime('2023-11-14T22:13:20+25:00', null))).toMatch(/no real UTC offset/);
    expect(reasonOf(() => parseAttributionTime('31-02-2023 00:00:00', 'UTC'))).toMatch(/is not a real date/);
    expect(reasonOf(() => parseAttributionTime('1969-12-31T23:59:59Z', null))).toMatch(/out of range/);
    expect(reasonOf(() => parseAttributionTime('yesterday', null))).toMatch(/is not a time: unix seconds, ISO 8601/);
    expect(reasonOf(() => parseAttributionTime('1700000000.5', null))).toMatch(/is not a time/);
  });

  it('reads back any instant written in ISO 8601 at any offset (property)', () => {
    fc.assert(
      fc.property(instant, fc.integer({ min: -14 * 4, max: 14 * 4 }), (at, quarters) => {
        expect(parseAttributionTime(isoAt(at, quarters * 15), null)).toBe(at);
      }),
    );
  });

  it('reads back any instant written as DD-MM-YYYY HH:MM:SS in a fixed-offset zone (property)', () => {
    fc.assert(
      fc.property(instant, (at) => {
        const wall = isoAt(at, 330).slice(0, 19);
        const trisul = `${wall.slice(8, 10)}-${wall.slice(5, 7)}-${wall.slice(0, 4)} ${wall.slice(11)}`;
        expect(parseAttributionTime(trisul, 'Asia/Kolkata')).toBe(at);
      }),
    );
  });
});

describe('readAttributionRow', () => {
  it('reads the address canonically, the time, and the port when one is given', () => {
    expect(readAttributionRow({ ip: ' 2001:DB8::1 ', time: '5' }, null)).toEqual({
      lookup: { ip: '2001:db8::1', at: 5 },
    });
    expect(readAttributionRow({ ip: '192.0.2.1', time: '5', port: '' }, null)).toEqual({
      lookup: { ip: '192.0.2.1', at: 5 },
    });
    expect(readAttributionRow({ ip: '192.0.2.1', time: '5', port: '443' }, null)).toEqual({
      lookup: { ip: '192.0.2.1', at: 5, port: 443 },
    });
  });

  it('names the first cell that is wrong, and why', () => {
    expect(readAttributionRow({ ip: '127.1', time: '5' }, null)).toEqual({ error: expect.stringMatching(/^ip: /) });
    expect(readAttributionRow({ time: '5' }, null)).toEqual({ error: 'ip: an IP address is required' });
    expect(readAttributionRow({ ip: '192.0.2.1' }, null)).toEqual({ error: 'time: a time is required' });
    expect(readAttributionRow({ ip: '192.0.2.1', time: '5', port: '65536' }, null)).toEqual({
      error: 'port: 65536 is not a port (0-65535)',
    });
    expect(readAttributionRow({ ip: '192.0.2.1', time: '5', port: '-1' }, null)).toEqual({
      error: 'port: "-1" is not a port (0-65535)',
    });
  });
});
