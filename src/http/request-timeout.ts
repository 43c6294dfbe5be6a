import { type ExecutionResult, GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { ServerContext } from '../context.js';
import { type Deadline, type DeadlineOutcome, outcomeOf, withDeadline } from '../db/connection.js';

export const REQUEST_TIMEOUT = 'REQUEST_TIMEOUT';

export const timedOutMessage = (ms: number) =>
  `The request timed out after ${ms} ms and was cancelled: nothing of it was written`;

/** The work had committed some of its writes when the deadline stopped the rest. */
export const partlyWrittenMessage = (ms: number) =>
  `The request timed out after ${ms} ms after some of its writes had been committed, and the rest was cancelled: read them back before retrying`;

/** A commit was in flight at the deadline and had not settled when the wait for it ran out. */
export const unsettledMessage = (ms: number) =>
  `The request timed out after ${ms} ms while committing a write, which may or may not have been written: read it back before retrying`;

const timeoutResult = (message: string): ExecutionResult => ({
  errors: [new GraphQLError(message, { extensions: { code: REQUEST_TIMEOUT, http: { status: 504 } } })],
});

// A REST request runs one operation per page of a list (rest/handler.ts): all of them share the
// deadline its first operation started, so a list of many pages cannot run past it page by page.
const restDeadlines = new WeakMap<Request, Deadline>();

function deadlineOf(outer: Request | undefined, ms: number): Deadline {
  if (!outer) return { at: Date.now() + ms, ms };
  let deadline = restDeadlines.get(outer);
  if (!deadline) restDeadlines.set(outer, (deadline = { at: Date.now() + ms, ms }));
  return deadline;
}

/**
 * The answer for what the work did, once it has ended: its real result unless the deadline
 * stopped some of it, even when it ended late; otherwise a timeout that says whether any of it
 * had been written.
 */
function answerOf(result: unknown, outcome: DeadlineOutcome, ms: number): unknown {
  if (!outcome.cut) return result;
  return timeoutResult(outcome.commits > 0 ? partlyWrittenMessage(ms) : timedOutMessage(ms));
}

/**
 * Bounds the time an operation runs. At `ms` after its execution starts (for a REST request:
 * after its first operation's), the caller is answered 504 with a REQUEST_TIMEOUT error (on
 * /api/, the REST layer turns it into its own shape), and the work stops: graphql-js (16) takes
 * no abort signal, so what still runs is cut off at the database: no further statement is sent
 * and no transaction commits (db/connection.ts withDeadline), and on PostgreSQL a statement
 * already running is cancelled by its session's statement_timeout (Database.limitStatements),
 * which rolls its transaction back.
 *
 * The answer says what happened, and never answers a written row as a timeout that wrote nothing.
 * Work that the deadline stopped nowhere is answered its real result, even when it ended late
 * (PGlite holds the event loop while a statement runs, so the timer may fire late). At the
 * deadline, work that has written nothing and is committing nothing is answered the timeout at
 * once; work with a commit in flight, or one done, is waited for, at most `ms` more (on
 * PostgreSQL a statement sent before the deadline is cancelled by then): its real result if it
 * ends unstopped, a timeout saying that some of it was written if the deadline stopped the rest,
 * or that a commit's outcome is unknown if it has still not settled.
 */
export function useRequestTimeout(ms: number): Plugin {
  if (ms <= 0) return {};
  return {
    onExecute({ args, executeFn, setExecuteFn }) {
      const deadline = deadlineOf((args.contextValue as ServerContext).outerRequest, ms);
      const outcome = outcomeOf(deadline);
      setExecuteFn((args) => {
        // A later page of a REST list, begun past the deadline its first page started.
        if (Date.now() >= deadline.at) {
          outcome.cut = true;
          return timeoutResult(timedOutMessage(ms));
        }
        const timers: NodeJS.Timeout[] = [];
        const after = <T>(delayMs: number, value: () => T | Promise<T>) =>
          new Promise<T>((resolve) => timers.push(setTimeout(() => resolve(value()), delayMs)));
        const run = Promise.resolve(withDeadline(deadline, () => executeFn(args))).then((result) =>
          answerOf(result, outcome, ms),
        );
        const atDeadline = async (): Promise<unknown> => {
          // A timer may fire a little before the clock that the database guard reads says it is due.
          if (Date.now() < deadline.at) return after(deadline.at - Date.now() + 1, atDeadline);
          // Nothing written and nothing committing: whatever the work still tries to write is refused.
          if (!outcome.committing && outcome.commits === 0) return timeoutResult(timedOutMessage(ms));
          // Something was written, or may be: the answer waits, bounded, to say what.
          const waited = after(ms, () => undefined);
          await Promise.race([outcome.commitsSettled(), waited]);
          if (!outcome.committing && outcome.commits === 0) return timeoutResult(timedOutMessage(ms));
          return Promise.race([
            run,
            waited.then(() => timeoutResult(outcome.committing ? unsettledMessage(ms) : partlyWrittenMessage(ms))),
          ]);
        };
        return Promise.race([run, after(Math.max(0, deadline.at - Date.now()), atDeadline)]).finally(() => {
          for (const timer of timers) clearTimeout(timer);
        }) as ReturnType<typeof executeFn>;
      });
    },
  };
}
