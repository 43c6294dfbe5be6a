import { describe, expect, it } from 'vitest';
import { InvalidValueError } from '../../src/domain/invalid-value.js';
import {
  addressKey,
  enclosingBlockFirsts,
  parseIpAddress,
  parseIpSubnet,
  subnetContains,
  subnetsOverlap,
} from '../../src/domain/ip.js';

function rejection(parse: () => unknown): string {
  try {
    parse();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidValueError);
    return (error as InvalidValueError).reason;
  }
  throw new Error('expected a rejection');
}

describe('parseIpAddress', () => {
  it.each([
    ['0.0.0.0', '0.0.0.0', 4],
    ['255.255.255.255', '255.255.255.255', 4],
    ['172.27.19.224', '172.27.19.224', 4],
    ['10.0.0.1', '10.0.0.1', 4],
    ['::', '::', 6],
    ['::1', '::1', 6],
    ['2001:db8::1', '2001:db8::1', 6],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1', 6],
    ['2001:0db8:0000:0000:0000:ff00:0042:8329', '2001:db8::ff00:42:8329', 6],
    ['fe80::1:0:0:1', 'fe80::1:0:0:1', 6],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1', 6],
    ['::ffff:1.2.3.4', '1.2.3.4', 4],
    ['::FFFF:c000:0280', '192.0.2.128', 4],
    ['64:ff9b::192.0.2.33', '64:ff9b::c000:221', 6],
    ['::ffff:102:304', '1.2.3.4', 4],
    ['0:0:0:0:0:ffff:1.2.3.4', '1.2.3.4', 4],
    ['0000:0000:0000:0000:0000:FFFF:0102:0304', '1.2.3.4', 4],
    ['::ffff:0:0', '0.0.0.0', 4],
    // The deprecated IPv4-compatible form is an IPv6 address like any other (ipaddr.js reads it
    // as IPv4-mapped, which gave `::1.2.3.4` and `::102:304` different values).
    ['::1.2.3.4', '::102:304', 6],
    ['::102:304', '::102:304', 6],
    ['0:0:0:0:0:0:1.2.3.4', '::102:304', 6],
    ['::0.0.0.1', '::1', 6],
    ['::10.0.0.1', '::a00:1', 6],
    ['0::10.0.0.1', '::a00:1', 6],
    ['::ffff:0:1.2.3.4', '::ffff:0:102:304', 6],
    ['::1:ffff:1.2.3.4', '::1:ffff:102:304', 6],
    ['2001:db8::ffff:1.2.3.4', '2001:db8::ffff:102:304', 6],
    ['1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:102:304', 6],
    ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0', 6],
    ['1:0:0:1:0:0:0:1', '1:0:0:1::1', 6],
    ['0:0:1:0:0:0:0:0', '0:0:1::', 6],
  ])('accepts %s as %s', (input, canonical, family) => {
    const address = parseIpAddress(input);
    expect(address.text).toBe(canonical);
    expect(address.family).toBe(family);
    // Canonical text parses back to itself.
    expect(parseIpAddress(canonical).text).toBe(canonical);
  });

  it.each([
    ['127.1', /canonical form/],
    ['0x7f.0.0.1', /canonical form/],
    ['010.1.1.1', /canonical form/],
    ['1.2.3.04', /canonical form/],
    ['2130706433', /canonical form/],
    ['256.1.1.1', /canonical form/],
    ['1.2.3', /canonical form/],
    ['1.2.3.4.5', /canonical form/],
    ['1.2.3.4 ', /canonical form/],
    [' 1.2.3.4', /canonical form/],
    ['1.2.3.4x', /canonical form/],
    ['1.2.3.-4', /canonical form/],
    ['fe80::1%eth0', /zone id/],
    ['2001:db8::1::1', /not a valid IPv6/],
    ['2001:db8:::1', /not a valid IPv6/],
    ['12345::1', /not a valid IPv6/],
    ['2001:db8::g', /not a valid IPv6/],
    ['2001:db8::1 ', /not a valid IPv6/],
    ['::ffff:1.2.3.04', /not a canonical IPv4/],
    ['::ffff:127.1', /not a (canonical IPv4|valid IPv6)/],
    ['::1.2.3', /not a canonical IPv4/],
    ['::01.2.3.4', /not a canonical IPv4/],
    ['00001::', /not a valid IPv6/],
    ['1:2:3:4:5:6:7', /7 groups, not 8/],
    ['1:2:3:4:5:6:7:8:9', /9 groups, not 8/],
    ['1:2:3:4:5:6:7:8::', /at least one zero group/],
    ['1:2:3:4:5:6::1.2.3.4', /at least one zero group/],
    ['1:2:3:4:5:6:7:1.2.3.4', /9 groups, not 8/],
    ['1.2.3.4::', /not a valid IPv6/],
    ['::1.2.3.4:1', /not a valid IPv6/],
    [':1::', /not a valid IPv6/],
    ['1::2:', /not a valid IPv6/],
    [':::', /not a valid IPv6/],
    ['::\uff11', /not a valid IPv6/],
    ['::1\0', /not a valid IPv6/],
    ['', /required/],
  ])('rejects %j', (input, reason) => {
    expect(rejection(() => parseIpAddress(input))).toMatch(reason);
  });
});

