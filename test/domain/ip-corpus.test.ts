import { beforeAll, describe, expect, it } from 'vitest';
import { prisma } from '../setup/app.js';
import { InvalidValueError } from '../../src/domain/invalid-value.js';
import { type IpSubnet, parseIpAddress, parseIpSubnet } from '../../src/domain/ip.js';

// Every spelling our parser accepts must mean what PostgreSQL's own `inet` reads from the same
// text, on the engine this file runs on (PGlite is PostgreSQL 18; TEST_DATABASE_URL a server).
// The one deliberate difference is the IPv4-mapped rule: `::ffff:a.b.c.d` is the IPv4 address
// a.b.c.d here, and `::ffff:a.b.c.d` to PostgreSQL.

const ipv4 = [
  '0.0.0.0',
  '255.255.255.255',
  '1.2.3.4',
  '10.0.0.1',
  '127.0.0.1',
  '192.168.1.25',
  // leading zeros
  '01.2.3.4',
  '1.02.3.4',
  '1.2.003.4',
  '1.2.3.04',
  '00.0.0.0',
  '010.1.1.1',
  '0127.0.0.1',
  // short forms and stray dots
  '127.1',
  '10.1.1',
  '10',
  '1.2.3.4.5',
  '1.2.3.',
  '.1.2.3.4',
  '1..2.3',
  // hex, octal, one number
  '0x7f.0.0.1',
  '0X7F.0.0.1',
  '0x7f000001',
  '2130706433',
  '0177.0.0.1',
  '0xff.0xff.0xff.0xff',
  '1.2.3.0x4',
  // out of range and signs
  '256.1.1.1',
  '1.2.3.256',
  '999.1.1.1',
  '1.2.3.-4',
  '-1.2.3.4',
  '+1.2.3.4',
  '1.2.3.+4',
  '1.2.3.4x',
];

const ipv4Prefixes = [
  '0.0.0.0/0',
  '1.2.3.4/0',
  '10.0.0.0/8',
  '10.1.2.3/8',
  '192.168.1.25/16',
  '1.2.3.4/31',
  '1.2.3.4/32',
  '1.2.3.4/33',
  '1.2.3.4/129',
  '10.0.0.0/08',
  '10.0.0.0/008',
  '1.2.3.4/00',
  '10.0.0.0/',
  '10.0.0.0/-1',
  '10.0.0.0/+8',
  '10.0.0.0/8/8',
  '10.0.0.0/1a',
  '10.0.0.0/0x8',
  '/8',
  '010.0.0.0/8',
];

const ipv6 = [
  '::',
  '::1',
  '1::',
  '2001:db8::1',
  '2001:DB8::1',
  '2001:Db8::A',
  '2001:0db8:0000:0000:0000:ff00:0042:8329',
  '2001:db8:0:0:0:0:0:1',
  '2001:0db8::0001',
  '0000:0000:0000:0000:0000:0000:0000:0000',
  '0:0:0:0:0:0:0:1',
  'FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF',
  'fe80::1:0:0:1',
  '2001:db8:0:0:1:0:0:1',
  '1:0:0:1:0:0:0:1',
  '0:0:1:0:0:0:0:0',
  '1:2:3:4:5:6:7:8',
  // `::` in every place, and where it may not be
  '::2:3:4:5:6:7:8',
  '1::3:4:5:6:7:8',
  '1:2::4:5:6:7:8',
  '1:2:3::5:6:7:8',
  '1:2:3:4::6:7:8',
  '1:2:3:4:5::7:8',
  '1:2:3:4:5:6::8',
  '1:2:3:4:5:6:7::',
  '1::8',
  '1:2::7:8',
  '::1:2:3:4:5:6:7:8',
  '1:2:3:4:5:6:7:8::',
  '1:2:3:4::5:6:7:8',
  '1::2::3',
  '::1::',
  ':::',
  '1:::2',
  ':1::',
  '1::2:',
  ':',
  ':1:2:3:4:5:6:7:8',
  '1:2:3:4:5:6:7:8:',
  // too many and too few groups, too many digits
  '1:2:3:4:5:6:7:8:9',
  '1:2:3:4:5:6:7',
  '00001::',
  '12345::1',
  '::fffff',
  // not hex, signs
  '2001:db8::g',
  '0x1::',
  '-1::',
  '+1::',
  '::-1',
  '::+1',
];

