import fc from 'fast-check';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseIpAddress, parseIpSubnet } from '../../src/domain/ip.js';
import { createCustomer, graphqlData, resetData } from '../helpers.js';

// Every spelling of one address is one value: the one-owner rule and whoHad must not depend on
// how a caller writes it. Only the IPv4-mapped form (::ffff:a.b.c.d) is the IPv4 address.

async function create(userId: string, ipsubnet: string, starttime: number, endtime: number) {
  const data = await graphqlData(
    `mutation($input: MappingInput!) { createMapping(input: $input) {
      __typename
      ... on IpMapping { id network family }
      ... on ConflictError { message }
    } }`,
    { input: { userId, ipsubnet, starttime, endtime } },
  );
  return data.createMapping as { __typename: string; id?: number; network?: string; family?: number; message?: string };
}

/** whoHad for each address at `at`, in one request: the holder's id and UserID, or null. */
async function whoHad(addresses: string[], at: number) {
  const query = addresses.map((_, i) => `w${i}: whoHad(ip: $ip${i}, at: ${at}) { id customer { userId } }`).join('\n');
  const variables = Object.fromEntries(addresses.map((ip, i) => [`ip${i}`, ip]));
  const data = await graphqlData(
    `query(${addresses.map((_, i) => `$ip${i}: IPAddress!`).join(', ')}) { ${query} }`,
    variables,
  );
  return addresses.map((_, i) => data[`w${i}`] as { id: number; customer: { userId: string } } | null);
}

describe('one owner per address, however it is spelt', () => {
  beforeEach(async () => {
    await resetData();
    await createCustomer('A');
    await createCustomer('B');
  });

  it.each([
    ['::1.2.3.4', '::102:304'],
    ['::102:304', '::1.2.3.4'],
    ['::1.2.3.4/128', '0:0:0:0:0:0:102:304'],
    ['::0.0.0.1', '::1'],
    ['::10.0.0.1', '0::10.0.0.1'],
    ['::ffff:1.2.3.4', '1.2.3.4'],
    ['1.2.3.4', '::ffff:1.2.3.4'],
    ['1.2.3.4', '::FFFF:102:304'],
    ['1.2.3.4/32', '0:0:0:0:0:ffff:1.2.3.4/128'],
    ['10.0.0.0/8', '::ffff:10.20.30.40/104'],
    ['::ffff:0:0/96', '192.0.2.1'],
  ])('%s held by A: %s for B at the same instant is a ConflictError', async (held, other) => {
    const first = await create('A', held, 100, 200);
    expect(first.__typename).toBe('IpMapping');
    const second = await create('B', other, 150, 250);
    expect(second).toMatchObject({ __typename: 'ConflictError', message: expect.any(String) });
  });

  it('keeps the IPv4-compatible ::1.2.3.4 and the IPv4 address 1.2.3.4 apart', async () => {
    const compatible = await create('A', '::1.2.3.4', 100, 200);
    const ipv4 = await create('B', '1.2.3.4', 100, 200);
    expect(compatible).toMatchObject({ __typename: 'IpMapping', network: '::102:304/128', family: 6 });
    expect(ipv4).toMatchObject({ __typename: 'IpMapping', network: '1.2.3.4/32', family: 4 });
    const answers = await whoHad(['::1.2.3.4', '::102:304', '0:0:0:0:0:0:1.2.3.4', '1.2.3.4', '::ffff:1.2.3.4'], 150);
    expect(answers.map((answer) => answer?.customer.userId)).toEqual(['A', 'A', 'A', 'B', 'B']);
  });

  it('reads ::ffff:0:0/96 as all of IPv4, and ::/0 as IPv6 only', async () => {
    expect(await create('A', '::ffff:0:0/96', 100, 200)).toMatchObject({ network: '0.0.0.0/0', family: 4 });
    expect(await create('B', '::/0', 100, 200)).toMatchObject({ network: '::/0', family: 6 });
    const answers = await whoHad(['0.0.0.0', '255.255.255.255', '::ffff:1.2.3.4', '::1.2.3.4', '::'], 150);
    expect(answers.map((answer) => answer?.customer.userId)).toEqual(['A', 'A', 'A', 'B', 'B']);
  });
});

// A random address: IPv4, IPv6 (zero groups likely, so `::` has runs to replace), or IPv6 in the
// IPv4-compatible range ::a.b.c.d that used to be read as IPv4.
type Generated = { family: 4; value: bigint } | { family: 6; groups: number[]; value: bigint };

const group = fc.oneof(fc.constant(0), fc.constant(0xffff), fc.integer({ min: 0, max: 0xffff }));
const ipv6Groups = fc.oneof(
  fc.array(group, { minLength: 8, maxLength: 8 }),
  fc.tuple(group, group).map(([high, low]) => [0, 0, 0, 0, 0, 0, high, low]),
);
const generated: fc.Arbitrary<Generated> = fc.oneof(
  fc.integer({ min: 0, max: 0xffffffff }).map((n) => ({ family: 4 as const, value: BigInt(n) })),
  ipv6Groups
    // The mapped block is IPv4; its spellings come from the IPv4 arm.
    .filter((groups) => !(groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff))
    .map((groups) => ({
      family: 6 as const,
      groups,
      value: groups.reduce((value, g) => (value << 16n) | BigInt(g), 0n),
    })),
);

