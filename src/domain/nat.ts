import { InvalidValueError } from './invalid-value.js';
import { addressFromValue, type IpAddress, type IpSubnet, subnetContains } from './ip.js';

// Deterministic NAT (RFC 7422): a rule maps every address of an inside prefix onto an address of
// an outside prefix and a fixed block of its ports, so that (public address, port) names its inside
// address by arithmetic alone, with no log to keep. The arithmetic is VPP det44's
// (snat_det_forward / snat_det_reverse): the inside hosts are taken in order, `sharingRatio` to an
// outside address, and host k of an outside address holds ports
// firstPort + k·portsPerHost … firstPort + (k+1)·portsPerHost − 1.

export const PORT_MAX = 65_535;

/** Why `port` is no TCP/UDP port number, or null when it is one. */
export const portProblem = (port: number): string | null =>
  Number.isInteger(port) && port >= 0 && port <= PORT_MAX ? null : `${port} is not a port (0-${PORT_MAX})`;
/** Ports below it are the well-known and registered ones no CGNAT hands out (det44's first port). */
export const DEFAULT_FIRST_PORT = 1024;

export interface DeterministicNatRule {
  inside: IpSubnet;
  outside: IpSubnet;
  /** The first port of host 0's block on each outside address. */
  firstPort: number;
  portsPerHost: number;
}

/** Inside hosts per outside address: the inside prefix's size over the outside prefix's. */
export function sharingRatio(rule: Pick<DeterministicNatRule, 'inside' | 'outside'>): number {
  return 2 ** (rule.outside.prefixLength - rule.inside.prefixLength);
}

export interface DeterministicNatRuleInput {
  inside: IpSubnet;
  outside: IpSubnet;
  firstPort?: number;
  /** Default: as many as fit, (65536 − firstPort) / sharingRatio rounded down, as det44 does. */
  portsPerHost?: number;
}

/**
 * A rule from its parts, checked: both prefixes IPv4, the inside one no smaller than the outside
 * one, and every host's block within the ports of its outside address.
 * Throws InvalidValueError with `field` naming the part at fault.
 */
export function deterministicNatRule(input: DeterministicNatRuleInput): DeterministicNatRule {
  const { inside, outside } = input;
  if (inside.family !== 4) throw new DeterministicNatRuleError('inside', 'must be an IPv4 prefix');
  if (outside.family !== 4) throw new DeterministicNatRuleError('outside', 'must be an IPv4 prefix');
  if (outside.prefixLength < inside.prefixLength) {
    throw new DeterministicNatRuleError(
      'outside',
      `/${outside.prefixLength} has more addresses than the inside /${inside.prefixLength}: each outside address must be shared by one inside host or more`,
    );
  }
  const firstPort = input.firstPort ?? DEFAULT_FIRST_PORT;
  const badFirstPort = portProblem(firstPort);
  if (badFirstPort !== null) throw new DeterministicNatRuleError('firstPort', badFirstPort);
  const ratio = sharingRatio({ inside, outside });
  const available = PORT_MAX + 1 - firstPort;
  const portsPerHost = input.portsPerHost ?? Math.floor(available / ratio);
  if (!Number.isInteger(portsPerHost) || portsPerHost < 1) {
    throw new DeterministicNatRuleError(
      'portsPerHost',
      input.portsPerHost === undefined
        ? `${ratio} inside hosts per outside address leave less than one port each above ${firstPort}`
        : `${portsPerHost} must be a whole number of ports, at least 1`,
    );
  }
  if (portsPerHost * ratio > available) {
    throw new DeterministicNatRuleError(
      'portsPerHost',
      `${ratio} hosts × ${portsPerHost} ports from ${firstPort} run past port ${PORT_MAX} (at most ${Math.floor(available / ratio)} each)`,
    );
  }
  return { inside, outside, firstPort, portsPerHost };
}

export class DeterministicNatRuleError extends InvalidValueError {
  constructor(
    readonly field: 'inside' | 'outside' | 'firstPort' | 'portsPerHost',
    reason: string,
  ) {
    super(reason);
  }
}

export interface OutsideBlock {
  publicAddress: IpAddress;
  portFirst: number;
  portLast: number;
}

/** The outside address and ports the rule gives `inside`, or null when the rule does not cover it. */
export function deterministicForward(rule: DeterministicNatRule, inside: IpAddress): OutsideBlock | null {
  if (!subnetContains(rule.inside, inside)) return null;
  const offset = Number(inside.value - rule.inside.first.value);
  const ratio = sharingRatio(rule);
  const host = offset % ratio;
  const portFirst = rule.firstPort + host * rule.portsPerHost;
  return {
    publicAddress: addressFromValue(rule.outside.first.value + BigInt(Math.floor(offset / ratio)), 4),
    portFirst,
    portLast: portFirst + rule.portsPerHost - 1,
  };
}

/**
 * The inside address that held (`publicAddress`, `port`) under the rule, or null when the rule
 * gives that port to nobody (outside the rule, below its first port, or past the last host's block).
 */
export function deterministicReverse(
  rule: DeterministicNatRule,
  publicAddress: IpAddress,
  port: number,
): IpAddress | null {
  if (!subnetContains(rule.outside, publicAddress) || port < rule.firstPort || port > PORT_MAX) return null;
  const ratio = sharingRatio(rule);
  const host = Math.floor((port - rule.firstPort) / rule.portsPerHost);
  if (host >= ratio) return null;
  const outsideOffset = publicAddress.value - rule.outside.first.value;
  return addressFromValue(rule.inside.first.value + outsideOffset * BigInt(ratio) + BigInt(host), 4);
}

/** The ports of `publicAddress` the rule hands out, or null when it is not one of the rule's. */
export function deterministicPortRange(
  rule: DeterministicNatRule,
  publicAddress: IpAddress,
): { portFirst: number; portLast: number } | null {
  if (!subnetContains(rule.outside, publicAddress)) return null;
  return { portFirst: rule.firstPort, portLast: rule.firstPort + sharingRatio(rule) * rule.portsPerHost - 1 };
}
