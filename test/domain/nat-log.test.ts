import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseIpAddress } from '../../src/domain/ip.js';
import {
  type PortBlockLogLine,
  type PortBlockEventKind,
  type PortBlockReading,
  readCiscoCgnPortBlock,
  readJuniperPortBlock,
  readPortBlock,
} from '../../src/domain/nat-log.js';
import { MAX_UNIX_TIME } from '../../src/domain/time.js';

const address = parseIpAddress;

// Addresses hold their value as a bigint, which JSON.stringify refuses.
const shown = (reading: PortBlockReading) =>
  JSON.stringify(reading, (_, value: unknown) => (typeof value === 'bigint' ? String(value) : value));

function eventOf(message: string): PortBlockLogLine {
  const reading = readJuniperPortBlock(message);
  if (!('event' in reading)) throw new Error(`expected an event, got ${shown(reading)}`);
  return reading.event;
}

function reasonOf(message: string): string {
  const reading = readJuniperPortBlock(message);
  if (!('unparsable' in reading)) throw new Error(`expected an unparsable reading, got ${shown(reading)}`);
  return reading.unparsable;
}

// NFWare's NAT logging documentation (docs.nfware.com/en/6.3/nat/logging.html, "Message format")
// quotes these three, its Juniper-compatible PBA lines.
const nfwareAlloc =
  'RT_NAT - RT_SRC_NAT_PBA_ALLOC [internal-ip="10.0.10.10" block-used="1" block-max-per-host="4" block-port-low="48640" block-port-high="48895" reflexive-ip="1.2.84.172" nat-pool-name="guest" logical-system-id="0" epoch-time-64="624b0492"]';
const nfwareInterim =
  'RT_NAT - RT_SRC_NAT_PBA_INTERIM [internal-ip="10.0.10.10" block-used="1" block-max-per-host="4" block-port-low="48640" block-port-high="48895" reflexive-ip="1.2.84.172" nat-pool-name="guest" logical-system-id="0" epoch-time-64="624b0492"]';
const nfwareRelease =
  'RT_NAT - RT_SRC_NAT_PBA_RELEASE [internal-ip="10.0.10.10" block-used="0" block-max-per-host="4" block-port-low="48640" block-port-high="48895" reflexive-ip="1.2.84.172" nat-pool-name="guest" logical-system-id="0" epoch-time-64="624b0cc7"]';

const guestBlock = {
  insideAddress: address('10.0.10.10'),
  publicAddress: address('1.2.84.172'),
  portFirst: 48640,
  portLast: 48895,
  pool: 'guest',
  blocksMax: 4,
};

const briefAlloc =
  'RT_SRC_NAT_PBA_ALLOC: Subscriber 100.64.60.74 used/maximum [10/15] blocks, allocates port block [24064-24191] from 203.0.113.100 in source pool pool1 lsn-pool lsn1';

const briefBlock = {
  insideAddress: address('100.64.60.74'),
  publicAddress: address('203.0.113.100'),
  portFirst: 24064,
  portLast: 24191,
  at: null,
  pool: 'pool1',
  blocksUsed: 10,
  blocksMax: 15,
};

