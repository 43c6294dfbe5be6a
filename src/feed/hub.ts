import type { Db } from '../db/handle.js';
import type { Logger } from '../logger.js';
import { assignFeed } from './store.js';

// One per app: gives feed positions soon after this instance's writes (each transaction that
// sealed its chains: Database.commits), and wakes this instance's subscribers when the feed has
// advanced, here or (through the bus) on another instance. The database holds the feed; the hub
// and the bus only say when to read it again.

/** Tells the other instances that the feed may have advanced, and hears them say so. */
export interface FeedBus {
  announce(): void;
  onAnnounced(listener: () => void): void;
  close(): Promise<void>;
}

export interface FeedHubOptions {
  db: Db;
  logger: Logger;
  /** Without one, a subscriber learns of another instance's writes by polling alone. */
  bus?: FeedBus | undefined;
  /** How often the feed is read while anyone here waits on it. */
  pollMs: number;
  /** How soon after a write the positions are given (writes in that time share one run). */
  settleMs: number;
  /** The most streams one API token keeps open here at once. */
  maxStreamsPerToken: number;
}

export interface FeedHub {
  readonly maxStreamsPerToken: number;
  /** Aborted by close(): every stream ends, so that shutdown is not held open by dashboards. */
  readonly closing: AbortSignal;
  /** The last position this instance knows to be given. */
  head(): number;
  /** Gives positions to what has ended since, and returns the last position given. */
  refresh(): Promise<number>;
  /** Resolves once the feed's last position is past `seq`, or `signal` aborts. */
  waitPast(seq: number, signal: AbortSignal): Promise<void>;
  /** Takes one of the token's streams; null when it holds its maximum. Call the result to give it back. */
  openStream(tokenId: number): (() => void) | null;
  close(): Promise<void>;
}

interface Waiter {
  seq: number;
  resolve: () => void;
}

export function createFeedHub(options: FeedHubOptions): FeedHub {
  const { db, logger, bus } = options;
  const waiters = new Set<Waiter>();
  const streams = new Map<number, number>();
  let head = 0;
  let running: Promise<void> | null = null;
  let again = false;
  let settling: NodeJS.Timeout | null = null;
  let poll: NodeJS.Timeout | null = null;
  let closed = false;
  let failing = false;
  const closing = new AbortController();

  const wakeWaiters = () => {
    for (const waiter of waiters) {
      if (head > waiter.seq) {
        waiters.delete(waiter);
        waiter.resolve();
      }
    }
    if (waiters.size === 0 && poll) {
      clearInterval(poll);
      poll = null;
    }
  };

  // One run at a time; a run asked for while one is under way follows it.
  const run = (): Promise<void> => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        const before = head;
        try {
          head = Math.max(head, await assignFeed(db));
          if (failing) logger.info('the live feed reads the database again');
          failing = false;
        } catch (error) {
          // Logged once per outage; the next write or poll tries again.
          if (!failing && !closed) logger.error({ err: error }, 'the live feed could not read the database');
          failing = true;
        }
        if (head > before) bus?.announce();
        wakeWaiters();
      } while (again && !closed);
      running = null;
    })();
    return running;
  };

  bus?.onAnnounced(() => {
    if (waiters.size > 0) void run();
  });
  // A write here: give its position now only if someone here follows the feed; otherwise only
  // tell the other instances (a stream's first read gives the positions of what it finds ended,
  // in the same order, so nothing is lost by giving them late).
  const written = () => {
    if (closed || settling) return;
    if (streams.size === 0) {
      bus?.announce();
      return;
    }
    settling = setTimeout(() => {
      settling = null;
      void run();
    }, options.settleMs).unref();
  };
  db.database.commits.on('sealed', written);

  return {
    maxStreamsPerToken: options.maxStreamsPerToken,
    closing: closing.signal,
    head: () => head,
    async refresh() {
      // A run under way when this is asked runs again before it resolves: it sees the latest commits.
      await run();
      return head;
    },
    waitPast(seq, signal) {
      if (head > seq || signal.aborted || closed) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const waiter: Waiter = {
          seq,
          resolve: () => {
            signal.removeEventListener('abort', abort);
            resolve();
          },
        };
        const abort = () => {
          waiters.delete(waiter);
          resolve();
        };
        signal.addEventListener('abort', abort, { once: true });
        waiters.add(waiter);
        poll ??= setInterval(() => void run(), options.pollMs).unref();
        // The positions of what was written before this wait began may not be given yet.
        void run();
      });
    },
    openStream(tokenId) {
      const open = streams.get(tokenId) ?? 0;
      if (open >= options.maxStreamsPerToken) return null;
      streams.set(tokenId, open + 1);
      let given = false;
      return () => {
        if (given) return;
        given = true;
        const now = (streams.get(tokenId) ?? 1) - 1;
        if (now === 0) streams.delete(tokenId);
        else streams.set(tokenId, now);
      };
    },
    async close() {
      if (closed) return;
      closed = true;
      closing.abort();
      db.database.commits.off('sealed', written);
      if (settling) clearTimeout(settling);
      if (poll) clearInterval(poll);
      for (const waiter of waiters) waiter.resolve();
      waiters.clear();
      await running;
      await bus?.close();
    },
  };
}
