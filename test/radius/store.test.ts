import { beforeEach, describe, expect, it } from 'vitest';
import type {
  DriverSession,
  StatementOptions,
  TransactionOptions,
  TransactionSession,
} from '../../src/db/connection.js';
import type { AccountingInput } from '../../src/domain/radius-session.js';
import { parseIpSubnet } from '../../src/domain/ip.js';
import { subnetColumns } from '../../src/mappings/filters.js';
import { PortRequired, lookupColumns, whoHadBatch, EVERY_FIELD } from '../../src/lookups/store.js';
import { type AccountingBatch, applyAccounting } from '../../src/radius/store.js';
import { countStatements, resetData } from '../helpers.js';
import { database, db, prisma } from '../setup/app.js';
import { nasEvent, sessionEvent } from './store-helpers.js';

const RULES = { sessionTimeout: 86_400 };

let tenant: { id: number; name: string };

beforeEach(async () => {
  await resetData();
  tenant = await prisma.context.findUniqueOrThrow({ where: { name: 'default' }, select: { id: true, name: true } });
});

async function apply(...inputs: AccountingInput[]) {
  const [result] = await applyAccounting(db, [{ tenant, inputs }], RULES);
  return result!;
}

const mappingsNow = () =>
  prisma.ipMapping.findMany({
    orderBy: { id: 'asc' },
    select: {
      id: true,
      userId: true,
      ipsubnet: true,
      network: true,
      starttime: true,
      endtime: true,
      source: true,
      radiusSessionId: true,
      endKind: true,
    },
  });

const sessionsNow = () => prisma.radiusSession.findMany({ orderBy: { id: 'asc' } });
const auditNow = () => prisma.auditEvent.findMany({ orderBy: { id: 'asc' } });

/** Who held `ip` at `at`, as whoHad answers it: the mapping's UserID, or null. */
async function holderOf(ip: string, at: number) {
  const [row] = await whoHadBatch(db, tenant.id, [{ ip, at }], lookupColumns(EVERY_FIELD));
  if (row instanceof PortRequired) throw new Error(`${ip} is shared at ${at}`);
  return row?.userId ?? null;
}

/** The statements applyAccounting sends in its transactions while `run` runs, and how many transactions it ran. */
async function countDriverStatements(
  run: () => Promise<unknown>,
  intercept?: (sql: string, session: DriverSession, transaction: number) => Promise<void>,
) {
  const original = database.transaction;
  let statements = 0;
  let transactions = 0;
  database.transaction = <T>(work: (session: TransactionSession) => Promise<T>, options?: TransactionOptions) =>
    original.call<
      typeof database,
      [(session: TransactionSession) => Promise<T>, TransactionOptions | undefined],
      Promise<T>
    >(
      database,
      (session) => {
        const transaction = ++transactions;
        return work({
          query: async <Row>(sql: string, params?: readonly unknown[], statement?: StatementOptions) => {
            statements++;
            await intercept?.(sql, session, transaction);
            return session.query<Row>(sql, params, statement);
          },
          exec: async (script: string) => {
            statements++;
            await intercept?.(script, session, transaction);
            return session.exec(script);
          },
        });
      },
      options,
    );
  try {
    await run();
  } finally {
    database.transaction = original;
  }
  return { statements, transactions };
}

async function staticMapping(userId: string, ipsubnet: string, starttime: number, endtime: number | null = null) {
  const customer = await prisma.customer.upsert({
    where: { contextId_userId: { contextId: tenant.id, userId } },
    create: { contextId: tenant.id, userId, name: `Static ${userId}` },
    update: {},
  });
  return prisma.ipMapping.create({
    data: {
      ...subnetColumns(parseIpSubnet(ipsubnet)),
      contextId: tenant.id,
      customerId: customer.id,
      userId,
      starttime: BigInt(starttime),
      endtime: endtime === null ? null : BigInt(endtime),
    },
  });
}

