import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { db, prisma } from '../setup/app.js';
import { graphqlData } from '../helpers.js';
import { adminInProcess } from '../admin-command.js';
import { LISTED_REFUSALS, importDetailFile } from '../../src/radius/detail-import.js';
import { formatDetailDate } from '../../src/domain/radius-detail.js';

// `ipdr-admin radius import` in this process, on this file's database, through the function the
// CLI's entry calls; what it wrote is read back through the API. The fixture's records are of
// 1 November 2026, so the closing sweep (at the real time) ends every session still open.

const FIXTURE = 'test/fixtures/radius/detail-20261101';
const T0 = 1793512800; // Sun Nov  1 06:00:00 2026 UTC, the fixture's first record

const dir = mkdtempSync(join(tmpdir(), 'ipdr-detail-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeEach(() =>
  prisma.$executeRawUnsafe(
    'TRUNCATE radius_conflicts, radius_sessions, audit_events, ipdr_customers_mapping, ipdr_customers RESTART IDENTITY CASCADE',
  ),
);

interface Held {
  ipsubnet: string;
  starttime: number;
  endtime: number | null;
  endReason: string | null;
  customer: { userId: string };
}

async function whoHad(ip: string, at: number): Promise<Held | null> {
  const data = await graphqlData<{ whoHad: Held | null }>(
    'query ($ip: IPAddress!, $at: UnixTime!) { whoHad(ip: $ip, at: $at) { ipsubnet starttime endtime endReason customer { userId } } }',
    { ip, at },
  );
  return data.whoHad;
}

/** What the import wrote: every session, mapping and audit event, to compare one state with another. */
async function writtenState() {
  return {
    sessions: await prisma.radiusSession.findMany({ orderBy: { id: 'asc' } }),
    mappings: await prisma.ipMapping.findMany({ orderBy: { id: 'asc' } }),
    customers: await prisma.customer.findMany({ orderBy: { id: 'asc' } }),
    audit: await prisma.auditEvent.count(),
  };
}

describe('ipdr-admin radius import', () => {
  it('imports a detail file and says what became of each record', async () => {
    const result = await adminInProcess('radius', 'import', FIXTURE, '--context', 'default');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const lines = result.stdout.split('\n');
    expect(lines.slice(0, 9)).toEqual([
      '11 records read',
      // On of bng1 (nothing open: nothing to do) aside: 3 Starts, 2 Interim-Updates, the Stop, bng2's On.
      'events applied: 7',
      'duplicates (applied before): 1',
      'stale (older than what is known of their session): 0',
      'ignored (nothing about who held an address): 1',
      'records refused: 2',
      expect.stringMatching(/^ {2}line 85: Framed-IP-Address "100\.64\.1\.300": .+/),
      '  line 91: User-Name is missing',
      'conflicts (addresses another holder had): 0',
    ]);
    expect(lines.slice(9)).toEqual([
      'session changes written: 3',
      'mapping changes written: 6',
      expect.stringMatching(
        /^timeout sweep at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z \(silent for over 86400 s\): 1 sessions and 4 mappings ended$/,
      ),
      expect.stringMatching(/^elapsed: \d+\.\d s$/),
      '',
    ]);

    // alice: Start at T0+120, Stop (no Event-Timestamp: Timestamp − Acct-Delay-Time) at T0+3720.
    expect(await whoHad('100.64.1.2', T0 + 1800)).toEqual({
      ipsubnet: '100.64.1.2',
      starttime: T0 + 120,
      endtime: T0 + 3720,
      endReason: 'REPORTED',
      customer: { userId: 'alice' },
    });
    expect(await whoHad('100.64.1.2', T0 + 3721)).toBeNull();
    // bob, dual stack, from Event-Timestamp − Acct-Delay-Time; never stopped, timed out when last heard of.
    for (const ip of ['100.64.1.3', '2001:db8:ff00::17', '2001:db8:100:1::abcd', '2001:db8:200:1ff::1']) {
      expect(await whoHad(ip, T0 + 600)).toMatchObject({
        starttime: T0 + 180,
        endtime: T0 + 1080,
        endReason: 'TIMED_OUT',
        customer: { userId: 'bob' },
      });
      expect(await whoHad(ip, T0 + 1081)).toBeNull();
    }
    // dave, until bng2's Accounting-On.
    expect(await whoHad('100.65.0.9', T0 + 7200)).toMatchObject({
      endtime: T0 + 7200,
      endReason: 'NAS_RESTARTED',
      customer: { userId: 'dave' },
    });
    // The refused records wrote nothing.
    expect(await whoHad('100.64.1.5', T0 + 600)).toBeNull();
    expect(
      await prisma.customer.findMany({ select: { userId: true, source: true }, orderBy: { userId: 'asc' } }),
    ).toEqual([
      { userId: 'alice', source: 'RADIUS' },
      { userId: 'bob', source: 'RADIUS' },
      { userId: 'dave', source: 'RADIUS' },
    ]);
    const channels = await prisma.auditEvent.groupBy({ by: ['channel'], _count: true });
    expect(channels.map((row) => row.channel)).toEqual(['radius']);
  });

  it('writes nothing when the same file is imported again', async () => {
    expect((await adminInProcess('radius', 'import', FIXTURE, '--context', 'default')).code).toBe(0);
    const before = await writtenState();
    const again = await adminInProcess('radius', 'import', FIXTURE, '--context', 'default');
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('events applied: 0\n');
    expect(again.stdout).toContain('session changes written: 0\nmapping changes written: 0\n');
    expect(again.stdout).toMatch(/: 0 sessions and 0 mappings ended\n/);
    expect(await writtenState()).toEqual(before);
  });

  it('gives the same sessions and mappings whatever the batch size', async () => {
    const whole = await importDetailFile(db, FIXTURE, 'default', { sessionTimeout: 86_400, progress: false });
    const state = await writtenState();
    await prisma.$executeRawUnsafe(
      'TRUNCATE radius_conflicts, radius_sessions, audit_events, ipdr_customers_mapping, ipdr_customers RESTART IDENTITY CASCADE',
    );
    const batched = await importDetailFile(db, FIXTURE, 'default', {
      sessionTimeout: 86_400,
      batchEvents: 2,
      progress: false,
    });
    // What became of each record; the changes written count a session once per batch it changed in.
    const outcomes = ({
      recordsRead,
      eventsApplied,
      duplicates,
      stale,
      ignored,
      refusedRecords,
      conflicts,
    }: typeof whole) => ({
      recordsRead,
      eventsApplied,
      duplicates,
      stale,
      ignored,
      refusedRecords,
      conflicts,
    });
    expect(outcomes(batched)).toEqual(outcomes(whole));
    expect(batched.sessionsChanged).toBeGreaterThan(whole.sessionsChanged);
    expect(batched.sweep.sessionsEnded).toBe(whole.sweep.sessionsEnded);
    const strip = (rows: { createdAt?: Date; updatedAt?: Date; sysFrom?: Date }[]) =>
      rows.map(({ createdAt: _created, updatedAt: _updated, sysFrom: _recorded, ...row }) => row);
    const now = await writtenState();
    expect(strip(now.sessions)).toEqual(strip(state.sessions));
    expect(strip(now.mappings)).toEqual(strip(state.mappings));
  });

  it('takes the session timeout from --session-timeout', async () => {
    const result = await adminInProcess(
      'radius',
      'import',
      FIXTURE,
      '--context',
      'default',
      '--session-timeout',
      '31536000',
    );
    expect(result.stdout).toMatch(/\(silent for over 31536000 s\): 0 sessions and 0 mappings ended\n/);
    // Bob has not been silent for a year: he still holds his addresses.
    expect(await whoHad('100.64.1.3', Math.floor(Date.now() / 1000))).toMatchObject({
      endtime: null,
      customer: { userId: 'bob' },
    });
    expect(
      await adminInProcess('radius', 'import', FIXTURE, '--context', 'default', '--session-timeout', '59'),
    ).toMatchObject({
      code: 1,
      stderr:
        "error: option '--session-timeout <seconds>' argument '59' is invalid. must be whole seconds, 60 to 31536000 (a year)\n",
    });
  });

  it('counts every refused record and lists the first of them', async () => {
    const garbage = join(dir, 'garbage');
    const good = `${formatDetailDate(T0)}\n\tAcct-Status-Type = Accounting-On\n\tNAS-IP-Address = 10.9.9.9\n\n`;
    writeFileSync(garbage, `${good}${'not a record\n\n'.repeat(LISTED_REFUSALS + 5)}`);
    const result = await adminInProcess('radius', 'import', garbage, '--context', 'default');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`${LISTED_REFUSALS + 6} records read\n`);
    expect(result.stdout).toContain(
      `records refused: ${LISTED_REFUSALS + 5}\n  line 5: "not a record" is not a date line`,
    );
    expect(result.stdout).toContain(`  line ${5 + 2 * (LISTED_REFUSALS - 1)}: "not a record"`);
    expect(result.stdout).not.toContain(`  line ${5 + 2 * LISTED_REFUSALS}:`);
    expect(result.stdout).toContain('\n  and 5 more\n');
  });

  it('says what is wrong and exits non-zero', async () => {
    expect(await adminInProcess('radius', 'import', FIXTURE, '--context', 'nowhere')).toEqual({
      code: 1,
      stdout: '',
      stderr: 'error: context nowhere not found\n',
    });
    expect(await adminInProcess('radius', 'import', join(dir, 'missing'), '--context', 'default')).toMatchObject({
      code: 1,
      stderr: `error: FILE: ${join(dir, 'missing')} cannot be read (ENOENT)\n`,
    });
    expect(await adminInProcess('radius', 'import', dir, '--context', 'default')).toMatchObject({
      code: 1,
      stderr: `error: FILE: ${dir} is not a file\n`,
    });
    expect(await adminInProcess('radius', 'import', FIXTURE)).toMatchObject({
      code: 1,
      stderr: "error: required option '--context <name>' not specified\n",
    });
    expect(await prisma.radiusSession.count()).toBe(0);
  });

  it('reads a file as large as the fixture many times over in bounded batches', async () => {
    // 3,000 sessions started and stopped: 6,000 events, several batches, one record in memory at a time.
    const big = join(dir, 'big');
    const records: string[] = [];
    for (let i = 0; i < 3000; i++) {
      const address = `100.70.${Math.floor(i / 250)}.${(i % 250) + 1}`;
      for (const [status, offset] of [
        ['Start', 0],
        ['Stop', 600],
      ] as const) {
        const at = T0 + i + offset;
        records.push(
          `${formatDetailDate(at)}\n\tAcct-Status-Type = ${status}\n\tUser-Name = "u${i}"\n\tAcct-Session-Id = "s${i}"\n` +
            `\tNAS-IP-Address = 10.20.0.1\n\tFramed-IP-Address = ${address}\n` +
            (status === 'Stop' ? '\tAcct-Session-Time = 600\n' : '') +
            `\tTimestamp = ${at}\n\n`,
        );
      }
    }
    writeFileSync(big, records.join(''));
    expect(readFileSync(big, 'utf8').length).toBeGreaterThan(1_000_000);
    const summary = await importDetailFile(db, big, 'default', { sessionTimeout: 86_400, progress: false });
    expect(summary).toMatchObject({ recordsRead: 6000, eventsApplied: 6000, refused: 0 });
    expect(await prisma.radiusSession.count({ where: { endKind: 'REPORTED' } })).toBe(3000);
    expect(await prisma.ipMapping.count({ where: { endtime: { not: null } } })).toBe(3000);
    expect(await whoHad('100.70.11.250', T0 + 2999 + 600)).toMatchObject({ customer: { userId: 'u2999' } });
  });
});
