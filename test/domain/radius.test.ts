import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { InvalidValueError } from '../../src/domain/invalid-value.js';
import { parseDetailText } from '../../src/domain/radius-detail.js';
import {
  type AccountingEvent,
  type Arrival,
  InvalidAccountingRecordError,
  ipv6FromOctets,
  ipv6PrefixFromOctets,
  parseRadiusDate,
  readAccountingEvent,
} from '../../src/domain/radius.js';

// Records are written as `radclient` and a detail file write them: one `Attribute = value` per
// line (a repeated attribute gives several values), strings possibly in double quotes.
function attributes(text: string): Map<string, string[]> {
  const read = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '') continue;
    const equals = trimmed.indexOf(' = ');
    const name = trimmed.slice(0, equals);
    read.set(name, [...(read.get(name) ?? []), trimmed.slice(equals + 3)]);
  }
  return read;
}

const arrival: Arrival = { at: 1_800_000_000, sourceAddress: '192.0.2.10' };

const start = `
  Acct-Status-Type = Start
  User-Name = "alice"
  Acct-Session-Id = "s-1"
  NAS-IP-Address = 10.0.0.1
  Framed-IP-Address = 100.64.1.2
`;

function read(text: string, at: Arrival = arrival): AccountingEvent | null {
  return readAccountingEvent(attributes(text), at);
}

function sessionOf(text: string, at: Arrival = arrival) {
  const event = read(text, at);
  if (event?.kind !== 'session') throw new Error(`expected a session event, got ${JSON.stringify(event)}`);
  return event;
}

function refusal(text: string): InvalidAccountingRecordError {
  try {
    read(text);
  } catch (error) {
    if (error instanceof InvalidAccountingRecordError) return error;
    throw error;
  }
  throw new Error('the record was accepted');
}

/**
 * FreeRADIUS's acct_unique policy (raddb/policy.d/accounting): md5 of
 * "User-Name,Acct-Session-Id,NAS-IPv6-Address or else NAS-IP-Address,NAS-Identifier,NAS-Port-Id,NAS-Port".
 */
const acctUnique = (...fields: string[]) => createHash('md5').update(fields.join(',')).digest('hex');

