import { beforeAll, describe, expect, it } from 'vitest';
import { adminInProcess } from '../admin-command.js';
import { createCustomer, createMapping, graphqlData, resetData } from '../helpers.js';
import { databaseUrl, prisma } from '../setup/app.js';

// Tamper evidence: the audit trail and the lookup log hash-chained per context, and ipdr-admin
// verify finding a row changed, deleted or inserted with plain SQL, each named.

const verify = () => adminInProcess('verify');

async function expectIntact() {
  const result = await verify();
  expect(result.stderr).toBe('');
  expect(result.stdout).toMatch(/context default: audit trail \d+ entries, lookup log \d+ entries: intact/);
  expect(result.code).toBe(0);
}

async function expectFound(message: RegExp) {
  const result = await verify();
  expect(result.code).toBe(1);
  expect(result.stderr).toMatch(/^error: context default: /);
  expect(result.stderr).toMatch(message);
  return result;
}

const auditIds = async () =>
  (await prisma.auditEvent.findMany({ orderBy: { id: 'asc' }, select: { id: true } })).map((row) => row.id);

beforeAll(async () => {
  await resetData();
  await createCustomer('C1');
  await createCustomer('C2');
  const first = await createMapping({ userId: 'C1', ipsubnet: '10.20.0.1', starttime: 100, endtime: 199 });
  await createMapping({ userId: 'C2', ipsubnet: '10.20.0.0/30', starttime: 200 });
  await graphqlData(`mutation { updateMapping(id: ${first.id}, input: { endtime: 150 }) { __typename } }`);
  await graphqlData('{ whoHad(ip: "10.20.0.1", at: 120, reason: "CASE-V1") { customer { userId } } }');
  await graphqlData(
    '{ whoHadMany(lookups: [{ ip: "10.20.0.2", at: 300 }, { ip: "10.20.0.1", at: 120 }], reason: "CASE-V2") { customer { userId } } }',
  );
});

