import { InvalidValueError } from './invalid-value.js';

// PostgreSQL's text cannot hold U+0000 (the statement fails with 22P05 / 22021), so such a value
// is refused before any statement carries it.
const nul = /\u0000/;

/** Why `value` cannot be stored or compared in the database, or null when it can. */
export function storableTextFault(value: string): string | null {
  return nul.test(value) ? 'must not contain a NUL character (\\u0000)' : null;
}

/** `value`, when the database can hold it. */
export function checkStorableText(value: string): string {
  const fault = storableTextFault(value);
  if (fault !== null) throw new InvalidValueError(fault);
  return value;
}

/**
 * `text` as a LIKE pattern that matches exactly it: its wildcards (`%`, `_`) and PostgreSQL's
 * default escape character (`\`) escaped. Prisma's `contains` puts the text between `%` as is.
 */
export function likeLiteral(text: string): string {
  return text.replace(/[\\%_]/g, (character) => `\\${character}`);
}