describe('event time', () => {
  it('is Event-Timestamp minus Acct-Delay-Time, in unix seconds', () => {
    expect(read(`${start}Event-Timestamp = 1700000000\nAcct-Delay-Time = 15`)?.at).toBe(1_699_999_985);
    expect(read(`${start}Event-Timestamp = 1700000000`)?.at).toBe(1_700_000_000);
  });

  it('reads Event-Timestamp as FreeRADIUS prints it, UTC or with a numeric offset', () => {
    expect(read(`${start}Event-Timestamp = "Dec  1 2026 18:00:00 UTC"`)?.at).toBe(Date.UTC(2026, 11, 1, 18) / 1000);
    expect(read(`${start}Event-Timestamp = "Dec 11 2026 18:00:00 GMT"\nAcct-Delay-Time = 2`)?.at).toBe(
      Date.UTC(2026, 11, 11, 18) / 1000 - 2,
    );
    // 18:00 at +05:30 is 12:30 UTC; 18:00 at -0300 is 21:00 UTC.
    expect(read(`${start}Event-Timestamp = "Dec  1 2026 18:00:00 +0530"`)?.at).toBe(
      Date.UTC(2026, 11, 1, 12, 30) / 1000,
    );
    expect(parseRadiusDate('Dec  1 2026 18:00:00 -0300')).toBe(Date.UTC(2026, 11, 1, 21) / 1000);
  });

  it('is the arrival time minus Acct-Delay-Time without Event-Timestamp', () => {
    expect(read(`${start}Acct-Delay-Time = 30`)?.at).toBe(arrival.at - 30);
    expect(read(start)?.at).toBe(arrival.at);
    const nas = read('Acct-Status-Type = Accounting-On\nAcct-Delay-Time = 4', { at: 100, sourceAddress: null });
    expect(nas?.at).toBe(96);
  });

  it('never goes before 1970', () => {
    expect(read(`${start}Event-Timestamp = 10\nAcct-Delay-Time = 60`)?.at).toBe(0);
  });

  it('refuses a malformed Event-Timestamp or Acct-Delay-Time, naming it', () => {
    for (const stamp of ['"yesterday"', '"Foo  1 2026 18:00:00 UTC"', '-5', '1.5', '253402300800']) {
      const error = refusal(`${start}Event-Timestamp = ${stamp}`);
      expect(error.field).toBe('Event-Timestamp');
      expect(error.message).toMatch(/^Event-Timestamp /);
    }
    for (const delay of ['-1', 'soon', '1.5'])
      expect(refusal(`${start}Acct-Delay-Time = ${delay}`).field).toBe('Acct-Delay-Time');
  });

  it('reads the hour-only offset FreeRADIUS prints where the zone has no abbreviation', () => {
    // From `freeradius -X` (3.0, America/Sao_Paulo): this Event-Timestamp went into radacct as
    // FROM_UNIXTIME(1684201212), i.e. 22:40:12 at -03 is 01:40:12 UTC the next day.
    expect(parseRadiusDate('May 15 2023 22:40:12 -03')).toBe(1_684_201_212);
    expect(read(`${start}Event-Timestamp = "May 15 2023 22:40:12 -03"\nAcct-Delay-Time = 2`)?.at).toBe(1_684_201_210);
    expect(parseRadiusDate('"May  5 2023 22:40:12 +05"')).toBe(Date.UTC(2023, 4, 5, 17, 40, 12) / 1000);
    expect(parseRadiusDate('May  5 2023 22:40:12 +00')).toBe(Date.UTC(2023, 4, 5, 22, 40, 12) / 1000);
  });

  it('reads ±HHMM and ±HH:MM offsets alike', () => {
    const utc = Date.UTC(2026, 11, 1, 12, 30) / 1000;
    for (const zone of ['+0530', '+05:30']) expect(parseRadiusDate(`Dec  1 2026 18:00:00 ${zone}`)).toBe(utc);
    for (const zone of ['-03', '-0300', '-03:00'])
      expect(parseRadiusDate(`Dec  1 2026 18:00:00 ${zone}`)).toBe(Date.UTC(2026, 11, 1, 21) / 1000);
    // An offset that crosses midnight and the year.
    expect(parseRadiusDate('Jan  1 2027 01:00:00 +14')).toBe(Date.UTC(2026, 11, 31, 11) / 1000);
  });

  it('refuses an offset that is not ±HH, ±HHMM or ±HH:MM, or is out of range', () => {
    for (const zone of ['+5', '+123', '+05:3', '-03:000', '+2400', '+0560', '+05:60', '0530', '+-05', '+05:']) {
      const error = refusal(`${start}Event-Timestamp = "Dec  1 2026 18:00:00 ${zone}"`);
      expect(error.field).toBe('Event-Timestamp');
      expect(error.message).toMatch(/not a date|not ±HH, ±HHMM or ±HH:MM/);
    }
    expect(() => parseRadiusDate('Dec  1 2026 18:00:00 +2400')).toThrow(/zone offset \+2400, not ±HH/);
    // 9999-12-31 23:00 at -02 is past the last second of year 9999.
    expect(() => parseRadiusDate('Dec 31 9999 23:00:00 -02')).toThrow(/past year 9999/);
  });

  it('refuses a zone named by an abbreviation other than UTC or GMT, saying it is ambiguous', () => {
    for (const zone of ['CET', 'EST', 'IST', 'BRT']) {
      const error = refusal(`${start}Event-Timestamp = "Dec  1 2026 18:00:00 ${zone}"`);
      expect(error.field).toBe('Event-Timestamp');
      expect(error.message).toMatch(new RegExp(`^Event-Timestamp ".*" names its zone ${zone}, an abbreviation`));
      expect(error.message).toMatch(/more than one offset/);
    }
  });

  it("takes a named-zone Event-Timestamp as the record's Timestamp, less Acct-Delay-Time, when the record has one", () => {
    // What FreeRADIUS's detail module writes: Event-Timestamp in the server's zone, Timestamp
    // (arrival, unix seconds) last.
    const stamped = `${start}Event-Timestamp = "Dec  1 2026 18:00:00 CET"\nAcct-Delay-Time = 3\n`;
    expect(read(`${stamped}Timestamp = 1796144405`)?.at).toBe(1_796_144_402);
    expect(read(`${stamped}Donestamp = 1796144405`)?.at).toBe(1_796_144_402);
    // A Timestamp never stands in for an Event-Timestamp that is no date at all, or a bad offset.
    expect(refusal(`${start}Event-Timestamp = "yesterday"\nTimestamp = 1796144405`).message).toMatch(/not a date/);
    expect(refusal(`${start}Event-Timestamp = "Dec  1 2026 18:00:00 +2400"\nTimestamp = 1796144405`).field).toBe(
      'Event-Timestamp',
    );
    // Nor does one that is not unix seconds.
    expect(refusal(`${stamped}Timestamp = soon`).message).toMatch(/abbreviation/);
  });

  it("reads a detail file's named-zone record by its Timestamp, and refuses it without one", () => {
    const detail = (timestamp: string) =>
      parseDetailText(
        [
          'Tue Dec  1 18:00:00 2026',
          '\tAcct-Status-Type = Start',
          '\tUser-Name = "alice"',
          '\tAcct-Session-Id = "s-1"',
          '\tNAS-IP-Address = 10.0.0.1',
          '\tFramed-IP-Address = 100.64.1.2',
          '\tEvent-Timestamp = "Dec  1 2026 18:00:00 CET"',
          '\tAcct-Delay-Time = 1',
          ...(timestamp ? [`\t${timestamp}`] : []),
          '',
        ].join('\n') + '\n',
      );
    const [withTimestamp] = detail('Timestamp = 1796144405');
    if (withTimestamp?.kind !== 'record') throw new Error(`expected a record, got ${JSON.stringify(withTimestamp)}`);
    const record = withTimestamp.record;
    expect(readAccountingEvent(record.attributes, { at: record.at, sourceAddress: null })?.at).toBe(1_796_144_404);
    const [bare] = detail('');
    if (bare?.kind !== 'record') throw new Error(`expected a record, got ${JSON.stringify(bare)}`);
    // The date line is the server's local time in an unknown zone (18:00 CET read as 18:00 UTC),
    // no better than the stamp.
    expect(bare.record.at).toBe(Date.UTC(2026, 11, 1, 18) / 1000);
    expect(() => readAccountingEvent(bare.record.attributes, { at: bare.record.at, sourceAddress: null })).toThrow(
      /^Event-Timestamp .*abbreviation/,
    );
  });

  it('parseRadiusDate reads decimal seconds, quoted or not, and refuses what is past year 9999', () => {
    expect(parseRadiusDate('0')).toBe(0);
    expect(parseRadiusDate('"1700000000"')).toBe(1_700_000_000);
    expect(() => parseRadiusDate('999999999999')).toThrow(InvalidValueError);
    expect(() => parseRadiusDate('999999999999')).toThrow(/past year 9999/);
    expect(() => parseRadiusDate('Dec  1 2026 18:00')).toThrow(/not a date/);
  });
});

