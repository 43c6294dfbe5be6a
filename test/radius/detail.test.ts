import { createReadStream, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type DetailEntry,
  type DetailRecord,
  formatDetailDate,
  parseDetailDate,
  parseDetailText,
  parseDetailValue,
  printDetailRecord,
  printDetailValue,
  readDetailRecords,
} from '../../src/domain/radius-detail.js';
import { readAccountingEvent } from '../../src/domain/radius.js';
import { MAX_UNIX_TIME } from '../../src/domain/time.js';

// The detail format as FreeRADIUS 3 writes it (src/modules/rlm_detail/rlm_detail.c: the header
// line, vp_print's tab-indented `Name = value`, `Timestamp`, a blank line) and radrelay reads it
// (src/main/detail.c); string escapes as fr_prints makes them (src/lib/print.c).

const FIXTURE = 'test/fixtures/radius/detail-20261101';
const T0 = 1793512800; // Sun Nov  1 06:00:00 2026 UTC

const records = (entries: DetailEntry[]) => entries.flatMap((entry) => (entry.kind === 'record' ? [entry.record] : []));
const unreadable = (entries: DetailEntry[]) =>
  entries.flatMap((entry) => (entry.kind === 'unreadable' ? [{ line: entry.line, reason: entry.reason }] : []));
const attributesOf = (record: DetailRecord) => Object.fromEntries(record.attributes);

