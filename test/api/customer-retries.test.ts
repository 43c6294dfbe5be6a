import { databaseUrl } from '../setup/app.js';
import pg from 'pg';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { database, prisma } from '../setup/app.js';
import { parseIpSubnet } from '../../src/domain/ip.js';
import { subnetColumns } from '../../src/mappings/filters.js';
import { yoga } from '../setup/app.js';
import { ADMIN_TOKEN } from '../setup/credentials.js';
import { createCustomer, createMapping, graphql, resetData } from '../helpers.js';

// Customer writes lose races as mapping writes do, and are answered as those are: run again from
// the start, BusyError once they keep losing. The losses here are real: a trigger of this file's
// own database fails the customer write with PostgreSQL's serialization_failure (40001), as
// many times as a test asks. The count of failures is a sequence, which a rollback leaves as it
// is, so it also tells how many times the write was run.

const onPostgres = Boolean(process.env.TEST_DATABASE_URL);

const LOSING_TRIGGER = `
CREATE TABLE test_write_losses (losses integer NOT NULL);
INSERT INTO test_write_losses VALUES (0);
CREATE SEQUENCE test_write_runs;
CREATE FUNCTION test_lose_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF nextval('test_write_runs') <= (SELECT losses FROM test_write_losses) THEN
    RAISE EXCEPTION 'could not serialize access due to concurrent update' USING ERRCODE = '40001';
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER test_lose_write AFTER INSERT OR UPDATE OR DELETE ON ipdr_customers
  FOR EACH ROW EXECUTE FUNCTION test_lose_write();`;

/** The next customer writes each fail with 40001 until `losses` runs have failed. */
async function loseWrites(losses: number) {
  await prisma.$executeRawUnsafe(`UPDATE test_write_losses SET losses = ${losses}`);
  await prisma.$executeRawUnsafe('ALTER SEQUENCE test_write_runs RESTART');
}

/** How many times the trigger ran since loseWrites: once per run of the write. */
async function runs() {
  const [row] = await prisma.$queryRawUnsafe<{ last_value: bigint; is_called: boolean }[]>(
    'SELECT last_value, is_called FROM test_write_runs',
  );
  return row!.is_called ? Number(row!.last_value) : 0;
}

const RESULT = `__typename ... on Error { message } ... on BusyError { retryAfterSeconds }
  ... on Customer { userId name }`;

const writes = {
  create: () => graphql(`mutation { result: createCustomer(input: { userId: "NEW", name: "New" }) { ${RESULT} } }`),
  update: () =>
    graphql(
      `mutation { result: updateCustomer(userId: "C1", input: { userId: "C1", name: "Updated" }) { ${RESULT} } }`,
    ),
  patch: () => graphql(`mutation { result: patchCustomer(userId: "C1", input: { name: "Patched" }) { ${RESULT} } }`),
  delete: () => graphql(`mutation { result: deleteCustomer(userId: "C1", cascade: true) { ${RESULT} } }`),
};

/** What the writes may change: the customers, their mappings and the trail. */
async function stored() {
  return {
    customers: (await prisma.customer.findMany({ orderBy: { id: 'asc' } })).map((c) => [c.userId, c.name]),
    mappings: await prisma.ipMapping.count(),
    audit: (await prisma.auditEvent.findMany({ orderBy: { id: 'asc' } })).map((e) => [e.action, e.entityType]),
  };
}

beforeAll(async () => {
  const session = await database.openMigrationSession();
  try {
    await session.exec(LOSING_TRIGGER);
  } finally {
    await session.release();
  }
});

beforeEach(async () => {
  await loseWrites(0);
  await resetData();
  await createCustomer('C1', 'One');
  await createMapping({ userId: 'C1', ipsubnet: '10.0.0.1', starttime: 0 });
});

afterEach(() => loseWrites(0));

