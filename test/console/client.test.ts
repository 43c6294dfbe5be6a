import fc from 'fast-check';
import { stringify } from 'csv-stringify/sync';
import { describe, expect, it } from 'vitest';
import { countCsvRows, parseCsvRecords } from '../../src/console/client/csv.js';
import { formatConsoleTime, parseConsoleTime } from '../../src/console/client/time.js';

// The console's own rules, run here as the browser runs them: its Time fields and its reading of
// the attributed CSV.

describe("the console's Time fields", () => {
  it('read each form a person types in the zone chosen, unless the text names its own', () => {
    // 2026-05-28 10:30:00 UTC.
    const instant = 1_779_964_200;
    expect(parseConsoleTime('28-05-2026 16:00:00', 'Asia/Kolkata')).toBe(instant);
    expect(parseConsoleTime('2026-05-28 16:00:00', 'Asia/Kolkata')).toBe(instant);
    expect(parseConsoleTime('2026-05-28T16:00', 'Asia/Kolkata')).toBe(instant);
    expect(parseConsoleTime('2026-05-28T10:30:00Z', 'Asia/Kolkata')).toBe(instant);
    expect(parseConsoleTime('2026-05-28T12:30:00+02:00', 'UTC')).toBe(instant);
    expect(parseConsoleTime(' 1779964200 ', 'America/New_York')).toBe(instant);
    expect(parseConsoleTime('28-05-2026 06:30:00', 'America/New_York')).toBe(instant);
  });

  it('say why a text is no time', () => {
    expect(() => parseConsoleTime('31-02-2026 10:00:00', 'UTC')).toThrow(/31-02-2026/);
    expect(() => parseConsoleTime('2026-02-30 10:00', 'UTC')).toThrow(/not a real date/);
    expect(() => parseConsoleTime('yesterday', 'UTC')).toThrow(/is not a time/);
    expect(() => parseConsoleTime('', 'UTC')).toThrow(/required/);
  });

  it('read back every time they show, in every zone (property)', () => {
    const zones = ['UTC', 'Asia/Kolkata', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Kathmandu'];
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4_102_444_800 }), fc.constantFrom(...zones), (seconds, zone) => {
        const shown = formatConsoleTime(seconds, zone);
        expect(shown).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} [+-]\d{2}:\d{2}$/);
        const [date, time, offset] = shown.split(' ');
        expect(parseConsoleTime(`${date}T${time}${offset}`, 'UTC')).toBe(seconds);
      }),
    );
  });
});

describe("the console's reading of the attributed CSV", () => {
  it('gives back the records written, quotes, commas and line breaks included (property)', () => {
    const cell = fc.string({ unit: fc.constantFrom('a', '1', ',', '"', '\n', '\r\n', ' ', 'é') });
    fc.assert(
      fc.property(
        fc.array(fc.array(cell, { minLength: 2, maxLength: 5 }), { minLength: 1, maxLength: 8 }),
        (records) => {
          // A record of one empty field is a blank line; give each record a non-empty first field.
          const written = records.map((record) => [`r${record.length}`, ...record]);
          expect(parseCsvRecords(stringify(written))).toEqual(written);
        },
      ),
    );
  });

  it('counts the rows after the header, blank lines left out', () => {
    expect(countCsvRows('ip,time\n10.0.0.1,1\n\n"10.0.0.2",2\r\n')).toBe(2);
    expect(countCsvRows('ip,time\n')).toBe(0);
    expect(countCsvRows('')).toBe(0);
  });
});
