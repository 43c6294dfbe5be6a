import { type CustomerFields, type CustomerValues, type StorableText, optionalText, requiredText } from './customer.js';
import { type IpSubnet, parseIpSubnet } from './ip.js';
import { InvalidValueError, quoted } from './invalid-value.js';
import { MAX_UNIX_TIME, checkTimeRange } from './time.js';

// Trisul's CSV of static IP customers (../shared/spec/README.md): one row per customer,
// IP(s), Name, Address, Email, Phone, Alt Phone, Customer ID[, Valid From, Valid To, Terminal ID].
// Dates are DD-MM-YYYY[ HH:MM:SS], read and written as UTC.

export const CSV_HEADER = [
  'Subnet/IP',
  'Cust Name',
  'Address',
  'Email',
  'Phone No',
  'Alt Phone No',
  'User/Cust ID',
  'Valid From',
  'Valid To',
  'Terminal ID',
];

const trisulDate = /^(\d{2})-(\d{2})-(\d{4})(?: (\d{2}):(\d{2}):(\d{2}))?$/;

/** Unix seconds from `DD-MM-YYYY HH:MM:SS` (time optional), as UTC. */
export function parseTrisulDate(text: string): number {
  const match = trisulDate.exec(text.trim());
  if (!match) throw new InvalidValueError(`${quoted(text)} is not a date as DD-MM-YYYY or DD-MM-YYYY HH:MM:SS`);
  const [day, month, year, hour = 0, minute = 0, second = 0] = match
    .slice(1)
    .map((part) => (part === undefined ? 0 : Number(part)));
  const millis = Date.UTC(year!, month! - 1, day!, hour, minute, second);
  const check = new Date(millis);
  if (
    check.getUTCFullYear() !== year ||
    check.getUTCMonth() !== month! - 1 ||
    check.getUTCDate() !== day ||
    hour > 23 ||
    minute > 59 ||
    second > 59
  ) {
    throw new InvalidValueError(`${quoted(text)} is not a real date and time`);
  }
  const seconds = millis / 1000;
  if (seconds < 0 || seconds > MAX_UNIX_TIME)
    throw new InvalidValueError(`${quoted(text)} is out of range (1970 to 9999)`);
  return seconds;
}

export function formatTrisulDate(seconds: number): string {
  const date = new Date(seconds * 1000);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(date.getUTCDate())}-${two(date.getUTCMonth() + 1)}-${date.getUTCFullYear()} ${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())}`;
}

export type CsvCustomer = CustomerFields;

export interface CsvMapping {
  subnet: IpSubnet;
  start: number;
  end: number | null;
  terminalId: StorableText | null;
}

export interface CsvRecord {
  customer: CsvCustomer;
  mappings: CsvMapping[];
}

/** Thrown for a row that cannot be imported; `column` names the cell. */
export class CsvRowError extends InvalidValueError {
  constructor(
    readonly column: string,
    reason: string,
  ) {
    super(`${column}: ${reason}`);
  }
}

function cell<T>(column: string, read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (error instanceof InvalidValueError && !(error instanceof CsvRowError))
      throw new CsvRowError(column, error.reason);
    throw error;
  }
}

/** True for Trisul's header row (its first cell names the IP column). */
export function isHeaderRow(cells: string[]): boolean {
  return /subnet|^ip/i.test(cells[0] ?? '') && !/\d/.test(cells[0] ?? '');
}

/** One CSV row: the 10-column layout, or the older 7-column one. */
export function parseCsvRow(cells: string[]): CsvRecord {
  if (cells.length !== 7 && cells.length !== 10) {
    throw new CsvRowError('row', `has ${cells.length} columns; expected 10 (or 7 in the older layout)`);
  }
  const [ips, name, address, email, phone, altPhone, userId, validFrom = '', validTo = '', terminal = ''] =
    cells as string[];
  const customer: CsvCustomer = {
    userId: cell('User/Cust ID', () => requiredText(userId!)),
    name: cell('Cust Name', () => requiredText(name!)),
    address: cell('Address', () => optionalText(address)),
    email: cell('Email', () => optionalText(email)),
    phoneNumber: cell('Phone No', () => optionalText(phone)),
    altPhoneNumber: cell('Alt Phone No', () => optionalText(altPhone)),
  };
  const start = validFrom.trim() === '' ? 0 : cell('Valid From', () => parseTrisulDate(validFrom));
  const end = validTo.trim() === '' ? null : cell('Valid To', () => parseTrisulDate(validTo));
  cell('Valid To', () => checkTimeRange({ start, end }));
  const terminalId = cell('Terminal ID', () => optionalText(terminal));
  const subnets = (ips ?? '')
    .split(',')
    .map((ip) => ip.trim())
    .filter((ip) => ip !== '')
    .map((ip) => cell('Subnet/IP', () => parseIpSubnet(ip)));
  return { customer, mappings: subnets.map((subnet) => ({ subnet, start, end, terminalId })) };
}

export interface ExportMapping {
  ipsubnet: string;
  start: number;
  end: number | null;
  terminalId: string | null;
}

/** A customer's rows: one per (period, terminal) its mappings share; one with no IPs if it has none. */
export function formatCsvRows(customer: CustomerValues, mappings: ExportMapping[]): string[][] {
  const fields = [
    customer.name,
    customer.address ?? '',
    customer.email ?? '',
    customer.phoneNumber ?? '',
    customer.altPhoneNumber ?? '',
    customer.userId,
  ];
  const groups = new Map<string, ExportMapping[]>();
  for (const mapping of mappings) {
    const key = JSON.stringify([mapping.start, mapping.end, mapping.terminalId]);
    groups.set(key, [...(groups.get(key) ?? []), mapping]);
  }
  if (groups.size === 0) return [['', ...fields, '', '', '']];
  return [...groups.values()].map((group) => {
    const { start, end, terminalId } = group[0]!;
    return [
      group.map((m) => m.ipsubnet).join(','),
      ...fields,
      formatTrisulDate(start),
      end === null ? '' : formatTrisulDate(end),
      terminalId ?? '',
    ];
  });
}
