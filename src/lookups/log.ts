import type { Actor } from '../access/types.js';
import type { Db } from '../db/handle.js';
import type { Prisma } from '../generated/prisma/client.js';
import type { Tenant } from '../access/types.js';

export interface LookupRecord {
  /** `attribute`: a batch of rows of POST /attribute or ipdr-admin attribute. */
  operation: 'whoHad' | 'whoHadMany' | 'ipHistory' | 'attribute';
  reason: string;
  /** Every (ip, time) pair or range asked about; only the first 100 are kept. */
  asked: Prisma.InputJsonValue[];
}

const KEPT_LOOKUPS = 100;

/** Writes lookups made with a reason, many at once (see loaders.ts). */
export async function recordLookups(db: Db, tenant: Tenant, actor: Actor, records: readonly LookupRecord[]) {
  await db.prisma.lookupLogEntry.createMany({
    data: records.map((record) => ({
      contextId: tenant.id,
      username: actor.name,
      channel: actor.channel,
      operation: record.operation,
      reason: record.reason,
      lookups: record.asked.length,
      detail: { asked: record.asked.slice(0, KEPT_LOOKUPS), complete: record.asked.length <= KEPT_LOOKUPS },
    })),
  });
}