describe('status', () => {
  it.each([
    ['Start', 'Start'],
    ['1', 'Start'],
    ['Stop', 'Stop'],
    ['2', 'Stop'],
    ['Interim-Update', 'Interim-Update'],
    ['Alive', 'Interim-Update'],
    ['3', 'Interim-Update'],
  ])('reads %s as a session %s', (text, status) => {
    const event = sessionOf(start.replace('Acct-Status-Type = Start', `Acct-Status-Type = ${text}`));
    expect(event.status).toBe(status);
  });

  it.each([
    ['Accounting-On', 'Accounting-On'],
    ['7', 'Accounting-On'],
    ['Accounting-Off', 'Accounting-Off'],
    ['8', 'Accounting-Off'],
  ])('reads %s as the NAS event %s, carrying no session', (text, status) => {
    // No User-Name or Acct-Session-Id: a NAS event is about the NAS alone.
    const event = read(`Acct-Status-Type = ${text}\nNAS-IP-Address = 10.0.0.1\nNAS-Identifier = "bng-1"`);
    expect(event).toEqual({
      kind: 'nas',
      status,
      at: arrival.at,
      nas: { ipAddress: '10.0.0.1', identifier: 'bng-1', key: '10.0.0.1/bng-1' },
    });
    expect(event).not.toHaveProperty('session');
  });

  it('reads a status that says nothing about who held an address as no event', () => {
    for (const text of ['Failed', '15', 'Tunnel-Start', '9', 'Tunnel-Link-Stop', '14']) {
      expect(read(start.replace('Acct-Status-Type = Start', `Acct-Status-Type = ${text}`))).toBeNull();
    }
  });
});

