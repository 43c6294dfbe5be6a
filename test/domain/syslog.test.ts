import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidValueError } from '../../src/domain/invalid-value.js';
import {
  OctetFramedReader,
  type SyslogMessage,
  type SyslogReadOptions,
  readSyslogMessage,
} from '../../src/domain/syslog.js';

const utc = (year: number, month: number, day: number, hour = 0, minute = 0, second = 0) =>
  Date.UTC(year, month - 1, day, hour, minute, second) / 1000;

const inUtc = (receivedAt: number): SyslogReadOptions => ({ timeZone: 'UTC', receivedAt });
const someTime = inUtc(utc(2026, 12, 2, 18));

function messageOf(text: string, options: SyslogReadOptions = someTime): SyslogMessage {
  const reading = readSyslogMessage(text, options);
  if (!('message' in reading)) throw new Error(`expected a message, got ${JSON.stringify(reading)}`);
  return reading.message;
}

function refusal(text: string, options: SyslogReadOptions = someTime): string {
  const reading = readSyslogMessage(text, options);
  if (!('unparsable' in reading)) throw new Error(`expected a refusal, got ${JSON.stringify(reading)}`);
  return reading.unparsable;
}

const BOM = '\ufeff';

describe('RFC 5424, the examples of its section 6.5', () => {
  it('example 1: no STRUCTURED-DATA, a BOM before MSG', () => {
    expect(
      messageOf(
        `<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - ${BOM}'su root' failed for lonvick on /dev/pts/8`,
      ),
    ).toEqual({
      format: 'rfc5424',
      facility: 4,
      severity: 2,
      // The fraction (.003) is dropped: the gateway keeps whole seconds.
      at: utc(2003, 10, 11, 22, 14, 15),
      hostname: 'mymachine.example.com',
      appName: 'su',
      structuredData: null,
      body: "'su root' failed for lonvick on /dev/pts/8",
    });
  });

  it('example 2: a microsecond fraction and a -07:00 offset, an IPv4 hostname, a PROCID', () => {
    expect(
      messageOf(`<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.`),
    ).toEqual({
      format: 'rfc5424',
      facility: 20,
      severity: 5,
      at: utc(2003, 8, 24, 12, 14, 15),
      hostname: '192.0.2.1',
      appName: 'myproc',
      structuredData: null,
      body: "%% It's time to make the do-nuts.",
    });
  });

  it('example 3: one SD-ELEMENT, then a BOM and MSG', () => {
    expect(
      messageOf(
        `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] ${BOM}An application event log entry...`,
      ),
    ).toEqual({
      format: 'rfc5424',
      facility: 20,
      severity: 5,
      at: utc(2003, 10, 11, 22, 14, 15),
      hostname: 'mymachine.example.com',
      appName: 'evntslog',
      structuredData: '[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"]',
      body: 'An application event log entry...',
    });
  });

  it('example 4: two SD-ELEMENTs and no MSG', () => {
    expect(
      messageOf(
        `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]`,
      ),
    ).toEqual({
      format: 'rfc5424',
      facility: 20,
      severity: 5,
      at: utc(2003, 10, 11, 22, 14, 15),
      hostname: 'mymachine.example.com',
      appName: 'evntslog',
      structuredData:
        '[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]',
      body: '',
    });
  });
});

