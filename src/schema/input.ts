import { GraphQLError } from 'graphql';
import { NotFoundError, ValidationError } from '../errors.js';

// Input is checked once, at the schema edge: scalars parse addresses and times, lenient scalars
// hand a refusal to the resolver (lenient.ts), and resolvers run the domain's checks through
// checkField (errors.ts), which makes every refusal a ValidationError naming the field. The
// stores take only checked values (src/domain/checked.ts). A field whose result lists
// ValidationError answers it as a typed result; anywhere else it is this one GraphQL error
// (expectedFailure, which the app's error masking applies to whatever no typed result caught).

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

/**
 * An expected failure that no typed result caught (thrown by a field without one, or below a root
 * field), as the GraphQL error saying it at the same place in the response: NOT_FOUND or
 * BAD_USER_INPUT. Null for anything else, which is unexpected and masked.
 */
export function expectedFailure(error: unknown): GraphQLError | null {
  if (!(error instanceof GraphQLError)) return null;
  const failure = error.originalError;
  const extensions =
    failure instanceof NotFoundError
      ? { code: 'NOT_FOUND', entity: failure.entity, key: failure.key }
      : failure instanceof ValidationError
        ? { code: 'BAD_USER_INPUT', field: failure.field, reason: failure.reason }
        : null;
  if (!failure || !extensions) return null;
  return new GraphQLError(failure.message, { nodes: error.nodes, path: error.path, extensions });
}
