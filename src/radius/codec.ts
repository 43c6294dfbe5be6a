import { fileURLToPath } from 'node:url';
import radius, { type RadiusPacket } from 'radius';
import { InvalidValueError } from '../domain/invalid-value.js';
import {
  type AccountingAttributes,
  InvalidAccountingRecordError,
  ipv6FromOctets,
  ipv6PrefixFromOctets,
} from '../domain/radius.js';

// RADIUS accounting packets (RFC 2866) through the `radius` codec: the header checks it leaves out,
// the Request Authenticator it verifies, its decoded attributes in FreeRADIUS's text form (what
// domain/radius.ts reads), and the Accounting-Response it signs.

const HEADER_OCTETS = 20;
// RFC 2865 3: the longest packet.
const MAX_PACKET_OCTETS = 4096;
const ACCOUNTING_REQUEST = 4;
const VENDOR_SPECIFIC = 26;

// Read relative to this module, so that it is found wherever the code is installed.
const RFC6911_DICTIONARY = fileURLToPath(new URL('./dictionary.rfc6911', import.meta.url));

let dictionariesAdded = false;

/**
 * Adds the dictionary of RFC 6911 (Framed-IPv6-Address and its kin) to the codec's own, once,
 * before the codec decodes or encodes anything. The codec loads its dictionaries on first use and
 * never again, so they are unloaded here in case something used it before.
 */
export function loadRadiusDictionaries(): void {
  if (dictionariesAdded) return;
  radius.add_dictionary(RFC6911_DICTIONARY);
  radius.unload_dictionaries();
  dictionariesAdded = true;
}

// What the codec has but its type declarations leave out: its error for a bad authenticator, an
// attribute's name, and its dictionary type and modifiers (`_attr_to`, by the indexes of its
// dictionary entries). Its decoder leaves ipv6addr, ipv6prefix and octets values as the raw
// octets, and only the type tells them apart.
const codecInternals = radius as unknown as {
  InvalidSecretError: new (...args: never[]) => Error;
  attr_id_to_name(id: number): string | undefined;
  _attr_to(attribute: string, vendor: undefined, field: 2 | 5): unknown;
};
const attributeType = (name: string) => String(codecInternals._attr_to(name, undefined, 2) ?? '');
const isTagged = (name: string) =>
  Boolean((codecInternals._attr_to(name, undefined, 5) as Record<string, boolean> | undefined)?.has_tag);

/** A datagram's header, before its secret is known. */
export interface PacketHeader {
  code: number;
  identifier: number;
  /** The Length field: octets past it are padding (RFC 2865 3). */
  length: number;
  authenticator: Buffer;
}

export type HeaderReading =
  | { header: PacketHeader }
  | { problem: 'malformed'; reason: string }
  | { problem: 'not_accounting_request'; reason: string };

/** The header of a datagram that may be an Accounting-Request, and whether its attributes fit its Length. */
export function readHeader(datagram: Buffer): HeaderReading {
  if (datagram.length < HEADER_OCTETS) {
    return { problem: 'malformed', reason: `is ${datagram.length} octets, shorter than a RADIUS header (20)` };
  }
  const code = datagram[0]!;
  if (code !== ACCOUNTING_REQUEST) {
    return { problem: 'not_accounting_request', reason: `has code ${code}, not Accounting-Request (4)` };
  }
  const length = datagram.readUInt16BE(2);
  if (length < HEADER_OCTETS || length > MAX_PACKET_OCTETS) {
    return { problem: 'malformed', reason: `has Length ${length}, outside 20-4096` };
  }
  if (datagram.length < length) {
    return { problem: 'malformed', reason: `is ${datagram.length} octets, shorter than its Length ${length}` };
  }
  // The codec reads an attribute that runs past the packet as a shorter one: refuse it here.
  for (let offset = HEADER_OCTETS; offset < length;) {
    const attributeLength = offset + 1 < length ? datagram[offset + 1]! : 0;
    if (attributeLength < 2 || offset + attributeLength > length) {
      return { problem: 'malformed', reason: `has an attribute at octet ${offset} that does not fit the packet` };
    }
    offset += attributeLength;
  }
  return {
    header: { code, identifier: datagram[1]!, length, authenticator: Buffer.from(datagram.subarray(4, 20)) },
  };
}

