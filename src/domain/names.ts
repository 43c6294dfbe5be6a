import { type Checked, accept } from './checked.js';
import { InvalidValueError } from './invalid-value.js';

// Context names travel in headers, JSON bodies and URLs; usernames appear in audit trails.
const contextName = /^[A-Za-z0-9_-]{1,64}$/;
const username = /^[A-Za-z0-9._@-]{1,64}$/;

export type ContextName = Checked<string, 'context name'>;
export type Username = Checked<string, 'username'>;

export function checkContextName(name: string): ContextName {
  if (!contextName.test(name)) throw new InvalidValueError('must be 1-64 letters, digits, _ or -');
  return accept(name);
}

export function checkUsername(name: string): Username {
  if (!username.test(name)) throw new InvalidValueError('must be 1-64 letters, digits, ., _, @ or -');
  return accept(name);
}
