// How long a context keeps its records, as an operator writes it (`2y`, `18m`, `90d`, `26w`) and as
// PostgreSQL's calendar interval takes it. Retention rules are written in years and months ("two
// years"): the horizon moves with the calendar, not by a fixed number of seconds.

const UNITS = { y: 'years', m: 'mons', w: 'days', d: 'days' } as const;
const PER_UNIT = { y: 1, m: 1, w: 7, d: 1 } as const;
// At most a century, at least a day: past that a policy is a typo.
const MAX_DAYS = 36_525;

/** A retention period: as given (`2y`) and as an interval literal (`2 years`). */
export interface RetentionPeriod {
  readonly text: string;
  readonly interval: string;
}

/** The period `text` names, or why it names none. */
export function parseRetentionPeriod(text: string): RetentionPeriod | { problem: string } {
  const match = /^([1-9]\d{0,4})([ymwd])$/.exec(text.trim());
  if (!match) {
    return { problem: 'must be a whole number of years, months, weeks or days, e.g. 2y, 18m, 26w or 90d' };
  }
  const unit = match[2] as keyof typeof UNITS;
  const amount = Number(match[1]) * PER_UNIT[unit];
  const days = unit === 'y' ? amount * 365.25 : unit === 'm' ? amount * 30.44 : amount;
  if (days > MAX_DAYS) return { problem: 'must be at most 100 years' };
  return { text: `${match[1]}${unit}`, interval: `${amount} ${UNITS[unit]}` };
}

/**
 * Whether a record that ended at `endtime` (inclusive, unix seconds; null: ongoing) is past the
 * horizon: ended before it. An ongoing record never is.
 */
export const endedBefore = (endtime: number | bigint | null, horizon: number | bigint) =>
  endtime !== null && BigInt(endtime) < BigInt(horizon);
