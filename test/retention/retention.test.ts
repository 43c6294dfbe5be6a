import { userInfo } from 'node:os';
import { beforeAll, describe, expect, it } from 'vitest';
import { nowUnixTime } from '../../src/domain/time.js';
import { adminInProcess } from '../admin-command.js';
import { createCustomer, createMapping, graphqlData, resetData } from '../helpers.js';
import { createTestApp, databaseUrl, prisma } from '../setup/app.js';
import { retentionScheduleModule } from '../../src/retention/module.js';

// Retention: a context's policy, and the purge that deletes what ended before its horizon, with
// its earlier versions and audit events, the customers it leaves with nothing and the lookup log
// made before it, for good (nothing moved to the history); ongoing mappings are never purged.

const onPostgres = Boolean(process.env.TEST_DATABASE_URL);
const YEAR = 365 * 86_400;
const ids: Record<string, number> = {};

const mappingIds = async () => (await prisma.ipMapping.findMany({ orderBy: { id: 'asc' } })).map((row) => row.id);
const rowCounts = async () => {
  const [row] = await prisma.$queryRaw<Record<string, bigint>[]>`SELECT
    (SELECT count(*) FROM ipdr_customers_mapping) AS mappings,
    (SELECT count(*) FROM ipdr_customers_mapping_history) AS "mappingVersions",
    (SELECT count(*) FROM ipdr_customers) AS customers,
    (SELECT count(*) FROM ipdr_customers_history) AS "customerVersions",
    (SELECT count(*) FROM audit_events) AS audit,
    (SELECT count(*) FROM lookup_log) AS lookups`;
  return Object.fromEntries(Object.entries(row!).map(([key, value]) => [key, Number(value)]));
};

beforeAll(async () => {
  await resetData();
  await prisma.$executeRawUnsafe(
    'TRUNCATE lookup_log, retention_purges, retention_policies, chain_links, chain_heads, chain_purged',
  );
  const now = nowUnixTime();
  for (const userId of ['OLD', 'MIXED', 'RECENT', 'ONGOING', 'NEW']) await createCustomer(userId);
  ids.old = (await createMapping({ userId: 'OLD', ipsubnet: '10.1.0.1', starttime: 1000, endtime: 2500 })).id;
  ids.mixedOld = (await createMapping({ userId: 'MIXED', ipsubnet: '10.1.0.2', starttime: 1000, endtime: 3000 })).id;
  ids.mixedNow = (await createMapping({ userId: 'MIXED', ipsubnet: '10.1.0.3', starttime: 1000 })).id;
  ids.recent = (
    await createMapping({ userId: 'RECENT', ipsubnet: '10.1.0.4', starttime: now - YEAR, endtime: now - 10 * 86_400 })
  ).id;
  ids.ongoing = (await createMapping({ userId: 'ONGOING', ipsubnet: '10.1.0.5', starttime: 0 })).id;
  // Corrections: each leaves an earlier version in the history.
  await graphqlData(`mutation { updateMapping(id: ${ids.old}, input: { endtime: 2000 }) { __typename } }`);
  await graphqlData(`mutation { updateMapping(id: ${ids.recent}, input: { terminalId: "T-9" }) { __typename } }`);
  await graphqlData(
    `mutation { updateCustomer(userId: "OLD", input: { userId: "OLD", name: "Old Renamed" }) { __typename } }`,
  );
  await graphqlData('{ whoHad(ip: "10.1.0.1", at: 1500, reason: "CASE-RECENT") { id } }');
  await graphqlData('{ whoHad(ip: "10.1.0.1", at: 1500, reason: "CASE-OLD") { id } }');
  await prisma.$executeRaw`UPDATE lookup_log SET at = now() - interval '3 years' WHERE reason = 'CASE-OLD'`;
});

