import pino from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestApp, logger, prisma } from '../setup/app.js';
import { graphql, resetData } from '../helpers.js';
import { ADMIN_TOKEN } from '../setup/credentials.js';
import { rest } from './helpers.js';

// The REST layer runs its operations in-process on the app's envelope (rest/handler.ts): what it
// tells apart, it reads from codes and typed fields, and an unexpected failure is masked as Yoga
// masks it.

const auth = { api_token: ADMIN_TOKEN, username: 'admin' };

beforeEach(() => resetData());

describe('a refusal carries its reason as a code', () => {
  it('FORBIDDEN names the tenant problem in extensions.reason, which REST answers by', async () => {
    const answer = await graphql('{ customers(first: 1) { edges { node { id } } } }', undefined, {
      authorization: `Bearer ${ADMIN_TOKEN}`,
      'x-context': 'no-such-context',
    });
    expect(answer.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'unknown-context' });
    // Trisul's answer for a context that does not exist: 200 on the customer API, 422 on the mapping API.
    expect(await rest('GET', '/api/ipdrcustomers', { ...auth, contextname: 'no-such-context' })).toMatchObject({
      status: 200,
      body: { status: 'Error', message: 'Invalid Context name - no-such-context' },
    });
    expect(await rest('GET', '/api/ipdrcustomers_mapping', { ...auth, contextname: 'no-such-context' })).toMatchObject({
      status: 422,
      body: { status: 'Error', message: 'Invalid Context name - no-such-context' },
    });
  });
});

describe('an unexpected failure', () => {
  const lines: Record<string, any>[] = [];
  let stream: unknown;
  let level: string;
  beforeAll(() => {
    level = logger.level;
    logger.level = 'info';
    const streams = logger as unknown as Record<symbol, unknown>;
    stream = streams[pino.symbols.streamSym];
    streams[pino.symbols.streamSym] = { write: (line: string) => lines.push(JSON.parse(line)) };
  });
  afterAll(() => {
    logger.level = level;
    (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] = stream;
  });
  beforeEach(async () => {
    lines.length = 0;
    // A real error from the database, which no part of the app expects.
    await prisma.$executeRawUnsafe(`CREATE OR REPLACE FUNCTION rest_test_fail() RETURNS trigger AS $$
      BEGIN RAISE EXCEPTION 'rest test: unexpected failure'; END $$ LANGUAGE plpgsql`);
    await prisma.$executeRawUnsafe(
      `CREATE TRIGGER rest_test_fail BEFORE INSERT ON ipdr_customers FOR EACH ROW EXECUTE FUNCTION rest_test_fail()`,
    );
  });
  afterEach(async () => {
    await prisma.$executeRawUnsafe('DROP TRIGGER IF EXISTS rest_test_fail ON ipdr_customers');
  });

  it("is REST's 500 'Internal error', logged once with its cause and never sent", async () => {
    const answer = await rest('POST', '/api/ipdrcustomers', { ...auth, UserID: 'X1', Name: 'Fails' });
    expect(answer).toMatchObject({ status: 500, body: { status: 'Error', message: 'Internal error' } });
    expect(answer.text).not.toContain('rest test');
    const errors = lines.filter((line) => line.level >= 50);
    expect(errors).toHaveLength(1);
    expect(JSON.stringify(errors[0])).toContain('rest test: unexpected failure');
  });
});

describe('a list of several pages', () => {
  // Three pages of 250.
  const CUSTOMERS = 600;
  it('is one request: authenticated once, one point of the rate limit, every row', async () => {
    const contextId = (await prisma.context.findUniqueOrThrow({ where: { name: 'default' } })).id;
    await prisma.customer.createMany({
      data: Array.from({ length: CUSTOMERS }, (_, i) => ({ contextId, userId: `P${i}`, name: `Page ${i}` })),
    });
    const { yoga } = createTestApp({ RATE_LIMIT_PER_MINUTE: '2' });
    const list = () =>
      yoga.fetch(
        'http://ipdr.test/api/ipdrcustomers',
        {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(auth),
        },
        { restMethod: 'GET' },
      );
    for (let i = 0; i < 2; i++) {
      const response = await list();
      expect(response.status).toBe(200);
      expect(((await response.json()) as unknown[]).length).toBe(CUSTOMERS);
    }
    const refused = await list();
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
  });
});
