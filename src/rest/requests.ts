import { excerpt, quoted } from '../domain/invalid-value.js';
import { RestError } from './errors.js';
import { DEFAULT_CONTEXT } from '../access/tenant.js';

export type Body = Record<string, unknown>;

// Authentication and context travel in the body in Trisul's API; every endpoint accepts these.
const AUTH_FIELDS = ['api_token', 'username', 'contextname', 'context'];

export interface RestAuth {
  token: string | null;
  username: string | undefined;
  context: string;
}

export async function readBody(request: Request, query: URLSearchParams): Promise<Body> {
  const text = await request.text();
  const body: Body = {};
  // GET parameters may also come in the query string.
  for (const [key, value] of query) body[key] = value;
  if (text.trim() === '') return body;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new RestError(422, `Malformed JSON body: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new RestError(422, 'The request body must be a JSON object');
  }
  return { ...body, ...(parsed as Body) };
}

// What a header can carry: a token or context name with anything else cannot be a real one.
const headerSafe = /^[\x21-\x7e]+$/;

export function authOf(body: Body): RestAuth {
  const token = body.api_token;
  const username = body.username;
  // Trisul's callers send the token's username beside it; without one there is nothing to check.
  if (username === undefined || username === null) {
    throw new RestError(422, 'username is required: the user the api_token belongs to');
  }
  if (typeof username !== 'string') throw new RestError(422, 'username must be a string');
  return {
    token: typeof token === 'string' && headerSafe.test(token) ? token : null,
    username,
    context: contextOf(body),
  };
}

/** Both spellings on both APIs; the oldest callers send neither (or "") and mean `default`. */
function contextOf(body: Body): string {
  for (const field of ['contextname', 'context']) {
    const value = body[field];
    if (value === undefined || value === null || value === '') continue;
    if (typeof value !== 'string') throw new RestError(422, `${field} must be a string: the name of a context`);
    if (!headerSafe.test(value)) throw new RestError(422, `${field}: ${quoted(value)} is not a context name`);
    return value;
  }
  return DEFAULT_CONTEXT;
}

/** Refuses fields the endpoint does not know, so a misspelt field is not silently ignored. */
export function onlyFields(body: Body, allowed: readonly string[]) {
  const unknown = Object.keys(body).filter((key) => !allowed.includes(key) && !AUTH_FIELDS.includes(key));
  if (unknown.length > 0) {
    throw new RestError(422, `Unknown field${unknown.length > 1 ? 's' : ''}: ${excerpt(unknown.join(', '))}`);
  }
}

/** A text field: a string, or (when optional) absent or null. */
export function textField(body: Body, field: string, required: boolean): string | null | undefined {
  const value = body[field];
  if (value === undefined || value === null) {
    if (required) throw new RestError(422, `${field} is required`);
    return value;
  }
  if (typeof value !== 'string') throw new RestError(422, `${field} must be a string`);
  return value;
}

export function requireFields(body: Body, fields: readonly string[]) {
  const missing = fields.filter((field) => body[field] === undefined);
  if (missing.length > 0)
    throw new RestError(422, `Missing required field${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}`);
}

/** A time as Trisul sends it: digits as a string, or a number. Checked by the GraphQL scalar. */
export function timeField(body: Body, field: string): string | number | null | undefined {
  const value = body[field];
  if (value === undefined || value === null || typeof value === 'string' || typeof value === 'number') return value;
  throw new RestError(422, `${field} must be a unix time (digits or a number)`);
}

/** A time that must be given: null is no time (a PUT would otherwise keep the old one). */
export function requiredTimeField(body: Body, field: string): string | number {
  const value = timeField(body, field);
  if (value === undefined) throw new RestError(422, `Missing required field: ${field}`);
  if (value === null || value === '') throw new RestError(422, `${field} is required: null or "" is not a unix time`);
  return value;
}

/** An end time: absent, null or "" mean ongoing. */
export function endTimeField(body: Body): string | number | null {
  const value = timeField(body, 'endtime');
  return value === undefined || value === '' ? null : value;
}

// Ids are GraphQL Ints (32-bit signed).
const MAX_ID = 2 ** 31 - 1;

/** A record's id as GET gave it: a positive whole number, or its digits. */
export function idField(body: Body, field: string, what: 'customer' | 'mapping'): number | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'number' && Number.isInteger(value) && value > 0 && value <= MAX_ID) return value;
  if (typeof value === 'string' && /^[1-9]\d{0,9}$/.test(value) && Number(value) <= MAX_ID) return Number(value);
  throw new RestError(422, `${field} must be a ${what} id (a positive whole number)`);
}
