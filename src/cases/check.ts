import { type AnswerImage, answerDigest, requestDigest } from '../lookups/digest.js';

// How a logged lookup compares with its answers derived again, as the records stood when it was
// made (ipdr-admin case export): the rules apart from the database, so that they are tested alone.

/** What the log holds of one lookup entry. */
export interface LoggedEntry {
  operation: string;
  /** detail.asked: what was asked, in order. */
  asked: readonly unknown[];
  /** detail.asOf: the system second the lookups were answered as known at; null: the current records. */
  asOf: number | null;
  requestDigest: string | null;
  answerDigest: string | null;
  /** A single whoHad's logged answer (undefined: none logged). */
  answer?: unknown;
}

/**
 * The verdict on an entry:
 * - match: what was asked and the answers derived again give the digests logged;
 * - request-differs: what the log says was asked does not give the request digest logged with it;
 * - answers-differ: the answers derived again are not those the digest (or single answer) says were given;
 * - no-digest: logged before the log kept digests: derived again, nothing to check it against;
 * - not-rederived: ipHistory (a timeline's pages are not logged), or made before the database
 *   kept versions (the records as they stood then are not known).
 */
export type EntryCheck = 'match' | 'request-differs' | 'answers-differ' | 'no-digest' | 'not-rederived';

/** Whether an entry's answers can be derived again: not for ipHistory, nor before versions were kept. */
export const isRederivable = (entry: Pick<LoggedEntry, 'operation'>, madeBeforeVersioning: boolean) =>
  entry.operation !== 'ipHistory' && !madeBeforeVersioning;

/** The verdict on `entry`, given its answers derived again (null: not derived, see isRederivable). */
export function checkEntry(entry: LoggedEntry, rederived: readonly AnswerImage[] | null): EntryCheck {
  if (rederived === null) return 'not-rederived';
  if (entry.requestDigest === null || entry.answerDigest === null) return 'no-digest';
  if (requestDigest(entry.asked, entry.asOf) !== entry.requestDigest) return 'request-differs';
  const derived = answerDigest(rederived);
  if (derived !== entry.answerDigest) return 'answers-differ';
  // A single whoHad's answer is kept beside its digest: both must say the same.
  if (entry.answer !== undefined && answerDigest([entry.answer as AnswerImage]) !== derived) return 'answers-differ';
  return 'match';
}

/** Entries whose verdict is a mismatch: reported, and the export's exit status says so. */
export const isMismatch = (check: EntryCheck) => check === 'request-differs' || check === 'answers-differ';
