import type { AccountingEvent } from '../../src/domain/radius.js';
import { readAccountingEvent } from '../../src/domain/radius.js';

// Accounting events as a NAS reports them, read by the domain's own reader from the attributes a
// packet or a detail file carries (so the session keys are FreeRADIUS's).

export interface SessionEventOptions {
  user: string;
  session: string;
  at: number;
  /** Framed-IP-Address */
  ipv4?: string;
  /** Framed-IPv6-Prefix */
  ipv6Prefix?: string;
  /** Delegated-IPv6-Prefix */
  delegated?: string;
  /** Framed-IPv6-Address */
  ipv6?: string;
  sessionTime?: number;
  nas?: string;
  callingStationId?: string;
  terminateCause?: string;
}

export function sessionEvent(status: 'Start' | 'Interim-Update' | 'Stop', options: SessionEventOptions) {
  const attributes = new Map<string, string[]>([
    ['Acct-Status-Type', [status]],
    ['User-Name', [options.user]],
    ['Acct-Session-Id', [options.session]],
    ['NAS-IP-Address', [options.nas ?? '192.0.2.1']],
    ['Event-Timestamp', [String(options.at)]],
  ]);
  const optional: [string, string | number | undefined][] = [
    ['Framed-IP-Address', options.ipv4],
    ['Framed-IPv6-Prefix', options.ipv6Prefix],
    ['Delegated-IPv6-Prefix', options.delegated],
    ['Framed-IPv6-Address', options.ipv6],
    ['Acct-Session-Time', options.sessionTime],
    ['Calling-Station-Id', options.callingStationId],
    ['Acct-Terminate-Cause', options.terminateCause],
  ];
  for (const [name, value] of optional) if (value !== undefined) attributes.set(name, [String(value)]);
  return read(attributes, options.at);
}

export function nasEvent(status: 'Accounting-On' | 'Accounting-Off', at: number, nas = '192.0.2.1') {
  return read(
    new Map([
      ['Acct-Status-Type', [status]],
      ['NAS-IP-Address', [nas]],
      ['Event-Timestamp', [String(at)]],
    ]),
    at,
  );
}

function read(attributes: Map<string, string[]>, at: number): AccountingEvent {
  const event = readAccountingEvent(attributes, { at, sourceAddress: null });
  if (!event) throw new Error('not an accounting event');
  return event;
}
