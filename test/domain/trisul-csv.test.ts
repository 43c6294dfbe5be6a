import { describe, expect, it } from 'vitest';
import {
  CsvRowError,
  formatCsvRows,
  formatTrisulDate,
  isHeaderRow,
  parseCsvRow,
  parseTrisulDate,
} from '../../src/domain/trisul-csv.js';

describe('Trisul dates', () => {
  it.each([
    ['01-01-1970', 0],
    ['01-01-1970 00:00:00', 0],
    ['12-08-2024 02:24:59', 1723429499],
    ['29-02-2024 23:59:59', 1709251199],
    ['31-12-9999 23:59:59', 253402300799],
  ])('reads %s as %d (UTC)', (text, seconds) => {
    expect(parseTrisulDate(text)).toBe(seconds);
  });

  it.each([
    ['2024-08-12', /DD-MM-YYYY/],
    ['12/08/2024', /DD-MM-YYYY/],
    ['1-8-2024', /DD-MM-YYYY/],
    ['12-08-2024 2:24:59', /DD-MM-YYYY/],
    ['31-02-2024', /not a real date/],
    ['29-02-2023', /not a real date/],
    ['12-13-2024', /not a real date/],
    ['12-08-2024 24:00:00', /not a real date/],
    ['31-12-1969 23:59:59', /out of range/],
  ])('rejects %s', (text, reason) => {
    expect(() => parseTrisulDate(text)).toThrow(reason);
  });

  it('writes what it reads', () => {
    for (const seconds of [0, 1723429499, 253402300799])
      expect(parseTrisulDate(formatTrisulDate(seconds))).toBe(seconds);
    expect(formatTrisulDate(1723429499)).toBe('12-08-2024 02:24:59');
  });
});

describe('CSV rows', () => {
  it('reads the 10-column layout: several IPs in one cell, a period and a terminal id', () => {
    const record = parseCsvRow([
      '192.168.1.25/16, 10.0.0.1',
      'Trisul',
      'Chennai',
      'demo@gmail.com',
      '123',
      '',
      'B68t19',
      '01-08-2024',
      '31-12-2024 23:59:59',
      'aa:bb',
    ]);
    expect(record.customer).toEqual({
      userId: 'B68t19',
      name: 'Trisul',
      address: 'Chennai',
      email: 'demo@gmail.com',
      phoneNumber: '123',
      altPhoneNumber: null,
    });
    expect(record.mappings.map((m) => [m.subnet.input, m.subnet.network, m.start, m.end, m.terminalId])).toEqual([
      ['192.168.1.25/16', '192.168.0.0/16', 1722470400, 1735689599, 'aa:bb'],
      ['10.0.0.1', '10.0.0.1/32', 1722470400, 1735689599, 'aa:bb'],
    ]);
  });

  it('reads the older 7-column layout as held from 1970, ongoing', () => {
    const record = parseCsvRow(['172.27.19.224', 'Legacy', '', '', '', '', 'L1']);
    expect(record.mappings.map((m) => [m.start, m.end, m.terminalId])).toEqual([[0, null, null]]);
  });

  it.each([
    [['10.0.0.1', 'N', '', '', '', '', 'U1', '', ''], /row: has 9 columns/],
    [['10.0.0.1', '', '', '', '', '', 'U1'], /^Cust Name: must not be empty/],
    [['10.0.0.1', 'N', '', '', '', '', ''], /^User\/Cust ID: must not be empty/],
    [['127.1', 'N', '', '', '', '', 'U1'], /^Subnet\/IP: "127.1" is not an IPv4 address/],
    [
      ['10.0.0.1', 'N', '', '', '', '', 'U1', '02-01-2024', '01-01-2024', ''],
      /^Valid To: endtime \d+ is before starttime/,
    ],
  ])('names the cell that is wrong: %j', (cells, reason) => {
    expect(() => parseCsvRow(cells)).toThrow(CsvRowError);
    expect(() => parseCsvRow(cells)).toThrow(reason);
  });

  it('recognises the header row', () => {
    expect(isHeaderRow(['Subnet/IP', 'Cust Name'])).toBe(true);
    expect(isHeaderRow(['10.0.0.1', 'Cust Name'])).toBe(false);
  });

  it('writes one row per period and terminal, and a row without IPs for a customer without mappings', () => {
    const customer = { userId: 'U1', name: 'N', address: null, email: 'e@x', phoneNumber: null, altPhoneNumber: null };
    expect(
      formatCsvRows(customer, [
        { ipsubnet: '10.0.0.1', start: 0, end: null, terminalId: null },
        { ipsubnet: '10.0.0.2', start: 0, end: null, terminalId: null },
        { ipsubnet: '10.0.0.3', start: 1723429499, end: 1723429500, terminalId: 'T' },
      ]),
    ).toEqual([
      ['10.0.0.1,10.0.0.2', 'N', '', 'e@x', '', '', 'U1', '01-01-1970 00:00:00', '', ''],
      ['10.0.0.3', 'N', '', 'e@x', '', '', 'U1', '12-08-2024 02:24:59', '12-08-2024 02:25:00', 'T'],
    ]);
    expect(formatCsvRows(customer, [])).toEqual([['', 'N', '', 'e@x', '', '', 'U1', '', '', '']]);
  });
});
