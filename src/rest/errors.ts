import type { GraphQLError } from 'graphql';
import type { RefusalReason } from '../access/types.js';
import { parseIpSubnet } from '../domain/ip.js';
import { BUSY_RETRY_AFTER_SECONDS } from '../errors.js';
import { REQUEST_TIMEOUT } from '../http/request-timeout.js';
import type { MappingData, Requested, RequestedMapping, ResultData } from './shapes.js';

// Every translation of the REST layer, from what the GraphQL operations answer (an error's
// `extensions.code` and `reason`, a typed failure's fields, a variable's path) to a status and
// Trisul's body. No message text is matched: what went wrong is read from codes and fields.

/** A REST failure with Trisul's body: `{"status": "Error", "message": ...}`. */
export class RestError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** Trisul spells it "ERROR" in exactly one place: the invalid-token answer. */
    readonly statusWord: 'Error' | 'ERROR' = 'Error',
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  toResponse(): Response {
    return new Response(JSON.stringify({ status: this.statusWord, message: this.message }), {
      status: this.status,
      headers: { 'content-type': 'application/json', ...this.headers },
    });
  }
}

/** The answer to anything unexpected: its cause is logged, never sent. */
export const internalError = () => new RestError(500, 'Internal error');

/** The two documented APIs answer the same failures with different status codes. */
export interface ApiStatuses {
  invalidToken: number;
  invalidContext: number;
}

export const customerApi: ApiStatuses = { invalidToken: 200, invalidContext: 200 };
export const mappingApi: ApiStatuses = { invalidToken: 422, invalidContext: 422 };

/** Trisul's names for our GraphQL input fields, for error messages. */
const restFieldNames: Record<string, string> = {
  userId: 'UserID',
  toUserId: 'UserID',
  name: 'Name',
  address: 'Address',
  email: 'Email',
  phoneNumber: 'PhoneNumber',
  altPhoneNumber: 'AltPhoneNumber',
  terminalId: 'terminalid',
  customerId: 'ipdr_customer_id',
  // A REST body's ipsubnet also says which mapping it means (endpoints.ts, mappingChoice).
  'choose.ipsubnet': 'ipsubnet',
  'choose.ipsubnetHint': 'ipsubnet',
};

export const restField = (graphqlField: string) => restFieldNames[graphqlField] ?? graphqlField;

type Extensions = {
  code?: unknown;
  reason?: unknown;
  field?: unknown;
  http?: { headers?: Record<string, string> };
};

/**
 * The REST error for an error a GraphQL operation answered or its context refused with, by its
 * `extensions.code` (and a FORBIDDEN one's `reason`): Trisul's documented answers first.
 */
export function restErrorOf(error: GraphQLError, api: ApiStatuses): RestError {
  const { code, reason, field, http } = error.extensions as Extensions;
  switch (code) {
    case 'UNAUTHENTICATED':
      return new RestError(api.invalidToken, 'Invalid API token', 'ERROR');
    case 'FORBIDDEN': {
      const refusal = reason as RefusalReason | undefined;
      if (refusal === 'unknown-context') return new RestError(api.invalidContext, error.message);
      // Trisul answers a context the user may not use with 200 and its message.
      if (refusal === 'not-allowed') return new RestError(200, error.message);
      return new RestError(422, error.message);
    }
    case 'RATE_LIMITED': {
      const retryAfter = http?.headers?.['Retry-After'];
      return new RestError(429, error.message, 'Error', retryAfter ? { 'retry-after': retryAfter } : {});
    }
    case REQUEST_TIMEOUT:
      return new RestError(504, error.message);
    case 'BAD_USER_INPUT':
      // An argument refused before its resolver ran (schema/argument-errors.ts), named by its path.
      if (typeof field === 'string' && typeof reason === 'string') {
        return new RestError(422, `${restField(field.split('.').pop()!)}: ${reason}`);
      }
      return new RestError(422, error.message);
    default:
      return internalError();
  }
}

/**
 * A variable the REST body made that its GraphQL type refuses: `path` is where graphql-js found
 * the value (the variable, then the fields inside it), `reason` what its scalar said.
 */