describe('detail file parser', () => {
  it('reads every record of a file FreeRADIUS wrote, with its line and arrival time', () => {
    const entries = parseDetailText(readFileSync(FIXTURE, 'utf8'));
    expect(entries).toHaveLength(11);
    expect(unreadable(entries)).toEqual([]);
    const all = records(entries);
    expect(all.map((record) => record.line)).toEqual([1, 15, 39, 67, 91, 114, 133, 160, 188, 203, 230]);
    // Timestamp, when the packet arrived (the date line says the same in this file).
    expect(all.map((record) => record.at)).toEqual(
      [0, 121, 182, 241, 261, 301, 1021, 1081, 1501, 3721, 7200].map((offset) => T0 + offset),
    );
    const bob = all[2]!;
    expect(attributesOf(bob)).toMatchObject({
      'Packet-Src-IP-Address': ['10.20.0.1'],
      'Acct-Status-Type': ['Start'],
      'User-Name': ['bob'],
      'NAS-Identifier': ['bng1.example.net'],
      'NAS-Port': ['1002'],
      'Framed-IP-Address': ['100.64.1.3'],
      'Framed-IPv6-Address': ['2001:db8:ff00::17'],
      'Framed-IPv6-Prefix': ['2001:db8:100:1::/64'],
      'Delegated-IPv6-Prefix': ['2001:db8:200:100::/56'],
      'Connect-Info': ['PPPoE "vlan 100"\tLCP up'],
      'Acct-Delay-Time': ['2'],
      'Event-Timestamp': ['Nov  1 2026 06:03:02 UTC'],
      'Acct-Unique-Session-Id': ['01664622cc8ad6e2c29929d6bac4bfe7'],
      Timestamp: [String(T0 + 182)],
    });
    expect(bob.lines.get('Framed-IP-Address')).toEqual([57]);
    expect(all[3]!.lines.get('Framed-IP-Address')).toEqual([85]);
  });

  it('hands the accounting rules what they read', () => {
    const [, , bob] = records(parseDetailText(readFileSync(FIXTURE, 'utf8')));
    const event = readAccountingEvent(bob!.attributes, { at: bob!.at, sourceAddress: null });
    expect(event).toMatchObject({
      kind: 'session',
      status: 'Start',
      // Event-Timestamp − Acct-Delay-Time.
      at: T0 + 180,
      nas: { ipAddress: '10.20.0.1', identifier: 'bng1.example.net' },
      session: { userName: 'bob', acctSessionId: '4a2f0002', callingStationId: '00:11:22:33:44:66' },
    });
    expect(event?.kind === 'session' && event.session.addresses.map((subnet) => subnet.network)).toEqual([
      '100.64.1.3/32',
      '2001:db8:ff00::17/128',
      '2001:db8:100:1::/64',
      '2001:db8:200:100::/56',
    ]);
  });

  it('takes the arrival time from the date line, read as UTC, when there is no Timestamp', () => {
    const [record] = records(parseDetailText('Tue Dec  1 18:00:00 2026\n\tAcct-Status-Type = Start\n\n'));
    expect(record!.at).toBe(Date.UTC(2026, 11, 1, 18) / 1000);
    // radrelay marks a record it relayed by overwriting "Time" with "Done": still the arrival.
    const [done] = records(
      parseDetailText('Tue Dec  1 18:00:00 2026\n\tUser-Name = "a"\n\tDonestamp = 1764612000\n\n'),
    );
    expect(done!.at).toBe(1764612000);
  });

  it('keeps repeated attributes in order, and reads CRLF files and several blank lines', () => {
    const text = [
      'Tue Dec  1 18:00:00 2026',
      '\tFramed-IPv6-Prefix = 2001:db8:1::/64',
      '\tUser-Name = "x"',
      '\tFramed-IPv6-Prefix = 2001:db8:2::/64',
      '',
      '',
      'Tue Dec  1 18:00:05 2026',
      '\tUser-Name = "y"',
      '',
      '',
    ].join('\r\n');
    const [first, second] = records(parseDetailText(text));
    expect(first!.attributes.get('Framed-IPv6-Prefix')).toEqual(['2001:db8:1::/64', '2001:db8:2::/64']);
    expect(first!.lines.get('Framed-IPv6-Prefix')).toEqual([2, 4]);
    expect(second).toMatchObject({ line: 7, at: Date.UTC(2026, 11, 1, 18, 0, 5) / 1000 });
  });

  it('unescapes values as FreeRADIUS escapes them', () => {
    expect(parseDetailValue('"a \\"quoted\\" \\\\ back\\nnew\\rret\\ttab"')).toBe('a "quoted" \\ back\nnew\rret\ttab');
    // Bytes that are not printable UTF-8 come as octal; consecutive ones spell UTF-8 together.
    expect(parseDetailValue('"caf\\303\\251 \\001"')).toBe('café \u0001');
    expect(parseDetailValue('"caf\u00e9"')).toBe('café');
    expect(parseDetailValue('""')).toBe('');
    expect(parseDetailValue('"kept "  ')).toBe('kept ');
    expect(parseDetailValue('Interim-Update ')).toBe('Interim-Update');
    expect(parseDetailValue('0x64617665')).toBe('0x64617665');
  });

  it('refuses what is not a value, saying why', () => {
    expect(() => parseDetailValue('"open')).toThrow('""open" has no closing quote');
    expect(() => parseDetailValue('"a\\qb"')).toThrow('has an unknown escape \\q');
    expect(() => parseDetailValue('"a" b')).toThrow('has text after its closing quote');
    expect(() => parseDetailValue('  ')).toThrow('has no value');
    expect(() => parseDetailValue('a"b')).toThrow('has a quote inside an unquoted value');
  });

  it('reports a record it cannot read by line and reason, and reads on', () => {
    const text = [
      'garbage', // 1
      '\tUser-Name = "lost"', // 2
      '',
      '\tUser-Name = "orphan"', // 4
      '',
      'Tue Dec  1 18:00:00 2026', // 6
      '\tUser-Name = "ok"',
      '',
      'Mon Feb 30 18:00:00 2026', // 9
      '\tUser-Name = "no such day"',
      '',
      'Tue Dec  1 18:00:00 2026', // 12
      '\tUser-Name = "bad',
      '\tNAS-Port = 1',
      '',
      'Tue Dec  1 18:00:00 2026', // 16
      '\tthis is not an attribute',
      '',
      'Tue Dec  1 18:00:00 2026', // 19
      '\tTimestamp = soon',
      '',
      'Tue Dec  1 18:00:00 2026', // 22
      '',
      'Tue Dec  1 18:00:00 2026', // 24
      '\tUser-Name = "cut short"',
      'Tue Dec  1 18:00:01 2026', // 26
      '\tUser-Name = "last"',
    ].join('\n');
    const entries = parseDetailText(text);
    expect(records(entries).map((record) => [record.line, record.attributes.get('User-Name')])).toEqual([[6, ['ok']]]);
    expect(unreadable(entries)).toEqual([
      { line: 1, reason: '"garbage" is not a date line (e.g. "Tue Dec  1 18:00:00 2026")' },
      {
        line: 4,
        reason: '"User-Name = "orphan"" is an attribute with no date line before it (a record begins with one)',
      },
      { line: 9, reason: '"Mon Feb 30 18:00:00 2026" names a date or time that does not exist (or is before 1970)' },
      { line: 13, reason: 'User-Name ""bad" has no closing quote' },
      { line: 17, reason: '"this is not an attribute" is not an "Attribute = value" line' },
      { line: 20, reason: 'Timestamp "soon" is not unix seconds' },
      { line: 22, reason: 'the date line is followed by no attributes' },
      { line: 24, reason: 'the record has no blank line after it (it may be cut short)' },
      { line: 26, reason: 'the file ends inside this record (no blank line after it): it may be cut short' },
    ]);
  });

  it('streams: yields a record as soon as its blank line is read, from a stream of any length', async () => {
    let linesRead = 0;
    async function* endless() {
      for (let i = 0; ; i++) {
        linesRead++;
        yield i % 3 === 0 ? formatDetailDate(T0 + i) : i % 3 === 1 ? `\tUser-Name = "u${i}"` : '';
      }
    }
    const seen: number[] = [];
    for await (const entry of readDetailRecords(endless())) {
      if (entry.kind === 'record') seen.push(entry.record.line);
      if (seen.length === 3) break;
    }
    expect(seen).toEqual([1, 4, 7]);
    expect(linesRead).toBe(9);
  });

  it('reads a file through Node readline as parseDetailText reads its text', async () => {
    const lines = createInterface({ input: createReadStream(FIXTURE), crlfDelay: Infinity });
    const streamed: DetailEntry[] = [];
    for await (const entry of readDetailRecords(lines)) streamed.push(entry);
    expect(streamed).toEqual(parseDetailText(readFileSync(FIXTURE, 'utf8')));
  });

  it('prints dates as ctime does, and reads them back', () => {
    expect(formatDetailDate(Date.UTC(2026, 11, 1, 18) / 1000)).toBe('Tue Dec  1 18:00:00 2026');
    expect(formatDetailDate(Date.UTC(2026, 10, 30, 9, 5, 7) / 1000)).toBe('Mon Nov 30 09:05:07 2026');
    expect(parseDetailDate('Tue Dec 1 18:00:00 2026')).toBe(Date.UTC(2026, 11, 1, 18) / 1000);
    expect(() => parseDetailDate('Tue Dec  1 24:00:00 2026')).toThrow('does not exist');
    expect(() => parseDetailDate('Tue Dez  1 18:00:00 2026')).toThrow('does not name a weekday and a month');
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX_UNIX_TIME }), (at) => parseDetailDate(formatDetailDate(at)) === at),
    );
  });

  it('prints values as FreeRADIUS does: quoted strings and dates, bare numbers, names and addresses', () => {
    expect(printDetailValue('Start')).toBe('Start');
    expect(printDetailValue('100.64.1.2')).toBe('100.64.1.2');
    expect(printDetailValue('2001:db8:100:1::/64')).toBe('2001:db8:100:1::/64');
    expect(printDetailValue('alice', true)).toBe('"alice"');
    expect(printDetailValue('Dec  1 2026 18:00:00 UTC')).toBe('"Dec  1 2026 18:00:00 UTC"');
    expect(printDetailValue('a "b"\\\n\u0001')).toBe('"a \\"b\\"\\\\\\n\\001"');
    expect(
      printDetailRecord(
        1764612000,
        new Map([
          ['Acct-Status-Type', ['Start']],
          ['User-Name', ['alice']],
          ['Timestamp', ['1764612000']],
        ]),
      ),
    ).toBe('Mon Dec  1 18:00:00 2025\n\tAcct-Status-Type = Start\n\tUser-Name = "alice"\n\tTimestamp = 1764612000\n\n');
  });

  it('reads a value holding U+2028 or U+2029 (line breaks to JavaScript, not to readline)', () => {
    for (const separator of ['\u2028', '\u2029']) {
      const attributes = new Map([['User-Name', [`a${separator}b`]]]);
      expect(records(parseDetailText(printDetailRecord(0, attributes))).map((record) => record.attributes)).toEqual([
        attributes,
      ]);
    }
  });

  it('reads back whatever it prints (property)', () => {
    const name = fc
      .stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,24}$/)
      .filter((text) => text !== 'Timestamp' && text !== 'Donestamp');
    // Any text (line breaks, quotes, backslashes, control characters, any code point), names and
    // addresses, and the attributes that are always quoted.
    const value = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.string({ unit: fc.constantFrom('"', '\\', '\n', '\r', '\t', '\0', ' ', 'a', '\u007f', 'é'), maxLength: 12 }),
      fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.:/+-]{0,20}$/),
    );
    const attributes = fc.uniqueArray(
      fc.tuple(
        fc.oneof(name, fc.constantFrom('User-Name', 'Event-Timestamp', 'Class')),
        fc.array(value, { minLength: 1, maxLength: 3 }),
      ),
      { minLength: 1, maxLength: 8, selector: ([key]) => key },
    );
    const record = fc.record({
      at: fc.integer({ min: 0, max: MAX_UNIX_TIME }),
      attributes,
      withTimestamp: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(record, { minLength: 1, maxLength: 5 }), (written) => {
        const expected = written.map(({ at, attributes, withTimestamp }) => ({
          at,
          attributes: new Map([
            ...attributes,
            ...(withTimestamp ? [['Timestamp', [String(at)]] as [string, string[]]] : []),
          ]),
        }));
        const text = expected.map(({ at, attributes }) => printDetailRecord(at, attributes)).join('');
        const entries = parseDetailText(text);
        expect(unreadable(entries)).toEqual([]);
        let line = 1;
        const lines = expected.map(({ attributes }) => {
          const first = line;
          line += 2 + [...attributes.values()].reduce((count, values) => count + values.length, 0);
          return first;
        });
        expect(records(entries).map(({ line, at, attributes }) => ({ line, at, attributes }))).toEqual(
          expected.map((record, index) => ({ line: lines[index], ...record })),
        );
      }),
      { numRuns: 300 },
    );
  });
});