describe('the structured form', () => {
  it('reads ALLOC, INTERIM and RELEASE, epoch-time-64 as hexadecimal unix seconds', () => {
    // 0x624b0492 = 1649083538 (2022-04-04T14:45:38Z); the RELEASE 0x835 = 2101 s later.
    expect(eventOf(nfwareAlloc)).toEqual({ kind: 'ALLOC', ...guestBlock, at: 1_649_083_538, blocksUsed: 1 });
    expect(eventOf(nfwareInterim)).toEqual({ kind: 'INTERIM', ...guestBlock, at: 1_649_083_538, blocksUsed: 1 });
    expect(eventOf(nfwareRelease)).toEqual({ kind: 'RELEASE', ...guestBlock, at: 1_649_085_639, blocksUsed: 0 });
  });

  it('reads the body without its leading "RT_NAT - " (the syslog APP-NAME carried it)', () => {
    expect(eventOf(nfwareAlloc.slice('RT_NAT - '.length))).toEqual(eventOf(nfwareAlloc));
  });

  it("reads an RFC 5424 element named by Junos's SD-ID, parameters in any order, values unescaped", () => {
    const message =
      'RT_SRC_NAT_PBA_RELEASE [junos@2636.1.1.1.2.129 epoch-time-64="624b0cc7" nat-pool-name="gu\\"est \\\\ \\] \\n" ' +
      'reflexive-ip="1.2.84.172" block-port-high="48895" block-port-low="48640" internal-ip="10.0.10.10"]';
    expect(eventOf(message)).toEqual({
      kind: 'RELEASE',
      ...guestBlock,
      // \" \\ \] are escapes; a backslash before any other character stays (RFC 5424, 6.3.3).
      pool: 'gu"est \\ ] \\n',
      at: 1_649_085_639,
      blocksUsed: null,
      blocksMax: null,
    });
  });

  it('takes only the four addresses and ports as required', () => {
    expect(
      eventOf(
        'RT_SRC_NAT_PBA_ALLOC [internal-ip="10.0.0.1" block-port-low="1024" block-port-high="1024" reflexive-ip="192.0.2.1"]',
      ),
    ).toEqual({
      kind: 'ALLOC',
      insideAddress: address('10.0.0.1'),
      publicAddress: address('192.0.2.1'),
      portFirst: 1024,
      portLast: 1024,
      at: null,
      pool: null,
      blocksUsed: null,
      blocksMax: null,
    });
  });

  it('reads the parameters, not the English text Junos may write after the element', () => {
    expect(eventOf(`${nfwareAlloc} Subscriber 10.0.10.10 used/maximum [1/4] blocks, ...`)).toEqual(
      eventOf(nfwareAlloc),
    );
  });
});

describe('the brief text form', () => {
  it('reads ALLOC, RELEASE and INTERIM by their verbs, timed by the syslog header (at null)', () => {
    expect(eventOf(briefAlloc)).toEqual({ kind: 'ALLOC', ...briefBlock });
    expect(
      eventOf(
        'RT_SRC_NAT_PBA_RELEASE: Subscriber 100.64.60.74 used/maximum [9/15] blocks, releases port block [24064-24191] from 203.0.113.100 in source pool pool1 lsn-pool lsn1',
      ),
    ).toEqual({ kind: 'RELEASE', ...briefBlock, blocksUsed: 9 });
    expect(
      eventOf(
        'RT_SRC_NAT_PBA_INTERIM: Subscriber 100.64.60.74 used/maximum [10/15] blocks, interim port block [24064-24191] from 203.0.113.100 in source pool pool1 lsn-pool lsn1',
      ),
    ).toEqual({ kind: 'INTERIM', ...briefBlock });
  });

  it('reads the line without its source pool or lsn-pool', () => {
    const withoutPools = briefAlloc.replace(' in source pool pool1 lsn-pool lsn1', '');
    expect(eventOf(withoutPools)).toEqual({ kind: 'ALLOC', ...briefBlock, pool: null });
    expect(eventOf(briefAlloc.replace(' lsn-pool lsn1', ''))).toEqual({ kind: 'ALLOC', ...briefBlock });
    expect(eventOf(briefAlloc.replace(' in source pool pool1', ''))).toEqual({
      kind: 'ALLOC',
      ...briefBlock,
      pool: null,
    });
  });

  it("refuses a verb that is not its tag's, or written in another case", () => {
    expect(reasonOf(briefAlloc.replace('allocates', 'releases'))).toContain('"allocates"');
    expect(reasonOf(briefAlloc.replace('allocates', 'Allocates'))).toContain('"allocates"');
  });

  it('refuses text after the lsn-pool, naming it (the "lsys_id: 0 epoch 0x..." tail one parser quotes)', () => {
    expect(reasonOf(`${briefAlloc} lsys_id: 0 epoch 0x6a44007a`)).toContain('" lsys_id: 0 epoch 0x6a44007a"');
  });

  it('refuses "RT_NAT - " before the brief form, which is the structured layout', () => {
    expect(reasonOf(`RT_NAT - ${briefAlloc}`)).toContain('RT_SRC_NAT_PBA_ALLOC is followed by');
  });
});

