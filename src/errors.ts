import { InvalidValueError, excerpt } from './domain/invalid-value.js';
import type { IpMapping } from './generated/prisma/client.js';

// Expected failures. The GraphQL layer exposes each as a typed result (src/schema/errors.ts);
// anything else that is thrown is unexpected and gets masked.

export class ValidationError extends Error {
  override name = 'ValidationError';
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
  }
}

// Messages and fields below echo callers' values cut to a short excerpt (domain/invalid-value.ts):
// a 100 KB UserID must not come back whole.

export class NotFoundError extends Error {
  override name = 'NotFoundError';
  readonly key: string;
  constructor(
    readonly entity: string,
    key: string,
  ) {
    super(`${entity} ${excerpt(key)} not found`);
    this.key = excerpt(key);
  }
}

export class AlreadyExistsError extends Error {
  override name = 'AlreadyExistsError';
  readonly value: string;
  constructor(
    readonly entity: string,
    readonly field: string,
    value: string,
  ) {
    super(`${field}: a ${entity} with ${field} ${excerpt(value)} already exists`);
    this.value = excerpt(value);
  }
}

/** The most mappings an error lists (the most its `first` may ask for): no more are loaded for it. */
export const MAX_LISTED_MAPPINGS = 1000;
// A message is for people: it names the first few mappings it is about and counts the rest.
const MAPPINGS_NAMED = 10;

function describeConflicts(conflicts: IpMapping[], count: number): string {
  if (conflicts.length === 0) return 'a mapping written concurrently';
  const named = conflicts
    .slice(0, MAPPINGS_NAMED)
    .map((m) => `${m.ipsubnet} [${m.starttime}, ${m.endtime ?? 'ongoing'}] (mapping ${m.id})`);
  const more = count - named.length;
  return `${named.join(', ')}${more > 0 ? ` and ${more} more` : ''}`;
}

/**
 * A mapping would share an address at an instant with other mappings: `conflicts` are the first
 * of them in id order (all of them, or MAX_LISTED_MAPPINGS), `conflictCount` how many there are.
 */
export class ConflictError extends Error {
  override name = 'ConflictError';
  readonly conflictCount: number;
  constructor(
    readonly conflicts: IpMapping[],
    conflictCount: number = conflicts.length,
  ) {
    // Counted apart from the list, maybe a moment later: never fewer than are listed.
    const count = Math.max(conflictCount, conflicts.length);
    super(`overlaps ${describeConflicts(conflicts, count)}`);
    this.conflictCount = count;
  }
}

/** A holder of some ports of an address at some instant: a mapping, a NAT port-block binding or a deterministic NAT rule. */
export interface NatHolder {
  kind: 'mapping' | 'binding' | 'rule';
  id: number;
  /** It in a phrase for people, e.g. `NAT port block 7 (203.0.113.5 ports 1024-1279 to 100.64.0.9, 1000 to ongoing)`. */
  description: string;
}

/**
 * A write would give an (address, port, instant) a second holder across kinds (a mapping against
 * a port block or a rule, a rule against a binding, a binding against another): `holders` are
 * those in the way, as read after the refusal (empty when written at the same moment and not yet visible).
 */
export class HolderConflictError extends Error {
  override name = 'HolderConflictError';
  constructor(
    readonly what: string,
    readonly holders: NatHolder[],
  ) {
    super(
      `${what} would share ports at some instant with ${
        holders.length === 0 ? 'a holder written concurrently' : holders.map((holder) => holder.description).join(', ')
      }`,
    );
  }
}

/** How long a BusyError asks the caller to wait before sending the request again. */
export const BUSY_RETRY_AFTER_SECONDS = 1;

/**
 * The write lost to concurrent writers more times than it is retried, or found no database
 * connection in time. Nothing was written; the same request may simply be sent again.
 */
export class BusyError extends Error {
  override name = 'BusyError';
  constructor(readonly retryAfterSeconds: number = BUSY_RETRY_AFTER_SECONDS) {
    super(`the database is busy with concurrent writes and nothing was changed; try again in ${retryAfterSeconds} s`);
  }
}

/**
 * A request names a customer where it means one mapping, and does not single one out: it names
 * none and the customer has several, or it names one (`unmatched`) the customer does not have.
 * `candidates` are the first of the mappings it may mean in id order (all of them, or
 * MAX_LISTED_MAPPINGS), `candidateCount` how many there are.
 */
export class AmbiguousMappingError extends Error {
  override name = 'AmbiguousMappingError';
  readonly candidateCount: number;
  constructor(
    readonly userId: string,
    readonly candidates: IpMapping[],
    candidateCount: number = candidates.length,
    unmatched?: string,
  ) {
    // Counted apart from the list, maybe a moment later: never fewer than are listed.
    const count = Math.max(candidateCount, candidates.length);
    const named = candidates.slice(0, MAPPINGS_NAMED).map((m) => m.id);
    const more = count - named.length;
    const ids = `ids ${named.join(', ')}${more > 0 ? ` and ${more} more` : ''}`;
    super(
      unmatched === undefined
        ? `customer ${excerpt(userId)} has ${count} mappings (${ids}); name one with "id" or "ipsubnet"`
        : `customer ${excerpt(userId)} has no mapping with ${excerpt(unmatched)} (its mappings: ${ids}); name one with "id" or "ipsubnet"`,
    );
    this.candidateCount = count;
  }
}

export class CustomerHasMappingsError extends Error {
  override name = 'CustomerHasMappingsError';
  constructor(
    readonly userId: string,
    readonly mappingCount: number,
  ) {
    super(
      `customer ${excerpt(userId)} still has ${mappingCount} mapping(s); end them, delete them, or pass cascade: true`,
    );
  }
}

/** Runs a domain parser for one input field, naming the field when the value is rejected. */
export function checkField<T>(field: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof InvalidValueError) throw new ValidationError(field, error.reason);
    throw error;
  }
}