export function variableError(path: readonly (string | number)[], reason: string): RestError {
  const field = [...path].reverse().find((segment): segment is string => typeof segment === 'string') ?? 'input';
  return new RestError(422, `${restField(field)}: ${reason}`);
}

/** How many of a long list a message names; the rest are counted. */
const NAMED_IN_MESSAGE = 10;

function nameSome<T>(items: readonly T[], count: number, describe: (item: T) => string): string {
  const named = items.slice(0, NAMED_IN_MESSAGE).map(describe).join(', ');
  const more = Math.max(count, items.length) - Math.min(items.length, NAMED_IN_MESSAGE);
  return more > 0 ? `${named}, and ${more} more` : named;
}

const period = (m: MappingData) => `${m.starttime} to ${m.endtime ?? 'ongoing'}`;

function conflictError(conflicts: MappingData[], count: number, requested: RequestedMapping | null): RestError {
  const duplicate =
    requested &&
    conflicts.some(
      (m) =>
        m.customer.userId === requested.userId &&
        parseIpSubnet(m.ipsubnet).network === parseIpSubnet(requested.ipsubnet).network &&
        m.starttime === requested.starttime &&
        m.endtime === requested.endtime,
    );
  if (duplicate) return new RestError(422, `Duplicate Mapping for UserID : ${requested.userId}`);
  const described = nameSome(
    conflicts,
    count,
    (m) => `mapping ${m.id} (${m.ipsubnet} of UserID ${m.customer.userId}, ${period(m)})`,
  );
  return new RestError(
    422,
    `ipsubnet overlaps ${described || 'a mapping written at the same time'}: one customer per IP at a time`,
  );
}

type Candidates = NonNullable<ResultData['candidates']>;

/** The customer's mappings the request may mean, and how to name one. */
function ambiguousError(candidates: Candidates, total: number, choice: Requested['choice']): RestError {
  const count = Math.max(total, candidates.length);
  const listed = nameSome(candidates, count, (m) => `id ${m.id}: ${m.ipsubnet}`);
  if (!choice) {
    return new RestError(
      422,
      `The customer has ${count} mappings (${listed}); add "id" or "ipsubnet" to the body to say which one`,
    );
  }
  // The choice matched several (one network held at several times) or none.
  if ('ipsubnet' in choice) {
    const network = parseIpSubnet(choice.ipsubnet).network;
    if (candidates.every((m) => parseIpSubnet(m.ipsubnet).network === network)) {
      return new RestError(
        422,
        `The customer has ${count} mappings with ipsubnet ${choice.ipsubnet} (${listed}); add "id" to the body to say which one`,
      );
    }
  }
  const named = 'id' in choice ? `id ${choice.id}` : `ipsubnet ${choice.ipsubnet}`;
  return new RestError(
    422,
    `The customer has no mapping with ${named}; its mappings: ${listed}. Send the "id" or "ipsubnet" of one of them`,
  );
}

/** The REST error for a typed GraphQL failure, worded from its fields. */
export function failureOf(result: ResultData, requested: Requested | null = null): RestError {
  switch (result.__typename) {
    case 'NotFoundError':
      // Trisul's wording for a missing customer; any other missing thing is named as ours is.
      return new RestError(422, result.entity === 'customer' ? 'IPDR Customer not found' : result.message!);
    case 'ValidationError':
      return new RestError(422, `${restField(result.field!)}: ${result.reason}`);
    case 'AlreadyExistsError': {
      const field = restField(result.field!);
      return new RestError(422, `${field}: a ${result.entity} with ${field} ${result.value} already exists`);
    }
    case 'ConflictError':
      return conflictError(result.conflicts ?? [], result.conflictCount ?? 0, requested?.mapping ?? null);
    case 'AmbiguousMappingError':
      return ambiguousError(result.candidates ?? [], result.candidateCount ?? 0, requested?.choice);
    case 'BusyError':
      return new RestError(503, result.message!, 'Error', {
        'retry-after': String(result.retryAfterSeconds ?? BUSY_RETRY_AFTER_SECONDS),
      });
    default:
      return new RestError(422, result.message ?? 'The request was refused');
  }
}
