import { type IpAddress, parseIpAddress } from './ip.js';
import { InvalidValueError, quoted } from './invalid-value.js';
import { MAX_UNIX_TIME } from './time.js';
import type { PortBlockEventKind } from './nat-binding.js';

// What one syslog message of a Juniper SRX/MX carrier-grade NAT says of a port block, read from
// the message body (the syslog header stripped by the receiver). Junos writes the
// RT_SRC_NAT_PBA_ALLOC, _RELEASE and _INTERIM messages in two forms:
//
// - structured data, one RFC 5424 SD element of named parameters, as NFWare's NAT logging
//   documentation quotes it (docs.nfware.com/en/6.3/nat/logging.html, "Message format"):
//     RT_NAT - RT_SRC_NAT_PBA_ALLOC [internal-ip="10.0.10.10" block-used="1" block-max-per-host="4"
//       block-port-low="48640" block-port-high="48895" reflexive-ip="1.2.84.172" nat-pool-name="guest"
//       logical-system-id="0" epoch-time-64="624b0492"]
//   In an RFC 5424 message Junos names the element (`[junos@2636.1.1.1.2.129 internal-ip=...]`),
//   and the `RT_NAT - ` may be the header's APP-NAME instead of the body's start.
// - brief text, timed only by the syslog header:
//     RT_SRC_NAT_PBA_ALLOC: Subscriber 100.64.60.74 used/maximum [10/15] blocks, allocates port
//       block [24064-24191] from 203.0.113.100 in source pool pool1 lsn-pool lsn1
//   with "releases port block" for RELEASE and "interim port block" for INTERIM. Juniper's system
//   log reference for these messages was not among the documents searched; the wording is the
//   one this project was given. One public parser (a Python nat_parser.py for Juniper MX) quotes
//   an MX line ending "in source pool EXAMPLE_POOL lsys_id: 0 epoch 0x6a44007a" instead: such a
//   line is unparsable here (its tail is named in the reason) until the wording is confirmed.
//
// A second family, Cisco IOS XR CGN bulk port allocation records, is read further down
// (readCiscoCgnPortBlock, its sources there); readPortBlock reads either.
//
// Nothing is guessed: a message that does not read exactly as one of these is unparsable, with
// a reason naming the field, so that a device speaking otherwise is noticed instead of misread.

export type { PortBlockEventKind };

/** One port-block line as logged: what the binding rules (nat-binding.ts) take, its time still to be settled. */
export interface PortBlockLogLine {
  kind: PortBlockEventKind;
  /** The subscriber's (inside) IPv4 address. */
  insideAddress: IpAddress;
  /** The public IPv4 address whose ports the block is. */
  publicAddress: IpAddress;
  /** The block's first and last port, inclusive: 0-65535, first <= last. */
  portFirst: number;
  portLast: number;
  /**
   * Unix seconds from the message itself (the structured form's epoch-time-64, hexadecimal), or
   * null: then the caller uses the syslog header's time.
   */
  at: number | null;
  /** The source NAT pool (nat-pool-name, or "in source pool X"), if named. */
  pool: string | null;
  /** Blocks the subscriber holds (block-used, or used/maximum's first number), if said. */
  blocksUsed: number | null;
  /** Blocks the subscriber may hold (block-max-per-host, or used/maximum's second number), if said. */
  blocksMax: number | null;
}

export type PortBlockReading =
  | { event: PortBlockLogLine }
  /** A port-block message that does not read as documented; the reason names the field. */
  | { unparsable: string }
  /** Not a port-block message at all (another RT_ message, an empty line). */
  | { ignored: true };

const KINDS: Record<string, PortBlockEventKind> = {
  RT_SRC_NAT_PBA_ALLOC: 'ALLOC',
  RT_SRC_NAT_PBA_RELEASE: 'RELEASE',
  RT_SRC_NAT_PBA_INTERIM: 'INTERIM',
};

/** The brief form's verb for each kind, as written (case-sensitive). */
const VERBS: Record<PortBlockEventKind, string> = { ALLOC: 'allocates', RELEASE: 'releases', INTERIM: 'interim' };

