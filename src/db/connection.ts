import { EventEmitter } from 'node:events';
import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { setImmediate as nextTurnOfEventLoop } from 'node:timers/promises';
import { PGlite, type Transaction, types } from '@electric-sql/pglite';
import { btree_gist } from '@electric-sql/pglite/contrib/btree_gist';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import pg from 'pg';
import { lockDataDir } from './data-dir-lock.js';
import { failureSummary } from './errors.js';

/** Statements sent by the driver itself in one transaction, int8 columns as bigint (as Prisma gives them). */
export interface DriverSession {
  query<Row>(sql: string, params?: readonly unknown[], options?: StatementOptions): Promise<Row[]>;
}

/** The session of a transaction of the driver's own. */
export interface TransactionSession extends DriverSession {
  /** Statements without parameters, several in one round trip (`RELEASE SAVEPOINT a; SAVEPOINT a`). */
  exec(script: string): Promise<void>;
}

export interface StatementOptions {
  /**
   * On PostgreSQL, parsed once per connection and kept, its plan cached by PostgreSQL's own rule
   * (plan_cache_mode): for a statement sent with the same text over and over, whose parse and
   * planning cost more than its run (RADIUS's group commits, the lookups). Only the first
   * MAX_PREPARED_TEXTS texts of the process are kept: a statement whose text is built from what
   * a caller asks (the lookups' columns) cannot fill every connection with plans. PGlite, in this
   * process, has nothing to save.
   */
  prepared?: boolean;
}

export interface TransactionOptions {
  /**
   * pg_advisory_xact_lock(class, key) taken first, in this order (callers order them so that two
   * writers never wait on each other in a cycle). On PostgreSQL they go with BEGIN, in one round
   * trip: a group commit's latency is mostly round trips.
   */
  advisoryLocks?: readonly (readonly [number, number])[];
  /**
   * On PostgreSQL, prepared statements of this transaction run by their generic plan, made once per connection,
   * instead of being planned anew for each run's parameters. For a writer whose statements are
   * small and many (RADIUS's group commits): planning its reads cost more than running them. A
   * generic plan is as good as the table statistics it was made with; PostgreSQL makes it again
   * when autovacuum analyses the table.
   */
  genericPlans?: boolean;
  /**
   * Links the audit events and lookup-log entries the transaction wrote onto their context's
   * hash chain (ipdr_chain_seal, see the chains migration) as it commits: on PostgreSQL in the
   * COMMIT's round trip, so the chain's lane is held for no longer than the commit itself.
   */
  sealChains?: boolean;
}

/** The statement that links a transaction's audit and lookup-log entries; sent last before COMMIT. */
export const SEAL_CHAINS_SQL = 'SELECT ipdr_chain_seal()';

/** What a transaction runs first, after BEGIN, in the same round trip. */
function beginStatements(options: TransactionOptions): string[] {
  const locks = options.advisoryLocks ?? [];
  return [
    ...(options.genericPlans ? ['SET LOCAL plan_cache_mode = force_generic_plan'] : []),
    ...(locks.length > 0 ? [advisoryLockSql(locks)] : []),
  ];
}

const advisoryLockSql = (locks: readonly (readonly [number, number])[]) => {
  for (const key of locks.flat())
    if (!Number.isSafeInteger(key)) throw new Error(`advisory lock key ${key} is not an integer`);
  return locks.map(([lockClass, key]) => `SELECT pg_advisory_xact_lock(${lockClass}, ${key})`).join('; ');
};

/** The statements the migration runner needs, below Prisma (multi-statement scripts, locks). */
export interface MigrationSession {
  query<Row>(sql: string, params?: unknown[]): Promise<Row[]>;
  exec(script: string): Promise<void>;
  release(): Promise<void>;
}