describe('applyAccounting', () => {
  it('writes a Start of an unknown User-Name as a new customer, a session and its mapping, audited on the radius channel', async () => {
    const result = await apply(
      sessionEvent('Start', { user: 'alice', session: 's1', at: 1000, ipv4: '100.64.1.2', callingStationId: 'aa-bb' }),
    );
    expect(result).toEqual({ outcomes: ['applied'], conflicts: 0, sessionsChanged: 1, mappingsChanged: 1 });

    const [customer] = await prisma.customer.findMany();
    expect(customer).toMatchObject({ userId: 'alice', name: 'alice', source: 'RADIUS' });
    const [session] = await sessionsNow();
    expect(session).toMatchObject({
      userName: 'alice',
      acctSessionId: 's1',
      nasIpAddress: '192.0.2.1',
      nasKey: '192.0.2.1/',
      callingStationId: 'aa-bb',
      startedAt: 1000n,
      lastSeen: 1000n,
      endedAt: null,
      endKind: null,
    });
    expect(session!.sessionKey).toMatch(/^[0-9a-f]{32}$/);
    expect(await mappingsNow()).toEqual([
      {
        id: 1,
        userId: 'alice',
        ipsubnet: '100.64.1.2',
        network: '100.64.1.2',
        starttime: 1000n,
        endtime: null,
        source: 'RADIUS',
        radiusSessionId: session!.id,
        endKind: null,
      },
    ]);
    expect(await holderOf('100.64.1.2', 5000)).toBe('alice');
    expect(await holderOf('100.64.1.2', 999)).toBeNull();

    const audit = await auditNow();
    expect(audit.map((event) => [event.actor, event.channel, event.action, event.entityType])).toEqual([
      ['radius', 'radius', 'create', 'customer'],
      ['radius', 'radius', 'create', 'mapping'],
    ]);
    expect(audit[0]!.after).toMatchObject({ id: customer!.id, userId: 'alice', name: 'alice', source: 'RADIUS' });
    expect(audit[1]!.after).toMatchObject({
      id: 1,
      userId: 'alice',
      network: '100.64.1.2',
      starttime: 1000,
      endtime: null,
      source: 'RADIUS',
      radiusSessionId: session!.id,
      endKind: null,
    });
  });

  it('creates a customer once, and uses up no customer id for one that exists', async () => {
    await apply(sessionEvent('Start', { user: 'alice', session: 's1', at: 1000, ipv4: '100.64.1.2' }));
    await apply(sessionEvent('Start', { user: 'alice', session: 's2', at: 1100, ipv4: '100.64.1.3' }));
    await apply(sessionEvent('Start', { user: 'bob', session: 's3', at: 1200, ipv4: '100.64.1.4' }));
    expect((await prisma.customer.findMany({ orderBy: { id: 'asc' } })).map((c) => [c.id, c.userId])).toEqual([
      [1, 'alice'],
      [2, 'bob'],
    ]);
    expect((await auditNow()).filter((event) => event.entityType === 'customer')).toHaveLength(2);
  });

  it('keeps a customer that exists as it is, and its source', async () => {
    await prisma.customer.create({ data: { contextId: tenant.id, userId: 'alice', name: 'Alice Example' } });
    await apply(sessionEvent('Start', { user: 'alice', session: 's1', at: 1000, ipv4: '100.64.1.2' }));
    expect(await prisma.customer.findMany({ select: { userId: true, name: true, source: true } })).toEqual([
      { userId: 'alice', name: 'Alice Example', source: 'API' },
    ]);
  });

  it('moves last-seen on an Interim-Update, and writes nothing twice for replayed events', async () => {
    const events = [
      sessionEvent('Start', { user: 'alice', session: 's1', at: 1000, ipv4: '100.64.1.2' }),
      sessionEvent('Interim-Update', { user: 'alice', session: 's1', at: 1600, ipv4: '100.64.1.2', sessionTime: 600 }),
    ];
    expect((await apply(...events)).outcomes).toEqual(['applied', 'applied']);
    const [session] = await sessionsNow();
    expect(session).toMatchObject({ startedAt: 1000n, lastSeen: 1600n, endedAt: null });
    const mappings = await mappingsNow();
    const audit = await auditNow();

    const replay = await apply(...events);
    expect(replay).toEqual({
      outcomes: ['duplicate', 'duplicate'],
      conflicts: 0,
      sessionsChanged: 0,
      mappingsChanged: 0,
    });
    expect(await mappingsNow()).toEqual(mappings);
    expect(await sessionsNow()).toEqual([session]);
    expect(await auditNow()).toEqual(audit);
  });

  it('ends the session and its mappings at a Stop (REPORTED), audited with the image before and after', async () => {
    await apply(sessionEvent('Start', { user: 'alice', session: 's1', at: 1000, ipv4: '100.64.1.2' }));
    const stop = sessionEvent('Stop', {
      user: 'alice',
      session: 's1',
      at: 2000,
      ipv4: '100.64.1.2',
      sessionTime: 1000,
      terminateCause: 'User-Request',
    });
    expect(await apply(stop)).toEqual({ outcomes: ['applied'], conflicts: 0, sessionsChanged: 1, mappingsChanged: 1 });
    expect(await sessionsNow()).toMatchObject([
      { endedAt: 2000n, endKind: 'REPORTED', terminateCause: 'User-Request', lastSeen: 2000n },
    ]);
    expect(await mappingsNow()).toMatchObject([{ starttime: 1000n, endtime: 2000n, endKind: 'REPORTED' }]);
    expect(await holderOf('100.64.1.2', 2000)).toBe('alice');
    expect(await holderOf('100.64.1.2', 2001)).toBeNull();

    const update = (await auditNow()).find((event) => event.action === 'update')!;
    expect(update).toMatchObject({ actor: 'radius', channel: 'radius', entityType: 'mapping', entityId: 1 });
    expect(update.before).toMatchObject({ endtime: null, endKind: null, radiusSessionId: 1 });
    expect(update.after).toMatchObject({ endtime: 2000, endKind: 'REPORTED', radiusSessionId: 1 });

    expect((await apply(stop)).outcomes).toEqual(['duplicate']);
    expect((await auditNow()).filter((event) => event.action === 'update')).toHaveLength(1);
  });

  it('writes the closed session of a Stop whose Start was lost, and the Start of an Interim-Update', async () => {
    await apply(
      sessionEvent('Stop', { user: 'alice', session: 's1', at: 5000, ipv4: '100.64.1.2', sessionTime: 600 }),
      sessionEvent('Interim-Update', { user: 'bob', session: 's2', at: 5000, ipv4: '100.64.1.3', sessionTime: 300 }),
    );
    expect(await mappingsNow()).toMatchObject([
      { userId: 'alice', network: '100.64.1.2', starttime: 4400n, endtime: 5000n, endKind: 'REPORTED' },
      { userId: 'bob', network: '100.64.1.3', starttime: 4700n, endtime: null, endKind: null },
    ]);
    expect(await sessionsNow()).toMatchObject([
      { userName: 'alice', startedAt: 4400n, endedAt: 5000n, endKind: 'REPORTED' },
      { userName: 'bob', startedAt: 4700n, lastSeen: 5000n, endedAt: null },
    ]);
  });

  it('holds every address of a dual-stack session', async () => {
    await apply(
      sessionEvent('Start', {
        user: 'carol',
        session: 'd1',
        at: 1000,
        ipv4: '100.64.2.9',
        ipv6Prefix: '2001:db8:1:2::/64',
        delegated: '2001:db8:ff00::/56',
        ipv6: '2001:db8:9::1',
      }),
    );
    expect((await mappingsNow()).map((mapping) => mapping.network).sort()).toEqual([
      '100.64.2.9',
      '2001:db8:1:2::/64',
      '2001:db8:9::1',
      '2001:db8:ff00::/56',
    ]);
    for (const ip of ['100.64.2.9', '2001:db8:1:2::77', '2001:db8:ff00:12::1', '2001:db8:9::1']) {
      expect(await holderOf(ip, 1000), ip).toBe('carol');
    }
    await apply(sessionEvent('Stop', { user: 'carol', session: 'd1', at: 3000, sessionTime: 2000 }));
    expect((await mappingsNow()).map((mapping) => [mapping.endtime, mapping.endKind])).toEqual(
      Array.from({ length: 4 }, () => [3000n, 'REPORTED']),
    );
  });

  it("ends every open session of a NAS at its Accounting-On (NAS_RESTARTED), and no other NAS's", async () => {
    await apply(
      sessionEvent('Start', { user: 'alice', session: 's1', at: 1000, ipv4: '100.64.1.2' }),
      sessionEvent('Start', { user: 'bob', session: 's2', at: 1100, ipv4: '100.64.1.3' }),
      sessionEvent('Start', { user: 'carol', session: 's3', at: 1200, ipv4: '100.64.1.4', nas: '192.0.2.2' }),
    );
    expect(await apply(nasEvent('Accounting-On', 3000))).toMatchObject({
      outcomes: ['applied'],
      sessionsChanged: 2,
      mappingsChanged: 2,
    });
    expect((await sessionsNow()).map((session) => [session.userName, session.endedAt, session.endKind])).toEqual([
      ['alice', 3000n, 'NAS_RESTARTED'],
      ['bob', 3000n, 'NAS_RESTARTED'],
      ['carol', null, null],
    ]);
    expect((await mappingsNow()).map((mapping) => [mapping.userId, mapping.endtime, mapping.endKind])).toEqual([
      ['alice', 3000n, 'NAS_RESTARTED'],
      ['bob', 3000n, 'NAS_RESTARTED'],
      ['carol', null, null],
    ]);
    expect((await apply(nasEvent('Accounting-On', 3000))).outcomes).toEqual(['duplicate']);
  });

  it('ends sessions silent for longer than the timeout at their last-seen time (TIMED_OUT)', async () => {
    await apply(
      sessionEvent('Start', { user: 'alice', session: 's1', at: 1000, ipv4: '100.64.1.2' }),
      sessionEvent('Start', { user: 'bob', session: 's2', at: 50_000, ipv4: '100.64.1.3' }),
    );
    const result = await apply({ kind: 'sweep', at: 1000 + RULES.sessionTimeout + 1 });
    expect(result).toMatchObject({ outcomes: ['applied'], sessionsChanged: 1, mappingsChanged: 1 });
    expect((await mappingsNow()).map((mapping) => [mapping.userId, mapping.endtime, mapping.endKind])).toEqual([
      ['alice', 1000n, 'TIMED_OUT'],
      ['bob', null, null],
    ]);
    expect(await sessionsNow()).toMatchObject([{ endedAt: 1000n, endKind: 'TIMED_OUT' }, { endedAt: null }]);
  });

  it('ends a session whose address another session starts on, all its addresses (SUPERSEDED, its Stop was lost)', async () => {
    await apply(
      sessionEvent('Start', {
        user: 'alice',
        session: 's1',
        at: 1000,
        ipv4: '100.64.1.2',
        ipv6Prefix: '2001:db8:a::/64',
      }),
    );
    await apply(sessionEvent('Start', { user: 'bob', session: 's2', at: 2000, ipv4: '100.64.1.2' }));
    expect(
      (await mappingsNow()).map((mapping) => [mapping.userId, mapping.network, mapping.endtime, mapping.endKind]),
    ).toEqual([
      ['alice', '100.64.1.2', 1999n, 'SUPERSEDED'],
      ['alice', '2001:db8:a::/64', 1999n, 'SUPERSEDED'],
      ['bob', '100.64.1.2', null, null],
    ]);
    expect(await sessionsNow()).toMatchObject([{ endedAt: 1999n, endKind: 'SUPERSEDED' }, { endedAt: null }]);
    expect(await holderOf('100.64.1.2', 1999)).toBe('alice');
    expect(await holderOf('100.64.1.2', 2000)).toBe('bob');
  });

  it('records a Start over a static mapping of another customer as a conflict and writes nothing overlapping', async () => {
    const held = await staticMapping('static-1', '100.64.9.0/24', 0);
    const result = await apply(
      sessionEvent('Start', {
        user: 'dave',
        session: 'c1',
        at: 1000,
        ipv4: '100.64.9.5',
        ipv6Prefix: '2001:db8:5::/64',
      }),
    );
    expect(result).toEqual({ outcomes: ['applied'], conflicts: 1, sessionsChanged: 1, mappingsChanged: 1 });
    expect((await mappingsNow()).map((mapping) => [mapping.userId, mapping.network, mapping.source])).toEqual([
      ['static-1', '100.64.9.0/24', 'API'],
      ['dave', '2001:db8:5::/64', 'RADIUS'],
    ]);
    const [session] = await sessionsNow();
    expect(await prisma.radiusConflict.findMany()).toMatchObject([
      {
        contextId: tenant.id,
        radiusSessionId: session!.id,
        network: '100.64.9.5',
        ipsubnet: '100.64.9.5',
        starttime: 1000n,
        endtime: null,
        mappingId: held.id,
        holderUserId: 'static-1',
        kind: 'STATIC_MAPPING',
      },
    ]);
    expect(await holderOf('100.64.9.5', 1000)).toBe('static-1');
    // A retransmitted Start is a duplicate: the conflict is not recorded again.
    expect(
      (await apply(sessionEvent('Start', { user: 'dave', session: 'c1', at: 1000, ipv4: '100.64.9.5' }))).outcomes,
    ).toEqual(['duplicate']);
    expect(await prisma.radiusConflict.count()).toBe(1);
  });

  it('ends an address an Interim-Update no longer lists (ADDRESS_CHANGED) and holds the new one from then', async () => {
    await apply(sessionEvent('Start', { user: 'alice', session: 's1', at: 1000, ipv4: '100.64.1.2' }));
    const result = await apply(
      sessionEvent('Interim-Update', { user: 'alice', session: 's1', at: 1600, ipv4: '100.64.1.7', sessionTime: 600 }),
    );
    expect(result).toMatchObject({ outcomes: ['applied'], mappingsChanged: 2 });
    expect(
      (await mappingsNow()).map((mapping) => [mapping.network, mapping.starttime, mapping.endtime, mapping.endKind]),
    ).toEqual([
      ['100.64.1.2', 1000n, 1599n, 'ADDRESS_CHANGED'],
      ['100.64.1.7', 1600n, null, null],
    ]);
    expect(await holderOf('100.64.1.2', 1600)).toBeNull();
    expect(await holderOf('100.64.1.7', 1600)).toBe('alice');
  });

  it('reopens a timed-out session and its mappings when it is heard of again', async () => {
    await apply(sessionEvent('Start', { user: 'alice', session: 's1', at: 1000, ipv4: '100.64.1.2' }));
    await apply({ kind: 'sweep', at: 1000 + RULES.sessionTimeout + 1 });
    expect(await mappingsNow()).toMatchObject([{ endtime: 1000n, endKind: 'TIMED_OUT' }]);
    const later = 1000 + RULES.sessionTimeout + 60;
    await apply(
      sessionEvent('Interim-Update', {
        user: 'alice',
        session: 's1',
        at: later,
        ipv4: '100.64.1.2',
        sessionTime: later - 1000,
      }),
    );
    expect(await mappingsNow()).toMatchObject([{ starttime: 1000n, endtime: null, endKind: null }]);
    expect(await sessionsNow()).toMatchObject([{ endedAt: null, endKind: null, lastSeen: BigInt(later) }]);
    const reopened = (await auditNow()).filter((event) => event.action === 'update').at(-1)!;
    expect(reopened.before).toMatchObject({ endtime: 1000, endKind: 'TIMED_OUT' });
    expect(reopened.after).toMatchObject({ endtime: null, endKind: null });
  });

  it('records a conflict with a mapping written in the same batch: two sessions starting on one address at one instant', async () => {
    const result = await apply(
      sessionEvent('Start', { user: 'alice', session: 's1', at: 1000, ipv4: '100.64.1.2' }),
      sessionEvent('Start', { user: 'bob', session: 's2', at: 1000, ipv4: '100.64.1.2' }),
    );
    expect(result).toMatchObject({ outcomes: ['applied', 'applied'], conflicts: 1, sessionsChanged: 2 });
    const [held] = await mappingsNow();
    expect(held).toMatchObject({ userId: 'alice', network: '100.64.1.2', endtime: null });
    expect(await prisma.radiusConflict.findMany()).toMatchObject([
      { radiusSessionId: 2, mappingId: held!.id, holderUserId: 'alice', kind: 'SESSION', starttime: 1000n },
    ]);
  });

  it('applies the batches of several contexts in one transaction, each on its own', async () => {
    const other = await prisma.context.create({ data: { name: `radius-${Date.now()}` } });
    const batches: AccountingBatch[] = [
      { tenant, inputs: [sessionEvent('Start', { user: 'alice', session: 's1', at: 1000, ipv4: '100.64.1.2' })] },
      {
        tenant: { id: other.id, name: other.name },
        inputs: [
          sessionEvent('Start', { user: 'alice', session: 's1', at: 1000, ipv4: '100.64.1.2' }),
          sessionEvent('Stop', { user: 'alice', session: 's1', at: 1500, sessionTime: 500 }),
        ],
      },
    ];
    const { transactions } = await countDriverStatements(async () => {
      const results = await applyAccounting(db, batches, RULES);
      expect(results.map((result) => result.outcomes)).toEqual([['applied'], ['applied', 'applied']]);
    });
    expect(transactions).toBe(1);
    expect((await mappingsNow()).map((mapping) => [mapping.userId, mapping.endtime])).toEqual([
      ['alice', null],
      ['alice', 1500n],
    ]);
    expect(await prisma.customer.count()).toBe(2);
  });

  it('sends as many statements for 50 events as for one', async () => {
    const starts = (count: number, offset: number) =>
      Array.from({ length: count }, (_, i) =>
        sessionEvent('Start', {
          user: `user-${offset + i}`,
          session: `s-${offset + i}`,
          at: 1000,
          ipv4: `100.65.${(offset + i) >> 8}.${(offset + i) & 255}`,
          ipv6Prefix: `2001:db8:${(offset + i).toString(16)}::/64`,
        }),
      );
    const stops = (count: number, offset: number) =>
      Array.from({ length: count }, (_, i) =>
        sessionEvent('Stop', { user: `user-${offset + i}`, session: `s-${offset + i}`, at: 2000, sessionTime: 1000 }),
      );
    // Prisma sends nothing: every statement goes through the transaction below it.
    const counted = async (inputs: AccountingInput[]) => {
      let driver = 0;
      const prismaStatements =
        (await countStatements(async () => {
          driver = (await countDriverStatements(() => apply(...inputs))).statements;
        })) - (await countStatements(async () => {}));
      expect(prismaStatements).toBe(0);
      return driver;
    };
    const oneStart = await counted(starts(1, 0));
    const manyStarts = await counted(starts(50, 1));
    // The lock goes with BEGIN; what the events touch is read, and customers, sessions and
    // mappings written, with their audit, in one statement each.
    expect(oneStart).toBe(2);
    expect(manyStarts).toBe(oneStart);
    const oneStop = await counted(stops(1, 0));
    const manyStops = await counted(stops(50, 1));
    // Read; sessions and mappings updated, with their audit, in one statement.
    expect(oneStop).toBe(2);
    expect(manyStops).toBe(oneStop);
    expect(await prisma.ipMapping.count({ where: { endKind: 'REPORTED' } })).toBe(102);
  });

  it('runs the transaction again when a concurrent write took an address it was about to write', async () => {
    await staticMapping('racer', '198.51.100.0/24', 0, 10);
    const racer = await prisma.customer.findFirstOrThrow({ where: { userId: 'racer' } });
    const { transactions } = await countDriverStatements(
      () => apply(sessionEvent('Start', { user: 'alice', session: 's1', at: 1000, ipv4: '100.64.1.2' })),
      async (sql, session, transaction) => {
        // In the first run only, just before its mappings are written: an API write of the same
        // address commits meanwhile (written here through the run's own session, rolled back with it).
        if (transaction !== 1 || !/INSERT INTO ipdr_customers_mapping/.test(sql)) return;
        await session.query(
          `INSERT INTO ipdr_customers_mapping (context_id, ipdr_customer_id, user_id, ipsubnet, network, ip_first, ip_last, starttime, updated_at)
           VALUES ($1, $2, 'racer', '100.64.1.2', '100.64.1.2', $3, $3, 0, now())`,
          [tenant.id, racer.id, subnetColumns(parseIpSubnet('100.64.1.2')).ipFirst],
        );
      },
    );
    expect(transactions).toBe(2);
    expect(await holderOf('100.64.1.2', 1000)).toBe('alice');
    expect(await prisma.radiusSession.count()).toBe(1);
  });
});