const ipv6Prefixes = [
  '::/0',
  '::/128',
  '::1/128',
  '::1/129',
  '2001:db8::/32',
  '2001:db8::1/32',
  '2001:db8::/64',
  '2001:db8:abcd:12ff::1/56',
  'fe80::/10',
  'ffff::/1',
  'ffff::1/0',
  '2001:db8::/032',
  '::/08',
  '2001:db8::/',
  '2001:db8::/-1',
  '2001:db8::/+32',
  '2001:db8::/64/64',
];

// The dotted IPv4 tail in every position of an IPv6 address (valid only as its last 32 bits).
const embeddedIpv4 = [
  '::1.2.3.4',
  '1::1.2.3.4',
  '1:2::1.2.3.4',
  '1:2:3::1.2.3.4',
  '1:2:3:4::1.2.3.4',
  '1:2:3:4:5::1.2.3.4',
  '1:2:3:4:5:6::1.2.3.4',
  '::2:3:4:5:6:1.2.3.4',
  '::6:1.2.3.4',
  '1:2:3:4:5:6:1.2.3.4',
  '1:2:3:4:5:1.2.3.4',
  '1:2:3:4:5:6:7:1.2.3.4',
  '1.2.3.4::',
  '1.2.3.4::1',
  '1:1.2.3.4::',
  '::1.2.3.4:1',
  '1:1.2.3.4:3:4:5:6:7',
  '::1.2.3.4.5',
  '::1.2.3',
  '::1.2.3.04',
  '::01.2.3.4',
  '::0x1.2.3.4',
  '::256.1.1.1',
  '::1.2.3.4/24',
  '64:ff9b::192.0.2.33',
  '2001:db8::ffff:1.2.3.4',
];

// The deprecated IPv4-compatible form (IPv6), and the IPv4-mapped form (IPv4) in its spellings.
const compatibleAndMapped = [
  '::1.2.3.4/128',
  '::0.0.0.1',
  '::0.0.0.0',
  '0::10.0.0.1',
  '::10.0.0.1',
  '::102:304',
  '0:0:0:0:0:0:1.2.3.4',
  '0:0:0:0:0:0:102:304',
  '::1.2.3.4/96',
  '::ffff:1.2.3.4',
  '::FFFF:1.2.3.4',
  '::ffff:102:304',
  '::FFFF:0102:0304',
  '0:0:0:0:0:ffff:1.2.3.4',
  '0000:0000:0000:0000:0000:ffff:0102:0304',
  '0::ffff:1.2.3.4',
  '::0:ffff:1.2.3.4',
  '::ffff:0:0',
  '::ffff:0.0.0.0',
  '::ffff:255.255.255.255',
  '::ffff:1.2.3.4/128',
  '::ffff:1.2.3.4/127',
  '::ffff:1.2.3.4/120',
  '::ffff:10.1.2.3/104',
  '::ffff:0:0/96',
  '::ffff:1.2.3.4/96',
  '::ffff:1.2.3.4/95',
  '::ffff:1.2.3.4/64',
  '::ffff:1.2.3.4/0',
  '::ffff:1.2.3.4/32',
  '::ffff:1.2.3.4/129',
  '::ffff:1.2.3.4/0128',
  '::ffff:1.2.3',
  '::ffff:1.2.3.04',
  '::ffff:127.1',
  '::ffff:0x7f.0.0.1',
  '::ffff:2130706433',
  '::fffe:1.2.3.4',
  '::1:ffff:1.2.3.4',
  'ffff::1.2.3.4',
  '::ffff:ffff:1.2.3.4',
  '::ffff:0:1.2.3.4',
];

const zoneIds = [
  'fe80::1%eth0',
  'fe80::1%1',
  'fe80::%eth0/64',
  '::%eth0',
  'fe80::1%',
  '::ffff:1.2.3.4%eth0',
  '1.2.3.4%eth0',
];

