// Prisma surfaces PostgreSQL errors differently per driver adapter: adapter-pg has no P-code
// for an exclusion violation, the PGlite adapter files it under P2039; both keep the SQLSTATE in
// meta.driverAdapterError.cause. A statement sent by the driver itself (Database.transaction)
// fails with the driver's own error, whose code is the SQLSTATE. This is the one place that
// reads either.

interface DriverAdapterFailure {
  code?: string;
  meta?: { driverAdapterError?: { cause?: { code?: string; originalCode?: string } } };
}

function sqlState(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const cause = (error as DriverAdapterFailure).meta?.driverAdapterError?.cause;
  if (cause) return cause.originalCode ?? cause.code;
  // pg's and PGlite's DatabaseError: PostgreSQL's error report, with its severity and SQLSTATE.
  const report = error as { severity?: string; code?: string };
  return report.severity === undefined ? undefined : report.code;
}

export function isExclusionViolation(error: unknown): boolean {
  return sqlState(error) === '23P01';
}

export function isUniqueViolation(error: unknown): boolean {
  return (error as DriverAdapterFailure | null)?.code === 'P2002' || sqlState(error) === '23505';
}

export function isCheckViolation(error: unknown): boolean {
  return sqlState(error) === '23514';
}

/**
 * A deadlock (40P01) or serialization failure (40001): PostgreSQL rolled the transaction back
 * and says to retry it. adapter-pg and PGlite's adapter file both under P2034 without the SQLSTATE.
 */
export function isWriteConflict(error: unknown): boolean {
  const state = sqlState(error);
  return (error as DriverAdapterFailure | null)?.code === 'P2034' || state === '40P01' || state === '40001';
}

/** An interactive transaction found no connection within its `maxWait`, or outran its `timeout` (and was rolled back). */
export function isTransactionTimeout(error: unknown): boolean {
  const failure = error as (DriverAdapterFailure & { message?: string }) | null;
  // P2028 covers both: no connection within maxWait, and a transaction that outran its timeout.
  return failure?.code === 'P2028' && /Unable to start a transaction|expired transaction/.test(failure.message ?? '');
}

/** Node's socket errors: the connection could not be made, or was lost. */
const SOCKET_ERRORS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
]);

/**
 * The database could not be reached, or dropped the session (shut down, restarted, out of
 * connections): nothing about the statement itself, which another server may run. pg reports a
 * lost socket in a message of its own, and Prisma's adapter passes the driver's error on as its cause.
 */
export function isConnectionFailure(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const state = sqlState(error);
  if (state !== undefined && (state.startsWith('08') || /^57P0[1-3]$/.test(state) || state === '53300')) return true;
  const failure = error as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
  if (
    typeof failure.code === 'string' &&
    (SOCKET_ERRORS.has(failure.code) || failure.code === 'P1001' || failure.code === 'P1017')
  )
    return true;
  if (
    typeof failure.message === 'string' &&
    /Connection terminated|connection (is )?closed|Client has encountered a connection error|timeout exceeded when trying to connect|Query read timeout/i.test(
      failure.message,
    )
  )
    return true;
  // Node reports a refused connection to a name with several addresses as an AggregateError.
  if (Array.isArray(failure.errors) && failure.errors.some(isConnectionFailure)) return true;
  return failure.cause !== undefined && failure.cause !== error && isConnectionFailure(failure.cause);
}

/**
 * What a failure to reach or use the database was, in one line: its message's first line, or its
 * code. Node reports a refused connection to a name with several addresses as an AggregateError
 * with no message of its own, only a code.
 */
export function failureSummary(error: unknown): string {
  const { message, code } = (typeof error === 'object' && error !== null ? error : {}) as {
    message?: unknown;
    code?: unknown;
  };
  const firstLine = typeof message === 'string' ? message.split('\n')[0] : undefined;
  return firstLine || (typeof code === 'string' ? code : '') || String(error);
}
