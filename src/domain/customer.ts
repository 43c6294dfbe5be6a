import { InvalidValueError } from './invalid-value.js';

export const CUSTOMER_TEXT_LIMIT = 1024;

/** A customer's own fields (Trisul: UserID, Name, Address, Email, PhoneNumber, AltPhoneNumber). */
export interface CustomerFields {
  userId: string;
  name: string;
  address: string | null;
  email: string | null;
  phoneNumber: string | null;
  altPhoneNumber: string | null;
}

// Control characters would break CSV exports and IPDR reports downstream.
const controlCharacters = /[\u0000-\u001f\u007f]/;

/** A required text field (UserID, Name): trimmed, non-empty, printable. */
export function requiredText(value: string): string {
  const trimmed = optionalText(value);
  if (trimmed === null) throw new InvalidValueError('must not be empty');
  return trimmed;
}

/** An optional text field: trimmed; empty means absent (null). */
export function optionalText(value: string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  const trimmed = value.trim();
  if (trimmed.length > CUSTOMER_TEXT_LIMIT) {
    throw new InvalidValueError(`is longer than ${CUSTOMER_TEXT_LIMIT} characters`);
  }
  if (controlCharacters.test(trimmed)) throw new InvalidValueError('must not contain control characters');
  return trimmed === '' ? null : trimmed;
}
