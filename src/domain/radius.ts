import { createHash } from 'node:crypto';
import { type StorableText, requiredText } from './customer.js';
import { type IpSubnet, parseIpAddress, parseIpSubnet } from './ip.js';
import { InvalidValueError, quoted } from './invalid-value.js';
import { MAX_UNIX_TIME } from './time.js';

// What one RADIUS accounting record (RFC 2866; IPv6 attributes RFC 3162, 4818, 6911) says, read
// from its attributes whatever carried them: a UDP packet decoded by the `radius` codec, or a
// FreeRADIUS `detail` file. Both hand the attributes over in the detail file's text form.

/** Attribute name → its values, in FreeRADIUS's text form (`Acct-Status-Type = Start`). */
export type AccountingAttributes = ReadonlyMap<string, readonly string[]>;

export type SessionStatus = 'Start' | 'Interim-Update' | 'Stop';
export type NasStatus = 'Accounting-On' | 'Accounting-Off';

/** The NAS that reported an event: its address and identifier as it sends them, and one key for both. */
export interface NasIdentity {
  ipAddress: string | null;
  identifier: string | null;
  /** `address/identifier` (either may be empty): sessions and Accounting-On/Off are matched on it. */
  key: string;
}

/** What a session event says of its session, beside the status and time. */
export interface SessionReport {
  /**
   * The session's unique id: MD5 of User-Name, Acct-Session-Id, NAS address, NAS-Identifier,
   * NAS-Port-Id and NAS-Port, as FreeRADIUS's `acct_unique` policy computes it.
   */
  key: string;
  /** The UserID of the session's customer: storable as one (see customer.ts). */
  userName: StorableText;
  acctSessionId: string;
  callingStationId: string | null;
  nasPortId: string | null;
  /** Acct-Session-Time: seconds the session had lasted at the event, if sent. */
  sessionTime: number | null;
  terminateCause: string | null;
  /** Framed-IP-Address, Framed-IPv6-Address, Framed-IPv6-Prefix and Delegated-IPv6-Prefix, in that order. */
  addresses: IpSubnet[];
}

export type AccountingEvent =
  | { kind: 'session'; status: SessionStatus; at: number; nas: NasIdentity; session: SessionReport }
  | { kind: 'nas'; status: NasStatus; at: number; nas: NasIdentity };

/** Where an event came from and when it arrived, for the attributes that a record may leave out. */
export interface Arrival {
  /** Unix seconds at which the packet arrived (a detail file's record date). */
  at: number;
  /** The address the packet came from: the NAS's address when it sends no NAS-IP-Address. */
  sourceAddress: string | null;
}

/** An attribute whose value breaks the rules of accounting: `field` names the attribute. */
export class InvalidAccountingRecordError extends InvalidValueError {
  constructor(
    readonly field: string,
    reason: string,
  ) {
    super(`${field} ${reason}`);
    this.name = 'InvalidAccountingRecordError';
  }
}

const first = (attributes: AccountingAttributes, name: string): string | null => attributes.get(name)?.[0] ?? null;

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
// FreeRADIUS prints a date attribute as `Dec  1 2026 18:00:00 UTC` (the zone may be any abbreviation
// it knows; only UTC and numeric offsets are unambiguous, so only those are read).
const freeRadiusDate = /^([A-Z][a-z]{2}) +(\d{1,2}) (\d{4}) (\d{2}):(\d{2}):(\d{2})(?: (UTC|GMT|[+-]\d{4}))?$/;

/** A RADIUS `date` value as unix seconds: decimal seconds, or FreeRADIUS's printed form. */
export function parseRadiusDate(text: string): number {
  const trimmed = text.trim().replace(/^"(.*)"$/, '$1');
  if (/^\d{1,12}$/.test(trimmed)) {
    const seconds = Number(trimmed);
    if (seconds > MAX_UNIX_TIME) throw new InvalidValueError(`${quoted(text)} is past year 9999`);
    return seconds;
  }
  const match = freeRadiusDate.exec(trimmed);
  const month = match ? MONTHS.indexOf(match[1]!) : -1;
  if (!match || month === -1) {
    throw new InvalidValueError(`${quoted(text)} is not a date (unix seconds, or as FreeRADIUS prints one)`);
  }
  const [, , day, year, hour, minute, second, zone] = match;
  let seconds = Date.UTC(Number(year), month, Number(day), Number(hour), Number(minute), Number(second)) / 1000;
  if (zone && zone !== 'UTC' && zone !== 'GMT') {
    const sign = zone.startsWith('-') ? -1 : 1;
    seconds -= sign * (Number(zone.slice(1, 3)) * 3600 + Number(zone.slice(3, 5)) * 60);
  }
  return seconds;
}

function readCount(attributes: AccountingAttributes, name: string): number | null {
  const text = first(attributes, name);
  if (text === null) return null;
  if (!/^\d{1,10}$/.test(text.trim()))
    throw new InvalidAccountingRecordError(name, `${quoted(text)} is not a number of seconds`);
  return Number(text.trim());
}

function readText(attributes: AccountingAttributes, name: string): string | null {
  const text = first(attributes, name);
  if (text === null) return null;
  const unquoted = text.replace(/^"(.*)"$/s, '$1');
  return unquoted.length === 0 ? null : unquoted;
}

