import type { Actor } from '../access/types.js';
import { SEAL_CHAINS_SQL } from '../db/connection.js';
import type { Db } from '../db/handle.js';
import { START_WAIT_MS } from '../db/transaction.js';
import { Prisma } from '../generated/prisma/client.js';
import type { Tenant } from '../access/types.js';
import { type AnswerImage, answerDigest, requestDigest } from './digest.js';

export interface LookupRecord {
  /** `attribute`: a batch of rows of POST /attribute or ipdr-admin attribute. */
  operation: 'whoHad' | 'whoHadMany' | 'ipHistory' | 'attribute';
  reason: string;
  /** Every (ip, time[, port]) lookup or range asked about, in order: all of them are kept. */
  asked: Prisma.InputJsonValue[];
  /** The system time (unix seconds) the lookups were answered as known at; absent: the current records. */
  asOf?: number;
  /** The answers given, one per lookup in order (see digest.ts); absent for ipHistory, whose answer is pages. */
  answers?: readonly AnswerImage[];
}

/** Writes lookups made with a reason, many at once (see loaders.ts), once they are answered. */
export async function recordLookups(db: Db, tenant: Tenant, actor: Actor, records: readonly LookupRecord[]) {
  const written = db.prisma.lookupLogEntry.createMany({
    data: records.map((record) => ({
      contextId: tenant.id,
      username: actor.name,
      channel: actor.channel,
      operation: record.operation,
      reason: record.reason,
      lookups: record.asked.length,
      detail: { asked: record.asked, ...(record.asOf === undefined ? {} : { asOf: record.asOf }) },
      requestDigest: requestDigest(record.asked, record.asOf ?? null),
      ...(record.answers === undefined ? {} : { answerDigest: answerDigest(record.answers) }),
      ...(record.operation === 'whoHad' && record.answers?.length === 1
        ? { answer: (record.answers[0] as Prisma.InputJsonValue | null) ?? Prisma.JsonNull }
        : {}),
    })),
  });
  // Linked onto the context's chain in the same transaction (see SEAL_CHAINS_SQL).
  // As long a wait for the connection as a write's (db/transaction.ts): on PGlite's one connection a
  // batch of /attribute writes its log while the next batch's lookups run.
  await db.prisma.$transaction([written, db.prisma.$queryRawUnsafe(SEAL_CHAINS_SQL)], { maxWait: START_WAIT_MS });
}
