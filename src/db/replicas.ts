// Reads that may be answered by a streaming replica (DATABASE_REPLICA_URLS): which replica, how
// far behind each is, and what happens when one fails. Writes never come here: a replica refuses them.
import type { PrismaClient } from '../generated/prisma/client.js';
import { failureSummary, isConnectionFailure, isWriteConflict } from './errors.js';
import type { Db } from './handle.js';
import type { StatementOptions } from './connection.js';

/** A position in the write-ahead log, as PostgreSQL prints it: `16/B374D848`. */
export function parseLsn(text: string): bigint {
  const match = /^([0-9A-F]{1,8})\/([0-9A-F]{1,8})$/i.exec(text);
  if (!match) throw new Error(`${JSON.stringify(text)} is not a WAL position`);
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`);
}

/** Where the primary's flushed WAL was when it was asked, and when (ms since the epoch). */
export interface PrimarySample {
  at: number;
  lsn: bigint;
}

/**
 * How far a replica is behind, in seconds: the time since the latest sample of the primary whose
 * position the replica has replayed. Everything committed before that sample was taken is on the
 * replica. Null when it has replayed none of them (behind by more than the samples reach).
 *
 * By positions, not by pg_last_xact_replay_timestamp(): that is the time of the last transaction
 * replayed, so on a primary nobody writes to it grows without the replica being behind at all.
 */
export function replicaLagSeconds(samples: readonly PrimarySample[], replayed: bigint, now: number): number | null {
  let latest: number | null = null;
  for (const sample of samples)
    if (sample.lsn <= replayed && (latest === null || sample.at > latest)) latest = sample.at;
  return latest === null ? null : Math.max(0, (now - latest) / 1000);
}

/** The samples that can still say a replica is within `maxLagSeconds`: those taken since, and the one before. */
export function keptSamples(samples: readonly PrimarySample[], now: number, maxLagSeconds: number): PrimarySample[] {
  const horizon = now - maxLagSeconds * 1000;
  const sorted = [...samples].sort((a, b) => a.at - b.at);
  const firstRecent = sorted.findIndex((sample) => sample.at >= horizon);
  if (firstRecent === -1) return sorted.slice(-1);
  return sorted.slice(Math.max(0, firstRecent - 1));
}

export interface ReplicaHealth {
  /** host:port/database, never the URL (it may hold a password). */
  name: string;
  /** Answering, a standby, and within the lag bound: lookups read from it. */
  usable: boolean;
  /** Seconds behind the primary, as last measured; null when not known (down, or too far behind). */
  lagSeconds: number | null;
  /** Why it is not usable, if it is not. */
  problem: string | null;
}

/** Where the reads of a request go. */
export interface ReadRouter {
  primary: Db;
  /** A replica that answers and is within the lag bound, each in turn; the primary when none is. */
  pick(): Db;
  health(): ReplicaHealth[];
  close(): Promise<void>;
}

/** No replicas: every read on the primary. */
export function primaryOnly(primary: Db): ReadRouter {
  return { primary, pick: () => primary, health: () => [], close: async () => {} };
}

export interface ReplicaLogger {
  warn(details: object, message: string): void;
  info(details: object, message: string): void;
}

export interface ReplicaSetOptions {
  primary: Db;
  replicas: readonly { name: string; db: Db }[];
  maxLagSeconds: number;
  /** How often the primary's position and each replica's are read. */
  probeIntervalMs: number;
  logger: ReplicaLogger;
}

const PRIMARY_POSITION_SQL = 'SELECT pg_current_wal_flush_lsn()::text AS lsn';
const REPLICA_POSITION_SQL =
  'SELECT pg_is_in_recovery() AS standby, coalesce(pg_last_wal_replay_lsn(), pg_last_wal_receive_lsn())::text AS lsn';

interface ReplicaState {
  name: string;
  /** The replica's reads, each failing over to the primary when the replica cannot answer it. */
  reader: Db;
  own: Db;
  /** Seconds behind the primary when last measured, and when that was (ms since the epoch). */
  lagSeconds: number | null;
  measuredAt: number;
  problem: string | null;
  /** What the log last said of it: 'in use', or the problem it was skipped for. */
  reported: string | null;
  /** A probe of it has not settled yet (one that timed out may still be waiting): none is sent beside it. */
  probing: boolean;
}

class ProbeTimeout extends Error {
  override name = 'ProbeTimeout';
}

const within = <T>(work: Promise<T>, ms: number): Promise<T> => {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new ProbeTimeout(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
};

/**
 * Replicas probed every `probeIntervalMs` (the first probe at once; until it answers, reads go to
 * the primary), each probe bounded by `probeTimeoutMs`: a replica that hangs is skipped, as one
 * that refuses. A read that a replica fails to answer for want of a connection, or cancels for a
 * conflict with recovery (a standby's own failure, not the statement's), is run again on the
 * primary at once, and a lost replica is skipped from then until a probe finds it back. Each
 * change of a replica's state (the first probe's outcome included) is logged once.
 */
export function createReadRouter(options: ReplicaSetOptions): ReadRouter {
  const { primary, maxLagSeconds, logger } = options;
  const probeTimeoutMs = Math.max(1000, 2 * options.probeIntervalMs);
  let samples: PrimarySample[] = [];
  let turn = 0;
  let closed = false;

  const setState = (state: ReplicaState, problem: string | null, lagSeconds: number | null) => {
    state.problem = problem;
    state.lagSeconds = lagSeconds;
    state.measuredAt = Date.now();
    const report = problem ?? 'in use';
    if (report === state.reported) return;
    state.reported = report;
    if (problem === null) logger.info({ replica: state.name, lagSeconds }, 'replica in use');
    else logger.warn({ replica: state.name, problem }, 'replica skipped');
  };

  const states: ReplicaState[] = options.replicas.map(({ name, db }) => {
    const state: ReplicaState = {
      name,
      own: db,
      reader: db,
      lagSeconds: null,
      measuredAt: 0,
      problem: 'not probed yet',
      reported: null,
      probing: false,
    };
    state.reader = failingOver(db, primary, (error) => {
      if (isConnectionFailure(error)) setState(state, failureSummary(error), null);
    });
    return state;
  });

  // The lag grows between probes too: a replica last seen close to the bound may be past it now.
  const usable = (state: ReplicaState, now = Date.now()) =>
    state.problem === null &&
    state.lagSeconds !== null &&
    state.lagSeconds + (now - state.measuredAt) / 1000 <= maxLagSeconds;

  async function probeReplica(state: ReplicaState) {
    if (state.probing) return;
    state.probing = true;
    const answer = state.own.database.read<{ standby: boolean; lsn: string | null }>(REPLICA_POSITION_SQL, []);
    answer.then(
      () => (state.probing = false),
      () => (state.probing = false),
    );
    try {
      const [row] = await within(answer, probeTimeoutMs);
      if (!row!.standby || row!.lsn === null) {
        // Promoted, or never a standby: what it holds may have parted from the primary's.
        setState(state, 'not a standby in recovery', null);
        return;
      }
      const lag = replicaLagSeconds(samples, parseLsn(row!.lsn), Date.now());
      if (lag === null || lag > maxLagSeconds) setState(state, `more than ${maxLagSeconds} s behind the primary`, lag);
      else setState(state, null, lag);
    } catch (error) {
      setState(state, failureSummary(error), null);
    }
  }

  async function probe() {
    try {
      const [row] = await within(primary.database.read<{ lsn: string }>(PRIMARY_POSITION_SQL, []), probeTimeoutMs);
      // Stamped when the answer came: a wait for one of the primary's busy connections before the
      // statement ran must not count as the replicas' lag.
      const at = Date.now();
      samples = keptSamples([...samples, { at, lsn: parseLsn(row!.lsn) }], at, maxLagSeconds);
    } catch (error) {
      // Without the primary's position no lag can be measured; the samples taken still age.
      logger.warn({ problem: failureSummary(error) }, 'primary WAL position not read');
    }
    await Promise.all(states.map(probeReplica));
  }

  // The next probe is scheduled once this one has settled (each is bounded by probeTimeoutMs).
  let wake: NodeJS.Timeout | undefined;
  let probing: Promise<void> = Promise.resolve();
  const loop = () => {
    probing = probe().then(() => {
      if (closed) return;
      wake = setTimeout(loop, options.probeIntervalMs);
      wake.unref();
    });
  };
  loop();

  return {
    primary,
    pick() {
      const now = Date.now();
      for (let tried = 0; tried < states.length; tried++) {
        const state = states[turn++ % states.length]!;
        if (usable(state, now)) return state.reader;
      }
      return primary;
    },
    health: () =>
      states.map((state) => ({
        name: state.name,
        usable: usable(state),
        lagSeconds: state.lagSeconds,
        problem: state.problem,
      })),
    async close() {
      closed = true;
      clearTimeout(wake);
      await probing;
      // A replica that hangs would hold its pool's end (and the shutdown) for good.
      await Promise.all(states.map((state) => within(state.own.close(), probeTimeoutMs).catch(() => {})));
    },
  };
}

/** Whether a read the replica failed is worth running on the primary. */
const replicaFailed = (error: unknown) => isConnectionFailure(error) || isWriteConflict(error);

/**
 * `replica`'s reads, each run on `primary` when the replica fails it (see replicaFailed), after
 * telling `onFailure`. Prisma's through a query extension: every model operation is a read here.
 */
function failingOver(replica: Db, primary: Db, onFailure: (error: unknown) => void): Db {
  const models = primary.prisma as unknown as Record<string, Record<string, (args: unknown) => Promise<unknown>>>;
  const prisma = replica.prisma.$extends({
    query: {
      $allModels: {
        async $allOperations({ model, operation, args, query }) {
          try {
            return await query(args);
          } catch (error) {
            if (!replicaFailed(error)) throw error;
            onFailure(error);
            return models[model.charAt(0).toLowerCase() + model.slice(1)]![operation]!(args);
          }
        },
      },
    },
  }) as unknown as PrismaClient;
  return {
    ...replica,
    prisma,
    async readRows<Row>(sql: string, params: readonly unknown[], options?: StatementOptions) {
      try {
        return await replica.readRows<Row>(sql, params, options);
      } catch (error) {
        if (!replicaFailed(error)) throw error;
        onFailure(error);
        return primary.readRows<Row>(sql, params, options);
      }
    },
  };
}

/**
 * The reads of one request: all on one database, so that they see one state of the data (two
 * replicas may be at different points), and on the primary once the request writes, so that it
 * reads what it wrote. `pinPrimary` must come before the request's first read: what was read
 * before it (a loader's cache, the Prisma plugin's client for the request) is not read again.
 */
export interface ReadRoute {
  primary: Db;
  reader(): Db;
  /** From now on this request reads from the primary. */
  pinPrimary(): void;
}

export function routeReads(router: ReadRouter): ReadRoute {
  let chosen: Db | null = null;
  return {
    primary: router.primary,
    reader: () => (chosen ??= router.pick()),
    pinPrimary: () => {
      chosen = router.primary;
    },
  };
}
