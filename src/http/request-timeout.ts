import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { withDeadline } from '../db/connection.js';

export const REQUEST_TIMEOUT = 'REQUEST_TIMEOUT';

export const timedOutMessage = (ms: number) =>
  `The request timed out after ${ms} ms and was cancelled: nothing it had not committed by then was written`;

/**
 * Bounds the time an operation runs. At `ms` after its execution starts the caller is answered
 * 504 with a REQUEST_TIMEOUT error (on /api/, the REST layer turns it into its own shape), and
 * the work stops: graphql-js (16) takes no abort signal, so what still runs is cut off at the
 * database: no further statement is sent and no transaction commits (db/connection.ts
 * withDeadline), and on PostgreSQL a statement already running is cancelled by its session's
 * statement_timeout (Database.limitStatements), which rolls its transaction back.
 */
export function useRequestTimeout(ms: number): Plugin {
  if (ms <= 0) return {};
  return {
    onExecute({ executeFn, setExecuteFn }) {
      setExecuteFn((args) => {
        let timer: NodeJS.Timeout | undefined;
        const timedOut = new Promise<{ errors: GraphQLError[] }>((resolve) => {
          timer = setTimeout(
            () =>
              resolve({
                errors: [
                  new GraphQLError(timedOutMessage(ms), {
                    extensions: { code: REQUEST_TIMEOUT, http: { status: 504 } },
                  }),
                ],
              }),
            ms,
          );
        });
        const at = Date.now() + ms;
        // Finished past the deadline (PGlite held the event loop, or the timer fired late): what
        // it did after the deadline failed (no statement, no commit), so its result is the timeout.
        const run = Promise.resolve(withDeadline({ at, ms }, () => executeFn(args))).then((result) =>
          Date.now() >= at ? timedOut : result,
        );
        return Promise.race([run, timedOut]).finally(() => clearTimeout(timer));
      });
    },
  };
}
