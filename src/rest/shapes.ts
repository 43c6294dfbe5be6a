import type { CustomerFields } from '../domain/customer.js';
import { parseIpSubnet } from '../domain/ip.js';
import { BUSY_RETRY_AFTER_SECONDS } from '../errors.js';
import { RestError, restField } from './errors.js';

// What the GraphQL operations return, and Trisul's JSON for it.

export type CustomerData = CustomerFields & { id: number };

export interface MappingData {
  id: number;
  ipsubnet: string;
  starttime: number;
  endtime: number | null;
  terminalId: string | null;
  customer: { id: number; userId: string };
}

/** A typed result of a mutation: the record, or one of the Error types. */
export interface ResultData {
  __typename: string;
  message?: string;
  field?: string;
  reason?: string;
  conflicts?: MappingData[];
  candidates?: { id: number; ipsubnet: string }[];
}

// Trisul's fields are strings: an empty one is "", not null.
export const customerJson = (c: CustomerData) => ({
  id: c.id,
  Name: c.name,
  Address: c.address ?? '',
  Email: c.email ?? '',
  PhoneNumber: c.phoneNumber ?? '',
  AltPhoneNumber: c.altPhoneNumber ?? '',
  UserID: c.userId,
});

export const mappingJson = (m: MappingData) => ({
  id: m.id,
  ipdr_customer_id: m.customer.id,
  ipsubnet: m.ipsubnet,
  starttime: m.starttime,
  endtime: m.endtime,
  terminalid: m.terminalId ?? '',
});

const period = (m: MappingData) => `${m.starttime} to ${m.endtime ?? 'ongoing'}`;

/** What a create asks to hold, to tell a duplicate from an overlap. */
export interface RequestedMapping {
  userId: string;
  ipsubnet: string;
  starttime: number;
  endtime: number | null;
}

/** What the caller asked for, to word a failure. */
export interface Requested {
  /** A mapping create: what it asks to hold. */
  mapping?: RequestedMapping;
  /** A mapping PUT or DELETE: how the body names one of the customer's mappings. */
  choice?: { id: number } | { ipsubnet: string } | null;
}

function conflictError(conflicts: MappingData[], requested: RequestedMapping | null): RestError {
  const duplicate =
    requested &&
    conflicts.some(
      (m) =>
        m.customer.userId === requested.userId &&
        parseIpSubnet(m.ipsubnet).network === parseIpSubnet(requested.ipsubnet).network &&
        m.starttime === requested.starttime &&
        m.endtime === requested.endtime,
    );
  if (duplicate) return new RestError(422, `Duplicate Mapping for UserID : ${requested.userId}`);
  const described = conflicts.map(
    (m) => `mapping ${m.id} (${m.ipsubnet} of UserID ${m.customer.userId}, ${period(m)})`,
  );
  return new RestError(
    422,
    `ipsubnet overlaps ${described.join(', ') || 'a mapping written at the same time'}: one customer per IP at a time`,
  );
}

type Candidates = NonNullable<ResultData['candidates']>;

/** The customer's mappings the request may mean, and how to name one. */
function ambiguousError(candidates: Candidates, choice: Requested['choice']): RestError {
  const listed = candidates.map((m) => `id ${m.id}: ${m.ipsubnet}`).join(', ');
  if (!choice) {
    return new RestError(
      422,
      `The customer has ${candidates.length} mappings (${listed}); add "id" or "ipsubnet" to the body to say which one`,
    );
  }
  // The choice matched several (one network held at several times) or none.
  if ('ipsubnet' in choice) {
    const network = parseIpSubnet(choice.ipsubnet).network;
    if (candidates.every((m) => parseIpSubnet(m.ipsubnet).network === network)) {
      return new RestError(
        422,
        `The customer has ${candidates.length} mappings with ipsubnet ${choice.ipsubnet} (${listed}); add "id" to the body to say which one`,
      );
    }
  }
  const named = 'id' in choice ? `id ${choice.id}` : `ipsubnet ${choice.ipsubnet}`;
  return new RestError(
    422,
    `The customer has no mapping with ${named}; its mappings: ${listed}. Send the "id" or "ipsubnet" of one of them`,
  );
}

/** The REST error for a typed GraphQL failure. */
export function failureOf(result: ResultData, requested: Requested | null = null): RestError {
  switch (result.__typename) {
    case 'NotFoundError':
      return new RestError(422, /^customer /.test(result.message ?? '') ? 'IPDR Customer not found' : result.message!);
    case 'ValidationError':
      return new RestError(422, `${restField(result.field!)}: ${result.reason}`);
    case 'AlreadyExistsError':
      return new RestError(422, result.message!.replace(/\buserId\b/g, 'UserID'));
    case 'ConflictError':
      return conflictError(result.conflicts ?? [], requested?.mapping ?? null);
    case 'AmbiguousMappingError':
      return ambiguousError(result.candidates ?? [], requested?.choice);
    case 'BusyError':
      return new RestError(503, result.message!, 'Error', { 'retry-after': String(BUSY_RETRY_AFTER_SECONDS) });
    default:
      return new RestError(422, result.message ?? 'The request was refused');
  }
}