function readAddresses(attributes: AccountingAttributes): IpSubnet[] {
  const read = (name: string, family: 4 | 6, whole: boolean) =>
    (attributes.get(name) ?? []).map((text) => {
      let subnet: IpSubnet;
      try {
        subnet = whole ? parseIpSubnet(parseIpAddress(text.trim()).text) : parseIpSubnet(text.trim());
      } catch (error) {
        if (!(error instanceof InvalidValueError)) throw error;
        throw new InvalidAccountingRecordError(name, `${quoted(text)}: ${error.reason}`);
      }
      if (subnet.family !== family)
        throw new InvalidAccountingRecordError(name, `${quoted(text)} is not an IPv${family} value`);
      return subnet;
    });
  const all = [
    ...read('Framed-IP-Address', 4, true),
    ...read('Framed-IPv6-Address', 6, true),
    ...read('Framed-IPv6-Prefix', 6, false),
    ...read('Delegated-IPv6-Prefix', 6, false),
  ];
  // 255.255.255.254 asks the NAS to pick an address and 255.255.255.255 the user (RFC 2865 5.8):
  // neither is an address held. A value repeated (the same prefix framed and delegated) is one holding.
  const held = all.filter(
    (subnet) => subnet.network !== '255.255.255.254/32' && subnet.network !== '255.255.255.255/32',
  );
  return held.filter((subnet, index) => held.findIndex((other) => other.network === subnet.network) === index);
}

function readNas(attributes: AccountingAttributes, arrival: Arrival): NasIdentity {
  const ipAddress =
    readText(attributes, 'NAS-IP-Address') ??
    readText(attributes, 'NAS-IPv6-Address') ??
    readText(attributes, 'Packet-Src-IP-Address') ??
    arrival.sourceAddress;
  const identifier = readText(attributes, 'NAS-Identifier');
  return { ipAddress, identifier, key: `${ipAddress ?? ''}/${identifier ?? ''}` };
}

const SESSION_STATUSES: Record<string, SessionStatus | NasStatus> = {
  Start: 'Start',
  '1': 'Start',
  Stop: 'Stop',
  '2': 'Stop',
  'Interim-Update': 'Interim-Update',
  Alive: 'Interim-Update',
  '3': 'Interim-Update',
  'Accounting-On': 'Accounting-On',
  '7': 'Accounting-On',
  'Accounting-Off': 'Accounting-Off',
  '8': 'Accounting-Off',
};

/**
 * The event an accounting record reports, or null for a status that says nothing about who held
 * an address (Failed, Tunnel-*). Its time is Event-Timestamp − Acct-Delay-Time, or the arrival
 * time − Acct-Delay-Time when the NAS sends no Event-Timestamp.
 * Throws InvalidAccountingRecordError naming the attribute that is missing or malformed.
 */
export function readAccountingEvent(attributes: AccountingAttributes, arrival: Arrival): AccountingEvent | null {
  const statusText = readText(attributes, 'Acct-Status-Type');
  if (statusText === null) throw new InvalidAccountingRecordError('Acct-Status-Type', 'is missing');
  const status = SESSION_STATUSES[statusText];
  if (status === undefined) return null;
  const stamp = first(attributes, 'Event-Timestamp');
  let reported: number;
  try {
    reported = stamp === null ? arrival.at : parseRadiusDate(stamp);
  } catch (error) {
    if (!(error instanceof InvalidValueError)) throw error;
    throw new InvalidAccountingRecordError('Event-Timestamp', error.reason);
  }
  const at = Math.max(0, reported - (readCount(attributes, 'Acct-Delay-Time') ?? 0));
  const nas = readNas(attributes, arrival);
  if (status === 'Accounting-On' || status === 'Accounting-Off') return { kind: 'nas', status, at, nas };

  const userNameText = readText(attributes, 'User-Name');
  if (userNameText === null) throw new InvalidAccountingRecordError('User-Name', 'is missing');
  let userName: StorableText;
  try {
    userName = requiredText(userNameText);
  } catch (error) {
    if (!(error instanceof InvalidValueError)) throw error;
    throw new InvalidAccountingRecordError('User-Name', error.reason);
  }
  const acctSessionId = readText(attributes, 'Acct-Session-Id');
  if (acctSessionId === null) throw new InvalidAccountingRecordError('Acct-Session-Id', 'is missing');
  const nasPortId = readText(attributes, 'NAS-Port-Id');
  const nasPort = readText(attributes, 'NAS-Port');
  const key = createHash('md5')
    .update(
      [userName, acctSessionId, nas.ipAddress ?? '', nas.identifier ?? '', nasPortId ?? '', nasPort ?? ''].join(','),
    )
    .digest('hex');
  return {
    kind: 'session',
    status,
    at,
    nas,
    session: {
      key,
      userName,
      acctSessionId,
      callingStationId: readText(attributes, 'Calling-Station-Id'),
      nasPortId,
      sessionTime: readCount(attributes, 'Acct-Session-Time'),
      terminateCause: readText(attributes, 'Acct-Terminate-Cause'),
      addresses: readAddresses(attributes),
    },
  };
}

/**
 * An `ipv6prefix` attribute's octets (RFC 3162 2.3: reserved, prefix length, prefix) in text form.
 * Bits past the prefix length must be zero, as RFC 3162 requires; a longer prefix field is refused.
 */
export function ipv6PrefixFromOctets(octets: Uint8Array): string {
  if (octets.length < 2 || octets.length > 18) throw new InvalidValueError(`is ${octets.length} octets long (2-18)`);
  const length = octets[1]!;
  if (length > 128) throw new InvalidValueError(`has prefix length ${length} (0-128)`);
  const bytes = new Uint8Array(16);
  bytes.set(octets.subarray(2));
  return `${ipv6FromOctets(bytes)}/${length}`;
}

/** A 16-octet `ipv6addr` value in text form. */
export function ipv6FromOctets(octets: Uint8Array): string {
  if (octets.length !== 16) throw new InvalidValueError(`is ${octets.length} octets long, not 16`);
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((octets[i]! << 8) | octets[i + 1]!).toString(16));
  return parseIpAddress(groups.join(':')).text;
}
