import { type Checked, accept } from './checked.js';
import { InvalidValueError } from './invalid-value.js';

export const CUSTOMER_TEXT_LIMIT = 1024;

/** Text that may be stored in a customer's field or a mapping's terminal id (see checkedText). */
export type StorableText = Checked<string, 'storable text'>;

/** A customer's own fields (Trisul: UserID, Name, Address, Email, PhoneNumber, AltPhoneNumber) as stored and read. */
export interface CustomerValues {
  userId: string;
  name: string;
  address: string | null;
  email: string | null;
  phoneNumber: string | null;
  altPhoneNumber: string | null;
}

/** The same fields, checked: what a write takes. */
export interface CustomerFields {
  userId: StorableText;
  name: StorableText;
  address: StorableText | null;
  email: StorableText | null;
  phoneNumber: StorableText | null;
  altPhoneNumber: StorableText | null;
}

// Control characters would break CSV exports and IPDR reports downstream.
const controlCharacters = /[\u0000-\u001f\u007f]/;

// Text is kept exactly as sent: Trisul's own data carries meaningful spaces (a terminal id
// " TERM2025010001"), and a caller reading back what it wrote must get the same text.
function checkedText(value: string): StorableText {
  if (value.length > CUSTOMER_TEXT_LIMIT) {
    throw new InvalidValueError(`is longer than ${CUSTOMER_TEXT_LIMIT} characters`);
  }
  if (controlCharacters.test(value)) throw new InvalidValueError('must not contain control characters');
  return accept(value);
}

/** A required text field (UserID, Name): kept as sent, but not empty or only spaces, and printable. */
export function requiredText(value: string): StorableText {
  if (value.trim() === '')
    throw new InvalidValueError(value === '' ? 'must not be empty' : 'must not be empty (it is only white space)');
  return checkedText(value);
}

/** An optional text field: kept as sent; empty means absent (null). */
export function optionalText(value: string | null | undefined): StorableText | null {
  if (value === null || value === undefined || value === '') return null;
  return checkedText(value);
}