// Any mention of the tag family makes a message a port-block one: a line that names it but is
// laid out otherwise (a tag not at the start, an unknown RT_SRC_NAT_PBA_ kind) is unparsable,
// never ignored, so it is not lost without a word.
const PBA_FAMILY = /\bRT_SRC_NAT_PBA_/;
const TAG = /^(?:RT_NAT - )?(RT_SRC_NAT_PBA_[A-Z_]*)/;

/** A message that does not read as documented; the message names the field. */
class UnparsableError extends Error {}

function fail(reason: string): never {
  throw new UnparsableError(reason);
}

/** Reads one Juniper RT_SRC_NAT_PBA_* message body into its port-block event. */
export function readJuniperPortBlock(message: string): PortBlockReading {
  if (!PBA_FAMILY.test(message)) return { ignored: true };
  try {
    return { event: readEvent(message) };
  } catch (error) {
    if (error instanceof UnparsableError) return { unparsable: error.message };
    throw error;
  }
}

function readEvent(message: string): PortBlockLogLine {
  const tag = TAG.exec(message);
  if (!tag) fail(`${quoted(message)} does not begin with its RT_SRC_NAT_PBA_ tag (after an optional "RT_NAT - ")`);
  const [prefix, name] = [tag[0], tag[1]!];
  const kind = KINDS[name];
  if (kind === undefined) fail(`tag ${name} is not RT_SRC_NAT_PBA_ALLOC, _RELEASE or _INTERIM`);
  const rest = message.slice(prefix.length);
  if (rest.startsWith(' [')) return readStructured(kind, rest.slice(1));
  // The brief form has no "RT_NAT - " before it: that belongs to the structured form's layout.
  if (rest.startsWith(': ') && !prefix.startsWith('RT_NAT - ')) return readBrief(kind, rest.slice(2));
  return fail(`${name} is followed by ${quoted(rest)}, not " [" (structured data) or ": Subscriber" (brief text)`);
}

// ---- Structured data (RFC 5424 section 6.3) ----

