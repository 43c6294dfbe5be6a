import { databaseUrl } from '../setup/app.js';
import { rmSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/connection.js';
import { migrate } from '../../src/db/migrate.js';
import { type RunningServer, post, startServer, stopServer } from '../server-process.js';
import { ADMIN_TOKEN } from '../setup/credentials.js';
import { newDataDir } from '../setup/data-dir.js';

// MAX_RESPONSE_BYTES and REQUEST_TIMEOUT_MS on the real server process. A response over the
// limit is replaced by a 400 naming it.
//
// REQUEST_TIMEOUT_MS: a write made slow by the database itself (a
// trigger this test adds sleeps while inserting a customer named "Slow") is answered 504 with
// REQUEST_TIMEOUT at the deadline, and nothing of it is committed. On PostgreSQL the sleeping
// statement is cancelled by the session's statement_timeout; PGlite runs a statement to its end
// in the server's only thread, so the answer comes when the statement ends, and its transaction
// is rolled back instead of committed.
//
// A customer named "CommitsLate" is inserted slowly and committed slowly (a deferred constraint
// trigger sleeps in the COMMIT), each for LATE_SECONDS, 0.6 of the timeout: its COMMIT is sent
// before the deadline and lands after it, and each statement ends before statement_timeout
// could cancel it. The answer must be what happened: the row is there.

//
// Only the requests meant to time out are slow, and by far: every other request in this file (a
// 10-customer mutation on PGlite among them) has TIMEOUT_MS with a wide margin even on a loaded
// 2-core machine, and the slow statement runs 2 times TIMEOUT_MS on PGlite (it holds the server
// that long) and 16 times on PostgreSQL (where it is cancelled at TIMEOUT_MS, so it costs nothing
// and a statement left running would still be seen well after the answer).

const onPostgres = Boolean(process.env.TEST_DATABASE_URL);
const TIMEOUT_MS = 3500;
const SLOW_SECONDS = ((onPostgres ? 16 : 2) * TIMEOUT_MS) / 1000;
const LATE_SECONDS = (0.6 * TIMEOUT_MS) / 1000;
const RESPONSE_LIMIT = 4096;
const SLOW_TRIGGER = `
CREATE FUNCTION slow_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_sleep(${SLOW_SECONDS}); RETURN NULL; END $$;
CREATE TRIGGER slow_insert AFTER INSERT ON ipdr_customers FOR EACH ROW WHEN (NEW.name = 'Slow') EXECUTE FUNCTION slow_insert();
CREATE FUNCTION late_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_sleep(${LATE_SECONDS}); RETURN NULL; END $$;
CREATE TRIGGER late_insert AFTER INSERT ON ipdr_customers FOR EACH ROW WHEN (NEW.name = 'CommitsLate') EXECUTE FUNCTION late_commit();
CREATE CONSTRAINT TRIGGER late_commit AFTER INSERT ON ipdr_customers DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.name = 'CommitsLate') EXECUTE FUNCTION late_commit();`;

let server: RunningServer;
let dataDir: string | undefined;

beforeAll(async () => {
  if (onPostgres) {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    await client.query(SLOW_TRIGGER);
    await client.end();
    server = await startServer({
      DATABASE_URL: databaseUrl,
      REQUEST_TIMEOUT_MS: String(TIMEOUT_MS),
      MAX_RESPONSE_BYTES: String(RESPONSE_LIMIT),
    });
  } else {
    dataDir = newDataDir('ipdr-request-timeout');
    const database = openDatabase({ poolSize: 1, dataDir });
    await migrate(database);
    const session = await database.openMigrationSession();
    await session.exec(SLOW_TRIGGER);
    await database.close();
    server = await startServer({
      DATA_DIR: dataDir,
      IPDR_ADMIN_TOKEN: ADMIN_TOKEN,
      REQUEST_TIMEOUT_MS: String(TIMEOUT_MS),
      MAX_RESPONSE_BYTES: String(RESPONSE_LIMIT),
    });
  }
});

afterAll(async () => {
  if (server) expect(await stopServer(server)).toBe(0);
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

const create = (userId: string, name: string) =>
  post(
    server,
    ADMIN_TOKEN,
    `mutation { createCustomer(input: { userId: "${userId}", name: "${name}" }) { __typename } }`,
  );

describe('REQUEST_TIMEOUT_MS', () => {
  it('answers a request past its time with REQUEST_TIMEOUT, and commits nothing of it', async () => {
    const answer = await create('T1', 'Slow');
    expect(answer.status).toBe(504);
    expect(answer.body).toEqual({
      errors: [
        {
          message: expect.stringMatching(new RegExp(`^The request timed out after ${TIMEOUT_MS} ms and was cancelled`)),
          extensions: { code: 'REQUEST_TIMEOUT' },
        },
      ],
    });
    // The server goes on answering, and the timed-out write is not there, nor its audit event.
    const quick = await create('T2', 'Quick');
    expect(quick.body.data).toEqual({ createCustomer: { __typename: 'Customer' } });
    const read = await post(
      server,
      ADMIN_TOKEN,
      '{ t1: customer(userId: "T1") { name } t2: customer(userId: "T2") { name } auditEvents { totalCount } }',
    );
    expect(read.body.data).toEqual({ t1: null, t2: { name: 'Quick' }, auditEvents: { totalCount: 1 } });
  });

  it('answers a REST request past its time with 504 in the REST shape', async () => {
    const response = await fetch(server.url.replace('/graphql', '/api/ipdrcustomers'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ api_token: ADMIN_TOKEN, username: 'admin', UserID: 'T3', Name: 'Slow' }),
    });
    expect(response.status).toBe(504);
    expect(await response.json()).toEqual({
      status: 'Error',
      message: expect.stringContaining(`timed out after ${TIMEOUT_MS} ms`),
    });
    const read = await post(server, ADMIN_TOKEN, '{ customer(userId: "T3") { name } }');
    expect(read.body.data).toEqual({ customer: null });
  });

  it.skipIf(!onPostgres)('cancels the statement on PostgreSQL: it does not run on after the answer', async () => {
    await create('T4', 'Slow');
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      // The trigger would sleep SLOW_SECONDS (56 s); statement_timeout ends it about TIMEOUT_MS
      // after it began, about when the answer came. Looked for during 10 s and more.
      let sleeping = Infinity;
      for (let attempt = 0; attempt < 50 && sleeping > 0; attempt++) {
        const rows = await client.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND query LIKE '%ipdr_customers%' AND state = 'active' AND pid <> pg_backend_pid()`,
        );
        sleeping = rows.rows[0].n;
        if (sleeping > 0) await new Promise((resolve) => setTimeout(resolve, 200));
      }
      expect(sleeping).toBe(0);
      expect((await client.query(`SELECT count(*)::int AS n FROM ipdr_customers WHERE user_id = 'T4'`)).rows[0].n).toBe(
        0,
      );
    } finally {
      await client.end();
    }
  });
});

describe('REQUEST_TIMEOUT_MS and a commit at the deadline', () => {
  const customerNamed = async (userId: string) =>
    (await post(server, ADMIN_TOKEN, `{ customer(userId: "${userId}") { name } }`)).body.data.customer;

  it('answers a mutation whose commit lands just past the deadline with its real result', async () => {
    const answer = await create('T5', 'CommitsLate');
    expect(await customerNamed('T5')).toEqual({ name: 'CommitsLate' });
    expect(answer).toMatchObject({ status: 200, body: { data: { createCustomer: { __typename: 'Customer' } } } });
    expect(answer.body.errors).toBeUndefined();
  });

  it('answers such a REST write with its real result too', async () => {
    const response = await fetch(server.url.replace('/graphql', '/api/ipdrcustomers'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ api_token: ADMIN_TOKEN, username: 'admin', UserID: 'T6', Name: 'CommitsLate' }),
    });
    expect(await customerNamed('T6')).toEqual({ name: 'CommitsLate' });
    expect({ status: response.status, body: await response.json() }).toMatchObject({
      status: 200,
      body: { UserID: 'T6', Name: 'CommitsLate' },
    });
  });

  it('says so when the deadline stopped a request after some of its writes had committed', async () => {
    const answer = await post(
      server,
      ADMIN_TOKEN,
      `mutation {
        a: createCustomer(input: { userId: "T7", name: "Quick" }) { __typename }
        b: createCustomer(input: { userId: "T8", name: "Slow" }) { __typename }
      }`,
    );
    expect(await customerNamed('T7')).toEqual({ name: 'Quick' });
    expect(await customerNamed('T8')).toBeNull();
    expect(answer.status).toBe(504);
    expect(answer.body).toEqual({
      errors: [
        {
          message: expect.stringMatching(
            new RegExp(`^The request timed out after ${TIMEOUT_MS} ms after some of its writes had been committed`),
          ),
          extensions: { code: 'REQUEST_TIMEOUT' },
        },
      ],
    });
  });
});

describe('MAX_RESPONSE_BYTES', () => {
  it('answers a GraphQL response over the limit with a 400 naming it, and one under it as it is', async () => {
    const small = await post(server, ADMIN_TOKEN, '{ __type(name: "Customer") { name } }');
    expect(small).toMatchObject({ status: 200, body: { data: { __type: { name: 'Customer' } } } });
    const large = await post(server, ADMIN_TOKEN, '{ __schema { types { name description } } }');
    expect(large.status).toBe(400);
    expect(large.body).toEqual({
      errors: [
        {
          message: expect.stringMatching(
            new RegExp(
              `^The response would be \\d+ bytes, over the server's limit of ${RESPONSE_LIMIT} bytes \\(MAX_RESPONSE_BYTES\\)`,
            ),
          ),
          extensions: { code: 'RESPONSE_TOO_LARGE' },
        },
      ],
    });
    // The request is logged with the status it was answered.
    for (let attempt = 0; attempt < 50 && !/"status":400,[^\n]*"msg":"request"/.test(server.output()); attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(server.output()).toMatch(/"status":400,[^\n]*"msg":"request"/);
  });

  it('answers a REST response over the limit with a 400 in the REST shape', async () => {
    const customers = Array.from(
      { length: 40 },
      (_, index) =>
        `c${index}: createCustomer(input: { userId: "R${index}", name: "Customer ${'x'.repeat(80)} ${index}" }) { __typename }`,
    );
    // In mutations of 10, each far inside TIMEOUT_MS however loaded the machine.
    for (let first = 0; first < customers.length; first += 10) {
      const batch = customers.slice(first, first + 10).join(' ');
      expect((await post(server, ADMIN_TOKEN, `mutation { ${batch} }`)).status).toBe(200);
    }
    const response = await fetch(
      server.url.replace('/graphql', `/api/ipdrcustomers?api_token=${ADMIN_TOKEN}&username=admin`),
    );
    const text = await response.text();
    expect(response.status).toBe(400);
    expect(JSON.parse(text)).toEqual({
      status: 'Error',
      message: expect.stringContaining(`over the server's limit of ${RESPONSE_LIMIT} bytes`),
    });
  });
});
