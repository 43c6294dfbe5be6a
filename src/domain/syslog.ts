import { InvalidValueError, quoted } from './invalid-value.js';
import { MONTH_ABBREVIATIONS as MONTHS } from './time.js';
import { type ZoneClock, daysInMonth, isRealWallTime, utcSeconds, wallTimeOf, zoneClock } from './time-zone.js';

// The pure core of a syslog listener (CGNAT port-block logs arrive this way): one message read
// from its text (RFC 5424, or the BSD form RFC 3164 describes), and a TCP stream cut into messages
// (RFC 6587). Nothing here opens a socket or reads a clock: the caller says when a message arrived.

/** What one syslog message says, whichever of the two formats carried it. */
export interface SyslogMessage {
  format: 'rfc5424' | 'rfc3164';
  /** PRI divided by 8: 0 kernel … 23 local7. */
  facility: number;
  /** PRI modulo 8: 0 emergency … 7 debug. */
  severity: number;
  /**
   * Unix seconds, a fraction dropped (the gateway keeps whole seconds); null for RFC 5424's `-`.
   * An RFC 3164 time is read in the listener's zone and year: see SyslogReadOptions.
   */
  at: number | null;
  /** null for RFC 5424's `-`, or an RFC 3164 message that names no host. */
  hostname: string | null;
  /** RFC 5424's APP-NAME (null for `-`); RFC 3164's TAG without `[pid]` and the colon, if it has one. */
  appName: string | null;
  /** RFC 5424's STRUCTURED-DATA as sent, escapes and all, every element of it; null for `-` and RFC 3164. */
  structuredData: string | null;
  /** MSG, without the BOM RFC 5424 puts before UTF-8 text. */
  body: string;
}

export type SyslogReading = { message: SyslogMessage } | { unparsable: string };

export interface SyslogReadOptions {
  /** IANA zone in which an RFC 3164 time is read (it carries none): the senders' zone. */
  timeZone: string;
  /** Unix seconds at which the message arrived: an RFC 3164 time is given the year nearest it. */
  receivedAt: number;
}

const PRI = /^<(\d{1,3})>/;
// A UDP sender may end its datagram as it would a TCP frame (rsyslog drops the LF by default too).
const TRAILER = /(?:\r?\n|\0)$/;

/** A syslog message's text (one UDP datagram, or one frame of OctetFramedReader) read as RFC 5424 or RFC 3164. */
export function readSyslogMessage(text: string, options: SyslogReadOptions): SyslogReading {
  // The options are the listener's configuration, not the sender's: a wrong one is thrown, not returned.
  const zone = zoneClock(options.timeZone);
  if (!Number.isFinite(options.receivedAt))
    throw new InvalidValueError(`receivedAt ${options.receivedAt} is not a time`);
  const message = text.replace(TRAILER, '');
  const pri = PRI.exec(message);
  if (!pri) {
    const angle = /^<[^>]{0,4}>?/.exec(message);
    return unparsable(
      angle ? `PRI ${quoted(angle[0])} is not <0> to <191>` : `no PRI: the message does not start with "<"`,
    );
  }
  const value = Number(pri[1]);
  if (value > 191) return unparsable(`PRI ${quoted(pri[0])} is out of range (0-191)`);
  const priority = { facility: value >> 3, severity: value & 7 };
  const rest = message.slice(pri[0].length);
  // RFC 5424 follows PRI with VERSION, a digit; RFC 3164 with a month's name.
  if (/^\d/.test(rest)) return read5424(rest, priority);
  return read3164(rest, priority, zone, options.receivedAt);
}

const unparsable = (reason: string): SyslogReading => ({ unparsable: reason });

// RFC 5424 section 6: PRINTUSASCII, and each header field's longest.
const HEADER_FIELDS = [
  ['HOSTNAME', 255],
  ['APP-NAME', 48],
  ['PROCID', 128],
  ['MSGID', 32],
] as const;
const PRINTABLE = /^[\x21-\x7e]+$/;

