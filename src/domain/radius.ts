import { createHash } from 'node:crypto';
import { type StorableText, requiredText } from './customer.js';
import { type IpSubnet, parseIpAddress, parseIpSubnet } from './ip.js';
import { InvalidValueError, quoted } from './invalid-value.js';
import { MAX_UNIX_TIME, MONTH_ABBREVIATIONS as MONTHS } from './time.js';

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
   * The session's unique id: MD5 of User-Name, Acct-Session-Id, NAS address (NAS-IPv6-Address,
   * else NAS-IP-Address, else the packet's source), NAS-Identifier, NAS-Port-Id and NAS-Port,
   * comma-separated, as FreeRADIUS's `acct_unique` policy computes it.
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

// FreeRADIUS prints a date attribute with strftime's `%b %e %Y %H:%M:%S %Z` in the server's zone:
// `Dec  1 2026 18:00:00 UTC`, or `May 15 2023 22:40:12 -03` where the zone database has no
// abbreviation for it (much of South America, Asia). Numeric offsets are also read as `%z` and
// ISO 8601 write them (`+0530`, `-03:00`).
const freeRadiusDate = /^([A-Z][a-z]{2}) +(\d{1,2}) (\d{4}) (\d{2}):(\d{2}):(\d{2})(?: ([A-Za-z]+|[+-][\d:]+))?$/;
const NUMERIC_ZONE = /^([+-])(\d{2})(?::?(\d{2}))?$/;

/**
 * A date whose zone is an abbreviation other than UTC and GMT: one abbreviation may name several
 * offsets (EST is New York's and, in older zone data, Sydney's; IST India's, Ireland's and
 * Israel's), so the instant it names is unknown.
 */
class AmbiguousZoneError extends InvalidValueError {}

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
  if (zone === undefined || zone === 'UTC' || zone === 'GMT') return seconds;
  if (/^[A-Za-z]+$/.test(zone)) {
    throw new AmbiguousZoneError(
      `${quoted(text)} names its zone ${zone}, an abbreviation that may stand for more than one offset: ` +
        'only UTC, GMT and numeric offsets (±HH, ±HHMM, ±HH:MM) say which instant is meant',
    );
  }
  const offset = NUMERIC_ZONE.exec(zone);
  if (!offset || Number(offset[2]) > 23 || Number(offset[3] ?? 0) > 59) {
    throw new InvalidValueError(`${quoted(text)} has zone offset ${zone}, not ±HH, ±HHMM or ±HH:MM`);
  }
  const [, sign, offsetHours, offsetMinutes] = offset;
  seconds -= (sign === '-' ? -1 : 1) * (Number(offsetHours) * 3600 + Number(offsetMinutes ?? 0) * 60);
  if (seconds > MAX_UNIX_TIME) throw new InvalidValueError(`${quoted(text)} is past year 9999`);
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
 * Event-Timestamp, or the arrival time without it. A detail file's Event-Timestamp is printed in
 * the FreeRADIUS server's zone, often by an abbreviation that names no one offset. The record's
 * Timestamp (or Donestamp once radrelay has sent it on), unix seconds of the packet's arrival,
 * still says when it came, as it does for a record without Event-Timestamp, so that time is taken
 * rather than the record lost. The detail module adds that attribute; it is in no RADIUS
 * dictionary, so a packet decoded off the wire never has one. Without it the record's date line
 * is local time in an unknown zone too, and the record is refused.
 */
function reportedTime(attributes: AccountingAttributes, arrival: Arrival): number {
  const stamp = first(attributes, 'Event-Timestamp');
  if (stamp === null) return arrival.at;
  try {
    return parseRadiusDate(stamp);
  } catch (error) {
    if (!(error instanceof InvalidValueError)) throw error;
    const received = first(attributes, 'Timestamp') ?? first(attributes, 'Donestamp');
    if (error instanceof AmbiguousZoneError && received !== null && /^\d{1,12}$/.test(received.trim())) {
      const seconds = Number(received.trim());
      if (seconds <= MAX_UNIX_TIME) return seconds;
    }
    throw new InvalidAccountingRecordError('Event-Timestamp', error.reason);
  }
}

/**
 * The event an accounting record reports, or null for a status that says nothing about who held
 * an address (Failed, Tunnel-*). Its time is Event-Timestamp − Acct-Delay-Time, or the arrival
 * time − Acct-Delay-Time when the NAS sends no Event-Timestamp (or, in a detail file, one dated in
 * an ambiguous zone beside a Timestamp).
 * Throws InvalidAccountingRecordError naming the attribute that is missing or malformed.
 */
export function readAccountingEvent(attributes: AccountingAttributes, arrival: Arrival): AccountingEvent | null {
  const statusText = readText(attributes, 'Acct-Status-Type');
  if (statusText === null) throw new InvalidAccountingRecordError('Acct-Status-Type', 'is missing');
  const status = SESSION_STATUSES[statusText];
  if (status === undefined) return null;
  const reported = reportedTime(attributes, arrival);
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
  // acct_unique hashes `%{%{NAS-IPv6-Address}:-%{NAS-IP-Address}}`, IPv6 first. The NAS's identity
  // keeps NAS-IP-Address first: open sessions are stored under its key, and a NAS's next
  // Accounting-On must still find them.
  const keyAddress = readText(attributes, 'NAS-IPv6-Address') ?? nas.ipAddress;
  const key = createHash('md5')
    .update([userName, acctSessionId, keyAddress ?? '', nas.identifier ?? '', nasPortId ?? '', nasPort ?? ''].join(','))
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
 * An `ipv6prefix` attribute's octets (RFC 3162 2.3: reserved, prefix length, prefix) in text form;
 * a prefix field longer than 16 octets is refused. RFC 3162 wants bits past the prefix length
 * zero, but a NAS that sets them still names one prefix, and refusing would lose the whole record:
 * they are kept in the text, and readAddresses reads it as its network, as it reads a detail
 * file's `2001:db8::1/64`, so a packet and a detail file of one record agree.
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