export interface Database {
  kind: 'pglite' | 'postgresql';
  /**
   * Told after each transaction that wrote the audit trail or the lookup log commits (one that
   * sealed its chains): the live feed gives positions to the events written (feed/hub.ts).
   */
  commits: EventEmitter<{ sealed: [] }>;
  adapter: PrismaPg | PrismaPGlite;
  /** A session of its own: PostgreSQL's advisory locks belong to one connection. */
  openMigrationSession(): Promise<MigrationSession>;
  /**
   * One read statement sent by the driver itself, below Prisma, int8 columns as bigint (as Prisma
   * gives them). For lookup batches: decoding a raw result of thousands of rows costs Prisma about
   * twice the driver's CPU (BENCHMARKS.md).
   */
  read<Row>(sql: string, params: readonly unknown[], options?: StatementOptions): Promise<Row[]>;
  /**
   * Runs `work` in one transaction of its own, below Prisma: committed when `work` resolves,
   * rolled back when it throws. For the CSV import, whose batches of column arrays cost Prisma
   * about 1 s of CPU to serialise per 200,000 mappings, while the database waited.
   */
  transaction<T>(work: (session: TransactionSession) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /**
   * Opens one connection of its own and closes it, failing within `timeoutMs`: whether the
   * database can be reached now. PGlite, in this process, always can.
   */
  checkConnection(timeoutMs: number): Promise<void>;
  /**
   * From now on, PostgreSQL cancels any statement of this process's sessions that runs longer
   * than `ms`, and ends a session left idle in a transaction that long (0: never). The server
   * calls it after the migrations, which may take longer; the CLI never does. PGlite runs each
   * statement to its end, in this process's only thread: it has no such limit.
   */
  limitStatements(ms: number): void;
  /** PGlite only: its data directory as one uncompressed dump, which `loadDataDir` starts from. */
  dumpDataDir?: () => Promise<Blob>;
  /** Connections of the PostgreSQL pool; null for PGlite, which has one and no pool. */
  poolStats(): { total: number; idle: number; waiting: number } | null;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  databaseUrl?: string | undefined;
  poolSize: number;
  dataDir: string;
  /** An in-memory PGlite starts from this dump (PGlite's dumpDataDir) instead of an empty cluster. */
  loadDataDir?: Blob | undefined;
  /**
   * PostgreSQL only: a connection not made within `connectMs`, or a statement not answered within
   * `queryMs`, fails on this side. For replicas: statement_timeout is the server's, and a server
   * that hangs (frozen, cut off without a reset) never applies it.
   */
  clientTimeouts?: { connectMs: number; queryMs: number } | undefined;
}

export function openDatabase(options: DatabaseOptions): Database {
  return options.databaseUrl
    ? openPostgres(options.databaseUrl, options.poolSize, options.clientTimeouts)
    : openPglite(options.dataDir, options.loadDataDir);
}

/** When the work of the current request must be over (http/request-timeout.ts sets it). */
export interface Deadline {
  at: number;
  ms: number;
}

const deadlines = new AsyncLocalStorage<Deadline>();

export class DeadlineExceededError extends Error {
  override name = 'DeadlineExceededError';
}

/**
 * What a deadline did to the work run under it, so that the answer can say what happened
 * (http/request-timeout.ts): a commit that lands after the deadline must not be answered as if
 * nothing had been written.
 */
export class DeadlineOutcome {
  /** A statement, transaction or commit of the work was refused at the deadline, or failed past it. */
  cut = false;
  /** Transactions, and single writes outside one, of the work that committed. */
  commits = 0;
  private inFlight = 0;
  private waiting: (() => void)[] = [];

  constructor(private readonly deadline: Deadline) {}

  /** A commit was sent and has not settled: whether it is written is not known yet. */
  get committing(): boolean {
    return this.inFlight > 0;
  }

  /** Resolves when no commit of the work is in flight (at once if none is). */
  commitsSettled(): Promise<void> {
    return this.inFlight === 0 ? Promise.resolve() : new Promise((resolve) => this.waiting.push(resolve));
  }

