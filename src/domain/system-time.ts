// System time: when the database recorded something (a version's sys_from and sys_to, a lookup
// log entry's time), as opposed to the times the records speak of (a mapping's starttime and
// endtime). PostgreSQL keeps it to the microsecond; JavaScript's Date keeps milliseconds, so an
// instant travels as microseconds since the epoch.

/** An instant of system time, to the microsecond. */
export interface SystemInstant {
  /** Microseconds since 1970-01-01T00:00:00Z. */
  readonly micros: bigint;
  /** The instant as a timestamptz literal (ISO 8601, UTC, six fractional digits). */
  readonly sql: string;
}

const MICROS_PER_SECOND = 1_000_000n;

/** The instant `micros` microseconds after the epoch (not before it: system time never is). */
export function systemInstant(micros: bigint): SystemInstant {
  if (micros < 0n) throw new RangeError(`a system instant is not before 1970 (got ${micros} µs)`);
  const seconds = micros / MICROS_PER_SECOND;
  const fraction = (micros % MICROS_PER_SECOND).toString().padStart(6, '0');
  const wholeSeconds = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  return { micros, sql: `${wholeSeconds}.${fraction}Z` };
}

/**
 * What "as known at" unix second `second` means: the records as they stood at the end of that
 * second, every change made during it included (its last microsecond).
 */
export const endOfSecond = (second: number) =>
  systemInstant(BigInt(second) * MICROS_PER_SECOND + MICROS_PER_SECOND - 1n);

/** The unix second an instant falls in. */
export const secondOf = (instant: SystemInstant) => Number(instant.micros / MICROS_PER_SECOND);

/** Reads PostgreSQL's microseconds since the epoch, as a statement selects them (see MICROS_SQL). */
export const systemInstantOfColumn = (value: string | number | bigint) => systemInstant(BigInt(value));

/** SQL reading a timestamptz expression as microseconds since the epoch (exact, as text). */
export const microsSql = (expression: string) => `((extract(epoch FROM ${expression}) * 1000000)::bigint)::text`;

/**
 * Why the records cannot be given as known at unix second `asOf`, or null when they can: not
 * after `now` (what will be recorded is not known), nor before `versionedSince`, when the database
 * began keeping versions (what the records said before it is not known either).
 */
export function asOfProblem(asOf: number, now: number, versionedSince: SystemInstant): string | null {
  if (asOf > now) return `is after now (${now}): the records are known up to now`;
  if (endOfSecond(asOf).micros < versionedSince.micros) {
    return `is before ${secondOf(versionedSince)}, when this database began keeping the records' earlier versions`;
  }
  return null;
}
