import { describe, expect, it } from 'vitest';
import { parseIpSubnet } from '../../src/domain/ip.js';
import { createClientLookup } from '../../src/radius/clients.js';
import { readEnv } from '../../src/env.js';

describe('RADIUS client lookup', () => {
  const clients = [
    { name: 'pool', address: parseIpSubnet('10.0.0.0/24') },
    { name: 'one-nas', address: parseIpSubnet('10.0.0.7/32') },
    { name: 'wide', address: parseIpSubnet('10.0.0.0/8') },
    { name: 'v6', address: parseIpSubnet('2001:db8:1::/48') },
  ];
  const lookup = createClientLookup(clients);

  it('picks the most specific client whatever the order listed', () => {
    expect(lookup('10.0.0.7')?.name).toBe('one-nas');
    expect(lookup('10.0.0.8')?.name).toBe('pool');
    expect(lookup('10.200.0.1')?.name).toBe('wide');
    expect(lookup('2001:db8:1::99')?.name).toBe('v6');
  });

  it('reads an IPv4-mapped source (a dual-stack socket) as its IPv4 address', () => {
    expect(lookup('::ffff:10.0.0.7')?.name).toBe('one-nas');
  });

  it('finds no client for an uncovered source or text that is no address', () => {
    expect(lookup('192.0.2.1')).toBeNull();
    expect(lookup('2001:db8:2::1')).toBeNull();
    expect(lookup('not-an-address')).toBeNull();
    expect(lookup('fe80::1%eth0')).toBeNull();
  });
});

describe('RADIUS_CLIENTS', () => {
  const read = (clients: unknown) =>
    readEnv({ RADIUS_ACCOUNTING_PORT: '1813', RADIUS_CLIENTS: JSON.stringify(clients) }).RADIUS_CLIENTS;

  it('takes IPv4 and IPv6 addresses and subnets, an address meaning that address alone', () => {
    const clients = read([
      { address: '192.0.2.10', secret: 'one-secret', context: 'default' },
      { address: '2001:db8:1::/48', secret: 'two-secret', context: 'isp-7' },
    ]);
    expect(clients?.map((client) => [client.address.network, client.context])).toEqual([
      ['192.0.2.10/32', 'default'],
      ['2001:db8:1::/48', 'isp-7'],
    ]);
  });

  it('refuses one network listed twice, an unknown field and a bad context, naming the entry, never the secret', () => {
    const refused = () =>
      read([
        { address: '10.0.0.0/24', secret: 'first-secret', context: 'default' },
        { address: '10.0.0.9/24', secret: 'second-secret', context: 'default' },
      ]);
    expect(refused).toThrow(/RADIUS_CLIENTS\.1\.address: 10\.0\.0\.0\/24 is listed twice/);
    expect(refused).not.toThrow(/first-secret|second-secret/);
    const misspelt = () => read([{ address: '10.0.0.1', secret: 'third-secret', context: 'bad name', secert: 'x' }]);
    expect(misspelt).toThrow(/RADIUS_CLIENTS\.0\.context: must be 1-64 letters/);
    expect(misspelt).toThrow(/RADIUS_CLIENTS\.0: Unrecognized key: "secert"/);
    expect(misspelt).not.toThrow(/third-secret/);
    expect(() => read([])).toThrow(/RADIUS_CLIENTS: must list at least one client/);
    expect(() => read([{ address: '10.0.0.1', secret: 4, context: 'default' }])).toThrow(
      /RADIUS_CLIENTS\.0\.secret: must be a text/,
    );
  });
});