describe('unparsable messages, each reason naming its field', () => {
  const required = ['internal-ip', 'block-port-low', 'block-port-high', 'reflexive-ip'];

  it.each(required)('a structured message without %s', (name) => {
    // None of the four is the last parameter, so each is followed by a space.
    const without = nfwareAlloc.replace(new RegExp(`${name}="[^"]*" `), '');
    expect(reasonOf(without)).toBe(`${name} is missing`);
  });

  it('a port past 65535, or written with leading zeros or a sign', () => {
    expect(reasonOf(nfwareAlloc.replace('block-port-high="48895"', 'block-port-high="70000"'))).toBe(
      'block-port-high "70000" is not a port (0-65535)',
    );
    expect(reasonOf(nfwareAlloc.replace('block-port-low="48640"', 'block-port-low="070000"'))).toContain(
      'block-port-low',
    );
    expect(reasonOf(nfwareAlloc.replace('block-port-low="48640"', 'block-port-low="+1"'))).toContain('block-port-low');
    expect(reasonOf(briefAlloc.replace('[24064-24191]', '[24064-70000]'))).toBe(
      'port block high "70000" is not a port (0-65535)',
    );
  });

  it('a block whose low port is above its high port', () => {
    expect(reasonOf(nfwareAlloc.replace('block-port-low="48640"', 'block-port-low="48896"'))).toBe(
      "the block's low port 48896 is above its high port 48895",
    );
    expect(reasonOf(briefAlloc.replace('[24064-24191]', '[24192-24191]'))).toContain('low port 24192');
  });

  it('an address not in canonical form (010.0.0.1, read as octal by some and decimal by others)', () => {
    expect(reasonOf(nfwareAlloc.replace('10.0.10.10', '010.0.0.1'))).toMatch(
      /^internal-ip: "010\.0\.0\.1" is not an IPv4 address in canonical form/,
    );
    expect(reasonOf(briefAlloc.replace('100.64.60.74', '010.0.0.1'))).toMatch(/^Subscriber: "010\.0\.0\.1"/);
    expect(reasonOf(briefAlloc.replace('203.0.113.100', '203.0.113.1.'))).toMatch(/^from: /);
  });

  it('an IPv6 address, IPv4-mapped ones included', () => {
    expect(reasonOf(nfwareAlloc.replace('1.2.84.172', '2001:db8::1'))).toBe(
      'reflexive-ip "2001:db8::1" is an IPv6 address; only IPv4 is read here',
    );
    expect(reasonOf(nfwareAlloc.replace('1.2.84.172', '::ffff:1.2.84.172'))).toContain('reflexive-ip');
    expect(reasonOf(nfwareAlloc.replace('10.0.10.10', '2001:db8::a'))).toContain('internal-ip');
  });

  it('an epoch-time-64 that is not hexadecimal, or past year 9999', () => {
    expect(reasonOf(nfwareAlloc.replace('624b0492', '624b04g2'))).toBe(
      'epoch-time-64 "624b04g2" is not hexadecimal unix seconds',
    );
    expect(reasonOf(nfwareAlloc.replace('624b0492', '0x624b0492'))).toContain('epoch-time-64');
    expect(reasonOf(nfwareAlloc.replace('624b0492', ''))).toContain('epoch-time-64');
    expect(reasonOf(nfwareAlloc.replace('624b0492', 'ffffffffff'))).toBe(
      'epoch-time-64 "ffffffffff" is past year 9999',
    );
  });

  it('a block count that is not a decimal number', () => {
    expect(reasonOf(nfwareAlloc.replace('block-used="1"', 'block-used="one"'))).toContain('block-used');
    expect(reasonOf(briefAlloc.replace('[10/15]', '[10/015]'))).toContain('used/maximum maximum');
  });

  it('a line cut short, wherever it is cut', () => {
    expect(reasonOf(nfwareAlloc.slice(0, nfwareAlloc.indexOf('1.2.84') + 3))).toBe(
      "reflexive-ip's value has no closing quote (the line is cut short)",
    );
    expect(reasonOf(nfwareAlloc.slice(0, -1))).toContain('cut short');
    expect(reasonOf(nfwareAlloc.slice(0, nfwareAlloc.indexOf(' epoch-time-64')))).toContain('cut short');
    expect(reasonOf(briefAlloc.slice(0, briefAlloc.indexOf(' from')))).toBe(
      'from is missing (the line ends before it)',
    );
    expect(reasonOf(briefAlloc.slice(0, briefAlloc.indexOf('-24191')))).toContain('port block');
  });

  it('a parameter given twice, or a "]" left unescaped in a value', () => {
    expect(reasonOf(nfwareAlloc.replace('block-used="1"', 'internal-ip="10.0.10.11"'))).toBe(
      'internal-ip is given twice',
    );
    expect(reasonOf(nfwareAlloc.replace('nat-pool-name="guest"', 'nat-pool-name="gu]est"'))).toContain('nat-pool-name');
  });

  it('an RT_SRC_NAT_PBA_ tag of another kind, or not at the start', () => {
    expect(reasonOf(nfwareAlloc.replace('_ALLOC', '_ALLOCATE'))).toContain('RT_SRC_NAT_PBA_ALLOCATE');
    expect(reasonOf(` ${briefAlloc}`)).toContain('does not begin with');
  });
});