const whitespace = [
  '',
  ' ',
  ' 1.2.3.4',
  '1.2.3.4 ',
  '1.2.3.4\t',
  '\n1.2.3.4',
  '1.2. 3.4',
  '1.2.3.4/8 ',
  '1.2.3.4 /8',
  '1.2.3.4\u00a0',
  ' ::1',
  '::1 ',
  ':: 1',
  '::1\n',
  '2001:db8::/32 ',
];

// Digits other than ASCII 0-9 (fullwidth, Arabic-Indic, mathematical bold), and a fullwidth slash.
const unicodeDigits = [
  '\uff11.2.3.4',
  '1.2.3.\uff14',
  '\u0661.\u0662.\u0663.\u0664',
  '\u{1d7cf}.2.3.4',
  '::\uff11',
  '\uff46e80::1',
  '1.2.3.4\uff0f8',
  '10.0.0.0/\uff18',
  '\u00b9.2.3.4',
];

const nul = ['\0', '1.2.3.4\0', '\u00001.2.3.4', '::1\0', '1.2.3.4\0/8', '10.0.0.0/8\0', '::ffff:1.2.3.4\0'];

const tooLong = [`${'0'.repeat(60)}::1`, `1.2.3.4${' '.repeat(70)}`];

const corpus = [
  ...ipv4,
  ...ipv4Prefixes,
  ...ipv6,
  ...ipv6Prefixes,
  ...embeddedIpv4,
  ...compatibleAndMapped,
  ...zoneIds,
  ...whitespace,
  ...unicodeDigits,
  ...nul,
  ...tooLong,
];

// What we refuse although PostgreSQL reads it, each refusal one the README's input rules name.
const documentedRefusals: [rule: string, reason: RegExp][] = [
  ['IPv4 only in canonical dotted decimal, also as an IPv6 tail', /canonical/],
  ['a prefix length is decimal without leading zeros', /without leading zeros/],
  ['an IPv4-mapped address takes a prefix of 96-128', /96-128/],
  ['zone ids are rejected', /zone id/],
];

type Ours = { accepted: true; subnet: IpSubnet } | { accepted: false; reason: string };

function ours(text: string): Ours {
  try {
    return { accepted: true, subnet: parseIpSubnet(text) };
  } catch (error) {
    expect(error, JSON.stringify(text)).toBeInstanceOf(InvalidValueError);
    return { accepted: false, reason: (error as InvalidValueError).reason };
  }
}

interface PostgresReading {
  family: number;
  masklen: number;
  /** The network's address bytes in hex, as inet_send sends them. */
  network: string;
  /** PostgreSQL's own text for the network's address. */
  host: string;
}

const readingSql = `SELECT family(i) AS family, masklen(i) AS masklen,
  encode(substring(inet_send(network(i)) FROM 5), 'hex') AS network, host(network(i)) AS host
  FROM (SELECT $1::text::inet AS i) AS s`;

/** What PostgreSQL's `inet` reads from the text, or undefined when it refuses it. */
async function postgres(text: string): Promise<PostgresReading | undefined> {
  try {
    const [row] = await prisma.$queryRawUnsafe<PostgresReading[]>(readingSql, text);
    return row;
  } catch (error) {
    // Only a refusal of the text counts; anything else is a broken test.
    expect(String(error), JSON.stringify(text)).toMatch(/invalid input syntax for type inet|22P02/);
    return undefined;
  }
}

/** The reading PostgreSQL must give for our value: the same family and bits, or the mapped form of our IPv4. */
function expectedReading(text: string, subnet: IpSubnet): Omit<PostgresReading, 'host'> {
  const bits = subnet.first.value.toString(16);
  if (subnet.family === 6) return { family: 6, masklen: subnet.prefixLength, network: bits.padStart(32, '0') };
  if (text.includes(':')) {
    return {
      family: 6,
      masklen: subnet.prefixLength + 96,
      network: `00000000000000000000ffff${bits.padStart(8, '0')}`,
    };
  }
  return { family: 4, masklen: subnet.prefixLength, network: bits.padStart(8, '0') };
}

const readings = new Map<string, { ours: Ours; postgres: PostgresReading | undefined }>();

beforeAll(async () => {
  for (const text of corpus) {
    // PostgreSQL's text input cannot carry a NUL byte; those are only checked to be refused.
    if (text.includes('\0')) continue;
    readings.set(text, { ours: ours(text), postgres: await postgres(text) });
  }
});

