import { beforeEach, describe, expect, it } from 'vitest';
import { adminInProcess } from '../admin-command.js';
import { createCustomer, createMapping, graphql, graphqlData, resetData } from '../helpers.js';
import { database, db, prisma } from '../setup/app.js';
import { verifyChains } from '../../src/audit/chain.js';

// The audit trail and the lookup log as hash chains (migration log_hash_chains): entries chained
// when their transaction commits, and `ipdr-admin verify` finding any entry changed, removed or
// inserted with plain SQL since.

const sql = (text: string, params: unknown[] = []) => db.readRows<Record<string, unknown>>(text, params);

const auditChain = async () =>
  (await sql(
    `SELECT id, chain_seq::int AS seq, encode(prev_hash, 'hex') AS prev, encode(hash, 'hex') AS hash
     FROM audit_events WHERE context_id = 1 ORDER BY chain_seq`,
  )) as { id: number; seq: number; prev: string; hash: string }[];

async function someHistory() {
  await createCustomer('C1');
  await createCustomer('C2');
  for (const [n, userId] of ['C1', 'C2', 'C1'].entries()) {
    const mapping = await createMapping({ userId, ipsubnet: `10.9.0.${n}`, starttime: 1_700_000_000 });
    expect(mapping.__typename).toBe('IpMapping');
  }
}

const verify = () => adminInProcess('verify', '--context', 'default');

