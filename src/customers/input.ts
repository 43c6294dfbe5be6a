// The schema edge of customer writes: what a caller sends becomes checked CustomerFields here,
// and the store (./store.ts) takes only those.
import { type CustomerFields, optionalText, requiredText } from '../domain/customer.js';
import { checkField } from '../errors.js';

/** What a caller sends: absent (undefined) fields are left alone by a patch. */
export type CustomerInput = { [K in keyof CustomerFields]?: string | null | undefined };

const requiredFields = ['userId', 'name'] as const;
const optionalFields = ['address', 'email', 'phoneNumber', 'altPhoneNumber'] as const;

/** Validates and normalizes the fields present in `input`, naming the first bad one. */
export function checkCustomerInput(input: CustomerInput): Partial<CustomerFields> {
  const fields: Partial<CustomerFields> = {};
  for (const field of requiredFields) {
    const value = input[field];
    if (value === undefined) continue;
    fields[field] = checkField(field, () => requiredText(value ?? ''));
  }
  for (const field of optionalFields) {
    const value = input[field];
    if (value === undefined) continue;
    fields[field] = checkField(field, () => optionalText(value));
  }
  return fields;
}

export function completeCustomerFields(input: CustomerInput): CustomerFields {
  const fields = checkCustomerInput(input);
  return {
    userId: fields.userId ?? checkField('userId', () => requiredText('')),
    name: fields.name ?? checkField('name', () => requiredText('')),
    address: fields.address ?? null,
    email: fields.email ?? null,
    phoneNumber: fields.phoneNumber ?? null,
    altPhoneNumber: fields.altPhoneNumber ?? null,
  };
}
