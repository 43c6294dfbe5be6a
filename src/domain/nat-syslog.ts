import type { PortBlockEvent } from './nat-binding.js';
import { readPortBlock } from './nat-log.js';
import { type SyslogMessage, readSyslogMessage } from './syslog.js';

// One CGNAT syslog message, as the listener receives it or as a syslog daemon wrote it to a file,
// read to the port-block event it reports and the instant it happened. The listener and
// `ipdr-admin nat import` read lines through this one function, so a line means the same either way.

export type PortBlockMessageReading =
  | { event: PortBlockEvent }
  /** A syslog message, or a port-block line in it, that does not read; the reason names the field. */
  | { unparsable: string }
  /** A message of another kind. */
  | { ignored: true };

export interface PortBlockMessageOptions {
  /** IANA zone of RFC 3164 times. */
  timeZone: string;
  /** Unix seconds when the message arrived (or the file was last written): its time when it names none. */
  receivedAt: number;
}

// RFC 5424: <PRI>VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID; syslog.ts does not return MSGID.
const RFC5424_MSGID = /^<\d{1,3}>1 \S+ \S+ \S+ \S+ (\S+) /;

/**
 * The text the port-block readers read from a syslog message. Junos with `structured-data` sends
 * the tag as the RFC 5424 MSGID and the parameters as the SD element, with an empty MSG: the two
 * are put back together as the reader knows them (`RT_SRC_NAT_PBA_ALLOC [junos@2636… …]`).
 */
export function portBlockText(text: string, message: SyslogMessage): string {
  if (message.format !== 'rfc5424' || message.structuredData === null) return message.body;
  if (/\bRT_SRC_NAT_PBA_/.test(message.body)) return message.body;
  const msgId = RFC5424_MSGID.exec(text.replace(/^\uFEFF/, ''))?.[1];
  if (msgId === undefined || !msgId.startsWith('RT_SRC_NAT_PBA_')) return message.body;
  return `${msgId} ${message.structuredData}${message.body === '' ? '' : ` ${message.body}`}`;
}

/**
 * Reads one syslog message's port-block event. Its time: the line's own (Juniper's
 * epoch-time-64), else the syslog header's, else its arrival.
 */
export function readPortBlockMessage(text: string, options: PortBlockMessageOptions): PortBlockMessageReading {
  const syslog = readSyslogMessage(text, options);
  if ('unparsable' in syslog) return { unparsable: `syslog: ${syslog.unparsable}` };
  const reading = readPortBlock(portBlockText(text, syslog.message));
  if ('ignored' in reading || 'unparsable' in reading) return reading;
  const { event } = reading;
  return {
    event: {
      kind: event.kind,
      at: event.at ?? syslog.message.at ?? options.receivedAt,
      publicAddress: event.publicAddress,
      portFirst: event.portFirst,
      portLast: event.portLast,
      insideAddress: event.insideAddress,
    },
  };
}

// A syslog daemon's file line: rsyslog's and syslog-ng's traditional format (`Mmm dd hh:mm:ss
// HOST TAG: MSG`, RFC 3164 without its PRI), or a high-precision one (`2026-12-03T09:00:00.123+00:00
// HOST TAG: MSG`, rsyslog's RSYSLOG_FileFormat).
const RFC3339_FILE_LINE =
  /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?(?:Z|[+-]\d\d:\d\d)) (\S+) ([^\s:[]+)(?:\[[^\]\s]*\])?: ?/;

/**
 * A line of a log file as the syslog message it was: a line that starts with its PRI as is; a
 * traditional file line with PRI user.notice (<13>) before it (the file kept none); a
 * high-precision one as RFC 5424 with its tag as APP-NAME. Anything else is given PRI <13> too,
 * and the reader says why it does not read.
 */
export function fileLineAsSyslog(line: string): string {
  if (line.startsWith('<')) return line;
  const precise = RFC3339_FILE_LINE.exec(line);
  if (precise) {
    const [head, timestamp, host, tag] = precise as unknown as [string, string, string, string];
    return `<13>1 ${timestamp} ${host} ${tag} - - - ${line.slice(head.length)}`;
  }
  return `<13>${line}`;
}
