import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type IpSubnet, parseIpAddress, parseIpSubnet } from '../../src/domain/ip.js';
import {
  DeterministicNatRuleError,
  deterministicForward,
  deterministicNatRule,
  deterministicPortRange,
  deterministicReverse,
  sharingRatio,
} from '../../src/domain/nat.js';

const rule = (inside: string, outside: string, extra: { firstPort?: number; portsPerHost?: number } = {}) =>
  deterministicNatRule({ inside: parseIpSubnet(inside), outside: parseIpSubnet(outside), ...extra });
const address = parseIpAddress;

describe('deterministic NAT, against the worked examples of VPP det44', () => {
  // FD.io VPP, src/plugins/nat/det44/det44_cli.c, the CLI help of `det44 add`, `det44 forward` and
  // `det44 reverse`: "det44 add in 10.0.0.0/18 out 1.1.1.0/30", then "det44 forward 10.0.0.2" prints
  // "1.1.1.0:<1054-1068>" and "det44 reverse 1.1.1.1:1276" prints "10.0.16.16".
  const vpp = rule('10.0.0.0/18', '1.1.1.0/30');

  it('shares each outside address among 4096 hosts, 15 ports each from 1024', () => {
    expect(sharingRatio(vpp)).toBe(4096);
    expect(vpp.firstPort).toBe(1024);
    expect(vpp.portsPerHost).toBe(15);
  });

  it('forward: 10.0.0.2 -> 1.1.1.0:<1054-1068>', () => {
    expect(deterministicForward(vpp, address('10.0.0.2'))).toEqual({
      publicAddress: address('1.1.1.0'),
      portFirst: 1054,
      portLast: 1068,
    });
  });

  it('reverse: 1.1.1.1:1276 -> 10.0.16.16', () => {
    expect(deterministicReverse(vpp, address('1.1.1.1'), 1276)).toEqual(address('10.0.16.16'));
    // And back: 10.0.16.16 holds 1.1.1.1's ports 1264-1278, 1276 among them.
    expect(deterministicForward(vpp, address('10.0.16.16'))).toEqual({
      publicAddress: address('1.1.1.1'),
      portFirst: 1264,
      portLast: 1278,
    });
  });

  // The same file's `show det44 mappings`: "in 10.0.0.0/24 out 1.1.1.1/32, outside address sharing
  // ratio: 256, number of ports per inside host: 252".
  it('in 10.0.0.0/24 out 1.1.1.1/32: ratio 256, 252 ports per host', () => {
    const mapping = rule('10.0.0.0/24', '1.1.1.1/32');
    expect(sharingRatio(mapping)).toBe(256);
    expect(mapping.portsPerHost).toBe(252);
    expect(deterministicForward(mapping, address('10.0.0.255'))).toEqual({
      publicAddress: address('1.1.1.1'),
      portFirst: 1024 + 255 * 252,
      portLast: 65_535,
    });
  });
});

describe('deterministic NAT, ports no host holds', () => {
  // 64 hosts per address × 900 ports from 2000: ports 2000-59599 are handed out.
  const mapping = rule('100.64.0.0/24', '203.0.113.0/30', { firstPort: 2000, portsPerHost: 900 });

  it('answers nobody below the first port, past the last block, or off the rule', () => {
    expect(deterministicPortRange(mapping, address('203.0.113.3'))).toEqual({ portFirst: 2000, portLast: 59_599 });
    expect(deterministicReverse(mapping, address('203.0.113.1'), 1999)).toBeNull();
    expect(deterministicReverse(mapping, address('203.0.113.1'), 2000)).toEqual(address('100.64.0.64'));
    expect(deterministicReverse(mapping, address('203.0.113.1'), 59_599)).toEqual(address('100.64.0.127'));
    expect(deterministicReverse(mapping, address('203.0.113.1'), 59_600)).toBeNull();
    expect(deterministicReverse(mapping, address('203.0.113.4'), 3000)).toBeNull();
    expect(deterministicForward(mapping, address('100.64.1.0'))).toBeNull();
    expect(deterministicPortRange(mapping, address('203.0.113.4'))).toBeNull();
  });
});

