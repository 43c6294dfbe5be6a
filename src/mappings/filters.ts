import { addressKey, enclosingBlockFirsts, type IpAddress, type IpSubnet } from '../domain/ip.js';
import type { TimeRange } from '../domain/time.js';
import type { Channel } from '../access/types.js';
import type { Prisma } from '../generated/prisma/client.js';
import { mappings } from '../db/columns.js';

// How a mapping's address range and period are stored, and the filters over them in Prisma's
// own terms: the sortable address keys (see domain/ip.ts addressKey) make "contains", "within"
// and "overlaps" ordinary comparisons.

interface AddressKeys {
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

/** Where a customer or mapping came from (the `source` column). */
export type RecordSource = 'API' | 'REST' | 'CSV' | 'RADIUS';

const SOURCE_OF_CHANNEL = { graphql: 'API', rest: 'REST', cli: 'CSV', radius: 'RADIUS' } as const satisfies Record<
  Exclude<Channel, 'nat' | 'attribute'>,
  RecordSource
>;

/**
 * The source of what a write through `channel` creates: the admin CLI creates records only by
 * importing CSV; the NAT log writers create bindings, never customers or mappings, and
 * attribution only reads.
 */
export function sourceOf(channel: Channel): RecordSource {
  if (channel === 'nat' || channel === 'attribute') {
    throw new Error(`the ${channel} channel creates no customers or mappings`);
  }
  return SOURCE_OF_CHANNEL[channel];
}

export function activeAtWhere(at: number): Prisma.IpMappingWhereInput {
  return { starttime: { lte: BigInt(at) }, OR: [{ endtime: null }, { endtime: { gte: BigInt(at) } }] };
}

// Address filters are B-tree probes on (context_id, ip_first): CIDR blocks nest or are disjoint,
// so a block overlapping `subnet` starts inside it, or starts at the first address of one of
// the (at most 129) blocks enclosing it and reaches past its end.

/** Mappings whose block contains `subnet` (or equals it). */
function enclosingWhere(first: IpAddress, prefixLength: number, lastKey: string): Prisma.IpMappingWhereInput {
  return { ipFirst: { in: enclosingBlockFirsts(first, prefixLength).map(addressKey) }, ipLast: { gte: lastKey } };
}

export function containsIpWhere(ip: IpAddress): Prisma.IpMappingWhereInput {
  return enclosingWhere(ip, ip.family === 4 ? 32 : 128, addressKey(ip));
}

export function withinSubnetWhere(subnet: IpSubnet): Prisma.IpMappingWhereInput {
  const { ipFirst, ipLast } = addressKeys(subnet);
  return { ipFirst: { gte: ipFirst, lte: ipLast }, ipLast: { lte: ipLast } };
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
  const { ipFirst, ipLast } = addressKeys(subnet);
  return {
    OR: [{ ipFirst: { gte: ipFirst, lte: ipLast } }, enclosingWhere(subnet.first, subnet.prefixLength, ipLast)],
  };
}

/**
 * The mappings of a context that shared an address with `subnet` at some instant of [from, to]
 * (either end open): one part of what ipHistory lists.
 */
export interface MappingSpan {
  contextId: number;
  subnet: IpSubnet;
  from: number | null;
  to: number | null;
}

export function spanWhere(span: MappingSpan): Prisma.IpMappingWhereInput {
  return {
    AND: [{ contextId: span.contextId }, overlapsSubnetWhere(span.subnet), overlapsWindowWhere(span.from, span.to)],
  };
}

/** Adds a value to a statement's parameters and returns its placeholder. */
export type AddParameter = (value: string | number) => string;

const column = mappings.columns;

/**
 * spanWhere's conditions as SQL over the mapping rows named `alias`, for the statements Prisma
 * cannot write (over the versions as they stood at a past instant, lookups/store.ts). The address
 * keys are family digits and hex: they need no quoting inside an array literal.
 */
export function spanSql(alias: string, span: MappingSpan, parameter: AddParameter): string {
  const { ipFirst, ipLast } = addressKeys(span.subnet);
  const enclosing = enclosingBlockFirsts(span.subnet.first, span.subnet.prefixLength).map(addressKey);
  const last = parameter(ipLast);
  const conditions = [
    `${alias}.${column.contextId} = ${parameter(span.contextId)}`,
    `(${alias}.${column.ipFirst} BETWEEN ${parameter(ipFirst)} AND ${last}` +
      ` OR (${alias}.${column.ipFirst} = ANY(${parameter(`{${enclosing.join(',')}}`)}::text[]) AND ${alias}.${column.ipLast} >= ${last}))`,
  ];
  if (span.to !== null) conditions.push(`${alias}.${column.starttime} <= ${parameter(span.to)}`);
  if (span.from !== null) {
    conditions.push(`(${alias}.${column.endtime} IS NULL OR ${alias}.${column.endtime} >= ${parameter(span.from)})`);
  }
  return `(${conditions.join(' AND ')})`;
}