describe('required attributes', () => {
  it('refuses a record without Acct-Status-Type, User-Name or Acct-Session-Id, naming it', () => {
    for (const name of ['Acct-Status-Type', 'User-Name', 'Acct-Session-Id']) {
      const without = start
        .split('\n')
        .filter((line) => !line.trim().startsWith(`${name} `))
        .join('\n');
      const error = refusal(without);
      expect(error).toBeInstanceOf(InvalidValueError);
      expect(error.field).toBe(name);
      expect(error.message).toBe(`${name} is missing`);
    }
  });

  it('takes an empty quoted value as missing', () => {
    expect(refusal(start.replace('"alice"', '""')).field).toBe('User-Name');
    expect(refusal(start.replace('"s-1"', '""')).field).toBe('Acct-Session-Id');
  });

  it('refuses a User-Name that cannot be a UserID: control characters, only spaces', () => {
    const control = refusal(start.replace('"alice"', '"ali\u0007ce"'));
    expect(control.field).toBe('User-Name');
    expect(control.message).toMatch(/control characters/);
    const newline = refusal(start.replace('"alice"', '"alice\u007f"'));
    expect(newline.field).toBe('User-Name');
    const spaces = refusal(start.replace('"alice"', '"   "'));
    expect(spaces.field).toBe('User-Name');
    expect(spaces.message).toMatch(/white space/);
  });

  it('keeps a User-Name as sent, spaces included, and unquotes strings', () => {
    const event = sessionOf(`${start.replace('"alice"', '" alice@isp "')}\nCalling-Station-Id = "02-00-00-00-00-01"`);
    expect(event.session.userName).toBe(' alice@isp ');
    expect(event.session.acctSessionId).toBe('s-1');
    expect(event.session.callingStationId).toBe('02-00-00-00-00-01');
    expect(sessionOf(start.replace('"alice"', 'alice')).session.userName).toBe('alice');
  });

  it('reads the session attributes beside the addresses', () => {
    const event = sessionOf(`
      Acct-Status-Type = Stop
      User-Name = "alice"
      Acct-Session-Id = "s-1"
      NAS-Port-Id = "ge-0/0/1.100"
      Acct-Session-Time = 3600
      Acct-Terminate-Cause = User-Request
    `);
    expect(event.session).toMatchObject({
      nasPortId: 'ge-0/0/1.100',
      sessionTime: 3600,
      terminateCause: 'User-Request',
      callingStationId: null,
      addresses: [],
    });
    expect(refusal(`${start}Acct-Session-Time = -3`).field).toBe('Acct-Session-Time');
  });
});

