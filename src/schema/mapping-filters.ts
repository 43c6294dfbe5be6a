import { addressKey, type IpAddress, type IpSubnet } from '../domain/ip.js';
import type { Prisma } from '../generated/prisma/client.js';

// Filters over the sortable address keys (see domain/ip.ts addressKey), in Prisma's own terms.

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

/** Mappings sharing at least one address with `subnet`. */
export function overlapsSubnetWhere(subnet: IpSubnet): Prisma.IpMappingWhereInput {
  return { ipFirst: { lte: addressKey(subnet.last) }, ipLast: { gte: addressKey(subnet.first) } };
}