describe('deterministic NAT rules refused', () => {
  const refusal = (make: () => unknown) => {
    try {
      make();
    } catch (error) {
      if (error instanceof DeterministicNatRuleError) return { field: error.field, reason: error.reason };
      throw error;
    }
    throw new Error('accepted');
  };

  it('names the part at fault', () => {
    expect(refusal(() => rule('2001:db8::/64', '1.1.1.0/30')).field).toBe('inside');
    expect(refusal(() => rule('10.0.0.0/24', '2001:db8::/120')).field).toBe('outside');
    expect(refusal(() => rule('10.0.0.0/24', '1.1.1.0/23'))).toMatchObject({ field: 'outside' });
    expect(refusal(() => rule('10.0.0.0/24', '1.1.1.0/30', { firstPort: 70_000 })).field).toBe('firstPort');
    expect(refusal(() => rule('10.0.0.0/24', '1.1.1.0/30', { portsPerHost: 0 })).field).toBe('portsPerHost');
    expect(refusal(() => rule('10.0.0.0/24', '1.1.1.0/30', { portsPerHost: 1009 }))).toEqual({
      field: 'portsPerHost',
      reason: '64 hosts × 1009 ports from 1024 run past port 65535 (at most 1008 each)',
    });
    // 2^32 hosts on one address leave no port each.
    expect(refusal(() => rule('0.0.0.0/0', '1.1.1.1/32')).field).toBe('portsPerHost');
  });
});

describe('deterministic NAT, properties', () => {
  const rules = fc
    .record({
      insideLength: fc.integer({ min: 8, max: 32 }),
      spread: fc.integer({ min: 0, max: 12 }),
      insideBase: fc.integer({ min: 0, max: 0xffffffff }),
      outsideBase: fc.integer({ min: 0, max: 0xffffffff }),
      firstPort: fc.integer({ min: 0, max: 4096 }),
    })
    .filter(({ insideLength, spread }) => insideLength + spread <= 32)
    .map(({ insideLength, spread, insideBase, outsideBase, firstPort }) => {
      const text = (value: number, length: number) =>
        `${[24, 16, 8, 0].map((shift) => (value >>> shift) & 255).join('.')}/${length}`;
      return rule(text(insideBase, insideLength), text(outsideBase, insideLength + spread), { firstPort });
    });

  /** The address `where` (0-1) of the way through `subnet`, through its text, as a caller would send it. */
  const addressWithin = (subnet: IpSubnet, where: number) => {
    const size = subnet.last.value - subnet.first.value + 1n;
    const value = subnet.first.value + BigInt(Math.min(Number(size) - 1, Math.floor(where * Number(size))));
    return address([24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 255n)).join('.'));
  };

  it('reverse undoes forward for every port of a host’s block, and blocks of one address never meet', () => {
    fc.assert(
      fc.property(rules, fc.double({ min: 0, max: 1, noNaN: true }), (natRule, where) => {
        const inside = addressWithin(natRule.inside, where);
        const block = deterministicForward(natRule, inside)!;
        expect(block.portFirst).toBeGreaterThanOrEqual(natRule.firstPort);
        expect(block.portLast).toBeLessThanOrEqual(65_535);
        for (const port of new Set([block.portFirst, block.portLast, (block.portFirst + block.portLast) >> 1])) {
          expect(deterministicReverse(natRule, block.publicAddress, port)).toEqual(inside);
        }
        // The neighbouring ports belong to the neighbouring hosts (or nobody), never to this one.
        for (const port of [block.portFirst - 1, block.portLast + 1]) {
          expect(deterministicReverse(natRule, block.publicAddress, port)).not.toEqual(inside);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('forward undoes reverse: the host found holds the port', () => {
    fc.assert(
      fc.property(
        rules,
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 0, max: 65_535 }),
        (natRule, where, port) => {
          const outside = addressWithin(natRule.outside, where);
          const inside = deterministicReverse(natRule, outside, port);
          const range = deterministicPortRange(natRule, outside)!;
          expect(inside !== null).toBe(port >= range.portFirst && port <= range.portLast);
          if (inside === null) return;
          const block = deterministicForward(natRule, inside)!;
          expect(block.publicAddress).toEqual(outside);
          expect(port).toBeGreaterThanOrEqual(block.portFirst);
          expect(port).toBeLessThanOrEqual(block.portLast);
        },
      ),
      { numRuns: 300 },
    );
  });
});
