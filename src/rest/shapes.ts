import type { CustomerFields } from '../domain/customer.js';

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
  /** NotFoundError's and AlreadyExistsError's. */
  entity?: string;
  key?: string;
  value?: string;
  retryAfterSeconds?: number;
  conflicts?: MappingData[];
  conflictCount?: number;
  candidates?: { id: number; ipsubnet: string }[];
  candidateCount?: number;
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
