/** A value that breaks a domain rule; `reason` says which rule, in words a caller can act on. */
export class InvalidValueError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'InvalidValueError';
  }
}