describe('the IP spelling corpus against PostgreSQL inet', () => {
  it('has at least 150 distinct spellings', () => {
    expect(new Set(corpus).size).toBe(corpus.length);
    expect(corpus.length).toBeGreaterThanOrEqual(150);
  });

  it('refuses every spelling with a NUL byte', () => {
    for (const text of nul) {
      expect(ours(text), JSON.stringify(text)).toMatchObject({ accepted: false });
      if (!text.includes('/')) expect(() => parseIpAddress(text), JSON.stringify(text)).toThrow(InvalidValueError);
    }
  });

  it('reads every accepted spelling as PostgreSQL does (IPv4-mapped: as its IPv4 address)', () => {
    let accepted = 0;
    for (const [text, { ours: mine, postgres: theirs }] of readings) {
      if (!mine.accepted) continue;
      accepted++;
      expect(theirs, `PostgreSQL refuses ${JSON.stringify(text)}, which we accept`).toBeDefined();
      expect({ ...theirs, host: undefined }, JSON.stringify(text)).toEqual({
        ...expectedReading(text, mine.subnet),
        host: undefined,
      });
    }
    expect(accepted).toBeGreaterThan(80);
  });

  it('writes IPv6 as PostgreSQL does where PostgreSQL writes no IPv4 tail (RFC 5952)', () => {
    let compared = 0;
    for (const [text, { ours: mine, postgres: theirs }] of readings) {
      if (!mine.accepted || mine.subnet.family !== 6 || theirs!.host.includes('.')) continue;
      compared++;
      expect(mine.subnet.first.text, JSON.stringify(text)).toBe(theirs!.host);
    }
    expect(compared).toBeGreaterThan(40);
  });

  it('gives canonical text that PostgreSQL reads back as the same value', async () => {
    for (const [text, { ours: mine, postgres: theirs }] of readings) {
      if (!mine.accepted) continue;
      const canonical =
        mine.subnet.family === 4 && text.includes(':') ? `::ffff:${mine.subnet.first.text}` : mine.subnet.first.text;
      const masklen = theirs!.masklen;
      const back = await postgres(`${canonical}/${masklen}`);
      expect(back, `${JSON.stringify(text)} written as ${canonical}`).toMatchObject({
        network: theirs!.network,
        masklen,
        family: theirs!.family,
      });
    }
  });

  it('reads a bare address as parseIpAddress does, with the same value as the subnet', () => {
    for (const [text, { ours: mine }] of readings) {
      if (text.includes('/')) continue;
      let address;
      try {
        address = parseIpAddress(text);
      } catch (error) {
        expect(error, JSON.stringify(text)).toBeInstanceOf(InvalidValueError);
        expect(mine.accepted, `${JSON.stringify(text)}: parseIpSubnet accepts, parseIpAddress refuses`).toBe(false);
        continue;
      }
      expect(mine.accepted, JSON.stringify(text)).toBe(true);
      if (!mine.accepted) continue;
      expect({ family: address.family, text: address.text, value: address.value }).toEqual({
        family: mine.subnet.family,
        text: mine.subnet.first.text,
        value: mine.subnet.first.value,
      });
    }
  });

  it('refuses what PostgreSQL reads only by a documented rule', () => {
    const refusedByUsOnly = [...readings].filter(([, r]) => !r.ours.accepted && r.postgres !== undefined);
    for (const [text, { ours: mine }] of refusedByUsOnly) {
      const reason = mine.accepted ? '' : mine.reason;
      expect(
        documentedRefusals.some(([, pattern]) => pattern.test(reason)),
        `${JSON.stringify(text)} refused for "${reason}", which is not a documented rule`,
      ).toBe(true);
    }
    // PostgreSQL's own leniencies that the documented rules refuse, as seen on both engines.
    expect(refusedByUsOnly.map(([text]) => text)).toEqual(
      expect.arrayContaining([
        '010.1.1.1',
        '1.2.3.04',
        '10.0.0.0/08',
        '::1.2.3',
        '::ffff:1.2.3.4/64',
        '::ffff:1.2.3.4/0',
      ]),
    );
  });
});