describe('parseIpSubnet', () => {
  it('keeps the text as sent and clears host bits in the network', () => {
    const subnet = parseIpSubnet('192.168.1.25/16');
    expect(subnet).toMatchObject({ input: '192.168.1.25/16', network: '192.168.0.0/16', family: 4, prefixLength: 16 });
    expect(subnet.first.text).toBe('192.168.0.0');
    expect(subnet.last.text).toBe('192.168.255.255');
  });

  it.each([
    ['10.0.0.1', '10.0.0.1/32'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['10.1.2.3/8', '10.0.0.0/8'],
    ['2001:db8::1', '2001:db8::1/128'],
    ['2001:DB8:0:0:1::/64', '2001:db8::/64'],
    ['2001:db8:abcd:12ff::1/56', '2001:db8:abcd:1200::/56'],
    ['::/0', '::/0'],
    ['::ffff:10.1.2.3/104', '10.0.0.0/8'],
    ['::ffff:10.1.2.3', '10.1.2.3/32'],
    ['::ffff:0:0/96', '0.0.0.0/0'],
    ['::ffff:1.2.3.4/96', '0.0.0.0/0'],
    ['::1.2.3.4/128', '::102:304/128'],
    ['::1.2.3.4/96', '::/96'],
  ])('%s means network %s', (input, network) => {
    expect(parseIpSubnet(input).network).toBe(network);
  });

  it('gives the last address of an IPv6 /56', () => {
    expect(parseIpSubnet('2001:db8:abcd:1200::/56').last.text).toBe('2001:db8:abcd:12ff:ffff:ffff:ffff:ffff');
  });

  it.each([
    ['10.0.0.0/33', /out of range \(0-32\)/],
    ['2001:db8::/129', /out of range \(0-128\)/],
    ['10.0.0.0/08', /without leading zeros/],
    ['10.0.0.0/', /decimal number/],
    ['10.0.0.0/-1', /decimal number/],
    ['10.0.0.0/1a', /decimal number/],
    ['10.0.0.0/8/8', /decimal number/],
    ['::ffff:10.0.0.0/64', /96-128/],
    ['::ffff:0:0/0', /96-128/],
    ['::ffff:1.2.3.4/129', /out of range \(0-128\)/],
    ['010.0.0.0/8', /canonical form/],
    ['fe80::%eth0/64', /zone id/],
  ])('rejects %j', (input, reason) => {
    expect(rejection(() => parseIpSubnet(input))).toMatch(reason);
  });
});

describe('address keys and overlap', () => {
  it('orders keys as the addresses they encode, IPv4 before IPv6', () => {
    const addresses = ['0.0.0.0', '9.255.255.255', '10.0.0.0', '255.255.255.255', '::', '::1', 'ffff::'];
    const keys = addresses.map((text) => addressKey(parseIpAddress(text)));
    expect([...keys].sort()).toEqual(keys);
  });

  it('finds overlap for equal, inner and outer subnets only', () => {
    const slash16 = parseIpSubnet('192.168.0.0/16');
    expect(subnetsOverlap(slash16, parseIpSubnet('192.168.0.0/16'))).toBe(true);
    expect(subnetsOverlap(slash16, parseIpSubnet('192.168.4.0/24'))).toBe(true);
    expect(subnetsOverlap(slash16, parseIpSubnet('192.0.0.0/8'))).toBe(true);
    expect(subnetsOverlap(slash16, parseIpSubnet('192.169.0.0/16'))).toBe(false);
    expect(subnetsOverlap(slash16, parseIpSubnet('::ffff:192.168.0.0/112'))).toBe(true);
    expect(subnetsOverlap(parseIpSubnet('::/0'), slash16)).toBe(false);
    expect(subnetContains(slash16, parseIpAddress('192.168.255.255'))).toBe(true);
    expect(subnetContains(slash16, parseIpAddress('192.169.0.0'))).toBe(false);
  });
});

describe('enclosing blocks', () => {
  it('lists the first address of each enclosing block once, widest first', () => {
    const subnet = parseIpSubnet('10.1.128.0/17');
    expect(enclosingBlockFirsts(subnet.first, subnet.prefixLength).map((a) => a.text)).toEqual([
      '0.0.0.0',
      '8.0.0.0',
      '10.0.0.0',
      '10.1.0.0',
      '10.1.128.0',
    ]);
  });

  it('finds, with the blocks starting inside, every subnet that overlaps (checked exhaustively)', () => {
    // Every block of 10.0.0.0/28 against every other: overlapping means starting inside, or
    // starting at an enclosing first address and reaching past the end.
    const blocks = [];
    for (let length = 28; length <= 32; length++) {
      for (let start = 0; start < 16; start += 2 ** (32 - length))
        blocks.push(parseIpSubnet(`10.0.0.${start}/${length}`));
    }
    for (const a of blocks) {
      const firsts = new Set(enclosingBlockFirsts(a.first, a.prefixLength).map((f) => f.value));
      for (const b of blocks) {
        const startsInside = b.first.value >= a.first.value && b.first.value <= a.last.value;
        const encloses = firsts.has(b.first.value) && b.last.value >= a.last.value;
        expect(startsInside || encloses).toBe(subnetsOverlap(a, b));
      }
    }
  });

  it('works for IPv6 up to /128', () => {
    const address = parseIpAddress('2001:db8::1');
    const firsts = enclosingBlockFirsts(address, 128);
    expect(firsts.at(-1)!.text).toBe('2001:db8::1');
    expect(firsts.at(-2)!.text).toBe('2001:db8::');
    expect(firsts[0]!.text).toBe('::');
  });
});