describe('RFC 5424, beyond the examples', () => {
  it('returns STRUCTURED-DATA raw, escaped \\" \\\\ \\] and an unescaped ] inside values included', () => {
    const sd = String.raw`[a@1 q="say \"hi\"" b="back\\slash" c="close\]" d="bare]"][b@1]`;
    const message = messageOf(`<13>1 - host app - - ${sd} body [not sd]`);
    expect(message.structuredData).toBe(sd);
    expect(message.body).toBe('body [not sd]');
  });

  it('reads "-" TIMESTAMP, HOSTNAME and APP-NAME as null', () => {
    expect(messageOf('<0>1 - - - - - - text')).toMatchObject({
      facility: 0,
      severity: 0,
      at: null,
      hostname: null,
      appName: null,
    });
  });

  it('keeps spaces in MSG and drops one trailing LF, CRLF or NUL (a UDP sender may add one)', () => {
    expect(messageOf('<13>1 - h a - - -  two  spaces ').body).toBe(' two  spaces ');
    expect(messageOf('<13>1 - h a - - - line\n').body).toBe('line');
    expect(messageOf('<13>1 - h a - - - line\r\n').body).toBe('line');
    expect(messageOf('<13>1 - h a - - - line\0').body).toBe('line');
  });

  it('refuses a leap second, a 13th month, a lowercase z and an offset past 23:59', () => {
    expect(refusal('<13>1 2016-12-31T23:59:60Z h a - - -')).toMatch(/^TIMESTAMP "2016-12-31T23:59:60Z" names no such/);
    expect(refusal('<13>1 2026-13-01T00:00:00Z h a - - -')).toMatch(/names no such date/);
    expect(refusal('<13>1 2026-02-29T00:00:00Z h a - - -')).toMatch(/names no such date/);
    expect(refusal('<13>1 2026-01-01T00:00:00z h a - - -')).toMatch(/is not an RFC 3339 time/);
    expect(refusal('<13>1 2026-01-01T00:00:00+24:00 h a - - -')).toMatch(/has offset \+24:00/);
  });

  it('refuses STRUCTURED-DATA that is not closed, or runs into MSG', () => {
    expect(refusal('<13>1 - h a - - [id a="b"')).toBe('STRUCTURED-DATA element [id is not closed by "]"');
    expect(refusal('<13>1 - h a - - [id a="b]')).toBe('STRUCTURED-DATA element [id ends inside the value of a');
    expect(refusal('<13>1 - h a - - [id a=b]')).toMatch(
      /^STRUCTURED-DATA element \[id has a parameter that is not name="value"/,
    );
    expect(refusal('<13>1 - h a - - [id]x')).toBe('STRUCTURED-DATA "[id]" is followed by "x", not a space');
    expect(refusal('<13>1 - h a - - -x')).toBe('STRUCTURED-DATA "-" is followed by "x", not a space');
  });
});

describe('RFC 3164', () => {
  it('reads a space-padded day, HOSTNAME, and TAG[pid] without its pid and colon', () => {
    expect(
      messageOf(
        '<13>Dec  2 18:04:03 myhost RT_NAT[4242]: RT_NAT - RT_SRC_NAT_PBA_ALLOC',
        inUtc(utc(2026, 12, 2, 18, 4, 5)),
      ),
    ).toEqual({
      format: 'rfc3164',
      facility: 1,
      severity: 5,
      at: utc(2026, 12, 2, 18, 4, 3),
      hostname: 'myhost',
      appName: 'RT_NAT',
      structuredData: null,
      body: 'RT_NAT - RT_SRC_NAT_PBA_ALLOC',
    });
  });

  it('reads a TAG without [pid], a two-digit day and an unpadded one', () => {
    const received = inUtc(utc(2026, 12, 20));
    expect(messageOf('<86>Dec 12 09:00:00 gw sshd: Accepted key', received)).toMatchObject({
      facility: 10,
      severity: 6,
      at: utc(2026, 12, 12, 9),
      hostname: 'gw',
      appName: 'sshd',
      body: 'Accepted key',
    });
    expect(messageOf('<86>Dec 2 09:00:00 gw sshd: x', received).at).toBe(utc(2026, 12, 2, 9));
  });

  it('leaves appName null when the content has no TAG: and keeps all of it as body', () => {
    expect(messageOf('<13>Dec  2 18:04:03 myhost just words here')).toMatchObject({
      hostname: 'myhost',
      appName: null,
      body: 'just words here',
    });
  });

  it('reads the time in the listener zone: Asia/Kolkata (+05:30)', () => {
    const received = { timeZone: 'Asia/Kolkata', receivedAt: utc(2026, 12, 2, 18, 5) };
    // 23:34:57 IST is 18:04:57 UTC.
    expect(messageOf('<13>Dec  2 23:34:57 vm RT_NAT: x', received).at).toBe(utc(2026, 12, 2, 18, 4, 57));
    // The day before in UTC: 02:00 IST on Dec 3 is 20:30 UTC on Dec 2.
    expect(messageOf('<13>Dec  3 02:00:00 vm RT_NAT: x', received).at).toBe(utc(2026, 12, 2, 20, 30));
  });

  it('reads the time in the listener zone: America/New_York in summer (EDT, -4) and winter (EST, -5)', () => {
    const summer = { timeZone: 'America/New_York', receivedAt: utc(2026, 7, 4, 16) };
    expect(messageOf('<13>Jul  4 12:00:00 h t: x', summer).at).toBe(utc(2026, 7, 4, 16));
    const winter = { timeZone: 'America/New_York', receivedAt: utc(2026, 1, 15, 17) };
    expect(messageOf('<13>Jan 15 12:00:00 h t: x', winter).at).toBe(utc(2026, 1, 15, 17));
  });

  it('takes the earlier instant of a wall time that a DST change repeats or skips', () => {
    const newYork = (receivedAt: number) => ({ timeZone: 'America/New_York', receivedAt });
    // 2026-11-01 01:30 happens twice (EDT, then EST): the first, 05:30 UTC.
    expect(messageOf('<13>Nov  1 01:30:00 h t: x', newYork(utc(2026, 11, 1, 7))).at).toBe(utc(2026, 11, 1, 5, 30));
    // 2026-03-08 02:30 never happens (02:00 EST -> 03:00 EDT): read with EDT, 06:30 UTC (01:30 EST).
    expect(messageOf('<13>Mar  8 02:30:00 h t: x', newYork(utc(2026, 3, 8, 8))).at).toBe(utc(2026, 3, 8, 6, 30));
    // Either side of the change, one instant each.
    expect(messageOf('<13>Mar  8 01:59:59 h t: x', newYork(utc(2026, 3, 8, 8))).at).toBe(utc(2026, 3, 8, 6, 59, 59));
    expect(messageOf('<13>Mar  8 03:00:00 h t: x', newYork(utc(2026, 3, 8, 8))).at).toBe(utc(2026, 3, 8, 7));
  });

  it('gives the year nearest the arrival: Dec 31 received on Jan 1 is last year, Jan 1 received on Dec 31 next', () => {
    expect(messageOf('<13>Dec 31 23:59:30 h t: x', inUtc(utc(2027, 1, 1, 0, 0, 10))).at).toBe(
      utc(2026, 12, 31, 23, 59, 30),
    );
    expect(messageOf('<13>Jan  1 00:00:05 h t: x', inUtc(utc(2026, 12, 31, 23, 59, 58))).at).toBe(
      utc(2027, 1, 1, 0, 0, 5),
    );
    // In the listener's zone: at 00:10 IST on Jan 1 (18:40 UTC on Dec 31) the year there is already 2027.
    const kolkata = { timeZone: 'Asia/Kolkata', receivedAt: utc(2026, 12, 31, 18, 40) };
    expect(messageOf('<13>Jan  1 00:05:00 h t: x', kolkata).at).toBe(utc(2026, 12, 31, 18, 35));
    expect(messageOf('<13>Dec 31 23:55:00 h t: x', kolkata).at).toBe(utc(2026, 12, 31, 18, 25));
  });

  it('takes Feb 29 for a year that has one', () => {
    expect(messageOf('<13>Feb 29 12:00:00 h t: x', inUtc(utc(2028, 3, 1))).at).toBe(utc(2028, 2, 29, 12));
    expect(refusal('<13>Feb 29 12:00:00 h t: x', inUtc(utc(2026, 3, 1)))).toBe(
      'TIMESTAMP "Feb 29 12:00:00" names a day of no year near its arrival',
    );
  });

  it('throws for a zone the runtime does not know: it is the configuration, not the message', () => {
    expect(() => readSyslogMessage('<13>Dec  2 18:04:03 h t: x', { timeZone: 'Mars/Olympus', receivedAt: 0 })).toThrow(
      InvalidValueError,
    );
  });
});

// Captured from util-linux logger 2.38.1 on this machine (TZ UTC unless said, hostname "vm"), with
// `logger --stderr --no-act -n 127.0.0.1 -d -P 5514 -t RT_NAT [--rfc3164] [-i] 'text'`: --no-act still
// connects, so a UDP server address stands in for /dev/log, which the sandbox lacks. The local form
// (no hostname) was received on a unix datagram socket given to `logger -u`. Pasted as printed.
describe("util-linux logger's own lines", () => {
  const received = inUtc(utc(2026, 12, 2, 18, 5));

  it('--rfc3164: <PRI>Mmm dd hh:mm:ss HOSTNAME TAG: MSG', () => {
    const line =
      '<13>Dec  2 18:04:57 vm RT_NAT: RT_NAT - RT_SRC_NAT_PBA_ALLOC [junos@2636.1.1.1.2.26 source-address="100.64.0.5" nat-source-address="203.0.113.9" nat-source-port-block-low="2048" nat-source-port-block-high="2303"]';
    expect(messageOf(line, received)).toEqual({
      format: 'rfc3164',
      facility: 1,
      severity: 5,
      at: utc(2026, 12, 2, 18, 4, 57),
      hostname: 'vm',
      appName: 'RT_NAT',
      structuredData: null,
      body: 'RT_NAT - RT_SRC_NAT_PBA_ALLOC [junos@2636.1.1.1.2.26 source-address="100.64.0.5" nat-source-address="203.0.113.9" nat-source-port-block-low="2048" nat-source-port-block-high="2303"]',
    });
  });

  it('--rfc3164 -i under TZ=Asia/Kolkata: TAG[pid], the local time', () => {
    expect(
      messageOf('<13>Dec  2 23:34:57 vm RT_NAT[14636]: x', { ...received, timeZone: 'Asia/Kolkata' }),
    ).toMatchObject({
      at: utc(2026, 12, 2, 18, 4, 57),
      hostname: 'vm',
      appName: 'RT_NAT',
      body: 'x',
    });
  });

  it('the default (RFC 5424), with its timeQuality element', () => {
    expect(
      messageOf(
        '<13>1 2026-12-02T18:04:57.829439+00:00 vm RT_NAT - - [timeQuality tzKnown="1" isSynced="0"] RT_NAT - RT_SRC_NAT_PBA_ALLOC y',
        received,
      ),
    ).toEqual({
      format: 'rfc5424',
      facility: 1,
      severity: 5,
      at: utc(2026, 12, 2, 18, 4, 57),
      hostname: 'vm',
      appName: 'RT_NAT',
      structuredData: '[timeQuality tzKnown="1" isSynced="0"]',
      body: 'RT_NAT - RT_SRC_NAT_PBA_ALLOC y',
    });
  });

  it('the default under TZ=Asia/Kolkata with -i: a +05:30 offset and a PROCID', () => {
    expect(
      messageOf(
        '<13>1 2026-12-02T23:34:57.838977+05:30 vm RT_NAT 14638 - [timeQuality tzKnown="1" isSynced="0"] z',
        received,
      ),
    ).toMatchObject({ at: utc(2026, 12, 2, 18, 4, 57), appName: 'RT_NAT', body: 'z' });
  });

  it('--sd-id test@32473 --sd-param \'a="b\\"c\\]d"\': two elements, escapes kept', () => {
    expect(
      messageOf(
        String.raw`<13>1 2026-12-02T18:04:57.846897+00:00 vm RT_NAT - - [timeQuality tzKnown="1" isSynced="0"][test@32473 a="b\"c\]d"] hello`,
        received,
      ),
    ).toMatchObject({
      structuredData: String.raw`[timeQuality tzKnown="1" isSynced="0"][test@32473 a="b\"c\]d"]`,
      body: 'hello',
    });
  });

  it('--rfc5424=notq, =notime and =nohost (with -p local7.warn): "-" fields', () => {
    expect(messageOf('<13>1 2026-12-02T18:04:57.854304+00:00 vm RT_NAT - - - notq', received)).toMatchObject({
      structuredData: null,
      body: 'notq',
    });
    expect(messageOf('<13>1 - vm RT_NAT - - - notime', received)).toMatchObject({ at: null, body: 'notime' });
    expect(
      messageOf(
        '<188>1 2026-12-02T18:04:57.868961+00:00 - RT_NAT - - [timeQuality tzKnown="1" isSynced="0"] nohost',
        received,
      ),
    ).toMatchObject({ facility: 23, severity: 4, hostname: null, appName: 'RT_NAT', body: 'nohost' });
  });

  it('to a local socket (logger -u): no HOSTNAME, the first word is the TAG', () => {
    const local = inUtc(utc(2026, 12, 2, 18, 9, 46));
    expect(messageOf('<13>Dec  2 18:09:45 RT_NAT: local default', local)).toMatchObject({
      at: utc(2026, 12, 2, 18, 9, 45),
      hostname: null,
      appName: 'RT_NAT',
      body: 'local default',
    });
    expect(messageOf('<13>Dec  2 18:09:45 RT_NAT[16297]: local pid', local)).toMatchObject({
      hostname: null,
      appName: 'RT_NAT',
      body: 'local pid',
    });
  });
});

describe('unparsable messages, each reason naming the part', () => {
  it('no PRI', () => {
    expect(refusal('Dec  2 18:04:03 myhost RT_NAT: x')).toBe('no PRI: the message does not start with "<"');
    expect(refusal('')).toBe('no PRI: the message does not start with "<"');
    expect(refusal('<x>1 - - - - - -')).toBe('PRI "<x>" is not <0> to <191>');
  });

  it('PRI 192 and beyond', () => {
    expect(refusal('<192>1 - - - - - -')).toBe('PRI "<192>" is out of range (0-191)');
    expect(refusal('<999>Dec  2 18:04:03 h t: x')).toBe('PRI "<999>" is out of range (0-191)');
    expect(refusal('<1000>1 - - - - - -')).toBe('PRI "<1000>" is not <0> to <191>');
    expect(messageOf('<191>1 - - - - - -')).toMatchObject({ facility: 23, severity: 7 });
  });

  it('a VERSION other than 1', () => {
    expect(refusal('<13>2 2026-12-02T18:04:57Z h a - - - x')).toBe('VERSION "2" is not 1 (RFC 5424)');
    expect(refusal('<13>10 - h a - - - x')).toBe('VERSION "10" is not 1 (RFC 5424)');
  });

  it('a month that is none', () => {
    expect(refusal('<13>Foo  2 18:04:03 h t: x')).toBe('TIMESTAMP "Foo  2 18:04:03" names no month (Jan-Dec)');
    expect(refusal('<13>dec  2 18:04:03 h t: x')).toBe('TIMESTAMP "dec  2 18:04:03" names no month (Jan-Dec)');
    expect(refusal('<13>Dec 32 18:04:03 h t: x')).toBe('TIMESTAMP "Dec 32 18:04:03" names no such date and time');
    expect(refusal('<13>Dec  2 24:00:00 h t: x')).toBe('TIMESTAMP "Dec  2 24:00:00" names no such date and time');
    expect(refusal('<13>hello world, no timestamp here')).toBe(
      '"hello world, no" after the PRI is neither VERSION 1 (RFC 5424) nor a TIMESTAMP "Mmm dd hh:mm:ss" (RFC 3164)',
    );
  });

  it('truncated, wherever it stops', () => {
    expect(refusal('<13>')).toBe('the message ends inside its TIMESTAMP ("")');
    expect(refusal('<13>Dec  2 18:0')).toBe('the message ends inside its TIMESTAMP ("Dec  2 18:0")');
    expect(refusal('<13>Dec  2 18:04:03')).toBe('the message ends before its HOSTNAME');
    expect(refusal('<13>1')).toBe('the message ends before its TIMESTAMP');
    expect(refusal('<13>1 2026-12-02T18:04:57Z')).toBe('the message ends before its HOSTNAME');
    expect(refusal('<13>1 2026-12-02T18:04:57Z host app')).toBe('the message ends before its PROCID');
    expect(refusal('<13>1 2026-12-02T18:04:57Z host app - ID')).toBe('the message ends before its STRUCTURED-DATA');
    expect(refusal('<13>1 2026-12-02T18:04:57Z host app - ID ')).toBe('the message ends before its STRUCTURED-DATA');
    expect(refusal('<13>1 2026-12-02T18:04')).toBe('the message ends before its HOSTNAME');
    expect(refusal('<13>1 2026-12-02T18:04 h a - - -')).toMatch(
      /^TIMESTAMP "2026-12-02T18:04" is not an RFC 3339 time/,
    );
  });

  it('an empty or overlong header field', () => {
    expect(refusal('<13>1 -  a - - - x')).toBe('HOSTNAME is empty (two spaces where it should be)');
    expect(refusal(`<13>1 - h ${'a'.repeat(49)} - - - x`)).toMatch(/^APP-NAME "a+" is longer than 48 characters$/);
  });
});

// RFC 6587 framing.

const MAX = 64 * 1024;
const bytes = (text: string) => Buffer.from(text, 'latin1');
const LF_BYTE = 0x0a;
const CR_BYTE = 0x0d;

/** Each message as latin1 text, each error as its kind. */
function readAll(chunks: Buffer[], max = MAX): string[] {
  const reader = new OctetFramedReader(max);
  const readings = [...chunks.flatMap((chunk) => reader.push(chunk)), ...reader.end()];
  return readings.map((reading) => ('message' in reading ? reading.message.toString('latin1') : reading.error.kind));
}

const octetFrame = (message: string) => `${Buffer.byteLength(message, 'latin1')} ${message}`;

describe('TCP framing (RFC 6587)', () => {
  // Bytes received from logger 2.38.1 with `-n 127.0.0.1 -T -P 5515 -t RT_NAT`, three connections
  // one after the other (--octet-count --rfc3164, then the default LF framing, then --octet-count),
  // appended: octet-counted frames carry no trailer, so the LF frame follows the first directly.
  const fromLogger =
    '37 <13>Dec  2 18:05:02 vm RT_NAT: oc3164<13>1 2026-12-02T18:05:02.987856+00:00 vm RT_NAT - - [timeQuality tzKnown="1" isSynced="0"] lf5424\n98 <13>1 2026-12-02T18:05:02.995258+00:00 vm RT_NAT - - [timeQuality tzKnown="1" isSynced="0"] oc5424';
  const loggerMessages = [
    '<13>Dec  2 18:05:02 vm RT_NAT: oc3164',
    '<13>1 2026-12-02T18:05:02.987856+00:00 vm RT_NAT - - [timeQuality tzKnown="1" isSynced="0"] lf5424',
    '<13>1 2026-12-02T18:05:02.995258+00:00 vm RT_NAT - - [timeQuality tzKnown="1" isSynced="0"] oc5424',
  ];

  it("reads logger's octet-counted and LF-framed messages mixed in one stream", () => {
    expect(readAll([bytes(fromLogger)])).toEqual(loggerMessages);
    const bodies = readAll([bytes(fromLogger)]).map((text) => messageOf(text as string).body);
    expect(bodies).toEqual(['oc3164', 'lf5424', 'oc5424']);
  });

  // Octet counting (one holding an LF), LF, CRLF and NUL trailers, and an empty line between frames.
  const mixed =
    octetFrame('<13>1 - h a - - - two\nlines') +
    '<13>Dec  2 18:04:03 h t: lf\n' +
    '<13>Dec  2 18:04:03 h t: crlf\r\n' +
    '\n' +
    octetFrame('<14>1 - h a - - - counted') +
    '<13>Dec  2 18:04:03 h t: nul\0' +
    fromLogger;
  const mixedMessages = [
    '<13>1 - h a - - - two\nlines',
    '<13>Dec  2 18:04:03 h t: lf',
    '<13>Dec  2 18:04:03 h t: crlf',
    '<14>1 - h a - - - counted',
    '<13>Dec  2 18:04:03 h t: nul',
    ...loggerMessages,
  ];

  it('reads the same messages however the stream is split in two, at every byte position', () => {
    const stream = bytes(mixed);
    expect(readAll([stream])).toEqual(mixedMessages);
    for (let split = 0; split <= stream.length; split += 1) {
      expect(readAll([stream.subarray(0, split), stream.subarray(split)]), `split at ${split}`).toEqual(mixedMessages);
    }
  });

  it('reads them a byte at a time', () => {
    const stream = bytes(mixed);
    expect(readAll([...stream].map((byte) => Buffer.from([byte])))).toEqual(mixedMessages);
  });

  it('passes over an oversize octet-counted frame by its count, so the next frame needs no LF', () => {
    const max = 100;
    // As logger --octet-count sends them: frame after frame, nothing between.
    const stream = `${octetFrame('x'.repeat(500))}${octetFrame('<13>1 - h a - - - next')}`;
    for (let cut = 0; cut <= stream.length; cut++) {
      expect(readAll([bytes(stream.slice(0, cut)), bytes(stream.slice(cut))], max)).toEqual([
        'oversize',
        '<13>1 - h a - - - next',
      ]);
    }
    // A count too long to be a frame's is noise: the reader waits for an LF instead.
    expect(readAll([bytes(`${'9'.repeat(12)} junk\n<13>1 - h a - - - after\n`)], max)).toEqual([
      'oversize',
      '<13>1 - h a - - - after',
    ]);
  });

  it('reports an oversize octet count as soon as it is over, and then passes over its frame', () => {
    const max = 100;
    const reader = new OctetFramedReader(max);
    // "1000" is known to be over 100 at its fourth digit, before the space.
    expect(reader.push(bytes('100'))).toEqual([]);
    expect(reader.push(bytes('0 '))).toEqual([
      { error: { kind: 'oversize', reason: 'an octet count of 1000… is over 100' } },
    ]);
    expect(
      readAll(
        [bytes(`1000 ${'x'.repeat(1000)}\n<13>1 - h a - - - after\n${octetFrame('<13>1 - h a - - - next')}`)],
        max,
      ),
    ).toEqual(['oversize', '<13>1 - h a - - - after', '<13>1 - h a - - - next']);
    // Exactly the longest is a message.
    const longest = `<13>${'y'.repeat(max - 4)}`;
    expect(readAll([bytes(octetFrame(longest) + `${longest}\r\n`)], max)).toEqual([longest, longest]);
  });

  it('reports an oversize line, however it is split, and resumes after its LF', () => {
    const max = 100;
    const stream = bytes(`<13>${'z'.repeat(200)}\n<13>1 - h a - - - after\n`);
    expect(readAll([stream], max)).toEqual(['oversize', '<13>1 - h a - - - after']);
    for (let split = 0; split <= stream.length; split += 1) {
      expect(readAll([stream.subarray(0, split), stream.subarray(split)], max), `split at ${split}`).toEqual([
        'oversize',
        '<13>1 - h a - - - after',
      ]);
    }
    // One octet over the longest, then ended at once.
    expect(readAll([bytes(`<13>${'z'.repeat(max - 3)}\n`)], max)).toEqual(['oversize']);
  });

  it('refuses a length with a leading zero, or not followed by a space, and resumes after the next LF', () => {
    expect(readAll([bytes(`012 <13>1 - - -\n${octetFrame('<13>1 - h a - - - next')}`)])).toEqual([
      'bad-length',
      '<13>1 - h a - - - next',
    ]);
    const reader = new OctetFramedReader(MAX);
    expect(reader.push(bytes('0 '))).toEqual([
      { error: { kind: 'bad-length', reason: 'an octet count starts with 0 (RFC 6587: no leading zero)' } },
    ]);
    expect(readAll([bytes('12x<13>1 - - -\n<13>1 - h a - - - next\n')])).toEqual([
      'bad-length',
      '<13>1 - h a - - - next',
    ]);
    // The LF after the digits is itself where the next frame begins.
    expect(readAll([bytes('12\n<13>1 - h a - - - next\n')])).toEqual(['bad-length', '<13>1 - h a - - - next']);
  });

  it('reports a frame that starts with neither a digit nor "<", once, and resumes after the next LF', () => {
    expect(readAll([bytes('hello there\n<13>1 - h a - - - next\n')])).toEqual(['unframed', '<13>1 - h a - - - next']);
  });

  it('reports a stream that ends inside a frame', () => {
    expect(readAll([bytes('12')])).toEqual(['truncated']);
    expect(readAll([bytes('12 <13>')])).toEqual(['truncated']);
    expect(readAll([bytes('<13>1 - h a - - - no LF')])).toEqual(['truncated']);
    expect(readAll([bytes('garbage')])).toEqual(['unframed']);
  });

  it('hands over bytes, a BOM and UTF-8 split between chunks intact', () => {
    const message = `<13>1 - h a - - - ${BOM}Grüße`;
    const frame = Buffer.from(`${Buffer.byteLength(message)} ${message}`, 'utf8');
    const reader = new OctetFramedReader(MAX);
    const readings = [...frame].flatMap((byte) => reader.push(Buffer.from([byte])));
    expect(readings).toHaveLength(1);
    const [reading] = readings;
    if (!reading || !('message' in reading)) throw new Error('expected a message');
    expect(messageOf(reading.message.toString('utf8')).body).toBe('Grüße');
  });

  it('copies each message out of the chunks it came in', () => {
    const chunk = bytes(`${octetFrame('<13>abc')}<13>def\n`);
    const reader = new OctetFramedReader(MAX);
    const readings = reader.push(chunk);
    chunk.fill(0);
    expect(readings.map((reading) => ('message' in reading ? reading.message.toString('latin1') : null))).toEqual([
      '<13>abc',
      '<13>def',
    ]);
  });

  it('property: messages framed either way and chunked anywhere come out whole and in order', () => {
    // A message to be LF-framed starts with "<" and holds no LF or NUL; an octet-counted one may hold anything.
    const lfMessage = fc
      .uint8Array({ maxLength: 300 })
      .map((body) => Buffer.concat([bytes('<13>'), Buffer.from(body.filter((byte) => byte !== LF_BYTE && byte !== 0))]))
      .filter((message) => message.at(-1) !== CR_BYTE);
    const countedMessage = fc.uint8Array({ minLength: 1, maxLength: 300 }).map((body) => Buffer.from(body));
    const framed = fc.oneof(
      lfMessage.chain((message) =>
        fc
          .constantFrom('\n', '\r\n', '\0')
          .map((trailer) => ({ message, frame: Buffer.concat([message, bytes(trailer)]) })),
      ),
      countedMessage.map((message) => ({ message, frame: Buffer.concat([bytes(`${message.length} `), message]) })),
    );
    fc.assert(
      fc.property(fc.array(framed, { maxLength: 20 }), fc.array(fc.nat(), { maxLength: 30 }), (frames, cuts) => {
        const stream = Buffer.concat(frames.map(({ frame }) => frame));
        const positions = [...new Set(cuts.map((cut) => cut % (stream.length + 1)))].sort((a, b) => a - b);
        const chunks = [0, ...positions].map((start, index) =>
          stream.subarray(start, [...positions, stream.length][index]),
        );
        const reader = new OctetFramedReader(MAX);
        const readings = [...chunks.flatMap((chunk) => reader.push(chunk)), ...reader.end()];
        expect(readings).toEqual(frames.map(({ message }) => ({ message })));
      }),
      { numRuns: 500 },
    );
  });
});
