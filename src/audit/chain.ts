// The audit trail's and the lookup log's hash chains (migration log_hash_chains): each context's
// entries in the order they were committed, each holding the hash of the one before it and its
// own. Walking a chain finds an entry changed, removed or slipped in since it was written.
import type { Db } from '../db/handle.js';
import { auditEvents, contexts, logChainHeads, lookupLog } from '../db/columns.js';

export type ChainedLog = 'audit' | 'lookup';

/** The first thing found wrong in one chain. */
export interface ChainBreak {
  /** The entry's id (audit event or lookup log entry); null when what is wrong is the chain's end. */
  entryId: string | null;
  /** Its place in the chain, or the place that was expected. */
  seq: string;
  reason: string;
}

export interface ChainReport {
  log: ChainedLog;
  contextId: number;
  contextName: string;
  entries: number;
  /** The last entry's hash (hex): kept somewhere else, it shows later that nothing before it was rewritten. */
  headHash: string | null;
  broken: ChainBreak | null;
}

const GENESIS = '0'.repeat(64);
const PAGE = 10_000;

const LOGS = {
  audit: { table: auditEvents.table, content: 'ipdr_audit_event_content', names: auditEvents.columns },
  lookup: { table: lookupLog.table, content: 'ipdr_lookup_log_content', names: lookupLog.columns },
} as const;

interface EntryRow {
  id: string;
  seq: string;
  prevHash: string | null;
  hash: string | null;
  contentHash: string | null;
}

// One page of a chain, by place: each entry with the hash its content gives now, from the same
// function the chaining trigger used.
const pageSql = (log: ChainedLog) => {
  const { table, content, names: c } = LOGS[log];
  return `
SELECT e.${c.id}::text AS id, e.${c.chainSeq}::text AS seq, encode(e.${c.prevHash}, 'hex') AS "prevHash",
       encode(e.${c.hash}, 'hex') AS hash,
       encode(sha256(e.${c.prevHash} || convert_to(${content}(e), 'UTF8')), 'hex') AS "contentHash"
FROM ${table} e
WHERE e.${c.contextId} = $1 AND e.${c.chainSeq} > $2
ORDER BY e.${c.chainSeq}
LIMIT ${PAGE}`;
};

const unchainedSql = (log: ChainedLog) => {
  const { table, names: c } = LOGS[log];
  return `SELECT ${c.id}::text AS id FROM ${table} WHERE ${c.contextId} = $1 AND ${c.chainSeq} IS NULL ORDER BY ${c.id} LIMIT 1`;
};

const h = logChainHeads.columns;
const HEAD_SQL = `SELECT ${h.seq}::text AS seq, encode(${h.hash}, 'hex') AS hash FROM ${logChainHeads.table} WHERE ${h.log} = $1 AND ${h.contextId} = $2`;

/** Walks one context's chain of `log` from its first entry: the first break found, if any. */
export async function verifyChain(
  db: Db,
  log: ChainedLog,
  context: { id: number; name: string },
): Promise<ChainReport> {
  const report = (entries: number, headHash: string | null, broken: ChainBreak | null): ChainReport => ({
    log,
    contextId: context.id,
    contextName: context.name,
    entries,
    headHash,
    broken,
  });
  // Any committed entry has its place: one without was written past the chaining trigger, or had it erased.
  const [unchained] = await db.readRows<{ id: string }>(unchainedSql(log), [context.id]);
  let entries = 0;
  let previousHash = GENESIS;
  let expectedSeq = 1n;
  const sql = pageSql(log);
  for (;;) {
    const rows = await db.readRows<EntryRow>(sql, [context.id, String(expectedSeq - 1n)]);
    for (const row of rows) {
      const seq = BigInt(row.seq);
      if (seq !== expectedSeq) {
        return report(entries, previousHash, {
          entryId: row.id,
          seq: String(expectedSeq),
          reason: `place ${expectedSeq} is missing before entry ${row.id} (place ${seq}): an entry was removed`,
        });
      }
      if (row.prevHash !== previousHash) {
        return report(entries, previousHash, {
          entryId: row.id,
          seq: row.seq,
          reason: `its previous hash is not the hash of the entry before it: an entry was inserted, removed or rewritten before it`,
        });
      }
      if (row.hash === null || row.hash !== row.contentHash) {
        return report(entries, previousHash, {
          entryId: row.id,
          seq: row.seq,
          reason: 'its content does not give its hash: it was changed after it was written',
        });
      }
      entries++;
      previousHash = row.hash;
      expectedSeq++;
    }
    if (rows.length < PAGE) break;
  }
  const headHash = entries === 0 ? null : previousHash;
  const [head] = await db.readRows<{ seq: string; hash: string }>(HEAD_SQL, [log, context.id]);
  const lastSeq = String(expectedSeq - 1n);
  if ((head?.seq ?? '0') !== lastSeq || (head !== undefined && head.hash !== previousHash)) {
    return report(entries, headHash, {
      entryId: null,
      seq: head?.seq ?? '0',
      reason: head
        ? `the chain's head says ${head.seq} entries ending in hash ${head.hash.slice(0, 16)}…, the entries end at place ${lastSeq}: entries were removed from its end, or the head was changed`
        : `the chain has ${lastSeq} entries and no head: the head was removed`,
    });
  }
  if (unchained) {
    return report(entries, headHash, {
      entryId: unchained.id,
      seq: '-',
      reason: 'it has no place in the chain: it was written past the chaining trigger, or its place was erased',
    });
  }
  return report(entries, headHash, null);
}

const c = contexts.columns;

/** Every chain of `contextName` (all contexts without it), audit trail first. */
export async function verifyChains(db: Db, contextName?: string): Promise<ChainReport[]> {
  const rows = await db.readRows<{ id: number; name: string }>(
    `SELECT ${c.id} AS id, ${c.name} AS name FROM ${contexts.table}${contextName === undefined ? '' : ` WHERE ${c.name} = $1`} ORDER BY ${c.id}`,
    contextName === undefined ? [] : [contextName],
  );
  const reports: ChainReport[] = [];
  for (const context of rows) {
    for (const log of ['audit', 'lookup'] as const) reports.push(await verifyChain(db, log, context));
  }
  return reports;
}
