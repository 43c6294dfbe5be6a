// Read replicas (DATABASE_REPLICA_URLS): the rules of lag as pure functions, then a real streaming
// replica of a primary on this machine (scripts/replica-cluster.sh: two clusters of their own),
// in-process for where each read goes and as the deployed server for a replica stopped mid-run.
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { Socket as NetSocket, type Socket, createServer } from 'node:net';
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRateLimiter } from '../../src/access/rate-limit.js';
import { bootstrapAccess } from '../../src/access/store.js';
import { checkTokenFormat } from '../../src/access/tokens.js';
import { type App, createApp } from '../../src/app.js';
import { openDatabase } from '../../src/db/connection.js';
import { type Db, createDb } from '../../src/db/handle.js';
import { migrate } from '../../src/db/migrate.js';
import {
  type PrimarySample,
  type ReadRouter,
  createReadRouter,
  keptSamples,
  parseLsn,
  replicaLagSeconds,
} from '../../src/db/replicas.js';
import { checkContextName, checkUsername } from '../../src/domain/names.js';
import { readEnv } from '../../src/env.js';
import { createLogger } from '../../src/logger.js';
import { type RunningServer, startServer, stopServer } from '../server-process.js';
import { TEST_SETTINGS } from '../setup/child-env.js';
import { ADMIN_TOKEN } from '../setup/credentials.js';

describe('replica lag, by WAL positions', () => {
  it('reads PostgreSQL WAL positions', () => {
    expect(parseLsn('0/0')).toBe(0n);
    expect(parseLsn('16/B374D848')).toBe((0x16n << 32n) | 0xb374d848n);
    expect(() => parseLsn('16-B374D848')).toThrow(/not a WAL position/);
  });

  it('is the age of the latest primary sample the replica has replayed', () => {
    const samples: PrimarySample[] = [
      { at: 1_000, lsn: 100n },
      { at: 2_000, lsn: 200n },
      { at: 3_000, lsn: 300n },
    ];
    expect(replicaLagSeconds(samples, 300n, 3_500)).toBe(0.5);
    expect(replicaLagSeconds(samples, 299n, 3_500)).toBe(1.5);
    expect(replicaLagSeconds(samples, 99n, 3_500)).toBeNull();
  });

  it('never says a replica is closer than it is, and keeps what the bound needs', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ at: fc.integer({ min: 0, max: 100_000 }), lsn: fc.bigInt({ min: 0n, max: 10_000n }) }), {
          minLength: 1,
          maxLength: 30,
        }),
        fc.bigInt({ min: 0n, max: 10_000n }),
        fc.integer({ min: 0, max: 50_000 }),
        fc.integer({ min: 1, max: 60 }),
        (unsorted, replayed, later, maxLagSeconds) => {
          // The primary's position only moves forward.
          const byTime = [...unsorted].sort((a, b) => a.at - b.at);
          const lsns = byTime.map((sample) => sample.lsn).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
          const samples = byTime.map((sample, index) => ({ at: sample.at, lsn: lsns[index]! }));
          const now = samples.at(-1)!.at + later;
          const lag = replicaLagSeconds(samples, replayed, now);
          // Every sample the replica has not replayed was taken less than `lag` ago.
          for (const sample of samples) {
            if (sample.lsn > replayed && lag !== null) expect((now - sample.at) / 1000).toBeLessThanOrEqual(lag);
          }
          // Keeping fewer samples changes no answer within the bound.
          const kept = keptSamples(samples, now, maxLagSeconds);
          const keptLag = replicaLagSeconds(kept, replayed, now);
          if (lag !== null && lag <= maxLagSeconds) expect(keptLag).toBe(lag);
          else expect(keptLag === null || keptLag > maxLagSeconds).toBe(true);
        },
      ),
    );
  });
});