describe('ipdr-admin retention', () => {
  it('keeps everything without a policy, and refuses a period it cannot read, naming --keep', async () => {
    expect(await adminInProcess('retention', 'apply')).toMatchObject({
      code: 0,
      stdout: 'no context has a retention policy: nothing to do\n',
    });
    const bad = await adminInProcess('retention', 'set', '--context', 'default', '--keep', '2 years');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("option '--keep <period>' argument '2 years' is invalid. must be a whole number");
    expect(await adminInProcess('retention', 'apply', '--context', 'default')).toMatchObject({
      code: 1,
      stderr:
        'error: context default has no retention policy: set one with ipdr-admin retention set --context default --keep 2y\n',
    });
  });

  it('counts on a dry run exactly what it then deletes, and deletes nothing', async () => {
    expect(await adminInProcess('retention', 'set', '--context', 'default', '--keep', '2y')).toMatchObject({
      code: 0,
      stdout: 'context default keeps 2y (2 years)\n',
    });
    const before = await rowCounts();
    const dry = await adminInProcess('retention', 'apply', '--dry-run');
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(
      /^default: keep 2 years, horizon \d+ \(.*\): would delete 2 mappings \(\+1 earlier versions\), 1 customers \(\+1\), 0 NAT port blocks \(\+0\), 0 RADIUS sessions, 5 audit events, 1 lookup-log entries\n$/,
    );
    expect(await rowCounts()).toEqual(before);
    expect(await prisma.retentionPurge.count()).toBe(0);
  });

  it('deletes what ended before the horizon, for good, and records the purge', async () => {
    const before = await rowCounts();
    const started = nowUnixTime();
    const result = await adminInProcess('retention', 'apply');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('deleted 2 mappings (+1 earlier versions), 1 customers (+1)');
    expect(await mappingIds()).toEqual([ids.mixedNow, ids.recent, ids.ongoing]);
    expect((await prisma.customer.findMany({ orderBy: { id: 'asc' } })).map((row) => row.userId)).toEqual([
      'MIXED',
      'RECENT',
      'ONGOING',
      'NEW',
    ]);
    // Nothing moved to the history: the recent mapping's earlier version is all it holds.
    const versions = await prisma.$queryRaw<{ id: number }[]>`SELECT id FROM ipdr_customers_mapping_history`;
    expect(versions.map((row) => row.id)).toEqual([ids.recent]);
    expect(await prisma.$queryRaw`SELECT id FROM ipdr_customers_history`).toEqual([]);
    expect(await rowCounts()).toEqual({
      ...before,
      mappings: before.mappings! - 2,
      mappingVersions: before.mappingVersions! - 1,
      customers: before.customers! - 1,
      customerVersions: before.customerVersions! - 1,
      audit: before.audit! - 5,
      lookups: before.lookups! - 1,
    });
    // What stays is still audited and still answers.
    const left = await prisma.auditEvent.findMany({ select: { entityType: true, entityId: true } });
    expect(left).not.toContainEqual({ entityType: 'mapping', entityId: ids.old });
    expect(left).toContainEqual({ entityType: 'mapping', entityId: ids.mixedNow });
    expect((await graphqlData('{ whoHad(ip: "10.1.0.1", at: 1500) { id } }')).whoHad).toBeNull();
    expect((await graphqlData('{ whoHad(ip: "10.1.0.3", at: 1500) { id } }')).whoHad).toEqual({ id: ids.mixedNow });
    const [purge] = await prisma.$queryRaw<Record<string, unknown>[]>`
      SELECT actor, channel, keep::text AS keep, horizon, mappings, mapping_versions, customers, audit_events,
        lookup_log_entries FROM retention_purges`;
    expect(purge).toMatchObject({
      actor: `cli:${userInfo().username}`,
      channel: 'cli',
      keep: '2 years',
      mappings: 2,
      mapping_versions: 1,
      customers: 1,
      audit_events: 5,
      lookup_log_entries: 1,
    });
    const horizon = Number(purge!.horizon);
    expect(horizon).toBeGreaterThan(started - 2 * YEAR - 2 * 86_400);
    expect(horizon).toBeLessThan(started - 2 * YEAR + 2 * 86_400);
    // The chains go on through what was deleted: its links stay, the entries recorded as purged,
    // and the purge recorded where each lane stood.
    const [marked] = await prisma.$queryRaw<{ audit: bigint; lookup: bigint }[]>`
      SELECT count(*) FILTER (WHERE log = 'audit') AS audit, count(*) FILTER (WHERE log = 'lookup') AS lookup
      FROM chain_purged`;
    expect(marked).toEqual({ audit: 5n, lookup: 1n });
    const verified = await adminInProcess('verify');
    expect(verified.stdout).toContain(': intact;');
    expect(verified.code).toBe(0);
    // A recorded lane head the chain no longer passes through: the chain was rebuilt after the purge.
    const [lane] = await prisma.$queryRaw<{ lane: string; point: unknown }[]>`
      SELECT key AS lane, value AS point FROM retention_purges, jsonb_each(chain_heads->'audit') LIMIT 1`;
    await prisma.$executeRaw`UPDATE retention_purges SET chain_heads = jsonb_set(chain_heads, ARRAY['audit', ${lane!.lane}, '1'], to_jsonb(repeat('0', 64)))`;
    const rebuilt = await adminInProcess('verify');
    expect(rebuilt.code).toBe(1);
    expect(rebuilt.stderr).toMatch(
      new RegExp(
        `audit event chain lane ${lane!.lane} no longer passes through link \\d+ as retention purge \\d+ recorded it`,
      ),
    );
    await prisma.$executeRaw`UPDATE retention_purges SET chain_heads = jsonb_set(chain_heads, ARRAY['audit', ${lane!.lane}], ${JSON.stringify(lane!.point)}::jsonb)`;
    expect((await adminInProcess('verify')).code).toBe(0);
    // Nothing left to purge: a second run deletes nothing, and is recorded too.
    expect((await adminInProcess('retention', 'apply')).stdout).toContain('deleted 0 mappings (+0 earlier versions)');
    expect(await prisma.retentionPurge.count()).toBe(2);
    const listed = await adminInProcess('retention', 'list');
    expect(listed.stdout).toMatch(/^context +keep +setBy +setAt +lastPurge +lastHorizon\ndefault +2 years +cli:/);
  });

  it('keeps everything again once the policy is removed', async () => {
    expect((await adminInProcess('retention', 'set', '--context', 'default', '--keep', 'none')).stdout).toBe(
      'context default keeps everything\n',
    );
    expect((await adminInProcess('retention', 'list')).stdout).toMatch(/\ndefault +everything/);
  });

  it.runIf(onPostgres)('skips a context another instance is purging', async () => {
    await adminInProcess('retention', 'set', '--context', 'default', '--keep', '2y');
    // Another session holds the purge's lock of this context for the length of its transaction.
    const { Client } = await import('pg');
    const other = new Client({ connectionString: databaseUrl });
    await other.connect();
    try {
      await other.query('BEGIN');
      await other.query(`SELECT pg_advisory_xact_lock(hashtext('ipdr_retention'), 1)`);
      expect((await adminInProcess('retention', 'apply')).stdout).toBe(
        'default: skipped, another instance is purging it\n',
      );
      await other.query('ROLLBACK');
    } finally {
      await other.end();
    }
    expect((await adminInProcess('retention', 'apply')).stdout).toMatch(/^default: keep 2 years/);
  });

  it("is applied by the server's schedule when RETENTION_APPLY_INTERVAL is set, at once and then every interval", async () => {
    await adminInProcess('retention', 'set', '--context', 'default', '--keep', '2y');
    const before = await prisma.retentionPurge.count({ where: { channel: 'schedule' } });
    const off = await retentionScheduleModule.start(createTestApp());
    await off.stop();
    expect(await prisma.retentionPurge.count({ where: { channel: 'schedule' } })).toBe(before);
    const running = await retentionScheduleModule.start(createTestApp({ RETENTION_APPLY_INTERVAL: '3600' }));
    // stop() waits for the purge it started.
    await running.stop();
    const purges = await prisma.retentionPurge.findMany({ where: { channel: 'schedule' } });
    expect(purges.length).toBe(before + 1);
    expect(purges.at(-1)).toMatchObject({ actor: 'retention-schedule', mappings: 0 });
  });
});
