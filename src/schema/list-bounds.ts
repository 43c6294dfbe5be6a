import { GraphQLError } from 'graphql';

// Every list an output field returns is bounded, and says by what, so that the cost of a request
// can be known before it runs (http/cost-limit.ts). A connection's `edges` are bounded by its page
// size; any other list field declares one of these in its extensions.

/** The extensions key under which a list field declares its bound. */
export const LIST_BOUND = 'listBound';

export type ListBound =
  /** At most `argument` items (an Int argument defaulting to `default`), never more than `max`. */
  | { kind: 'argument'; argument: string; default: number; max: number }
  /**
   * As many items as the list argument `argument` has (or `alternative`, the same questions in
   * another shape, when that is the one given): one answer per question.
   */
  | { kind: 'lengthOf'; argument: string; alternative?: string; lookups: boolean };

export const listBound = (bound: ListBound) => ({ [LIST_BOUND]: bound });

/**
 * A `first` argument of a bounded list: how many items to take. Null or absent means the default;
 * outside 0..max it is refused, naming the argument.
 */
export function takeFirst(first: number | null | undefined, bound: { default: number; max: number }): number {
  if (first == null) return bound.default;
  if (first < 0 || first > bound.max) {
    const reason = `must be from 0 to ${bound.max} (got ${first})`;
    throw new GraphQLError(`first: ${reason}`, { extensions: { code: 'BAD_USER_INPUT', field: 'first', reason } });
  }
  return first;
}

/** The description of such a `first` argument. */
export const firstDescription = (items: string, bound: { default: number; max: number }) =>
  `Take at most this many ${items}, from 0 to ${bound.max}; absent or null: ${bound.default}.`;