const onPostgres = process.env.TEST_DATABASE_URL !== undefined;
const PRIMARY_PORT = 5441;
const REPLICA_PORT = 5442;
const cluster = (command: string) =>
  execFileSync('scripts/replica-cluster.sh', [command], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
// Run without blocking the event loop, so that the lookups in flight overlap the replica's shutdown.
const clusterAsync = (command: string) =>
  promisify(execFile)('scripts/replica-cluster.sh', [command], { timeout: 60_000 });
const urlOf = (port: number, database: string) => `postgres://postgres@127.0.0.1:${port}/${database}`;

async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not ${what} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Statements a Db sent: its lookup reads below Prisma, and Prisma's own. */
function countStatements(db: Db) {
  const counts = { reads: 0, prisma: 0 };
  db.events.on('read', () => counts.reads++);
  (db.prisma.$on as (event: 'query', callback: () => void) => void)('query', () => counts.prisma++);
  return counts;
}

describe.skipIf(!onPostgres)('a streaming replica (PostgreSQL)', () => {
  const name = `ipdr_test_replicas_${randomBytes(4).toString('hex')}`;
  let primary: Db;
  let replica: Db;
  let router: ReadRouter;
  let app: App;
  let primaryCounts: { reads: number; prisma: number };
  let replicaCounts: { reads: number; prisma: number };

  async function onPrimary(sql: string) {
    const client = new pg.Client({ connectionString: urlOf(PRIMARY_PORT, 'postgres') });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  }
  async function onReplica<Row>(sql: string): Promise<Row[]> {
    const client = new pg.Client({ connectionString: urlOf(REPLICA_PORT, name) });
    await client.connect();
    try {
      return (await client.query(sql)).rows as Row[];
    } finally {
      await client.end();
    }
  }
  const graphql = async (query: string, variables: Record<string, unknown> = {}) =>
    (await (
      await app.yoga.fetch('http://ipdr.test/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
        body: JSON.stringify({ query, variables }),
      })
    ).json()) as { data?: any; errors?: unknown[] };
  const whoHad = async (ip: string) =>
    (await graphql('query ($ip: IPAddress!) { whoHad(ip: $ip, at: 1500) { customer { userId } } }', { ip })).data
      ?.whoHad?.customer?.userId ?? null;
  const createHolder = (userId: string, ip: string) =>
    graphql(
      `
        mutation ($userId: String!, $ip: IPSubnetInput!) {
          createCustomer(input: { userId: $userId, name: "Replica test" }) {
            __typename
          }
          createMapping(input: { userId: $userId, ipsubnet: $ip, starttime: 1000 }) {
            ... on IpMapping {
              ipsubnet
              customer {
                userId
              }
            }
          }
        }
      `,
      { userId, ip },
    );

  beforeAll(async () => {
    cluster('up');
    await onPrimary(`CREATE DATABASE ${name}`);
    primary = createDb(openDatabase({ databaseUrl: urlOf(PRIMARY_PORT, name), poolSize: 4, dataDir: 'memory://' }));
    await migrate(primary.database);
    await bootstrapAccess(primary, {
      contexts: [checkContextName('default')],
      adminUser: checkUsername('admin'),
      adminToken: checkTokenFormat(ADMIN_TOKEN),
    });
    replica = createDb(openDatabase({ databaseUrl: urlOf(REPLICA_PORT, name), poolSize: 4, dataDir: 'memory://' }));
    const env = readEnv({ ...TEST_SETTINGS, DATABASE_URL: urlOf(PRIMARY_PORT, name) });
    const logger = createLogger(env);
    router = createReadRouter({
      primary,
      replicas: [{ name: `127.0.0.1:${REPLICA_PORT}/${name}`, db: replica }],
      maxLagSeconds: 5,
      probeIntervalMs: 200,
      logger,
    });
    app = createApp({
      env,
      db: primary,
      readRouter: router,
      logger,
      rateLimiter: createRateLimiter({ perMinute: 0, logger }),
      authFailureLimiter: createRateLimiter({ perMinute: 0, logger }),
    });
    primaryCounts = countStatements(primary);
    replicaCounts = countStatements(replica);
    await waitFor('usable', () => router.health()[0]!.usable, 20_000);
  }, 90_000);

  afterAll(async () => {
    await onReplica('SELECT pg_wal_replay_resume()').catch(() => {});
    await router?.close();
    await primary?.close();
    await onPrimary(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
  });

  it('answers lookups and lists of a query from the replica, and a mutation from the primary', async () => {
    const before = { ...primaryCounts };
    const created = await createHolder('R-1', '198.51.100.1');
    expect(created.errors).toBeUndefined();
    expect(created.data.createMapping).toEqual({ ipsubnet: '198.51.100.1', customer: { userId: 'R-1' } });
    // The mutation's payload (its customer) was read on the primary, none of it on the replica.
    expect(replicaCounts.prisma).toBe(0);
    expect(primaryCounts.prisma).toBeGreaterThan(before.prisma);

    await waitFor('replayed', async () => (await whoHad('198.51.100.1')) === 'R-1');
    const lookupReads = primaryCounts.reads;
    expect(await whoHad('198.51.100.1')).toBe('R-1');
    const many = await graphql(
      '{ whoHadMany(lookups: [{ ip: "198.51.100.1", at: 1500 }, { ip: "198.51.100.2", at: 1500 }]) { customer { userId } } }',
    );
    expect(many.data?.whoHadMany).toEqual([{ customer: { userId: 'R-1' } }, null]);
    const listed = await graphql('{ customers(first: 10) { totalCount edges { node { userId } } } }');
    expect(listed.data?.customers).toEqual({ totalCount: 1, edges: [{ node: { userId: 'R-1' } }] });
    expect(primaryCounts.reads).toBe(lookupReads);
    expect(replicaCounts.reads).toBeGreaterThan(0);
    expect(replicaCounts.prisma).toBeGreaterThan(0);
  });

  it('skips a replica further behind than REPLICA_MAX_LAG_SECONDS until it catches up', async () => {
    await onReplica('SELECT pg_wal_replay_pause()');
    let reads: { primary: number; replica: number };
    try {
      const created = await createHolder('R-2', '198.51.100.2');
      expect(created.errors).toBeUndefined();
      // Skipped as its last measure ages past the bound, then said so by the next probe.
      await waitFor('skipped', () => /more than 5 s behind/.test(router.health()[0]!.problem ?? ''), 20_000);
      expect(router.health()[0]!.usable).toBe(false);
      // The replica has not replayed R-2; the primary answers, with it.
      reads = { primary: primaryCounts.reads, replica: replicaCounts.reads };
      expect(await whoHad('198.51.100.2')).toBe('R-2');
      expect(primaryCounts.reads).toBeGreaterThan(reads.primary);
      expect(replicaCounts.reads).toBe(reads.replica);
    } finally {
      // Left paused, it would fail every later test (and run) on this replica.
      await onReplica('SELECT pg_wal_replay_resume()');
    }
    await waitFor('usable again', () => router.health()[0]!.usable, 20_000);
    expect(await whoHad('198.51.100.2')).toBe('R-2');
    expect(replicaCounts.reads).toBeGreaterThan(reads.replica);
  }, 60_000);

  it('does not read from a server that is not a standby', async () => {
    const notStandby = createDb(
      openDatabase({ databaseUrl: urlOf(PRIMARY_PORT, name), poolSize: 1, dataDir: 'memory://' }),
    );
    const logger = createLogger(readEnv({ ...TEST_SETTINGS }));
    const wrong = createReadRouter({
      primary,
      replicas: [{ name: 'the primary itself', db: notStandby }],
      maxLagSeconds: 2,
      probeIntervalMs: 100,
      logger,
    });
    try {
      await waitFor('probed', () => wrong.health()[0]!.problem !== 'not probed yet');
      expect(wrong.health()).toEqual([
        { name: 'the primary itself', usable: false, lagSeconds: null, problem: 'not a standby in recovery' },
      ]);
      expect(wrong.pick()).toBe(primary);
    } finally {
      await wrong.close();
    }
  });

  it('skips a replica that hangs (answers nothing), its reads answered by the primary', async () => {
    // A TCP relay to the replica that, once frozen, passes nothing on either way: a server cut off
    // without a reset, or stopped dead.
    let frozen = false;
    const sockets: Socket[] = [];
    const relay = createServer((client) => {
      const upstream = new NetSocket();
      upstream.connect(REPLICA_PORT, '127.0.0.1');
      sockets.push(client, upstream);
      client.on('data', (chunk) => frozen || upstream.write(chunk));
      upstream.on('data', (chunk) => frozen || client.write(chunk));
      client.on('error', () => {});
      upstream.on('error', () => {});
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    const relayPort = (relay.address() as { port: number }).port;
    const hanging = createDb(
      openDatabase({
        databaseUrl: urlOf(relayPort, name),
        poolSize: 2,
        dataDir: 'memory://',
        clientTimeouts: { connectMs: 2000, queryMs: 2000 },
      }),
    );
    const logger = createLogger(readEnv({ ...TEST_SETTINGS }));
    const hangingRouter = createReadRouter({
      primary,
      replicas: [{ name: 'relayed', db: hanging }],
      maxLagSeconds: 5,
      probeIntervalMs: 200,
      logger,
    });
    try {
      await waitFor('usable', () => hangingRouter.health()[0]!.usable, 20_000);
      const reader = hangingRouter.pick();
      expect(reader).not.toBe(primary);
      frozen = true;
      const started = Date.now();
      const rows = await reader.readRows<{ user_id: string }>(
        "SELECT user_id FROM ipdr_customers WHERE user_id = 'R-1'",
        [],
      );
      expect(rows).toEqual([{ user_id: 'R-1' }]);
      expect(Date.now() - started).toBeLessThan(5_000);
      await waitFor('skipped', () => !hangingRouter.health()[0]!.usable, 10_000);
      expect(hangingRouter.pick()).toBe(primary);
    } finally {
      const closing = Date.now();
      await hangingRouter.close();
      expect(Date.now() - closing).toBeLessThan(5_000);
      for (const socket of sockets) socket.destroy();
      relay.close();
    }
  }, 60_000);

  describe('the deployed server, its replica stopped mid-run', () => {
    let server: RunningServer;

    beforeAll(async () => {
      server = await startServer({
        DATABASE_URL: urlOf(PRIMARY_PORT, name),
        DATABASE_REPLICA_URLS: urlOf(REPLICA_PORT, name),
        REPLICA_MAX_LAG_SECONDS: '5',
      });
    }, 120_000);
    afterAll(async () => {
      if (server) await stopServer(server);
      cluster('start-replica');
    }, 60_000);

    const metric = async (metricName: string) => {
      const text = await (await fetch(server.url.replace('/graphql', '/metrics'))).text();
      const line = text.split('\n').find((l) => l.startsWith(`${metricName}{`));
      return line === undefined ? null : Number(line.split(' ').at(-1));
    };
    const lookUp = async () => {
      const response = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
        body: JSON.stringify({ query: '{ whoHad(ip: "198.51.100.1", at: 1500) { customer { userId } } }' }),
      });
      return { status: response.status, body: (await response.json()) as { data?: any; errors?: unknown[] } };
    };

    it('goes on answering from the primary, and back to the replica once it is up', async () => {
      await waitFor('usable', async () => (await metric('ipdr_db_replica_usable')) === 1);
      const answers: { status: number; body: { data?: any; errors?: unknown[] } }[] = [];
      // Bounded in count and time: 4 clients, at most 600 lookups or 20 s.
      const until = Date.now() + 20_000;
      let stopped = false;
      const client = async () => {
        while (answers.length < 600 && Date.now() < until && !(stopped && answers.length >= 400))
          answers.push(await lookUp());
      };
      const load = Promise.all([client(), client(), client(), client()]);
      await waitFor('some answers', () => answers.length >= 100, 20_000);
      const beforeStop = server.output().length;
      await clusterAsync('stop-replica');
      stopped = true;
      await load;
      expect(answers.length).toBeGreaterThanOrEqual(400);
      for (const answer of answers) {
        expect(answer).toEqual({ status: 200, body: { data: { whoHad: { customer: { userId: 'R-1' } } } } });
      }
      expect(await metric('ipdr_db_replica_usable')).toBe(0);
      expect(server.output().slice(beforeStop)).toMatch(/replica skipped/);

      const beforeStart = server.output().length;
      await clusterAsync('start-replica');
      await waitFor('usable again', async () => (await metric('ipdr_db_replica_usable')) === 1, 20_000);
      expect((await lookUp()).body.data.whoHad.customer.userId).toBe('R-1');
      expect(server.output().slice(beforeStart)).toMatch(/replica in use/);
    }, 90_000);
  });
});
