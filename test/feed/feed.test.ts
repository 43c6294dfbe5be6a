import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createContext,
  createToken,
  createUser,
  grantAccess,
  revokeAccess,
  revokeToken,
} from '../../src/access/store.js';
import { type App, createApp } from '../../src/app.js';
import { openDatabase } from '../../src/db/connection.js';
import { createDb } from '../../src/db/handle.js';
import { checkContextName, checkUsername } from '../../src/domain/names.js';
import { createRedisFeedBus } from '../../src/feed/redis-bus.js';
import { createRateLimiter } from '../../src/access/rate-limit.js';
import { createLogger } from '../../src/logger.js';
import { createCustomer, createMapping, graphqlData, resetData } from '../helpers.js';
import { app, createTestApp, databaseUrl, db, testEnv, yoga } from '../setup/app.js';
import { ADMIN_TOKEN } from '../setup/credentials.js';
import { type SseStream, openSse } from './sse.js';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

type Fetch = (url: string, init: RequestInit) => Promise<Response>;
const fetchOf =
  (app: { yoga: App['yoga'] }): Fetch =>
  (url, init) =>
    Promise.resolve(app.yoga.fetch(url, init));
const fetch = fetchOf({ yoga });

const MAPPING_EVENTS = `subscription($after: ID) { mappingEvents(after: $after) {
  id auditEventId action actor channel entityId mapping { id ipsubnet starttime endtime customer { userId } } } }`;
const CUSTOMER_EVENTS = `subscription($after: ID) { customerEvents(after: $after) {
  id action entityId customer { userId name email } } }`;

/** The mappingEvents payload of a `next` message. */
async function nextEvent(stream: SseStream, timeoutMs = 3000) {
  const message = await stream.next(timeoutMs);
  expect(message.event).toBe('next');
  const payload = message.data as { data?: Record<string, any>; errors?: unknown[] };
  expect(payload.errors).toBeUndefined();
  return Object.values(payload.data!)[0] as Record<string, any>;
}

/** The feed's last position now, as `after`: the test's next writes are in the stream, however soon they follow. */
const fromNow = async () => String(await app.feed.refresh());

let otherReaderToken: string;

beforeAll(async () => {
  await resetData();
  await createCustomer('FEED-1', 'Feed Subscriber');
  await createContext(db, checkContextName('elsewhere'));
  await createUser(db, checkUsername('reader-elsewhere'), false);
  await grantAccess(db, 'reader-elsewhere', 'elsewhere', false);
  otherReaderToken = (await createToken(db, 'reader-elsewhere', { readOnly: true })).token;
});