describe('messages that are not port-block messages', () => {
  it('are ignored: another RT_ message, an empty or blank line', () => {
    const sessionCreate =
      'RT_FLOW - RT_FLOW_SESSION_CREATE [source-address="10.0.10.10" source-port="46776" destination-address="1.2.84.162" destination-port="80" connection-tag="0" service-name="junos-http" nat-source-address="1.2.84.172" nat-source-port="53328" nat-destination-address="1.2.84.162" nat-destination-port="80" protocol-id="6" policy-name="permit" session-id="92317"]';
    expect(readJuniperPortBlock(sessionCreate)).toEqual({ ignored: true });
    expect(readJuniperPortBlock('')).toEqual({ ignored: true });
    expect(readJuniperPortBlock('   ')).toEqual({ ignored: true });
  });
});

// ---- Formatting events back into lines, for the round-trip property ----

const escapeParam = (value: string) => value.replace(/["\\\]]/g, '\\$&');

interface StructuredLayout {
  appName: boolean;
  sdId: string | null;
  /** Sort keys, one per parameter, giving the parameters' order. */
  order: number[];
  /** Parameters the reader does not know, which it passes over. */
  extra: boolean;
}

function formatStructured(event: PortBlockLogLine, layout: StructuredLayout): string {
  const params: [string, string][] = [
    ['internal-ip', event.insideAddress.text],
    ['block-port-low', String(event.portFirst)],
    ['block-port-high', String(event.portLast)],
    ['reflexive-ip', event.publicAddress.text],
  ];
  if (event.blocksUsed !== null) params.push(['block-used', String(event.blocksUsed)]);
  if (event.blocksMax !== null) params.push(['block-max-per-host', String(event.blocksMax)]);
  if (event.pool !== null) params.push(['nat-pool-name', event.pool]);
  if (event.at !== null) params.push(['epoch-time-64', event.at.toString(16)]);
  if (layout.extra) params.push(['logical-system-id', '0']);
  const ordered = params
    .map((param, i) => ({ param, key: layout.order[i] ?? i }))
    .sort((a, b) => a.key - b.key)
    .map(({ param: [name, value] }) => `${name}="${escapeParam(value)}"`);
  const sd = [...(layout.sdId === null ? [] : [layout.sdId]), ...ordered].join(' ');
  return `${layout.appName ? 'RT_NAT - ' : ''}RT_SRC_NAT_PBA_${event.kind} [${sd}]`;
}

const VERB: Record<PortBlockEventKind, string> = { ALLOC: 'allocates', RELEASE: 'releases', INTERIM: 'interim' };

function formatBrief(event: PortBlockLogLine, lsnPool: string | null): string {
  return (
    `RT_SRC_NAT_PBA_${event.kind}: Subscriber ${event.insideAddress.text} ` +
    `used/maximum [${event.blocksUsed}/${event.blocksMax}] blocks, ${VERB[event.kind]} port block ` +
    `[${event.portFirst}-${event.portLast}] from ${event.publicAddress.text}` +
    (event.pool === null ? '' : ` in source pool ${event.pool}`) +
    (lsnPool === null ? '' : ` lsn-pool ${lsnPool}`)
  );
}

const ipv4 = fc
  .tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255))
  .map((octets) => parseIpAddress(octets.join('.')));