describe('a customer write that loses a race', () => {
  it.each([
    [
      'create',
      [
        ['C1', 'One'],
        ['NEW', 'New'],
      ],
      1,
      'create',
    ],
    ['update', [['C1', 'Updated']], 1, 'update'],
    ['patch', [['C1', 'Patched']], 1, 'update'],
    ['delete', [], 0, 'delete'],
  ] as const)('is run again and succeeds: %s', async (kind, customers, mappings, action) => {
    const before = await stored();
    await loseWrites(1);
    const answer = await writes[kind]();
    expect(answer.errors).toBeUndefined();
    expect(answer.data!.result.__typename).toBe('Customer');
    // The run that lost, and the one that won.
    expect(await runs()).toBe(2);
    const after = await stored();
    expect(after.customers).toEqual(customers);
    expect(after.mappings).toBe(mappings);
    // The trail records the change once: the lost run's records were rolled back with it.
    const added = after.audit.slice(before.audit.length);
    expect(added).toEqual(
      kind === 'delete'
        ? [
            ['delete', 'mapping'],
            ['delete', 'customer'],
          ]
        : [[action, 'customer']],
    );
  });

  it.each(['create', 'update', 'patch', 'delete'] as const)(
    'that keeps losing is a BusyError, and nothing is written: %s',
    async (kind) => {
      const before = await stored();
      await loseWrites(1000);
      const answer = await writes[kind]();
      expect(answer.errors).toBeUndefined();
      expect(answer.data!.result).toMatchObject({
        __typename: 'BusyError',
        retryAfterSeconds: 1,
        message: expect.stringMatching(/nothing was changed; try again in 1 s/),
      });
      // Run a bounded number of times (db/transaction.ts), not once and not forever.
      expect(await runs()).toBe(6);
      expect(await stored()).toEqual(before);
    },
  );

  it('that keeps losing is a 503 with Retry-After on the REST API', async () => {
    const before = await stored();
    await loseWrites(1000);
    const answers = [
      await restWrite('POST', '/api/ipdrcustomers', { ...TRISUL_FIELDS, UserID: 'NEW', Name: 'New' }),
      await restWrite('PUT', '/api/ipdrcustomers/C1', { ...TRISUL_FIELDS, UserID: 'C1', Name: 'Updated' }),
      await restWrite('PATCH', '/api/ipdrcustomers/C1', { Name: 'Patched' }),
      await restWrite('DELETE', '/api/ipdrcustomers/C1', {}),
    ];
    for (const answer of answers) {
      expect(answer).toEqual({
        status: 503,
        retryAfter: '1',
        body: { status: 'Error', message: expect.stringMatching(/busy .* try again in 1 s/) },
      });
    }
    expect(await stored()).toEqual(before);
    await loseWrites(0);
    expect(await restWrite('PATCH', '/api/ipdrcustomers/C1', { Name: 'Patched' })).toMatchObject({
      status: 200,
      body: { UserID: 'C1', Name: 'Patched' },
    });
  });
});

// Trisul's POST and PUT send every field.
const TRISUL_FIELDS = { Address: '', Email: '', PhoneNumber: '', AltPhoneNumber: '' };

/** A REST customer write as the admin: its status, Retry-After and body. */
async function restWrite(method: string, path: string, fields: Record<string, string>) {
  const response = await yoga.fetch(`http://ipdr.test${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ api_token: ADMIN_TOKEN, username: 'admin', contextname: 'default', ...fields }),
  });
  return { status: response.status, retryAfter: response.headers.get('retry-after'), body: await response.json() };
}

// Two sessions interleaved by hand: only PostgreSQL has a second one (PGlite is one connection,
// its transactions run one after another).
describe.skipIf(!onPostgres)('a customer write overtaken by another session (PostgreSQL)', () => {
  let other: pg.Client;

  beforeEach(async () => {
    other = new pg.Client({ connectionString: databaseUrl });
    await other.connect();
  });

  afterEach(async () => {
    await other.query('ROLLBACK').catch(() => {});
    await other.end();
  });

  /** Waits until some session of this database waits for a row lock: the app's write. */
  async function untilBlocked() {
    for (let attempt = 0; attempt < 600; attempt++) {
      const { rows } = await other.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
      );
      if (rows[0].n > 0) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error('the write never waited for the other session');
  }

  it('records in the trail the customer as it was when written, not a copy read before', async () => {
    await other.query('BEGIN');
    await other.query(`UPDATE ipdr_customers SET name = 'Renamed elsewhere' WHERE user_id = 'C1'`);
    const answer = writes.patch();
    await untilBlocked();
    await other.query('COMMIT');
    expect((await answer).data!.result).toMatchObject({ __typename: 'Customer', name: 'Patched' });
    const [update] = await prisma.auditEvent.findMany({ where: { action: 'update', entityType: 'customer' } });
    expect(update!.before).toMatchObject({ name: 'Renamed elsewhere' });
    expect(update!.after).toMatchObject({ name: 'Patched' });
  });

  it('deletes with the customer, and records, a mapping added while the delete waited', async () => {
    const customer = await prisma.customer.findFirstOrThrow({ where: { userId: 'C1' } });
    const subnet = subnetColumns(parseIpSubnet('10.0.0.2'));
    await other.query('BEGIN');
    const { rows } = await other.query(
      `INSERT INTO ipdr_customers_mapping (context_id, ipdr_customer_id, user_id, ipsubnet, network, ip_first, ip_last, starttime, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, 0, now()) RETURNING id`,
      [
        customer.contextId,
        customer.id,
        customer.userId,
        subnet.ipsubnet,
        subnet.network,
        subnet.ipFirst,
        subnet.ipLast,
      ],
    );
    const answer = writes.delete();
    await untilBlocked();
    await other.query('COMMIT');
    const result = await answer;
    expect(result.errors).toBeUndefined();
    expect(result.data!.result).toMatchObject({ __typename: 'Customer', userId: 'C1' });
    expect(await stored()).toMatchObject({ customers: [], mappings: 0 });
    const deleted = await prisma.auditEvent.findMany({ where: { action: 'delete', entityType: 'mapping' } });
    expect(deleted.map((event) => event.entityId)).toContain(rows[0].id);
    expect(deleted).toHaveLength(2);
  });
});
