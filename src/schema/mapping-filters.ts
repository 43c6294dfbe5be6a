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
