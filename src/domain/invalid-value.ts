/** A value that breaks a domain rule; `reason` says which rule, in words a caller can act on. */
export class InvalidValueError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'InvalidValueError';
  }
}

/** How much of a caller's value a message echoes: enough to recognise it, never a whole upload. */
export const ECHO_LIMIT = 64;

/** The value as a message echoes it: its first ECHO_LIMIT characters, and "…" when there is more. */
export function excerpt(value: string): string {
  if (value.length <= ECHO_LIMIT) return value;
  // By code point, so that a character outside the BMP is not cut in half.
  return `${Array.from(value.slice(0, 2 * ECHO_LIMIT))
    .slice(0, ECHO_LIMIT)
    .join('')}…`;
}

/** The value in double quotes, cut as `excerpt` cuts it. */
export function quoted(value: string): string {
  return `"${excerpt(value)}"`;
}