describe('addresses', () => {
  const networks = (text: string) => sessionOf(text).session.addresses.map((subnet) => subnet.network);

  it('reads every framed and delegated address, IPv4 then IPv6 address, prefix, delegated prefix', () => {
    const dualStack = `
      Acct-Status-Type = Start
      User-Name = "alice"
      Acct-Session-Id = "s-1"
      Delegated-IPv6-Prefix = 2001:db8:1200::/56
      Framed-IPv6-Prefix = 2001:db8:0:1::/64
      Framed-IPv6-Address = 2001:DB8:0:1::1
      Framed-IP-Address = 100.64.1.2
    `;
    expect(networks(dualStack)).toEqual([
      '100.64.1.2/32',
      '2001:db8:0:1::1/128',
      '2001:db8:0:1::/64',
      '2001:db8:1200::/56',
    ]);
    const [ipv4, ipv6] = sessionOf(dualStack).session.addresses;
    expect(ipv4).toMatchObject({ family: 4, prefixLength: 32 });
    expect(ipv6).toMatchObject({ family: 6, prefixLength: 128 });
  });

  it('reads several values of one attribute, in order, and one value repeated as one holding', () => {
    expect(
      networks(
        `${start}Framed-IP-Address = 100.64.1.3\nDelegated-IPv6-Prefix = 2001:db8:5::/48\nDelegated-IPv6-Prefix = 2001:db8:6::/48`,
      ),
    ).toEqual(['100.64.1.2/32', '100.64.1.3/32', '2001:db8:5::/48', '2001:db8:6::/48']);
    expect(networks(`${start}Framed-IPv6-Prefix = 2001:db8:7::/48\nDelegated-IPv6-Prefix = 2001:db8:7::/48`)).toEqual([
      '100.64.1.2/32',
      '2001:db8:7::/48',
    ]);
    expect(networks(`${start}Framed-IP-Address = 100.64.1.2`)).toEqual(['100.64.1.2/32']);
  });

  it('ignores 255.255.255.254 (the NAS picks) and 255.255.255.255 (the user picks): no address is held', () => {
    expect(networks(start.replace('100.64.1.2', '255.255.255.254'))).toEqual([]);
    expect(networks(start.replace('100.64.1.2', '255.255.255.255'))).toEqual([]);
    expect(networks(`${start.replace('100.64.1.2', '255.255.255.254')}Framed-IPv6-Prefix = 2001:db8::/64`)).toEqual([
      '2001:db8::/64',
    ]);
  });

  it('reads a prefix with host bits set as its network', () => {
    expect(networks(`${start}Framed-IPv6-Prefix = 2001:db8:0:1::5/64`)).toEqual(['100.64.1.2/32', '2001:db8:0:1::/64']);
  });

  it.each([
    ['Framed-IP-Address', '100.64.1.256', /100\.64\.1\.256/],
    ['Framed-IP-Address', '2001:db8::1', /not an IPv4 value/],
    ['Framed-IP-Address', '100.64.1.0/24', /100\.64\.1\.0\/24/],
    ['Framed-IPv6-Address', '100.64.1.2', /not an IPv6 value/],
    ['Framed-IPv6-Address', '2001:db8::g', /2001:db8::g/],
    ['Framed-IPv6-Prefix', '2001:db8::/129', /prefix length 129/],
    ['Framed-IPv6-Prefix', '10.0.0.0/8', /not an IPv6 value/],
    ['Delegated-IPv6-Prefix', 'none', /"none"/],
  ])('refuses %s = %s, naming the attribute', (name, value, reason) => {
    const error = refusal(`${start.replace('Framed-IP-Address = 100.64.1.2', '')}${name} = ${value}`);
    expect(error.field).toBe(name);
    expect(error.message).toMatch(new RegExp(`^${name} `));
    expect(error.message).toMatch(reason);
  });
});