const block = fc.tuple(fc.nat(65535), fc.nat(65535)).map(([a, b]) => [Math.min(a, b), Math.max(a, b)] as const);
const kind = fc.constantFrom<PortBlockEventKind>('ALLOC', 'RELEASE', 'INTERIM');
const blocks = fc.nat(512);
// Pool names as a structured value may hold anything, the escaped characters most of all.
const anyPool = fc.oneof(
  fc.string({ minLength: 1, maxLength: 12, unit: fc.constantFrom('a', 'Z', '"', '\\', ']', '[', ' ', '=', 'é', '7') }),
  fc.string({ minLength: 1, maxLength: 12, unit: 'grapheme' }),
);
// Junos names pools with letters, digits, "-", "_" and "."; the brief form ends a name at a space.
const junosName = fc.stringMatching(/^[A-Za-z0-9_.-]{1,24}$/);

const structuredEvents = fc.record({
  kind,
  insideAddress: ipv4,
  publicAddress: ipv4,
  block,
  at: fc.option(fc.integer({ min: 0, max: MAX_UNIX_TIME })),
  pool: fc.option(anyPool),
  blocksUsed: fc.option(blocks),
  blocksMax: fc.option(blocks),
});
const layouts = fc.record({
  appName: fc.boolean(),
  sdId: fc.option(fc.constantFrom('junos@2636.1.1.1.2.129', 'junos@2636.1.1.1.2.26')),
  order: fc.array(fc.nat(), { minLength: 9, maxLength: 9 }),
  extra: fc.boolean(),
});

const toEvent = ({
  block: [portFirst, portLast],
  ...rest
}: { block: readonly [number, number] } & Omit<PortBlockLogLine, 'portFirst' | 'portLast'>): PortBlockLogLine => ({
  ...rest,
  portFirst,
  portLast,
});

describe('round trip', () => {
  it('an event written in the structured form reads back as itself', () => {
    fc.assert(
      fc.property(structuredEvents, layouts, (generated, layout) => {
        const event = toEvent(generated);
        expect(readJuniperPortBlock(formatStructured(event, layout))).toEqual({ event } satisfies PortBlockReading);
      }),
      { numRuns: 500 },
    );
  });

  it('an event written in the brief form reads back as itself, at null', () => {
    const briefEvents = fc.record({
      kind,
      insideAddress: ipv4,
      publicAddress: ipv4,
      block,
      at: fc.constant(null),
      pool: fc.option(junosName),
      blocksUsed: blocks,
      blocksMax: blocks,
    });
    fc.assert(
      fc.property(briefEvents, fc.option(junosName), (generated, lsnPool) => {
        const event = toEvent(generated);
        expect(readJuniperPortBlock(formatBrief(event, lsnPool))).toEqual({ event });
      }),
      { numRuns: 500 },
    );
  });

  it('a structured line cut anywhere short of its end is unparsable, never misread', () => {
    fc.assert(
      fc.property(structuredEvents, layouts, fc.double({ min: 0, max: 1, noNaN: true }), (generated, layout, where) => {
        const line = formatStructured(toEvent(generated), layout);
        const cut = line.slice(0, Math.min(line.length - 1, Math.floor(where * line.length)));
        const reading = readJuniperPortBlock(cut);
        // Cut before the tag is whole, the line no longer names a port-block message at all.
        if ('ignored' in reading) expect(cut).not.toMatch(/RT_SRC_NAT_PBA_/);
        else expect(reading).toHaveProperty('unparsable');
      }),
      { numRuns: 500 },
    );
  });
});

// ---- Cisco IOS XR CGN bulk port allocation ----

// Cisco IOS XR Carrier Grade NAT Configuration Guide for the Cisco CRS Router, Release 5.2.x
// (OL-32659-01), "Syslog Message Format" (https://www.easymanua.ls/cisco/grs/manual?p=108): the
// record layout; its example (?p=110) is a table of values, UserbasedA 10.0.0.1 Broadband
// 100.1.1.1 2048 3071, written here in that layout, the fields it leaves out as "-".
const ciscoAlloc = '[UserbasedA - 10.0.0.1 Broadband - 100.1.1.1 - 2048 3071 - -]';
const ciscoRelease = '[UserbasedW - 10.0.0.1 Broadband - 100.1.1.1 - 2048 3071 - -]';

