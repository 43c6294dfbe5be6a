import { InvalidValueError } from './invalid-value.js';

// Context names travel in headers, JSON bodies and URLs; usernames appear in audit trails.
const contextName = /^[A-Za-z0-9_-]{1,64}$/;
const username = /^[A-Za-z0-9._@-]{1,64}$/;

export function checkContextName(name: string): string {
  if (!contextName.test(name)) throw new InvalidValueError('must be 1-64 letters, digits, _ or -');
  return name;
}

export function checkUsername(name: string): string {
  if (!username.test(name)) throw new InvalidValueError('must be 1-64 letters, digits, ., _, @ or -');
  return name;
}
