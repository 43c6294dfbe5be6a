import { createHash } from 'node:crypto';

// The lookup log's digests computed from their documented form (README, "A complete lookup log"),
// apart from src/lookups/digest.ts: a test comparing the two checks the form, not the code with itself.

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** SHA-256 of {"asOf":…,"asked":[[ip, at, port or null], …]}. */
export const expectedRequestDigest = (asked: { ip: string; at: number; port?: number }[], asOf: number | null = null) =>
  sha256(JSON.stringify({ asOf, asked: asked.map((lookup) => [lookup.ip, lookup.at, lookup.port ?? null]) }));

/** An answer as the log's digest reads it: who held the address, or none. */
export type DigestedAnswer = null | { mappingId: number; userId: string; nat?: { kind: string; id: number } };

/** SHA-256 of [[mappingId, userId, [natKind, natId] or null] or null, …]. */
export const expectedAnswerDigest = (answers: DigestedAnswer[]) =>
  sha256(
    JSON.stringify(
      answers.map((answer) =>
        answer === null
          ? null
          : [answer.mappingId, answer.userId, answer.nat ? [answer.nat.kind, answer.nat.id] : null],
      ),
    ),
  );
