import { GraphQLError } from 'graphql';
import type { ValidationError } from '../errors.js';

// Input is checked once, at the schema edge: scalars parse addresses and times, lenient scalars
// hand a refusal to the resolver (lenient.ts), and resolvers run the domain's checks through
// checkField (errors.ts), which makes every refusal a ValidationError naming the field. The
// stores take only checked values (src/domain/checked.ts). A field whose result lists
// ValidationError answers it as a typed result; anywhere else it is this one GraphQL error.

/** The GraphQL error of a refused value: BAD_USER_INPUT, with the field (when known) and the reason. */
export function badUserInput(
  field: string | undefined,
  reason: string,
  { message, index }: { message?: string; index?: number } = {},
): GraphQLError {
  return new GraphQLError(message ?? `${field}: ${reason}`, {
    extensions: {
      code: 'BAD_USER_INPUT',
      ...(field === undefined ? {} : { field }),
      reason,
      ...(index === undefined ? {} : { index }),
    },
  });
}

/** A ValidationError where no typed result can carry it. */
export const asBadUserInput = (error: ValidationError): GraphQLError =>
  badUserInput(error.field, error.reason, { message: error.message });