describe('NAS identity and session key', () => {
  it('takes NAS-IP-Address, then NAS-IPv6-Address, then the packet source, then the arrival source', () => {
    expect(sessionOf(start).nas).toEqual({ ipAddress: '10.0.0.1', identifier: null, key: '10.0.0.1/' });
    const withoutIp = start.replace('NAS-IP-Address = 10.0.0.1', '');
    expect(sessionOf(`${withoutIp}NAS-IPv6-Address = 2001:db8::a`).nas.ipAddress).toBe('2001:db8::a');
    expect(sessionOf(`${withoutIp}Packet-Src-IP-Address = 192.0.2.99`).nas.ipAddress).toBe('192.0.2.99');
    expect(sessionOf(`${withoutIp}NAS-Identifier = "bng-2"`).nas).toEqual({
      ipAddress: '192.0.2.10',
      identifier: 'bng-2',
      key: '192.0.2.10/bng-2',
    });
    expect(sessionOf(withoutIp, { at: 1, sourceAddress: null }).nas).toEqual({
      ipAddress: null,
      identifier: null,
      key: '/',
    });
  });

  it("is FreeRADIUS's acct_unique, as its own debug output shows it", () => {
    // Two Accounting-Requests and the Acct-Unique-Session-Id `freeradius -X` computed for them
    // (FreeRADIUS 3.0, the default policy, no Class attribute).
    const juniper = sessionOf(`
      User-Name = "teste1"
      Acct-Status-Type = Start
      Acct-Session-Id = "4"
      Framed-IP-Address = 100.64.0.3
      NAS-Port = 16777216
      NAS-Port-Id = ":1000"
      NAS-IP-Address = 10.0.0.2
    `);
    expect(juniper.session.key).toBe('2ec0ab35ab69de0ec1b1cd01cdad817a');
    const mikrotik = sessionOf(`
      Acct-Status-Type = Start
      NAS-Port-Id = "vlan888-hotspot"
      User-Name = "thepumper"
      NAS-Port = 2148532244
      Acct-Session-Id = "80100014"
      Framed-IP-Address = 10.5.88.2
      NAS-Identifier = "KhwanrichaiHome"
      NAS-IP-Address = 10.0.0.1
    `);
    expect(mikrotik.session.key).toBe('baf56d545295c3594bcd0e562847bcf2');
  });

  it('hashes each field in its place, absent ones as empty text', () => {
    expect(sessionOf(start).session.key).toBe(acctUnique('alice', 's-1', '10.0.0.1', '', '', ''));
    const full = sessionOf(`${start}NAS-Identifier = "bng-1"\nNAS-Port-Id = "eth0.7"\nNAS-Port = 7`);
    expect(full.session.key).toBe(acctUnique('alice', 's-1', '10.0.0.1', 'bng-1', 'eth0.7', '7'));
    // FreeRADIUS's preprocess adds NAS-IP-Address from the packet's source before acct_unique runs.
    const fromSource = sessionOf(start.replace('NAS-IP-Address = 10.0.0.1', ''));
    expect(fromSource.session.key).toBe(acctUnique('alice', 's-1', '192.0.2.10', '', '', ''));
    const ipv6Nas = sessionOf(`${start.replace('NAS-IP-Address = 10.0.0.1', '')}NAS-IPv6-Address = 2001:db8::a`);
    expect(ipv6Nas.session.key).toBe(acctUnique('alice', 's-1', '2001:db8::a', '', '', ''));
  });

  it('takes NAS-IPv6-Address before NAS-IP-Address, as acct_unique does, while the NAS stays known by NAS-IP-Address', () => {
    const both = sessionOf(`${start}NAS-IPv6-Address = 2001:db8::a`);
    // md5("alice,s-1,2001:db8::a,,,"), computed apart from the code under test (md5sum).
    expect(both.session.key).toBe('7eb064c9c23e4c8c9486f0cd9139287b');
    expect(both.session.key).toBe(acctUnique('alice', 's-1', '2001:db8::a', '', '', ''));
    expect(both.session.key).not.toBe(acctUnique('alice', 's-1', '10.0.0.1', '', '', ''));
    // The order the attributes come in does not matter.
    const reversed = sessionOf(
      `${start.replace('NAS-IP-Address = 10.0.0.1', 'NAS-IPv6-Address = 2001:db8::a')}NAS-IP-Address = 10.0.0.1`,
    );
    expect(reversed.session.key).toBe(both.session.key);
    // Sessions and Accounting-On/Off are matched on the NAS's identity, which is unchanged.
    expect(both.nas).toEqual({ ipAddress: '10.0.0.1', identifier: null, key: '10.0.0.1/' });
    // With NAS-IP-Address alone the key is as before.
    expect(sessionOf(start).session.key).toBe('a164639fec7724038edb7654a28cf597');
  });

  it('differs for every field that differs', () => {
    const keys = [
      start,
      start.replace('"alice"', '"bob"'),
      start.replace('"s-1"', '"s-2"'),
      start.replace('10.0.0.1', '10.0.0.2'),
      `${start}NAS-Identifier = "x"`,
      `${start}NAS-Port-Id = "x"`,
      `${start}NAS-Port = 1`,
    ].map((text) => sessionOf(text).session.key);
    expect(new Set(keys).size).toBe(keys.length);
    // Addresses, times and the status are not part of it: every event of one session has its key.
    const stop = start.replace('Start', 'Stop').replace('100.64.1.2', '100.64.9.9');
    expect(sessionOf(`${stop}Event-Timestamp = 5`).session.key).toBe(keys[0]);
  });
});