/** An Accounting-Request whose authenticator its client's secret verified. */
export interface AccountingRequest {
  identifier: number;
  packet: RadiusPacket;
}

export type RequestReading =
  | { request: AccountingRequest }
  | { problem: 'malformed'; reason: string }
  | { problem: 'bad_authenticator'; reason: string };

/**
 * Decodes an Accounting-Request whose header `readHeader` accepted, checking its Request
 * Authenticator (and Message-Authenticator, if present) with `secret`.
 */
export function decodeAccountingRequest(datagram: Buffer, header: PacketHeader, secret: string): RequestReading {
  loadRadiusDictionaries();
  // Without the padding: the authenticator covers the packet up to its Length.
  const packetOctets = Buffer.from(datagram.subarray(0, header.length));
  try {
    const packet = radius.decode({ packet: packetOctets, secret });
    return { request: { identifier: packet.identifier, packet } };
  } catch (error) {
    if (error instanceof codecInternals.InvalidSecretError) {
      return { problem: 'bad_authenticator', reason: 'its authenticator does not match the client secret' };
    }
    return { problem: 'malformed', reason: error instanceof Error ? error.message : String(error) };
  }
}

function valueText(name: string, value: unknown): string | null {
  const type = attributeType(name);
  if (value instanceof Date) return String(Math.floor(value.getTime() / 1000));
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return type === 'string' || type === 'text' ? `"${value}"` : value;
  if (!Buffer.isBuffer(value)) return null;
  try {
    if (type === 'ipv6addr') return ipv6FromOctets(value);
    if (type === 'ipv6prefix') return ipv6PrefixFromOctets(value);
  } catch (error) {
    if (!(error instanceof InvalidValueError)) throw error;
    throw new InvalidAccountingRecordError(name, error.reason);
  }
  // FreeRADIUS prints octets (and types it has no text form for here) in hex.
  return `0x${value.toString('hex')}`;
}

/**
 * The packet's attributes as FreeRADIUS writes them in a detail file: strings in double quotes,
 * enumerated integers by name, dates as unix seconds, addresses and prefixes in text form,
 * octets in hex; repeated attributes in the order sent. Vendor-specific and tagged (tunnel)
 * attributes say nothing of who held an address and are left out.
 * Throws InvalidAccountingRecordError naming an IPv6 attribute whose octets are malformed.
 */
export function accountingAttributes(packet: RadiusPacket): AccountingAttributes {
  const decoded = packet.attributes as Record<string, unknown>;
  const sent = new Map<string, number>();
  const names: string[] = [];
  for (const [id] of packet.raw_attributes as [number, Buffer][]) {
    if (id === VENDOR_SPECIFIC) continue;
    const name = codecInternals.attr_id_to_name(id);
    if (name === undefined || isTagged(name)) continue;
    if (!sent.has(name)) names.push(name);
    sent.set(name, (sent.get(name) ?? 0) + 1);
  }
  const attributes = new Map<string, string[]>();
  for (const name of names) {
    // The codec gathers the values of a repeated attribute into an array, in the order sent.
    const values = sent.get(name)! > 1 ? (decoded[name] as unknown[]) : [decoded[name]];
    const texts = values.map((value) => valueText(name, value)).filter((text) => text !== null);
    if (texts.length > 0) attributes.set(name, texts);
  }
  return attributes;
}

/** The Accounting-Response to `request`, signed with the secret (RFC 2866 3: its Response Authenticator). */
export function encodeAccountingResponse(request: AccountingRequest, secret: string): Buffer {
  loadRadiusDictionaries();
  // A copy of its own: the library encodes into a new 4 KB buffer and returns a slice of it,
  // which keeps all 4 KB alive. The listener keeps each answer for retransmissions; held as
  // slices, the thousands of a busy minute kept hundreds of MB outside the heap, and the
  // collector's young-generation pauses grew past the latency they were meant to stay under.
  return Buffer.from(radius.encode_response({ packet: request.packet, code: 'Accounting-Response', secret }));
}
