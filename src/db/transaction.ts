import { BusyError } from '../errors.js';
import type { Prisma } from '../generated/prisma/client.js';
import { isTransactionTimeout, isWriteConflict } from './errors.js';
import { SEAL_CHAINS_SQL } from './connection.js';
import type { Db } from './handle.js';

/** The client handed to `prisma.$transaction(async (tx) => ...)`. */
export type Transaction = Prisma.TransactionClient;

/**
 * A row the transaction read changed before the transaction could write it: what it computed
 * from that read is stale, so the whole transaction runs again on what is there now.
 */
export class ConcurrentChange extends Error {
  override name = 'ConcurrentChange';
}

// A pool full of writers queues a transaction for its connection; Prisma's default wait (2 s)
// gave up while the queue was still moving. Past this wait the caller is told to come back.
export const START_WAIT_MS = 10_000;
const RUN_TIMEOUT_MS = 15_000;
// Deadlocks, serialization failures and concurrent changes roll the whole transaction back, so
// running it again is safe; each run sees the writes it lost to, so few runs are ever needed.
const MAX_RUNS = 6;

const pause = (run: number) =>
  new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * 2 ** Math.min(run, 5)));

/**
 * Runs `work` in one interactive transaction, again from the start when it lost to a concurrent
 * writer (a bounded number of times, after a random pause so the losers do not collide again).
 * Fails with BusyError when it could not start or kept losing: nothing was written either way.
 */
export async function inTransaction<T>(db: Db, work: (tx: Transaction) => Promise<T>): Promise<T> {
  for (let run = 1; ; run++) {
    try {
      const result = await db.prisma.$transaction(
        async (tx) => {
          const result = await work(tx);
          // Last, so that the chain's lane is held only from here to the commit (see SEAL_CHAINS_SQL).
          await tx.$queryRawUnsafe(SEAL_CHAINS_SQL);
          return result;
        },
        { maxWait: START_WAIT_MS, timeout: RUN_TIMEOUT_MS },
      );
      db.database.commits.emit('sealed');
      return result;
    } catch (error) {
      if (isTransactionTimeout(error)) throw new BusyError();
      if (!(error instanceof ConcurrentChange) && !isWriteConflict(error)) throw error;
      if (run === MAX_RUNS) throw new BusyError();
      await pause(run);
    }
  }
}