describe('IPv6 attribute octets (RFC 3162)', () => {
  const bytes = (...values: number[]) => Uint8Array.from(values);

  it('reads a 16-octet Framed-IPv6-Address-style value', () => {
    expect(ipv6FromOctets(bytes(0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1))).toBe('2001:db8::1');
    expect(ipv6FromOctets(new Uint8Array(16))).toBe('::');
    expect(ipv6FromOctets(bytes(0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x02, 0x11, 0x22, 0xff, 0xfe, 0x33, 0x44, 0x55))).toBe(
      'fe80::211:22ff:fe33:4455',
    );
    expect(() => ipv6FromOctets(new Uint8Array(4))).toThrow(/4 octets long, not 16/);
  });

  it('reads Framed-IPv6-Prefix: reserved octet, prefix length, then as many prefix octets as sent', () => {
    // RFC 3162 2.3: the prefix field is up to 16 octets; missing trailing octets are zero.
    expect(ipv6PrefixFromOctets(bytes(0, 64, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1))).toBe('2001:db8:0:1::/64');
    expect(ipv6PrefixFromOctets(bytes(0, 32, 0x20, 0x01, 0x0d, 0xb8))).toBe('2001:db8::/32');
    expect(ipv6PrefixFromOctets(bytes(0, 56, 0x20, 0x01, 0x0d, 0xb8, 0x12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))).toBe(
      '2001:db8:1200::/56',
    );
    expect(ipv6PrefixFromOctets(bytes(0, 0))).toBe('::/0');
    expect(ipv6PrefixFromOctets(bytes(0, 128, ...new Array<number>(15).fill(0), 1))).toBe('::1/128');
  });

  it('keeps host bits past the prefix length, which the record then reads as the network, as it reads the text', () => {
    // 2001:db8:0:1::5/64: the interface identifier's last octet set in a /64.
    const octets = bytes(0, 64, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 5);
    const text = ipv6PrefixFromOctets(octets);
    expect(text).toBe('2001:db8:0:1::5/64');
    // Octets short of the prefix field (/48 in 7 octets) with a bit set past /48.
    expect(ipv6PrefixFromOctets(bytes(0, 48, 0x20, 0x01, 0x0d, 0xb8, 0, 5, 0x80))).toBe('2001:db8:5:8000::/48');
    for (const name of ['Framed-IPv6-Prefix', 'Delegated-IPv6-Prefix']) {
      const fromPacket = sessionOf(`${start}${name} = ${text}`).session.addresses;
      const fromDetail = sessionOf(`${start}${name} = 2001:db8:0:1::5/64`).session.addresses;
      expect(fromPacket).toEqual(fromDetail);
      expect(fromPacket[1]).toMatchObject({ network: '2001:db8:0:1::/64', input: '2001:db8:0:1::5/64' });
    }
  });

  it('refuses a prefix length over 128 and a field of the wrong size', () => {
    expect(() => ipv6PrefixFromOctets(bytes(0, 129, 0x20, 0x01))).toThrow(/prefix length 129/);
    expect(() => ipv6PrefixFromOctets(bytes(0))).toThrow(/1 octets long/);
    expect(() => ipv6PrefixFromOctets(new Uint8Array(19))).toThrow(/19 octets long/);
  });
});