describe('the live feed', () => {
  it('sends a mapping created after the stream opened, over Yoga’s SSE', async () => {
    const stream = await openSse(fetch, { query: MAPPING_EVENTS });
    expect(stream.status).toBe(200);
    expect(await stream.quietFor(300)).toBe(true);
    const created = await createMapping({ userId: 'FEED-1', ipsubnet: '10.90.0.1', starttime: 100 });
    expect(await nextEvent(stream)).toMatchObject({
      action: 'create',
      channel: 'graphql',
      actor: 'admin',
      entityId: created.id,
      mapping: { id: created.id, ipsubnet: '10.90.0.1', starttime: 100, endtime: null, customer: { userId: 'FEED-1' } },
    });
    await stream.close();
  });

  it('resumed after the last id seen, gives every event since, none twice', async () => {
    const first = await openSse(fetch, { query: MAPPING_EVENTS, variables: { after: await fromNow() } });
    const a = await createMapping({ userId: 'FEED-1', ipsubnet: '10.90.1.1', starttime: 100 });
    const seen = await nextEvent(first);
    expect(seen).toMatchObject({ action: 'create', entityId: a.id });
    await first.close();

    // Written while nobody listens: an update, a delete and a create.
    await graphqlData(`mutation { updateMapping(id: ${a.id}, input: { endtime: 500 }) { __typename } }`);
    await graphqlData(`mutation { deleteMapping(id: ${a.id}) { __typename } }`);
    const b = await createMapping({ userId: 'FEED-1', ipsubnet: '10.90.1.2', starttime: 100 });

    const resumed = await openSse(fetch, { query: MAPPING_EVENTS, variables: { after: seen.id } });
    const missed = [await nextEvent(resumed), await nextEvent(resumed), await nextEvent(resumed)];
    expect(missed.map((event) => [event.action, event.entityId])).toEqual([
      ['update', a.id],
      ['delete', a.id],
      ['create', b.id],
    ]);
    expect(missed[0]!.mapping).toMatchObject({ endtime: 500 });
    expect(missed[1]!.mapping).toMatchObject({ id: a.id, endtime: 500 });
    const ids = missed.map((event) => Number(event.id));
    expect(ids.every((id, index) => id > (index === 0 ? Number(seen.id) : ids[index - 1]!))).toBe(true);
    // Nothing more, and nothing of the earlier events again.
    expect(await resumed.quietFor(400)).toBe(true);
    const c = await createMapping({ userId: 'FEED-1', ipsubnet: '10.90.1.3', starttime: 100 });
    expect(await nextEvent(resumed)).toMatchObject({ action: 'create', entityId: c.id });
    await resumed.close();
  });

  it('sends customer events', async () => {
    const stream = await openSse(fetch, { query: CUSTOMER_EVENTS, variables: { after: await fromNow() } });
    expect(await stream.quietFor(200)).toBe(true);
    const created = await createCustomer('FEED-2', 'Second Subscriber');
    await graphqlData(
      `mutation { updateCustomer(userId: "FEED-2", input: { userId: "FEED-2", name: "Second Subscriber", email: "two@example.net" }) { __typename } }`,
    );
    expect(await nextEvent(stream)).toMatchObject({
      action: 'create',
      customer: { userId: 'FEED-2', name: 'Second Subscriber' },
    });
    expect(await nextEvent(stream)).toMatchObject({ action: 'update', customer: { email: 'two@example.net' } });
    expect(created).toBeTruthy();
    await stream.close();
  });

  it('speaks the graphql-sse protocol on /graphql/stream', async () => {
    const stream = await openSse(
      fetch,
      { query: MAPPING_EVENTS, variables: { after: await fromNow() } },
      { path: '/graphql/stream' },
    );
    expect(stream.status).toBe(200);
    expect(await stream.quietFor(200)).toBe(true);
    const created = await createMapping({ userId: 'FEED-1', ipsubnet: '10.90.2.1', starttime: 100 });
    expect(await nextEvent(stream)).toMatchObject({ action: 'create', entityId: created.id });
    await stream.close();
  });

  it('refuses a bad after naming it', async () => {
    const stream = await openSse(fetch, { query: MAPPING_EVENTS, variables: { after: 'yesterday' } });
    const message = await stream.next();
    expect(message.data).toMatchObject({
      errors: [{ message: expect.stringContaining('after'), extensions: { code: 'BAD_USER_INPUT' } }],
    });
    await stream.close();
  });

  it('gives a token of another context nothing of this one', async () => {
    const own = await openSse(fetch, { query: MAPPING_EVENTS }, { token: otherReaderToken, context: 'elsewhere' });
    expect(own.status).toBe(200);
    const refused = await openSse(fetch, { query: MAPPING_EVENTS }, { token: otherReaderToken, context: 'default' });
    expect(JSON.stringify((await refused.next()).data)).toContain('FORBIDDEN');
    await refused.close();
    expect(await own.quietFor(200)).toBe(true);
    await createMapping({ userId: 'FEED-1', ipsubnet: '10.90.3.1', starttime: 100 });
    await createCustomer('FEED-3');
    expect(await own.quietFor(1500)).toBe(true);
    await own.close();
  });

  it('ends the stream of a token revoked, or of a grant taken away, while it is open', async () => {
    await createUser(db, checkUsername('reader-here'), false);
    await grantAccess(db, 'reader-here', 'default', false);
    const revoked = await createToken(db, 'reader-here', { readOnly: true });
    const kept = await createToken(db, 'reader-here', { readOnly: true });
    const first = await openSse(
      fetch,
      { query: MAPPING_EVENTS, variables: { after: await fromNow() } },
      { token: revoked.token },
    );
    const second = await openSse(
      fetch,
      { query: MAPPING_EVENTS, variables: { after: await fromNow() } },
      { token: kept.token },
    );
    const before = await createMapping({ userId: 'FEED-1', ipsubnet: '10.90.7.1', starttime: 100 });
    expect(await nextEvent(first)).toMatchObject({ entityId: before.id });
    expect(await nextEvent(second)).toMatchObject({ entityId: before.id });
    // Past the interval at which a stream asks again.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await revokeToken(db, revoked.record.id);
    const after = await createMapping({ userId: 'FEED-1', ipsubnet: '10.90.7.2', starttime: 100 });
    const refusal = await first.next();
    expect(refusal.data).toMatchObject({ errors: [{ extensions: { code: 'FORBIDDEN' } }] });
    expect(JSON.stringify(refusal.data)).not.toContain('10.90.7.2');
    await first.close();
    expect(await nextEvent(second)).toMatchObject({ entityId: after.id });
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await revokeAccess(db, 'reader-here', 'default');
    await createMapping({ userId: 'FEED-1', ipsubnet: '10.90.7.3', starttime: 100 });
    expect((await second.next()).data).toMatchObject({ errors: [{ extensions: { code: 'FORBIDDEN' } }] });
    await second.close();
  });

  it('bounds the streams one token holds open, and gives one back when it closes', async () => {
    const bounded = createTestApp({ FEED_MAX_STREAMS_PER_TOKEN: '2' });
    const boundedFetch = fetchOf(bounded);
    const one = await openSse(boundedFetch, { query: MAPPING_EVENTS });
    const two = await openSse(boundedFetch, { query: CUSTOMER_EVENTS });
    expect(await one.quietFor(100)).toBe(true);
    expect(await two.quietFor(100)).toBe(true);
    const three = await openSse(boundedFetch, { query: MAPPING_EVENTS });
    expect((await three.next()).data).toMatchObject({
      errors: [{ message: expect.stringContaining('2 feed streams'), extensions: { code: 'TOO_MANY_STREAMS' } }],
    });
    await three.close();
    // Another token is not held back by this one's streams.
    const elsewhere = await openSse(
      boundedFetch,
      { query: MAPPING_EVENTS },
      { token: otherReaderToken, context: 'elsewhere' },
    );
    expect(await elsewhere.quietFor(100)).toBe(true);
    await elsewhere.close();

    await one.close();
    // The stream's end is seen at its next wake-up: a write wakes it.
    await createMapping({ userId: 'FEED-1', ipsubnet: '10.90.4.1', starttime: 100 });
    await expect
      .poll(
        async () => {
          const again = await openSse(boundedFetch, { query: MAPPING_EVENTS });
          const refused = !(await again.quietFor(150));
          await again.close();
          return refused;
        },
        { timeout: 5000, interval: 200 },
      )
      .toBe(false);
    await two.close();
    await bounded.feed.close();
  });

  it('ends its streams when the hub closes (shutdown)', async () => {
    const closing = createTestApp();
    const stream = await openSse(fetchOf(closing), { query: MAPPING_EVENTS });
    expect(await stream.quietFor(100)).toBe(true);
    await closing.feed.close();
    expect(await stream.next(2000)).toEqual({ event: 'complete', data: null });
    await stream.close();
  });
});

