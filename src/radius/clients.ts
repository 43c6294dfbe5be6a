import { type IpSubnet, parseIpAddress, subnetContains } from '../domain/ip.js';
import { InvalidValueError } from '../domain/invalid-value.js';

// Which NAS a packet comes from: the client whose address or subnet holds the packet's source
// address. RADIUS has no other identification (RFC 2865 3: the secret belongs to the source address).

/** Looks up the client a source address belongs to, or null when no client covers it. */
export type ClientLookup<Client> = (sourceAddress: string) => Client | null;

/**
 * The lookup of `clients` by source address: the most specific subnet wins (a /32 inside a /24),
 * as FreeRADIUS picks among overlapping `client` networks. A source that is no IP address (it
 * cannot come from a socket, but a zone index `%eth0` can) belongs to no client unless its
 * address part does; an IPv4-mapped IPv6 source (a dual-stack socket) is its IPv4 address.
 */
export function createClientLookup<Client extends { address: IpSubnet }>(
  clients: readonly Client[],
): ClientLookup<Client> {
  const bySpecificity = [...clients].sort((a, b) => b.address.prefixLength - a.address.prefixLength);
  return (sourceAddress) => {
    const withoutZone = sourceAddress.replace(/%.*$/, '');
    let address;
    try {
      address = parseIpAddress(withoutZone);
    } catch (error) {
      if (!(error instanceof InvalidValueError)) throw error;
      return null;
    }
    return bySpecificity.find((client) => subnetContains(client.address, address)) ?? null;
  };
}