function read5424(text: string, priority: { facility: number; severity: number }): SyslogReading {
  const fields = text.split(' ');
  const version = fields[0]!;
  if (version !== '1') return unparsable(`VERSION ${quoted(version)} is not 1 (RFC 5424)`);
  // VERSION, TIMESTAMP, four header fields, then STRUCTURED-DATA: each ends at a single space.
  if (fields.length < 2 + HEADER_FIELDS.length + 1) {
    const missing = ['TIMESTAMP', ...HEADER_FIELDS.map(([name]) => name), 'STRUCTURED-DATA'][fields.length - 1];
    return unparsable(`the message ends before its ${missing}`);
  }
  const timestamp = fields[1]!;
  let at: number | null = null;
  if (timestamp !== '-') {
    const read = rfc3339Seconds(timestamp);
    if (typeof read === 'string') return unparsable(`TIMESTAMP ${quoted(timestamp)} ${read}`);
    at = read;
  }
  const header: string[] = [];
  for (const [index, [name, longest]] of HEADER_FIELDS.entries()) {
    const field = fields[2 + index]!;
    if (field === '') return unparsable(`${name} is empty (two spaces where it should be)`);
    if (!PRINTABLE.test(field)) return unparsable(`${name} ${quoted(field)} holds a character outside ASCII 33-126`);
    if (field.length > longest) return unparsable(`${name} ${quoted(field)} is longer than ${longest} characters`);
    header.push(field);
  }
  const [hostname, appName] = header;
  const sdStart = fields.slice(0, 2 + HEADER_FIELDS.length).join(' ').length + 1;
  if (sdStart === text.length) return unparsable('the message ends before its STRUCTURED-DATA');
  const sdEnd = structuredDataEnd(text, sdStart);
  if (typeof sdEnd === 'string') return unparsable(`STRUCTURED-DATA ${sdEnd}`);
  const structuredData = text.slice(sdStart, sdEnd);
  if (sdEnd < text.length && text[sdEnd] !== ' ') {
    return unparsable(`STRUCTURED-DATA ${quoted(structuredData)} is followed by ${quoted(text[sdEnd]!)}, not a space`);
  }
  const body = text.slice(sdEnd + 1);
  return {
    message: {
      format: 'rfc5424',
      ...priority,
      at,
      hostname: hostname === '-' ? null : hostname!,
      appName: appName === '-' ? null : appName!,
      structuredData: structuredData === '-' ? null : structuredData,
      body: body.startsWith('\ufeff') ? body.slice(1) : body,
    },
  };
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(Z|[+-]\d{2}:\d{2})$/;

/** Unix seconds of an RFC 5424 TIMESTAMP (RFC 3339, section 6.2.3's restrictions), or why it is none. */
function rfc3339Seconds(text: string): number | string {
  const match = RFC3339.exec(text);
  if (!match) return 'is not an RFC 3339 time (YYYY-MM-DDThh:mm:ss[.ffffff], then Z or ±hh:mm)';
  const wall = wallTimeOf(match.slice(1, 7));
  // RFC 5424 allows no leap second (6.2.3 point 5).
  if (!isRealWallTime(...wall)) return 'names no such date and time';
  const zone = match[8]!;
  let offset = 0;
  if (zone !== 'Z') {
    const offsetHours = Number(zone.slice(1, 3));
    const offsetMinutes = Number(zone.slice(4, 6));
    if (offsetHours > 23 || offsetMinutes > 59) return `has offset ${zone}, not -23:59 to +23:59`;
    offset = (zone[0] === '-' ? -1 : 1) * (offsetHours * 3600 + offsetMinutes * 60);
  }
  return utcSeconds(...wall) - offset;
}

/** Where STRUCTURED-DATA starting at `start` ends (`-`, or SD-ELEMENTs back to back), or what is wrong with it. */
function structuredDataEnd(text: string, start: number): number | string {
  if (text[start] === '-') return start + 1;
  if (text[start] !== '[') return `${quoted(text.slice(start))} is neither "-" nor starts with "["`;
  let at = start;
  while (text[at] === '[') {
    const id = /^[^\s="\]]{1,32}/.exec(text.slice(at + 1, at + 34));
    if (!id || !PRINTABLE.test(id[0])) return `element at ${quoted(text.slice(at))} has no SD-ID`;
    at += 1 + id[0].length;
    while (text[at] === ' ') {
      const name = /^([^\s="\]]{1,32})="/.exec(text.slice(at + 1, at + 36));
      if (!name) return `element [${id[0]} has a parameter that is not name="value" at ${quoted(text.slice(at + 1))}`;
      at += 1 + name[0].length;
      // PARAM-VALUE escapes '"', '\' and ']' with a backslash; a backslash before anything else is itself.
      for (;;) {
        const char = text[at];
        if (char === undefined) return `element [${id[0]} ends inside the value of ${name[1]}`;
        if (char === '"') break;
        at += char === '\\' && (text[at + 1] === '"' || text[at + 1] === '\\' || text[at + 1] === ']') ? 2 : 1;
      }
      at += 1;
    }
    if (text[at] !== ']') {
      return text[at] === undefined
        ? `element [${id[0]} is not closed by "]"`
        : `element [${id[0]} holds ${quoted(text.slice(at))} where a space or "]" should be`;
    }
    at += 1;
  }
  return at;
}

// Mmm dd hh:mm:ss, the day padded with a space ("Dec  2"); unpadded ("Dec 2") is read as well.
const BSD_TIMESTAMP = /^(\S{3}) (?: (\d)|(\d{1,2})) (\d{2}):(\d{2}):(\d{2})(?= |$)/;
// TAG[pid]: or TAG: — the tag being anything up to the brackets or colon (postfix/smtpd, %ASA-6-302013).
const BSD_TAG = /^([^\s[\]:]+)(?:\[[^\]\s]*\])?:(?: |$)/;

function read3164(
  text: string,
  priority: { facility: number; severity: number },
  zone: ZoneClock,
  receivedAt: number,
): SyslogReading {
  const stamp = BSD_TIMESTAMP.exec(text);
  if (!stamp) {
    if (text.length < 'Mmm dd hh:mm:ss'.length)
      return unparsable(`the message ends inside its TIMESTAMP (${quoted(text)})`);
    return unparsable(
      `${quoted(text.slice(0, 15))} after the PRI is neither VERSION 1 (RFC 5424) nor a TIMESTAMP "Mmm dd hh:mm:ss" (RFC 3164)`,
    );
  }
  const month = MONTHS.indexOf(stamp[1]!) + 1;
  if (month === 0) return unparsable(`TIMESTAMP ${quoted(stamp[0])} names no month (Jan-Dec)`);
  const [day, hour, minute, second] = [stamp[2] ?? stamp[3], stamp[4], stamp[5], stamp[6]].map(Number) as [
    number,
    number,
    number,
    number,
  ];
  if (day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59)
    return unparsable(`TIMESTAMP ${quoted(stamp[0])} names no such date and time`);
  // No year is sent: the one that puts the time nearest its arrival (Dec 31 received on Jan 1 is last
  // year's, Jan 1 received on Dec 31 from a clock running fast next year's), among those where the day
  // exists (Feb 29).
  const receivedYear = zone.wallTime(receivedAt)[0];
  let at: number | null = null;
  for (const year of [receivedYear - 1, receivedYear, receivedYear + 1]) {
    if (day > daysInMonth(year, month)) continue;
    const candidate = zone.instant(year, month, day, hour, minute, second);
    if (at === null || Math.abs(candidate - receivedAt) < Math.abs(at - receivedAt)) at = candidate;
  }
  if (at === null) return unparsable(`TIMESTAMP ${quoted(stamp[0])} names a day of no year near its arrival`);

  if (text.length === stamp[0].length) return unparsable('the message ends before its HOSTNAME');
  const afterStamp = text.slice(stamp[0].length + 1);
  const space = afterStamp.indexOf(' ');
  const first = space === -1 ? afterStamp : afterStamp.slice(0, space);
  if (first === '') return unparsable('HOSTNAME is empty (two spaces where it should be)');
  // A message written to /dev/log, relayed as it came, has no HOSTNAME: its first word is the TAG.
  const hostname = BSD_TAG.test(afterStamp) ? null : first;
  const content = hostname === null ? afterStamp : space === -1 ? '' : afterStamp.slice(space + 1);
  const tag = BSD_TAG.exec(content);
  return {
    message: {
      format: 'rfc3164',
      ...priority,
      at,
      hostname,
      appName: tag ? tag[1]! : null,
      structuredData: null,
      body: tag ? content.slice(tag[0].length) : content,
    },
  };
}

// RFC 6587 over TCP.

/** Why bytes of a TCP stream were not a message (see OctetFramedReader for where it resumes). */
export type FramingError =
  | { kind: 'oversize'; reason: string }
  | { kind: 'bad-length'; reason: string }
  | { kind: 'unframed'; reason: string }
  | { kind: 'truncated'; reason: string };

export type FrameReading = { message: Buffer } | { error: FramingError };

const LF = 0x0a;
const CR = 0x0d;
const NUL = 0x00;
const SPACE = 0x20;
const LESS_THAN = 0x3c;
const isDigit = (byte: number) => byte >= 0x30 && byte <= 0x39;
// The longest frame passed over by its count; past it the count is taken for noise, and the
// reader resumes at the next LF instead.
const MAX_SKIPPED_COUNT = 2 ** 31;

type FrameState =
  | { at: 'between' }
  | { at: 'length'; length: number; digits: string; oversize: boolean }
  | { at: 'octets'; remaining: number; parts: Buffer[] }
  /** An oversize frame whose count was read whole: its octets are passed over, not kept. */
  | { at: 'skip'; remaining: number }
  | { at: 'line'; length: number; parts: Buffer[] }
  | { at: 'resync' };

/**
 * Cuts a syslog TCP stream (RFC 6587) into messages, as its chunks arrive split anywhere (inside a
 * length, a message or a CRLF). Each frame's first byte says how it is framed: a digit begins
 * octet counting (`<len> <msg>`, len decimal without leading zero, at most maxMessageLength), `<`
 * a message that ends at LF (CRLF and NUL are also taken as its end). An oversize octet-counted
 * frame is reported and passed over by its count; any other bad frame is reported and the rest of
 * it skipped up to the next LF, the only point at which a frame is sure to begin once its length
 * is in doubt.
 */
export class OctetFramedReader {
  private state: FrameState = { at: 'between' };

  constructor(readonly maxMessageLength: number) {
    if (!Number.isSafeInteger(maxMessageLength) || maxMessageLength < 1)
      throw new InvalidValueError(`maxMessageLength ${maxMessageLength} is not a positive whole number of octets`);
  }

  /** The messages and errors that `chunk` completes, in stream order; the reader keeps what is left over. */
  push(chunk: Buffer): FrameReading[] {
    const readings: FrameReading[] = [];
    let at = 0;
    while (at < chunk.length) {
      const state = this.state;
      switch (state.at) {
        case 'between': {
          const byte = chunk[at]!;
          if (isDigit(byte)) {
            if (byte === 0x30) {
              readings.push(this.fail('bad-length', 'an octet count starts with 0 (RFC 6587: no leading zero)'));
            } else {
              this.state = { at: 'length', length: byte - 0x30, digits: String.fromCharCode(byte), oversize: false };
            }
            at += 1;
          } else if (byte === LESS_THAN) {
            this.state = { at: 'line', length: 0, parts: [] };
          } else if (byte === LF || byte === CR || byte === NUL) {
            // What a sender puts after an octet-counted frame, or an empty line: nothing to read.
            at += 1;
          } else {
            readings.push(
              this.fail(
                'unframed',
                `a frame starts with byte 0x${byte.toString(16).padStart(2, '0')}, not a digit or "<"`,
              ),
            );
            at += 1;
          }
          break;
        }
        case 'length': {
          const byte = chunk[at]!;
          at += 1;
          if (isDigit(byte)) {
            state.length = state.length * 10 + (byte - 0x30);
            state.digits += String.fromCharCode(byte);
            // Said once, as soon as it is known. A count still readable (up to MAX_SKIPPED_COUNT) is
            // read to its end, so that the frame can be passed over exactly: a sender of octet
            // counting (logger --octet-count) puts no LF between frames to resume at.
            if (state.length > this.maxMessageLength && !state.oversize) {
              state.oversize = true;
              readings.push({
                error: {
                  kind: 'oversize',
                  reason: `an octet count of ${state.digits}… is over ${this.maxMessageLength}`,
                },
              });
            }
            if (state.length > MAX_SKIPPED_COUNT) this.state = { at: 'resync' };
          } else if (byte === SPACE) {
            this.state =
              state.length > this.maxMessageLength
                ? { at: 'skip', remaining: state.length }
                : { at: 'octets', remaining: state.length, parts: [] };
          } else {
            readings.push(
              this.fail(
                'bad-length',
                `octet count ${quoted(state.digits)} is followed by byte 0x${byte.toString(16).padStart(2, '0')}, not a space`,
              ),
            );
            // That byte may itself be the LF to resume at.
            if (byte === LF) this.state = { at: 'between' };
          }
          break;
        }
        case 'octets': {
          const take = Math.min(state.remaining, chunk.length - at);
          state.parts.push(chunk.subarray(at, at + take));
          state.remaining -= take;
          at += take;
          if (state.remaining === 0) {
            readings.push({ message: Buffer.concat(state.parts) });
            this.state = { at: 'between' };
          }
          break;
        }
        case 'line': {
          let end = at;
          while (end < chunk.length && chunk[end] !== LF && chunk[end] !== NUL) end += 1;
          const part = chunk.subarray(at, end);
          state.parts.push(part);
          state.length += part.length;
          if (end === chunk.length) {
            // One more than the longest, for the CR of a CRLF still to come.
            if (state.length > this.maxMessageLength + 1)
              readings.push(
                this.fail('oversize', `a line of over ${this.maxMessageLength} octets has not ended by then`),
              );
            at = end;
            break;
          }
          let message = Buffer.concat(state.parts);
          if (chunk[end] === LF && message.at(-1) === CR) message = message.subarray(0, -1);
          readings.push(
            message.length > this.maxMessageLength
              ? {
                  error: {
                    kind: 'oversize',
                    reason: `a line of ${message.length} octets is over ${this.maxMessageLength}`,
                  },
                }
              : { message },
          );
          this.state = { at: 'between' };
          at = end + 1;
          break;
        }
        case 'skip': {
          const take = Math.min(state.remaining, chunk.length - at);
          state.remaining -= take;
          at += take;
          if (state.remaining === 0) this.state = { at: 'between' };
          break;
        }
        case 'resync': {
          const lf = chunk.indexOf(LF, at);
          if (lf === -1) {
            at = chunk.length;
          } else {
            this.state = { at: 'between' };
            at = lf + 1;
          }
          break;
        }
      }
    }
    return readings;
  }

  /** At the end of the stream: an error if it ends inside a frame (a line without its LF included). */
  end(): FrameReading[] {
    const state = this.state;
    this.state = { at: 'between' };
    switch (state.at) {
      case 'between':
      case 'resync':
        return [];
      case 'length':
        return [{ error: { kind: 'truncated', reason: `the stream ends inside octet count ${quoted(state.digits)}` } }];
      case 'skip':
        return [];
      case 'octets':
        return [
          { error: { kind: 'truncated', reason: `the stream ends ${state.remaining} octets short of a frame's end` } },
        ];
      case 'line':
        return [{ error: { kind: 'truncated', reason: `the stream ends inside a line, before its LF` } }];
    }
  }

  private fail(kind: FramingError['kind'], reason: string): FrameReading {
    this.state = { at: 'resync' };
    return { error: { kind, reason } };
  }
}