// SD-ID as Junos writes it: an enterprise-numbered name, `junos@2636.1.1.1.2.129`.
const SD_ID = /[A-Za-z][A-Za-z0-9_-]*@\d+(?:\.\d+)*/y;
// PARAM-NAME: 1-32 printable US-ASCII characters other than '=', ' ', ']' and '"'.
const PARAM_NAME = /[!#-<>-\\^-~]{1,32}/y;

/** Reads `[sd-id? name="value" ...]` (and any free text after it) into its parameters. */
function readSdElement(text: string): Map<string, string> {
  const params = new Map<string, string>();
  let at = 1; // past '['
  SD_ID.lastIndex = at;
  const sdId = SD_ID.exec(text);
  let closed = false;
  if (sdId) {
    at = SD_ID.lastIndex;
    closed = text[at] === ']';
    if (!closed && text[at] !== ' ') fail(`SD-ID ${quoted(sdId[0] + text.slice(at))} is not followed by a space`);
    if (!closed) at += 1;
  }
  while (!closed) {
    PARAM_NAME.lastIndex = at;
    const nameMatch = PARAM_NAME.exec(text);
    if (!nameMatch) {
      if (at >= text.length) fail('the structured data ends before its closing "]" (the line is cut short)');
      fail(`${quoted(text.slice(at))} is not a parameter (name="value")`);
    }
    const name = nameMatch[0];
    at = PARAM_NAME.lastIndex;
    if (text.slice(at, at + 2) !== '="') fail(`parameter ${name} is not followed by ="value"`);
    at += 2;
    let value = '';
    for (;;) {
      if (at >= text.length) fail(`${name}'s value has no closing quote (the line is cut short)`);
      const char = text[at]!;
      if (char === '"') break;
      if (char === ']') fail(`${name}'s value holds a "]" not escaped as "\\]" (RFC 5424 requires it)`);
      if (char === '\\' && at + 1 < text.length && '"\\]'.includes(text[at + 1]!)) {
        value += text[at + 1];
        at += 2;
        continue;
      }
      // RFC 5424: a backslash before any other character is an ordinary backslash.
      value += char;
      at += 1;
    }
    at += 1; // past the closing quote
    if (params.has(name)) fail(`${name} is given twice`);
    params.set(name, value);
    closed = text[at] === ']';
    if (closed) break;
    if (text[at] !== ' ') {
      if (at >= text.length) fail('the structured data ends before its closing "]" (the line is cut short)');
      fail(`${name}'s value is followed by ${quoted(text.slice(at))}, not a space or "]"`);
    }
    at += 1;
  }
  // STRUCTURED-DATA [SP MSG]: Junos may follow the element with its English text, which says
  // again what the parameters say; the parameters are what is read.
  const after = text.slice(at + 1);
  if (after !== '' && !after.startsWith(' '))
    fail(`the structured data is followed by ${quoted(after)}, not a space and free text`);
  return params;
}

function readStructured(kind: PortBlockEventKind, text: string): PortBlockLogLine {
  const params = readSdElement(text);
  const required = (name: string): string => params.get(name) ?? fail(`${name} is missing`);
  const optional = (name: string): string | null => params.get(name) ?? null;
  const blockUsed = optional('block-used');
  const blockMax = optional('block-max-per-host');
  const epoch = optional('epoch-time-64');
  const pool = optional('nat-pool-name');
  return withBlock({
    kind,
    insideAddress: ipv4('internal-ip', required('internal-ip')),
    publicAddress: ipv4('reflexive-ip', required('reflexive-ip')),
    portFirst: port('block-port-low', required('block-port-low')),
    portLast: port('block-port-high', required('block-port-high')),
    at: epoch === null ? null : hexUnixTime('epoch-time-64', epoch),
    pool: pool === null || pool === '' ? null : pool,
    blocksUsed: blockUsed === null ? null : count('block-used', blockUsed),
    blocksMax: blockMax === null ? null : count('block-max-per-host', blockMax),
  });
}

// ---- Brief text ----

interface Step {
  /** What the step reads, as a reason names it. */
  field: string;
  pattern: RegExp;
}

/** Reads the steps in order from the start of `text`, each where the last ended, to its end. */
function readSteps(text: string, steps: Step[]): (string | undefined)[][] {
  let at = 0;
  const groups: (string | undefined)[][] = [];
  for (const { field, pattern } of steps) {
    pattern.lastIndex = at;
    const match = pattern.exec(text);
    if (!match) {
      const left = text.slice(at);
      fail(left === '' ? `${field} is missing (the line ends before it)` : `${field} does not read at ${quoted(left)}`);
    }
    groups.push(match.slice(1));
    at = pattern.lastIndex;
  }
  if (at < text.length) fail(`${quoted(text.slice(at))} follows the message, which should end there`);
  return groups;
}

function readBrief(kind: PortBlockEventKind, text: string): PortBlockLogLine {
  const verb = VERBS[kind];
  const [[subscriber], [used, maximum], , [low, high], [from], [pool]] = readSteps(text, [
    { field: 'Subscriber', pattern: /Subscriber (\S+)/y },
    { field: 'used/maximum', pattern: / used\/maximum \[(\S+?)\/(\S+?)\] blocks,/y },
    { field: `the verb "${verb}"`, pattern: new RegExp(` ${verb} port block`, 'y') },
    { field: 'port block', pattern: / \[(\S+?)-(\S+?)\]/y },
    { field: 'from', pattern: / from (\S+)/y },
    { field: 'source pool', pattern: /(?: in source pool (\S+))?/y },
    { field: 'lsn-pool', pattern: /(?: lsn-pool \S+)?/y },
  ]) as [[string], [string, string], [], [string, string], [string], [string | undefined], []];
  return withBlock({
    kind,
    insideAddress: ipv4('Subscriber', subscriber),
    publicAddress: ipv4('from', from),
    portFirst: port('port block low', low),
    portLast: port('port block high', high),
    at: null,
    pool: pool ?? null,
    blocksUsed: count('used/maximum used', used),
    blocksMax: count('used/maximum maximum', maximum),
  });
}

// ---- Fields ----

function withBlock(event: PortBlockLogLine): PortBlockLogLine {
  if (event.portFirst > event.portLast)
    fail(`the block's low port ${event.portFirst} is above its high port ${event.portLast}`);
  return event;
}

/** A canonical dotted-quad IPv4 address; IPv6 (IPv4-mapped included) is refused. */
function ipv4(field: string, text: string): IpAddress {
  let address: IpAddress;
  try {
    address = parseIpAddress(text);
  } catch (error) {
    if (!(error instanceof InvalidValueError)) throw error;
    return fail(`${field}: ${error.reason}`);
  }
  if (text.includes(':')) return fail(`${field} ${quoted(text)} is an IPv6 address; only IPv4 is read here`);
  return address;
}

const DECIMAL = /^(?:0|[1-9]\d*)$/;

function port(field: string, text: string): number {
  if (!DECIMAL.test(text) || text.length > 5 || Number(text) > 65535)
    fail(`${field} ${quoted(text)} is not a port (0-65535)`);
  return Number(text);
}

function count(field: string, text: string): number {
  if (!DECIMAL.test(text) || text.length > 9) fail(`${field} ${quoted(text)} is not a count of blocks`);
  return Number(text);
}

function hexUnixTime(field: string, text: string): number {
  if (!/^[0-9A-Fa-f]{1,16}$/.test(text)) fail(`${field} ${quoted(text)} is not hexadecimal unix seconds`);
  const seconds = BigInt(`0x${text}`);
  if (seconds > BigInt(MAX_UNIX_TIME)) fail(`${field} ${quoted(text)} is past year 9999`);
  return Number(seconds);
}

// ---- Cisco IOS XR Carrier Grade NAT, bulk port allocation ----

// What one syslog message of a Cisco IOS XR carrier-grade NAT (CGSE/CGv6 service) says of a port
// block, read from the message body (the syslog header stripped by the receiver). Cisco's "Cisco IOS
// XR Carrier Grade NAT Configuration Guide for the Cisco CRS Router, Release 5.2.x" (OL-32659-01),
// chapter "External Logging", section "Syslog Message Format", as found in a public copy
// (https://www.easymanua.ls/cisco/grs/manual?p=108, the example on ?p=110), gives the layout:
// STRUCTURED-DATA is not used, and the MSG is one or more records, each in [] brackets,
//     [EventName <L4> <Original Source IP> <Inside VRF Name> <Original Source IPv6> <Translated
//       Source IP> <Original Port> <Translated First Source Port> <Translated Last Source Port>
//       <Destination IP> <Destination Port>]
// a field that does not apply to the event written as "-". With bulk port allocation the events
// are UserbasedA (user-based port assignment) and UserbasedW (user-based port withdrawal), and
// "the translation record will not contain information about L4 protocol". The guide's example
// record is the one with EventName UserbasedA, Original Source IP 10.0.0.1, Inside VRF name
// Broadband, Translated Source IP 100.1.1.1, Translated First Source Port 2048 and Translated
// Last Source Port 3071; written out in the layout above (the fields it leaves out as "-"):
//     [UserbasedA - 10.0.0.1 Broadband - 100.1.1.1 - 2048 3071 - -]
// The guide lists that example as a table of values; the line above is that table in the stated
// layout, not a line quoted from a device.
//
// Read here, strictly: a message that is exactly one such record of a Userbased event, NAT44 (no
// Original Source IPv6: a DS-Lite record, whose subscriber is an IPv6 tunnel end, is unparsable),
// with "-" for L4, Original Port, Destination IP and Destination Port. The record carries no time
// (the syslog header times it) and no pool. A message packing several records is unparsable, its
// reason saying so, rather than read in part. The other events (SessionbasedA/W/AD/WD,
// Portblockrunout) are not port-block ones and are ignored.

/** The Cisco CGN bulk-allocation events, as written (case-sensitive). */
const CISCO_KINDS: Record<string, PortBlockEventKind> = { UserbasedA: 'ALLOC', UserbasedW: 'RELEASE' };

// Any mention of a Userbased event makes a message a Cisco port-block one: laid out otherwise it
// is unparsable, never ignored.
const CISCO_FAMILY = /\bUserbased/;
const CISCO_FIELDS = [
  'EventName',
  'L4',
  'Original Source IP',
  'Inside VRF Name',
  'Original Source IPv6',
  'Translated Source IP',
  'Original Port',
  'Translated First Source Port',
  'Translated Last Source Port',
  'Destination IP',
  'Destination Port',
] as const;

/** Reads one Cisco IOS XR CGN bulk port allocation record (UserbasedA/UserbasedW) into its port-block event. */
export function readCiscoCgnPortBlock(message: string): PortBlockReading {
  if (!CISCO_FAMILY.test(message)) return { ignored: true };
  try {
    return { event: readCiscoRecord(message) };
  } catch (error) {
    if (error instanceof UnparsableError) return { unparsable: error.message };
    throw error;
  }
}

function readCiscoRecord(message: string): PortBlockLogLine {
  if (!message.startsWith('[')) fail(`${quoted(message)} does not begin with its "[" record (EventName ...)`);
  const close = message.indexOf(']');
  if (close === -1) fail('the record ends before its closing "]" (the line is cut short)');
  const record = message.slice(1, close);
  const rest = message.slice(close + 1);
  if (rest.startsWith('[') || rest.startsWith(' ['))
    fail('the message holds more than one [record]; only a message of one record is read');
  if (rest !== '') fail(`${quoted(rest)} follows the record, which should end the message`);
  const fields = record.split(' ');
  fields.forEach((value, index) => {
    if (value === '' && index < CISCO_FIELDS.length)
      fail(`${CISCO_FIELDS[index]} is empty (two spaces, or a space at an end, where it should be)`);
  });
  if (fields.length < CISCO_FIELDS.length)
    fail(
      `${CISCO_FIELDS[fields.length]} is missing (the record has ${fields.length} of its ${CISCO_FIELDS.length} fields)`,
    );
  if (fields.length > CISCO_FIELDS.length)
    fail(
      `${quoted(fields.slice(CISCO_FIELDS.length).join(' '))} follows Destination Port, which should end the record`,
    );
  const [name, l4, inside, vrf, insideV6, translated, originalPort, first, last, destination, destinationPort] =
    fields as [string, string, string, string, string, string, string, string, string, string, string];
  const kind = CISCO_KINDS[name];
  if (kind === undefined) fail(`EventName ${quoted(name)} is not UserbasedA or UserbasedW`);
  const absent = (field: string, value: string, why: string) => {
    if (value !== '-') fail(`${field} ${quoted(value)} is not "-" (${why})`);
  };
  absent('L4', l4, 'a bulk allocation record carries no L4 protocol');
  // Not kept (the source's configured inside context says where the subscriber is); only checked.
  if (vrf.includes('[')) fail(`Inside VRF Name ${quoted(vrf)} is not a VRF name (it holds a "[")`);
  absent('Original Source IPv6', insideV6, 'only NAT44 records are read here, not DS-Lite');
  absent('Original Port', originalPort, 'a user-based record names no original port');
  absent('Destination IP', destination, 'a user-based record names no destination');
  absent('Destination Port', destinationPort, 'a user-based record names no destination');
  return withBlock({
    kind,
    insideAddress: ipv4('Original Source IP', inside),
    publicAddress: ipv4('Translated Source IP', translated),
    portFirst: port('Translated First Source Port', first),
    portLast: port('Translated Last Source Port', last),
    at: null,
    pool: null,
    blocksUsed: null,
    blocksMax: null,
  });
}

// ---- Either family ----

/**
 * Reads a port-block message of whichever family it belongs to: Juniper (RT_SRC_NAT_PBA_*) first,
 * then Cisco IOS XR CGN (UserbasedA/UserbasedW); `{ignored: true}` when it is neither.
 */
export function readPortBlock(message: string): PortBlockReading {
  const juniper = readJuniperPortBlock(message);
  if (!('ignored' in juniper)) return juniper;
  return readCiscoCgnPortBlock(message);
}
