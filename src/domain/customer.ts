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

// Text is kept exactly as sent: Trisul's own data carries meaningful spaces (a terminal id
// " TERM2025010001"), and a caller reading back what it wrote must get the same text.
function checkedText(value: string): string {
  if (value.length > CUSTOMER_TEXT_LIMIT) {
    throw new InvalidValueError(`is longer than ${CUSTOMER_TEXT_LIMIT} characters`);
  }
  if (controlCharacters.test(value)) throw new InvalidValueError('must not contain control characters');
  return value;
}

/** A required text field (UserID, Name): kept as sent, but not empty or only spaces, and printable. */
export function requiredText(value: string): string {
  if (value.trim() === '')
    throw new InvalidValueError(value === '' ? 'must not be empty' : 'must not be empty (it is only white space)');
  return checkedText(value);
}

/** An optional text field: kept as sent; empty means absent (null). */
export function optionalText(value: string | null | undefined): string | null {
  if (value === null || value === undefined || value === '') return null;
  return checkedText(value);
}