describe('ipdr-admin verify', () => {
  it('finds every entry on its chain, and prints the heads digest', async () => {
    const [audit, lookups] = await Promise.all([prisma.auditEvent.count(), prisma.lookupLogEntry.count()]);
    expect(audit).toBeGreaterThanOrEqual(5);
    expect(lookups).toBeGreaterThanOrEqual(2);
    const [links] = await prisma.$queryRaw<{ audit: bigint; lookup: bigint }[]>`
      SELECT coalesce(sum(cardinality(entry_ids)) FILTER (WHERE log = 'audit'), 0) AS audit,
        coalesce(sum(cardinality(entry_ids)) FILTER (WHERE log = 'lookup'), 0) AS lookup FROM chain_links`;
    expect(Number(links!.audit)).toBe(audit);
    expect(Number(links!.lookup)).toBe(lookups);
    const result = await verify();
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`audit trail ${audit} entries, lookup log ${lookups} entries: intact`);
    expect(result.stdout).toMatch(/heads digest [0-9a-f]{64}/);
  });

  it('finds an audit event changed with plain SQL, and nothing once it is put back', async () => {
    const id = (await auditIds())[2]!;
    const [{ actor }] = (await prisma.$queryRaw<
      { actor: string }[]
    >`SELECT actor FROM audit_events WHERE id = ${id}`) as [{ actor: string }];
    await prisma.$executeRaw`UPDATE audit_events SET actor = 'someone-else' WHERE id = ${id}`;
    await expectFound(new RegExp(`audit event ${id} \\(lane \\d+, link \\d+\\) was changed after it was written`));
    await prisma.$executeRaw`UPDATE audit_events SET actor = ${actor} WHERE id = ${id}`;
    await expectIntact();
  });

  it('finds an audit image changed in place', async () => {
    const id = (await auditIds())[3]!;
    await prisma.$executeRaw`UPDATE audit_events SET after = jsonb_set(after, '{endtime}', '175') WHERE id = ${id} AND after ? 'endtime'`;
    await prisma.$executeRaw`UPDATE audit_events SET before = '{}'::jsonb WHERE id = ${id} AND NOT (after ? 'endtime')`;
    await expectFound(new RegExp(`audit event ${id} .* was changed after it was written`));
  });

  it('finds an audit event deleted, and one inserted, with plain SQL', async () => {
    await resetData();
    await createCustomer('D1');
    await createMapping({ userId: 'D1', ipsubnet: '10.21.0.1', starttime: 100 });
    await createMapping({ userId: 'D1', ipsubnet: '10.21.0.2', starttime: 100 });
    await expectIntact();
    const [, second] = await auditIds();
    await prisma.$executeRaw`CREATE TABLE saved_audit AS SELECT * FROM audit_events WHERE id = ${second}`;
    await prisma.$executeRaw`DELETE FROM audit_events WHERE id = ${second}`;
    await expectFound(new RegExp(`audit event ${second} \\(lane \\d+, link \\d+\\) was deleted`));
    // Put back as it was, every column: the chain holds again.
    await prisma.$executeRaw`INSERT INTO audit_events SELECT * FROM saved_audit`;
    await prisma.$executeRaw`DROP TABLE saved_audit`;
    await expectIntact();

    const [inserted] = await prisma.$queryRaw<{ id: number }[]>`
      INSERT INTO audit_events (context_id, actor, channel, action, entity_type, entity_id, after)
      SELECT context_id, actor, channel, 'create', 'mapping', entity_id + 1000, after FROM audit_events WHERE id = ${second}
      RETURNING id`;
    const found = await expectFound(
      new RegExp(`audit event ${inserted!.id} is on no chain: it was written outside the gateway`),
    );
    expect(found.stdout).toContain('1 not matching');
    await prisma.$executeRaw`DELETE FROM audit_events WHERE id = ${inserted!.id}`;
    await expectIntact();
  });

  it('finds the last entries removed with their link', async () => {
    const last = (await auditIds()).at(-1)!;
    const [link] = await prisma.$queryRaw<{ entry_ids: bigint[] }[]>`
      DELETE FROM chain_links WHERE log = 'audit' AND ${last}::bigint = ANY (entry_ids) RETURNING entry_ids`;
    await prisma.$executeRaw`DELETE FROM audit_events WHERE id = ANY (${link!.entry_ids.map(Number)}::int[])`;
    await expectFound(
      /audit event chain lane \d+ ends at link \d+ but its head says \d+: links were removed from its end/,
    );
  });

  it('finds an entry removed from the middle of a lane with its link', async () => {
    await resetData();
    await createCustomer('M1');
    // Writes one after another (a mutation's fields run in turn), each its own transaction and
    // link, each seal free to take any lane: 48 links on 16 lanes put three or more on some lane.
    const fields = Array.from(
      { length: 48 },
      (_, i) =>
        `m${i}: createMapping(input: { userId: "M1", ipsubnet: "10.22.0.${i + 1}", starttime: 1 }) { __typename }`,
    );
    await graphqlData(`mutation { ${fields.join('\n')} }`);
    // A link that is neither its lane's first nor its last, removed with its entries.
    const [middle] = await prisma.$queryRaw<{ lane: number; seq: bigint; entry_ids: bigint[] }[]>`
      SELECT k.lane, k.seq, k.entry_ids FROM chain_links k WHERE k.log = 'audit' AND k.seq > 1
        AND EXISTS (SELECT 1 FROM chain_links n WHERE n.context_id = k.context_id AND n.log = k.log AND n.lane = k.lane AND n.seq = k.seq + 1)
      ORDER BY k.entry_ids[1] LIMIT 1`;
    await prisma.$executeRaw`DELETE FROM chain_links WHERE log = 'audit' AND lane = ${middle!.lane} AND seq = ${middle!.seq}`;
    await prisma.$executeRaw`DELETE FROM audit_events WHERE id = ANY (${middle!.entry_ids.map(Number)}::int[])`;
    await expectFound(
      /audit event \d+ \(lane \d+, link \d+\): the link follows link \d+: the links between were removed/,
    );
  });

  it('finds a lookup-log entry changed, deleted or inserted with plain SQL', async () => {
    await resetData();
    await expectIntact();
    const [entry] = await prisma.$queryRaw<{ id: bigint; reason: string }[]>`
      SELECT id, reason FROM lookup_log ORDER BY id LIMIT 1`;
    await prisma.$executeRaw`UPDATE lookup_log SET reason = 'ANOTHER-CASE' WHERE id = ${entry!.id}`;
    await expectFound(new RegExp(`lookup-log entry ${entry!.id} .* was changed after it was written`));
    await prisma.$executeRaw`UPDATE lookup_log SET reason = ${entry!.reason} WHERE id = ${entry!.id}`;
    await expectIntact();

    await prisma.$executeRaw`CREATE TABLE saved_lookup AS SELECT * FROM lookup_log WHERE id = ${entry!.id}`;
    await prisma.$executeRaw`DELETE FROM lookup_log WHERE id = ${entry!.id}`;
    await expectFound(new RegExp(`lookup-log entry ${entry!.id} .* was deleted`));
    await prisma.$executeRaw`INSERT INTO lookup_log SELECT * FROM saved_lookup`;
    await prisma.$executeRaw`DROP TABLE saved_lookup`;
    await expectIntact();

    await prisma.$executeRaw`INSERT INTO lookup_log (context_id, username, channel, operation, reason, lookups, detail)
      SELECT context_id, username, channel, operation, 'CASE-FORGED', lookups, detail FROM lookup_log WHERE id = ${entry!.id}`;
    await expectFound(/lookup-log entry \d+ is on no chain: it was written outside the gateway/);
    await prisma.$executeRaw`DELETE FROM lookup_log WHERE reason = 'CASE-FORGED'`;
    await expectIntact();
  });

  it('chains concurrent writers, each link once, on several lanes', async () => {
    await resetData();
    await createCustomer('P1');
    const WRITERS = 24;
    const written = await Promise.all(
      Array.from({ length: WRITERS }, (_, i) =>
        graphqlData(
          `mutation { createMapping(input: { userId: "P1", ipsubnet: "10.23.0.${i + 1}", starttime: 1 }) { __typename } }`,
        ),
      ),
    );
    expect(written.map((data) => data.createMapping.__typename)).toEqual(Array(WRITERS).fill('IpMapping'));
    await expectIntact();
    const [lanes] = await prisma.$queryRaw<{ lanes: bigint; links: bigint }[]>`
      SELECT count(DISTINCT lane) AS lanes, sum(cardinality(entry_ids)) AS links FROM chain_links WHERE log = 'audit'`;
    expect(Number(lanes!.links)).toBe(WRITERS + 1);
    // PGlite has one connection: its writers seal one after another, any lane free to each.
    if (databaseUrl) expect(Number(lanes!.lanes)).toBeGreaterThan(1);
  });
});