describe('hash-chained audit trail and lookup log', () => {
  beforeEach(async () => {
    await resetData();
    await someHistory();
  });

  it('chains every committed entry in order, and verify says so', async () => {
    const chain = await auditChain();
    expect(chain.map((entry) => entry.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(chain[0]!.prev).toBe('0'.repeat(64));
    for (let i = 1; i < chain.length; i++) expect(chain[i]!.prev).toBe(chain[i - 1]!.hash);
    const { code, stdout } = await verify();
    expect(code).toBe(0);
    expect(stdout).toContain(`audit trail of context default: 5 entries, intact, head ${chain[4]!.hash}`);
    expect(stdout).toMatch(/lookup log of context default: \d+ entr(y|ies), intact/);
  });

  it('never chains an entry whose transaction rolled back', async () => {
    // Overlaps 10.9.0.0's mapping: refused, its transaction (and any audit row) rolled back.
    const refused = await createMapping({ userId: 'C2', ipsubnet: '10.9.0.0/30', starttime: 1_700_000_000 });
    expect(refused.__typename).toBe('ConflictError');
    await createCustomer('C3');
    expect((await auditChain()).map((entry) => entry.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect((await verify()).code).toBe(0);
  });

  it('keeps one unbroken chain under concurrent writers', async () => {
    const writes = Array.from({ length: 12 }, (_, n) => createCustomer(`P${n}`));
    await Promise.all(writes);
    const chain = await auditChain();
    expect(chain.map((entry) => entry.seq)).toEqual(Array.from({ length: 17 }, (_, n) => n + 1));
    expect((await verify()).code).toBe(0);
  });

  it('finds an entry changed with plain SQL, and is intact again once it is put back', async () => {
    const [, second] = await auditChain();
    const rows = await sql('SELECT actor FROM audit_events WHERE id = $1', [second!.id]);
    const actor = rows[0]!.actor as string;
    await sql(`UPDATE audit_events SET actor = 'mallory' WHERE id = $1`, [second!.id]);
    const changed = await verify();
    expect(changed.code).toBe(1);
    expect(changed.stdout).toContain(
      `audit trail of context default: BROKEN at entry ${second!.id}: its content does not give its hash: it was changed after it was written`,
    );
    expect(changed.stderr).toContain('1 of 2 chains broken');
    await sql('UPDATE audit_events SET actor = $1 WHERE id = $2', [actor, second!.id]);
    expect((await verify()).code).toBe(0);
  });

  it('finds an entry removed from the middle, and one removed from the end', async () => {
    const chain = await auditChain();
    await sql('DELETE FROM audit_events WHERE id = $1', [chain[2]!.id]);
    const middle = await verify();
    expect(middle.code).toBe(1);
    expect(middle.stdout).toContain(
      `BROKEN at entry ${chain[3]!.id}: place 3 is missing before entry ${chain[3]!.id} (place 4): an entry was removed`,
    );
    await resetData();
    await someHistory();
    const last = (await auditChain()).at(-1)!;
    await sql('DELETE FROM audit_events WHERE id = $1', [last.id]);
    const end = await verify();
    expect(end.code).toBe(1);
    expect(end.stdout).toContain('audit trail of context default: BROKEN at its end (place 5)');
    expect(end.stdout).toContain('the entries end at place 4: entries were removed from its end');
  });

  it('finds an entry inserted with plain SQL, chained by hand or past the trigger', async () => {
    const chain = await auditChain();
    // A forged entry given place 3 with a hash that matches its own content: the entries after it
    // moved up one place, the one after it still names the hash of the old place 2.
    await sql('UPDATE audit_events SET chain_seq = chain_seq + 100 WHERE context_id = 1 AND chain_seq >= 3');
    await sql('UPDATE audit_events SET chain_seq = chain_seq - 99 WHERE context_id = 1 AND chain_seq >= 103');
    await database.transaction(async (session) => {
      await session.exec(`SET LOCAL session_replication_role = replica;
        INSERT INTO audit_events (context_id, actor, channel, action, entity_type, entity_id, chain_seq, prev_hash)
        VALUES (1, 'mallory', 'graphql', 'delete', 'customer', 1, 3, decode('${chain[1]!.hash}', 'hex'))`);
    });
    await sql(
      `UPDATE audit_events e SET hash = sha256(e.prev_hash || convert_to(ipdr_audit_event_content(e), 'UTF8'))
       WHERE actor = 'mallory'`,
    );
    await sql(`UPDATE log_chain_heads SET seq = seq + 1 WHERE log = 'audit' AND context_id = 1`);
    const forged = await verify();
    expect(forged.code).toBe(1);
    expect(forged.stdout).toContain(
      `BROKEN at entry ${chain[2]!.id}: its previous hash is not the hash of the entry before it`,
    );

    await resetData();
    await someHistory();
    await database.transaction(async (session) => {
      await session.exec(`SET LOCAL session_replication_role = replica;
        INSERT INTO audit_events (context_id, actor, channel, action, entity_type, entity_id)
        VALUES (1, 'mallory', 'graphql', 'delete', 'customer', 1)`);
    });
    const [{ id }] = (await sql(`SELECT id FROM audit_events WHERE actor = 'mallory'`)) as [{ id: number }];
    const unchained = await verify();
    expect(unchained.code).toBe(1);
    expect(unchained.stdout).toContain(`BROKEN at entry ${id}: it has no place in the chain`);
  });

  it('chains the lookup log too: every lookup made with a reason', async () => {
    const asked = await graphqlData(`{ whoHad(ip: "10.9.0.1", at: 1700000001, reason: "case-7") { id } }`);
    expect(asked.whoHad).not.toBeNull();
    const before = await verifyChains(db, 'default');
    const lookups = before.find((report) => report.log === 'lookup')!;
    expect(lookups.broken).toBeNull();
    expect(lookups.entries).toBeGreaterThan(0);
    await sql(`UPDATE lookup_log SET reason = 'case-8' WHERE reason = 'case-7'`);
    const after = await verify();
    expect(after.code).toBe(1);
    expect(after.stdout).toMatch(
      /lookup log of context default: BROKEN at entry \d+: its content does not give its hash/,
    );
    await sql(`UPDATE lookup_log SET reason = 'case-7' WHERE reason = 'case-8'`);
    expect((await verify()).code).toBe(0);
  });

  it('names an unknown context, and checks every context without --context', async () => {
    const unknown = await adminInProcess('verify', '--context', 'nowhere');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('context nowhere not found');
    const all = await adminInProcess('verify');
    expect(all.code).toBe(0);
    expect(all.stdout).toContain('audit trail of context default: 5 entries, intact');
    const contexts = await prisma.context.count();
    expect(all.stdout.trim().split('\n')).toHaveLength(contexts * 2);
  });
});
