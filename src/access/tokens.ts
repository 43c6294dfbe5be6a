import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { type Checked, accept } from '../domain/checked.js';
import { InvalidValueError } from '../domain/invalid-value.js';

// RFC 3986's unreserved characters: safe in headers, URLs and JSON bodies without escaping.
const tokenAlphabet = /^[A-Za-z0-9._~-]+$/;
export const MIN_TOKEN_LENGTH = 20;
export const MAX_TOKEN_LENGTH = 256;

/** A token fit to be issued: generated here, or a registered one that checkTokenFormat accepted. */
export type TokenText = Checked<string, 'token'>;

/** A new random token: 32 bytes (256 bits) as base64url, behind a prefix that says what it is. */
export function generateToken(): TokenText {
  return accept(`ipdr_${randomBytes(32).toString('base64url')}`);
}

/** Checks a token an admin registers (a legacy caller's existing token). */
export function checkTokenFormat(token: string): TokenText {
  if (token.length < MIN_TOKEN_LENGTH) throw new InvalidValueError(`must be at least ${MIN_TOKEN_LENGTH} characters`);
  if (token.length > MAX_TOKEN_LENGTH) throw new InvalidValueError(`must be at most ${MAX_TOKEN_LENGTH} characters`);
  if (!tokenAlphabet.test(token)) throw new InvalidValueError('may contain only letters, digits and . _ ~ -');
  return accept(token);
}

/** When a new token stops working: a moment after it is made. */
export type TokenExpiry = Checked<Date, 'token expiry'>;

export function checkTokenExpiry(expiresAt: Date, now: number = Date.now()): TokenExpiry {
  if (expiresAt.getTime() <= now) throw new InvalidValueError('must be in the future');
  return accept(expiresAt);
}

/** SHA-256, hex: what the database keeps instead of the token. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Compares two hashes in time independent of where they differ. */
export function hashesEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  return left.length === right.length && timingSafeEqual(left, right);
}

/** Enough of a token to recognise it in a list (its last four characters), not to use it. */
export function tokenHint(token: string): string {
  return `${token.startsWith('ipdr_') ? 'ipdr_' : ''}…${token.slice(-4)}`;
}
