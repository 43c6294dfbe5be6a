import { addressKey, type IpAddress, type IpSubnet } from '../domain/ip.js';
import type { TimeRange } from '../domain/time.js';
import type { Prisma } from '../generated/prisma/client.js';

// How a mapping's address range and period are stored, and the filters over them in Prisma's
// own terms: the sortable address keys (see domain/ip.ts addressKey) make "contains", "within"
// and "overlaps" ordinary comparisons.

export interface AddressKeys {
  ipFirst: string;
  ipLast: string;
}

export function addressKeys(subnet: IpSubnet): AddressKeys {
  return { ipFirst: addressKey(subnet.first), ipLast: addressKey(subnet.last) };
}

export function subnetColumns(subnet: IpSubnet) {
  return { ipsubnet: subnet.input, network: subnet.network, ...addressKeys(subnet) };
}

export function periodColumns(period: TimeRange) {
  return { starttime: BigInt(period.start), endtime: period.end === null ? null : BigInt(period.end) };
}

export function activeAtWhere(at: number): Prisma.IpMappingWhereInput {
  return { starttime: { lte: BigInt(at) }, OR: [{ endtime: null }, { endtime: { gte: BigInt(at) } }] };
}

export function containsIpWhere(ip: IpAddress): Prisma.IpMappingWhereInput {
  const key = addressKey(ip);
  return { ipFirst: { lte: key }, ipLast: { gte: key } };
}

export function withinSubnetWhere(subnet: IpSubnet): Prisma.IpMappingWhereInput {
  return { ipFirst: { gte: addressKey(subnet.first) }, ipLast: { lte: addressKey(subnet.last) } };
}

/** Mappings held at some instant of [from, to] (either end may be open). */
export function overlapsWindowWhere(
  from: number | null | undefined,
  to: number | null | undefined,
): Prisma.IpMappingWhereInput {
  return {
    ...(to == null ? {} : { starttime: { lte: BigInt(to) } }),
    ...(from == null ? {} : { OR: [{ endtime: null }, { endtime: { gte: BigInt(from) } }] }),
  };
}

/** Mappings sharing at least one address with the range `keys`. */
export function overlapsKeysWhere(keys: AddressKeys): Prisma.IpMappingWhereInput {
  return { ipFirst: { lte: keys.ipLast }, ipLast: { gte: keys.ipFirst } };
}

/** Mappings of a context sharing an address with `keys` at some instant of `period`. */
export function overlappingWhere(contextId: number, keys: AddressKeys, period: TimeRange): Prisma.IpMappingWhereInput {
  return { AND: [{ contextId }, overlapsKeysWhere(keys), overlapsWindowWhere(period.start, period.end)] };
}