  /** Counts a commit as in flight; the function returned says how it settled. */
  beginCommit(): (committed: boolean) => void {
    this.inFlight++;
    let settled = false;
    return (committed) => {
      if (settled) return;
      settled = true;
      this.inFlight--;
      if (committed) this.commits++;
      else if (Date.now() >= this.deadline.at) this.cut = true;
      if (this.inFlight === 0) for (const resolve of this.waiting.splice(0)) resolve();
    };
  }
}

const outcomes = new WeakMap<Deadline, DeadlineOutcome>();

/** The outcome of the work run under `deadline` (one for every run under the same object). */
export function outcomeOf(deadline: Deadline): DeadlineOutcome {
  let outcome = outcomes.get(deadline);
  if (!outcome) outcomes.set(deadline, (outcome = new DeadlineOutcome(deadline)));
  return outcome;
}

/** Runs `work` under `deadline`: past it, no statement of `work` is sent and no transaction of it commits. */
export function withDeadline<T>(deadline: Deadline, work: () => T): T {
  return deadlines.run(deadline, work);
}

/**
 * Runs `work` under no request's deadline: for statements that answer several requests at once
 * (the shared lookup batches), which one late request must not fail for the others.
 */
export function withoutDeadline<T>(work: () => T): T {
  return deadlines.exit(work);
}

/**
 * The caller was already told its request timed out: what it would still send is not sent.
 * By the clock, not a timer: a PGlite statement holds the event loop while it runs, so a timer may fire late.
 */
function checkDeadline() {
  const deadline = deadlines.getStore();
  if (deadline && Date.now() >= deadline.at) {
    outcomeOf(deadline).cut = true;
    throw new DeadlineExceededError(`the request ran past its ${deadline.ms} ms; nothing more is sent to the database`);
  }
}

const pastDeadline = () => {
  const deadline = deadlines.getStore();
  return deadline !== undefined && Date.now() >= deadline.at;
};

/** A statement of the current work that fails past its deadline was cut off by it (cancelled, on PostgreSQL). */
function watched<T>(sent: Promise<T>): Promise<T> {
  const deadline = deadlines.getStore();
  if (!deadline) return sent;
  return sent.catch((error: unknown) => {
    if (Date.now() >= deadline.at) outcomeOf(deadline).cut = true;
    throw error;
  });
}

/** Sends a commit of the current work, counted as in flight until it settles. */
async function committing<T>(send: () => Promise<T>): Promise<T> {
  const deadline = deadlines.getStore();
  const settle = deadline ? outcomeOf(deadline).beginCommit() : () => {};
  try {
    const result = await send();
    settle(true);
    return result;
  } catch (error) {
    settle(false);
    throw error;
  }
}

type Adapter = Awaited<ReturnType<PrismaPg['connect']>> | Awaited<ReturnType<PrismaPGlite['connect']>>;
type AdapterTransaction = Awaited<ReturnType<Adapter['startTransaction']>>;

/**
 * Prisma's statements checked against the request's deadline. Past it, none is sent, and the
 * COMMIT that Prisma sends at the end of a transaction becomes a ROLLBACK: the caller was
 * answered that its request timed out, so none of its writes may stay. The ROLLBACK that Prisma
 * sends when a transaction fails always goes through: Prisma releases the connection after it,
 * and one released inside a transaction would fail the next request that gets it. A COMMIT sent
 * before the deadline, and a write outside a transaction (which commits itself), are counted as
 * in flight until they settle: the answer waits for them (DeadlineOutcome).
 */
function guardAdapter<Factory extends PrismaPg | PrismaPGlite>(factory: Factory): Factory {
  const connect = factory.connect.bind(factory);
  factory.connect = (async () => {
    const adapter = (await connect()) as Adapter;
    guardQueries(adapter, true);
    const start = adapter.startTransaction.bind(adapter);
    adapter.startTransaction = async (...args: Parameters<Adapter['startTransaction']>) => {
      checkDeadline();
      const transaction = await watched(start(...args));
      guardQueries(transaction, false);
      // Adapters whose commit() itself commits (Prisma then sends no COMMIT statement).
      if (transaction.options.usePhantomQuery) {
        const commit = transaction.commit.bind(transaction);
        const rollback = transaction.rollback.bind(transaction);
        transaction.commit = async () => {
          if (!pastDeadline()) return committing(commit);
          await rollback();
          checkDeadline();
        };
      }
      return transaction;
    };
    return adapter;
  }) as Factory['connect'];
  return factory;
}

/** Whether a statement sent outside a transaction writes (and so commits as it ends). */
const writes = (sql: string) => /^\s*(INSERT|UPDATE|DELETE|MERGE|WITH)\b/i.test(sql);

function guardQueries(on: Adapter | AdapterTransaction, autocommit: boolean) {
  const queryRaw = on.queryRaw.bind(on);
  const executeRaw = on.executeRaw.bind(on);
  on.queryRaw = (query) => {
    checkDeadline();
    return autocommit && writes(query.sql) ? committing(() => queryRaw(query)) : watched(queryRaw(query));
  };
  on.executeRaw = async (query) => {
    if (/^\s*ROLLBACK\b/i.test(query.sql)) return executeRaw(query);
    const commit = /^\s*COMMIT\b/i.test(query.sql);
    if (pastDeadline()) {
      if (commit) await executeRaw({ ...query, sql: 'ROLLBACK' });
      checkDeadline();
    }
    return commit || (autocommit && writes(query.sql))
      ? committing(() => executeRaw(query))
      : watched(executeRaw(query));
  };
}

/**
 * pg settings for a DATABASE_URL, with JIT off. JIT compiles a statement when its estimated cost
 * is high, as a batch of thousands of lookups or import rows is; the compile then costs more than
 * running the statement (BENCHMARKS.md has the import's figures).
 * The URL's own `options` are kept (pg would let them replace ours).
 */
export function postgresSettings(databaseUrl: string): { connectionString: string; options: string } {
  const url = new URL(databaseUrl);
  const options = [url.searchParams.get('options'), '-c jit=off'].filter(Boolean).join(' ');
  url.searchParams.delete('options');
  return { connectionString: url.toString(), options };
}

const int8AsBigint: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === pg.types.builtins.INT8 ? BigInt : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/** A statement on the pool or one of its clients, int8 columns as bigint. */
async function pgRows<Row>(
  on: pg.Pool | pg.PoolClient,
  sql: string,
  params: readonly unknown[],
  options: StatementOptions = {},
): Promise<Row[]> {
  checkDeadline();
  const name = options.prepared ? preparedName(sql) : undefined;
  return (await watched(on.query({ text: sql, values: [...params], types: int8AsBigint, ...(name ? { name } : {}) })))
    .rows as Row[];
}

// A prepared statement's name, from its text: the same text is the same statement on every
// connection. Past MAX_PREPARED_TEXTS texts, a new one is sent unnamed (parsed and planned each time).
const MAX_PREPARED_TEXTS = 64;
const preparedNames = new Map<string, string>();
function preparedName(sql: string): string | undefined {
  let name = preparedNames.get(sql);
  if (name === undefined && preparedNames.size < MAX_PREPARED_TEXTS) {
    name = `ipdr_${createHash('sha256').update(sql).digest('hex').slice(0, 40)}`;
    preparedNames.set(sql, name);
  }
  return name;
}

function openPostgres(
  databaseUrl: string,
  poolSize: number,
  clientTimeouts?: DatabaseOptions['clientTimeouts'],
): Database {
  const pool = new pg.Pool({
    ...postgresSettings(databaseUrl),
    max: poolSize,
    ...(clientTimeouts
      ? { connectionTimeoutMillis: clientTimeouts.connectMs, query_timeout: clientTimeouts.queryMs }
      : {}),
  });
  // An idle pooled connection can be dropped by the server (restart, failover, admin kill); pg
  // reports that here, and without a listener it would crash the process. The pool replaces it.
  pool.on('error', (error) => console.error(`database connection lost: ${error.message}`));
  const commits = new EventEmitter<{ sealed: [] }>();
  return {
    kind: 'postgresql',
    commits,
    adapter: guardAdapter(new PrismaPg(pool)),
    async openMigrationSession() {
      const client = await pool.connect();
      return {
        query: async <Row>(sql: string, params?: unknown[]) => (await client.query(sql, params)).rows as Row[],
        exec: async (script) => {
          await client.query(script);
        },
        // Not back to the pool: its session was opened before limitStatements, without its limits.
        release: async () => client.release(true),
      };
    },
    read: (sql, params, options) => pgRows(pool, sql, params, options),
    async transaction(work, options = {}) {
      const client = await pool.connect();
      let reusable = true;
      try {
        await client.query(['BEGIN', ...beginStatements(options)].join('; '));
        const result = await work({
          query: (sql, params = [], statement) => pgRows(client, sql, params, statement),
          exec: async (script) => {
            checkDeadline();
            await watched(client.query(script));
          },
        });
        checkDeadline();
        await committing(() => client.query(options.sealChains ? `${SEAL_CHAINS_SQL}; COMMIT` : 'COMMIT'));
        if (options.sealChains) commits.emit('sealed');
        return result;
      } catch (error) {
        // A connection that cannot even roll back is dropped from the pool, not reused.
        await client.query('ROLLBACK').catch(() => (reusable = false));
        throw error;
      } finally {
        client.release(!reusable);
      }
    },
    limitStatements(ms) {
      pool.options.options = [
        pool.options.options,
        `-c statement_timeout=${ms} -c idle_in_transaction_session_timeout=${ms}`,
      ].join(' ');
    },
    async checkConnection(timeoutMs) {
      const client = new pg.Client({ ...postgresSettings(databaseUrl), connectionTimeoutMillis: timeoutMs });
      try {
        await client.connect();
      } finally {
        await client.end().catch(() => {});
      }
    },
    poolStats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    close: () => pool.end(),
  };
}

/** A statement on PGlite or in one of its transactions, int8 columns as bigint. */
async function pgliteRows<Row>(on: PGlite | Transaction, sql: string, params: readonly unknown[]): Promise<Row[]> {
  checkDeadline();
  const parsers = { [types.INT8]: (value: string) => BigInt(value) };
  return (await watched(on.query<Row>(sql, [...params], { parsers }))).rows;
}

/**
 * PGlite that lets the event loop turn before each message it runs. Its statements run in this
 * thread and resolve as promises only, so a chain of them (a mutation of a hundred writes, other
 * requests' statements queued behind it) held the loop for seconds: no socket was read and no
 * timer fired meanwhile, and Node's request deadlines, checked by a timer before the waiting
 * sockets were read, answered 408 to callers that had sent their whole request at once.
 */
class PGliteSharingTheEventLoop extends PGlite {
  override async execProtocolRaw(
    ...args: Parameters<PGlite['execProtocolRaw']>
  ): ReturnType<PGlite['execProtocolRaw']> {
    await nextTurnOfEventLoop();
    return super.execProtocolRaw(...args);
  }
}

function openPglite(dataDir: string, loadDataDir?: Blob): Database {
  const inMemory = dataDir.startsWith('memory://');
  if (!inMemory) mkdirSync(dataDir, { recursive: true });
  const unlock = inMemory ? () => {} : lockDataDir(dataDir);
  const pglite = new PGliteSharingTheEventLoop(dataDir, {
    extensions: { btree_gist },
    ...(loadDataDir ? { loadDataDir } : {}),
  });
  const commits = new EventEmitter<{ sealed: [] }>();
  return {
    kind: 'pglite',
    commits,
    adapter: guardAdapter(new PrismaPGlite(pglite)),
    dumpDataDir: () => pglite.dumpDataDir('none'),
    // PGlite is one connection in this process: every session is that connection.
    async openMigrationSession() {
      return {
        query: async <Row>(sql: string, params?: unknown[]) => (await pglite.query(sql, params)).rows as Row[],
        exec: async (script) => {
          await pglite.exec(script);
        },
        release: async () => {},
      };
    },
    // Waits, like any query, for a transaction in progress (Prisma's run in pglite.transaction).
    read: (sql, params) => pgliteRows(pglite, sql, params),
    // PGlite's own transaction: it holds the connection, so no other statement runs inside it.
    // It commits once `work` has returned, and has committed when it resolves.
    async transaction(work, options = {}) {
      let settle: ((committed: boolean) => void) | undefined;
      const deadline = deadlines.getStore();
      try {
        const result = await pglite.transaction(async (tx) => {
          // Its statements are not prepared (see StatementOptions): each is planned for its values.
          const first = beginStatements({ ...options, genericPlans: false });
          if (first.length > 0) await tx.exec(first.join('; '));
          const result = await work({
            query: (sql, params = []) => pgliteRows(tx, sql, params),
            exec: async (script) => {
              checkDeadline();
              await watched(tx.exec(script));
            },
          });
          checkDeadline();
          if (options.sealChains) await tx.query(SEAL_CHAINS_SQL);
          settle = deadline && outcomeOf(deadline).beginCommit();
          return result;
        });
        settle?.(true);
        if (options.sealChains) commits.emit('sealed');
        return result;
      } catch (error) {
        settle?.(false);
        throw error;
      }
    },
    limitStatements: () => {},
    checkConnection: async () => {},
    poolStats: () => null,
    close: async () => {
      await pglite.close();
      unlock();
    },
  };
}

export class DatabaseUnreachableError extends Error {
  override name = 'DatabaseUnreachableError';
}

/**
 * SQLSTATEs of a server that answered but cannot take a session yet (starting up, recovering,
 * out of connections): worth waiting for. Any other SQLSTATE (a wrong password, a database that
 * does not exist) will not change by waiting.
 */
const TRANSIENT_SQLSTATES = new Set(['57P03', '53300', '53000']);
const isFinal = (error: unknown) => {
  const code = (error as { code?: unknown }).code;
  // A SQLSTATE's class is two digits or a digit and a letter, or one of the letter classes
  // (HV, P0, XX...); Node's socket errors (EPIPE, EHOSTDOWN...) are five letters starting with E.
  return (
    typeof code === 'string' &&
    /^[0-9A-Z]{5}$/.test(code) &&
    !/^E[A-Z]{4}$/.test(code) &&
    !TRANSIENT_SQLSTATES.has(code)
  );
};

export interface WaitOptions {
  /** How long to keep trying in all; 0 tries once. */
  timeoutMs: number;
  /** Where the database is, for the messages: never the URL, which may hold a password. */
  where: string;
  /** Told of each failed attempt that will be retried. */
  onRetry: (attempt: { attempt: number; retryInMs: number; error: string }) => void;
}

/**
 * Waits until the database accepts a connection: at start-up PostgreSQL may not be up yet (a
 * container started beside it, a failover). Retries with a doubling delay, up to 5 s, for at
 * most `timeoutMs`; then, or at once for an answer that waiting cannot change, throws a
 * DatabaseUnreachableError whose message is one line saying where and why.
 */
export async function waitForDatabase(database: Database, options: WaitOptions): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  for (let attempt = 1; ; attempt++) {
    const left = deadline - Date.now();
    try {
      await database.checkConnection(Math.max(1000, Math.min(left, 5000)));
      return;
    } catch (error) {
      const reason = failureSummary(error);
      if (isFinal(error)) {
        throw new DatabaseUnreachableError(`cannot connect to the database at ${options.where}: ${reason}`);
      }
      const retryInMs = Math.min(250 * 2 ** (attempt - 1), 5000, deadline - Date.now());
      if (retryInMs <= 0) {
        throw new DatabaseUnreachableError(
          `cannot reach the database at ${options.where} after ${attempt} attempt${attempt === 1 ? '' : 's'} in ${options.timeoutMs} ms (${reason}); set DATABASE_CONNECT_TIMEOUT_MS to wait longer`,
        );
      }
      options.onRetry({ attempt, retryInMs, error: reason });
      await new Promise((resolve) => setTimeout(resolve, retryInMs));
    }
  }
}

/** host:port/database of a connection string, without its user and password. */
export function describeDatabaseUrl(databaseUrl: string): string {
  const url = new URL(databaseUrl);
  return `${url.hostname}:${url.port || '5432'}${url.pathname}`;
}
