import { createHash } from 'node:crypto';
import { type LookupAnswer, PortRequired } from './store.js';

// What the lookup log keeps of a lookup's question and answer, in a canonical form: the same
// question or answer always gives the same text, so a digest of it taken when the lookup was made
// can be compared with one taken of the answer re-derived years later (ipdr-admin case export).

/** A point lookup as logged: the address as canonical text, the instant, the port if asked. */
export interface LoggedLookup {
  ip: string;
  at: number;
  port?: number;
}

/** A lookup's answer as logged: who held the address (the mapping, its UserID, the NAT hop), or why none is given. */
export type AnswerImage =
  null | { portRequired: number } | { mappingId: number; userId: string; nat: { kind: string; id: number } | null };

/** The parts of an answer that say who held the address: what the digests cover. */
export function answerImage(answer: LookupAnswer): AnswerImage {
  if (answer === null) return null;
  if (answer instanceof PortRequired) return { portRequired: answer.blocks };
  if (answer.id === undefined || answer.userId === undefined) {
    throw new Error('a logged lookup reads the mapping id and UserID (loggedLookupFields)');
  }
  return {
    mappingId: answer.id,
    userId: answer.userId,
    nat: answer.nat ? { kind: answer.nat.kind, id: answer.nat.id } : null,
  };
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * SHA-256 of the request: the lookups, [ip, at, port or null] each (or ipHistory's own fields), in
 * order, and the asOf they were asked with (null: none).
 */
export const requestDigest = (asked: readonly unknown[], asOf: number | null) =>
  sha256(JSON.stringify({ asOf, asked: asked.map(canonicalAsked) }));

/** SHA-256 of the answers, in order: each AnswerImage with its keys in a fixed order. */
export const answerDigest = (answers: readonly AnswerImage[]) =>
  sha256(
    JSON.stringify(
      answers.map((image) =>
        image === null
          ? null
          : 'portRequired' in image
            ? ['portRequired', image.portRequired]
            : [image.mappingId, image.userId, image.nat ? [image.nat.kind, image.nat.id] : null],
      ),
    ),
  );

// A lookup's fields in a fixed order, whatever order its object was built in.
function canonicalAsked(asked: unknown): unknown {
  if (asked === null || typeof asked !== 'object' || Array.isArray(asked)) return asked;
  const fields = asked as Record<string, unknown>;
  if ('from' in fields || 'to' in fields)
    return [fields.ip, fields.port ?? null, fields.from ?? null, fields.to ?? null];
  return [fields.ip, fields.at, fields.port ?? null];
}