describe.runIf(databaseUrl)('the live feed on PostgreSQL', () => {
  it('gives an event of a transaction that commits late a position after those given meanwhile', async () => {
    const stream = await openSse(fetch, { query: MAPPING_EVENTS, variables: { after: await fromNow() } });
    expect(await stream.quietFor(200)).toBe(true);
    const held = new pg.Client({ connectionString: databaseUrl });
    await held.connect();
    try {
      await held.query('BEGIN');
      // Its id is taken now, before the write below; it becomes visible after it.
      const { rows } = await held.query<{ id: number }>(
        `INSERT INTO audit_events (context_id, actor, channel, action, entity_type, entity_id)
         SELECT id, 'held-writer', 'cli', 'update', 'mapping', 0 FROM contexts WHERE name = 'default' RETURNING id`,
      );
      const late = await createMapping({ userId: 'FEED-1', ipsubnet: '10.90.5.1', starttime: 100 });
      const early = await nextEvent(stream);
      expect(early).toMatchObject({ entityId: late.id });
      expect(await stream.quietFor(300)).toBe(true);
      await held.query('COMMIT');
      // Nothing in this app wrote: the poll (while a subscriber waits) finds it.
      const second = await nextEvent(stream, 4000);
      expect(second).toMatchObject({ actor: 'held-writer', auditEventId: rows[0]!.id });
      expect(Number(second.id)).toBeGreaterThan(Number(early.id));
      expect(rows[0]!.id).toBeLessThan(early.auditEventId);
    } finally {
      await held.end();
      await stream.close();
    }
  });

  it('reaches a subscriber of another instance within a second, woken through Redis', async () => {
    const logger = createLogger(testEnv());
    const instance = (database: ReturnType<typeof createDb>): App => {
      // Polling slower than the test's second: only the Redis wake-up can deliver in time.
      const env = testEnv({ FEED_POLL_MS: '60000' });
      return createApp({
        env,
        db: database,
        logger,
        rateLimiter: createRateLimiter({ perMinute: env.RATE_LIMIT_PER_MINUTE, logger }),
        authFailureLimiter: createRateLimiter({ perMinute: env.AUTH_FAILURES_PER_MINUTE, logger }),
        feedBus: createRedisFeedBus(REDIS_URL, logger),
      });
    };
    const otherDb = createDb(openDatabase({ databaseUrl, poolSize: 2, dataDir: 'memory://' }));
    const writer = instance(db);
    const reader = instance(otherDb);
    try {
      const stream = await openSse(fetchOf(reader), { query: MAPPING_EVENTS, variables: { after: await fromNow() } });
      expect(await stream.quietFor(500)).toBe(true);
      const started = Date.now();
      const response = await writer.yoga.fetch('http://ipdr.test/graphql', {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          query: `mutation { createMapping(input: { userId: "FEED-1", ipsubnet: "10.90.6.1", starttime: 100 }) { __typename ... on IpMapping { id } } }`,
        }),
      });
      const created = (await response.json()) as { data: { createMapping: { id: number } } };
      const event = await nextEvent(stream, 1000);
      expect(event).toMatchObject({ action: 'create', entityId: created.data.createMapping.id });
      expect(Date.now() - started).toBeLessThan(1000);
      await stream.close();
    } finally {
      await writer.feed.close();
      await reader.feed.close();
      await otherDb.close();
    }
  });
});

afterAll(() => app.feed.close());