function ciscoEventOf(message: string): PortBlockLogLine {
  const reading = readCiscoCgnPortBlock(message);
  if (!('event' in reading)) throw new Error(`expected an event, got ${shown(reading)}`);
  return reading.event;
}

function ciscoReasonOf(message: string): string {
  const reading = readCiscoCgnPortBlock(message);
  if (!('unparsable' in reading)) throw new Error(`expected an unparsable reading, got ${shown(reading)}`);
  return reading.unparsable;
}

/** The guide's example record with one field (by its index in the layout) replaced. */
function ciscoWith(index: number, value: string, event = 'UserbasedA'): string {
  const fields = [event, '-', '10.0.0.1', 'Broadband', '-', '100.1.1.1', '-', '2048', '3071', '-', '-'];
  fields[index] = value;
  return `[${fields.join(' ')}]`;
}

const ciscoBlock = {
  insideAddress: address('10.0.0.1'),
  publicAddress: address('100.1.1.1'),
  portFirst: 2048,
  portLast: 3071,
  at: null,
  pool: null,
  blocksUsed: null,
  blocksMax: null,
};

describe('Cisco IOS XR CGN bulk port allocation records', () => {
  it("reads the guide's example as UserbasedA (ALLOC) and UserbasedW (RELEASE), timed by the syslog header", () => {
    expect(ciscoEventOf(ciscoAlloc)).toEqual({ kind: 'ALLOC', ...ciscoBlock });
    expect(ciscoEventOf(ciscoRelease)).toEqual({ kind: 'RELEASE', ...ciscoBlock });
  });

  it('reads any Inside VRF Name, "-" included (it is not kept)', () => {
    expect(ciscoEventOf(ciscoWith(3, '-')).insideAddress).toEqual(address('10.0.0.1'));
    expect(ciscoEventOf(ciscoWith(3, 'vrf-cust_1')).portLast).toBe(3071);
  });

  it('reads ports 0 and 65535, and a block of one port', () => {
    expect(ciscoEventOf(ciscoWith(7, '0'))).toMatchObject({ portFirst: 0, portLast: 3071 });
    const one = ciscoWith(8, '65535').replace(' 2048 ', ' 65535 ');
    expect(ciscoEventOf(one)).toMatchObject({ portFirst: 65535, portLast: 65535 });
  });

  it('refuses an EventName of the family that is not UserbasedA or UserbasedW, or in another case', () => {
    expect(ciscoReasonOf(ciscoWith(0, 'UserbasedX'))).toMatch(/EventName "UserbasedX"/);
    expect(ciscoReasonOf(ciscoWith(0, 'Userbaseda'))).toMatch(/EventName/);
  });

  it.each<[string, number, string, RegExp]>([
    ['L4 given', 1, '6', /^L4 "6"/],
    ['an Original Source IPv6 (a DS-Lite record)', 4, '2001:db8::1', /^Original Source IPv6 "2001:db8::1"/],
    ['an Original Port', 6, '1024', /^Original Port "1024"/],
    ['a Destination IP', 9, '192.0.2.1', /^Destination IP "192.0.2.1"/],
    ['a Destination Port', 10, '80', /^Destination Port "80"/],
  ])('refuses %s where the layout has "-"', (_name, index, value, reason) => {
    expect(ciscoReasonOf(ciscoWith(index, value))).toMatch(reason);
  });

  it('refuses addresses that are not canonical dotted-quad IPv4, naming the field', () => {
    for (const bad of ['10.0.0.300', '010.0.0.1', '10.0.0', '-', '::ffff:10.0.0.1', '2001:db8::1'])
      expect(ciscoReasonOf(ciscoWith(2, bad))).toMatch(/^Original Source IP/);
    for (const bad of ['100.1.1.256', '100.01.1.1', '-', '2001:db8::2'])
      expect(ciscoReasonOf(ciscoWith(5, bad))).toMatch(/^Translated Source IP/);
  });

  it('refuses ports past 65535, with leading zeros, a sign, or "-", naming the field', () => {
    for (const bad of ['65536', '02048', '+2048', '-1', '-', '2048.0'])
      expect(ciscoReasonOf(ciscoWith(7, bad))).toMatch(/^Translated First Source Port .* is not a port/);
    for (const bad of ['99999', '03071', '-'])
      expect(ciscoReasonOf(ciscoWith(8, bad))).toMatch(/^Translated Last Source Port .* is not a port/);
  });

  it('refuses a block whose first port is above its last', () => {
    expect(ciscoReasonOf(ciscoWith(7, '4096'))).toMatch(/low port 4096 is above its high port 3071/);
  });

  it('refuses a Inside VRF Name holding a "["', () => {
    expect(ciscoReasonOf(ciscoWith(3, 'Broad[band'))).toMatch(/^Inside VRF Name/);
  });

  it('refuses a record with a field missing, empty, or one too many, naming the field', () => {
    expect(ciscoReasonOf('[UserbasedA - 10.0.0.1 Broadband - 100.1.1.1 - 2048 3071 -]')).toMatch(
      /^Destination Port is missing/,
    );
    expect(ciscoReasonOf('[UserbasedA - 10.0.0.1]')).toMatch(/^Inside VRF Name is missing/);
    expect(ciscoReasonOf('[UserbasedA - 10.0.0.1  Broadband - 100.1.1.1 - 2048 3071 - -]')).toMatch(
      /^Inside VRF Name is empty/,
    );
    expect(ciscoReasonOf('[UserbasedA - 10.0.0.1 Broadband - 100.1.1.1 - 2048 3071 - - x]')).toMatch(
      /"x" follows Destination Port/,
    );
  });

  it('refuses a message of several records, text around the record, or a record cut short', () => {
    expect(ciscoReasonOf(ciscoAlloc + ciscoRelease)).toMatch(/more than one \[record\]/);
    expect(ciscoReasonOf(`${ciscoAlloc} ${ciscoRelease}`)).toMatch(/more than one \[record\]/);
    expect(ciscoReasonOf(`${ciscoAlloc} trailing`)).toMatch(/" trailing" follows the record/);
    expect(ciscoReasonOf(`NAT44 ${ciscoAlloc}`)).toMatch(/does not begin with its "\[" record/);
    for (let cut = 1; cut < ciscoAlloc.length; cut++) {
      const reading = readCiscoCgnPortBlock(ciscoAlloc.slice(0, cut));
      expect('event' in reading, ciscoAlloc.slice(0, cut)).toBe(false);
    }
    expect(ciscoReasonOf(ciscoAlloc.slice(0, -1))).toMatch(/closing "\]"/);
  });

  it('ignores the events that are not port-block ones, and lines of no event', () => {
    for (const other of [
      '[SessionbasedA 6 10.0.0.1 Broadband - 100.1.1.1 1025 2050 - - -]',
      '[SessionbasedW 17 10.0.0.1 Broadband - 100.1.1.1 1025 2050 - - -]',
      '[Portblockrunout - 10.0.0.1 Broadband - - - - - - -]',
      '',
      ' ',
      'RT_FLOW_SESSION_CREATE: session created',
    ])
      expect(readCiscoCgnPortBlock(other)).toEqual({ ignored: true });
  });
});

describe('readPortBlock, either family', () => {
  it('reads a Juniper message as readJuniperPortBlock does, a Cisco one as readCiscoCgnPortBlock does', () => {
    expect(readPortBlock(nfwareAlloc)).toEqual(readJuniperPortBlock(nfwareAlloc));
    expect(readPortBlock(ciscoAlloc)).toEqual(readCiscoCgnPortBlock(ciscoAlloc));
    expect(readPortBlock(ciscoWith(7, '99999'))).toEqual(readCiscoCgnPortBlock(ciscoWith(7, '99999')));
  });

  it('tries Juniper first: a message naming both families is read (or refused) as Juniper', () => {
    const both = `RT_SRC_NAT_PBA_ALLOC: ${ciscoAlloc}`;
    expect(readPortBlock(both)).toEqual(readJuniperPortBlock(both));
    expect(readPortBlock(both)).toHaveProperty('unparsable');
  });

  it('ignores a message of neither family', () => {
    for (const other of ['', 'RT_FLOW_SESSION_CREATE: x', '[SessionbasedA 6 10.0.0.1 - - 100.1.1.1 1 2 - - -]'])
      expect(readPortBlock(other)).toEqual({ ignored: true });
  });
});