/** How to write one IPv6 address: each group's case and width, which zero run `::` stands for, a dotted tail. */
interface Style {
  upper: boolean[];
  width: number[];
  compress: number;
  dottedTail: boolean;
}

const style: fc.Arbitrary<Style> = fc.record({
  upper: fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
  width: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 8, maxLength: 8 }),
  compress: fc.nat(),
  dottedTail: fc.boolean(),
});

function zeroRuns(groups: number[]): [start: number, length: number][] {
  const runs: [number, number][] = [];
  for (let start = 0; start < 8; start++) {
    for (let end = start; end < 8 && groups[end] === 0; end++) runs.push([start, end - start + 1]);
  }
  return runs;
}

function spellIpv6(groups: number[], s: Style): string {
  const hex = (g: number, i: number) => {
    const text = g.toString(16).padStart(s.width[i]!, '0');
    return s.upper[i] ? text.toUpperCase() : text;
  };
  // A run of zero groups `::` stands for (none: written out), chosen among all runs.
  const runs = zeroRuns(groups);
  const choice = s.compress < 0 ? runs.length : s.compress % (runs.length + 1);
  const [runStart, runLength] = choice < runs.length ? runs[choice]! : [8, 0];
  // The dotted tail is the last 32 bits, so `::` must not stand for either of their groups.
  const dotted = s.dottedTail && (runLength === 0 || runStart + runLength <= 6);
  const written = groups.map((g, i) => hex(g, i));
  if (dotted) {
    const [high, low] = [groups[6]!, groups[7]!];
    written.splice(6, 2, `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`);
  }
  if (runLength === 0) return written.join(':');
  return `${written.slice(0, runStart).join(':')}::${written.slice(runStart + runLength).join(':')}`;
}

function spell(address: Generated, s: Style | null): string {
  if (address.family === 6)
    return spellIpv6(address.groups, s ?? { upper: [], width: [], compress: -1, dottedTail: false });
  const v = address.value;
  if (s === null) return [24n, 16n, 8n, 0n].map((shift) => (v >> shift) & 0xffn).join('.');
  return spellIpv6([0, 0, 0, 0, 0, 0xffff, Number(v >> 16n), Number(v & 0xffffn)], s);
}

// null: IPv4 in dotted decimal, IPv6 written out in lower case; a style: any other spelling.
const spellings = fc.array(fc.option(style, { freq: 4 }), { minLength: 2, maxLength: 5 });

describe('two spellings of one address', () => {
  it('give the same canonical value, as addresses and as subnets', () => {
    fc.assert(
      fc.property(generated, spellings, fc.nat(), (address, styles, prefixPick) => {
        const texts = styles.map((s) => spell(address, s));
        const parsed = texts.map((text) => parseIpAddress(text));
        for (const [i, p] of parsed.entries()) {
          expect(p.family, texts[i]).toBe(address.family);
          expect(p.value, texts[i]).toBe(address.value);
          expect(p.text, texts[i]).toBe(parsed[0]!.text);
        }
        // The same subnet, whatever the address's spelling: a mapped one's prefix counts from 96.
        const bits = address.family === 4 ? 32 : 128;
        const prefix = prefixPick % (bits + 1);
        const networks = texts.map((text) => {
          const written = text.includes(':') && address.family === 4 ? prefix + 96 : prefix;
          return parseIpSubnet(`${text}/${written}`).network;
        });
        expect(new Set(networks).size, texts.join(' ')).toBe(1);
      }),
      { numRuns: 500 },
    );
  });

  describe('through the API', () => {
    let run = 0;
    beforeAll(async () => {
      await resetData();
      await createCustomer('A');
    });

    it('give the same whoHad answer, and the address written in the other family is nobody', async () => {
      await fc.assert(
        fc.asyncProperty(generated, spellings, async (address, styles) => {
          const texts = styles.map((s) => spell(address, s));
          // Each run holds its address in a window of its own, so runs never conflict.
          const start = 1000 + 10 * run++;
          const held = await create('A', texts[0]!, start, start + 5);
          expect(held, texts[0]).toMatchObject({ __typename: 'IpMapping', family: address.family });
          expect(held.network).toBe(`${parseIpAddress(texts[0]!).text}/${address.family === 4 ? 32 : 128}`);
          // The twin: 1.2.3.4 for ::1.2.3.4 and the reverse, which spelling alone used to confuse.
          const low = address.value & 0xffffffffn;
          const twin =
            address.family === 4
              ? `::${spell({ family: 4, value: low }, null)}`
              : address.value >> 32n === 0n
                ? spell({ family: 4, value: low }, null)
                : undefined;
          const during = await whoHad([...texts, ...(twin ? [twin] : [])], start + 2);
          for (const [i, text] of texts.entries()) {
            expect(during[i], text).toEqual({ id: held.id, customer: { userId: 'A' } });
          }
          if (twin) expect(during[texts.length], twin).toBeNull();
          const after = await whoHad(texts, start + 6);
          expect(after).toEqual(texts.map(() => null));
        }),
        { numRuns: 40 },
      );
    });
  });
});
