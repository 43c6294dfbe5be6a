import { type ExecutionArgs, type ExecutionResult, GraphQLError, execute } from 'graphql';

/**
 * graphql-js' executor, with the GraphQL-over-HTTP status of request errors. When the request
 * cannot start executing (a variable fails coercion, the operation is missing), graphql-js answers
 * errors without `data`; those are request errors, which the spec answers with 400 under
 * `application/graphql-response+json` (`spec: true` keeps `application/json` at 200, as the spec
 * says). Yoga's default executor marks them the same way; this one does not copy the variables.
 */
export function executeWithRequestErrorStatus(args: ExecutionArgs) {
  const result = execute(args);
  return result instanceof Promise ? result : markRequestErrors(result);
}

function markRequestErrors(result: ExecutionResult): ExecutionResult {
  if ('data' in result || !result.errors) return result;
  return {
    ...result,
    errors: result.errors.map(
      (error) =>
        new GraphQLError(error.message, {
          nodes: error.nodes,
          source: error.source,
          positions: error.positions,
          path: error.path,
          originalError: error.originalError,
          extensions: { ...error.extensions, http: { status: 400, spec: true } },
        }),
    ),
  };
}
