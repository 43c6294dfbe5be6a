// PostgreSQL's text form of an array, for a parameter cast to an array type (`$4::text[]`).
// Made by the caller ahead of the statement, the form costs nothing when the statement is sent:
// a bulk writer builds its next batch's parameters while the database applies the last one.

/**
 * An array of text, each element quoted (commas, braces, spaces and the word NULL stay text)
 * with its backslashes and double quotes escaped; null is SQL NULL.
 */
export function textArrayLiteral(elements: readonly (string | null)[]): string {
  let literal = '{';
  for (let i = 0; i < elements.length; i++) {
    const element = elements[i];
    if (i > 0) literal += ',';
    literal += element === null || element === undefined ? 'NULL' : `"${element.replace(/["\\]/g, '\\$&')}"`;
  }
  return `${literal}}`;
}

/**
 * An array of elements that need no quoting: integers, booleans, and canonical addresses (digits,
 * hex letters, dots, colons and a slash); null is SQL NULL.
 */
export function plainArrayLiteral(elements: readonly (string | number | bigint | boolean | null)[]): string {
  return `{${elements.map((element) => element ?? 'NULL').join(',')}}`;
}
