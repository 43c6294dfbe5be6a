import { rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer, stopServer } from '../server-process.js';
import { newDataDir } from '../setup/data-dir.js';

// The server as production runs it, with Redis configured but unreachable, a rate limit of 6
// requests per token per minute and 5 failed authentications per address per minute. Requests
// come from several loopback addresses (127.0.0.x), which the limit of failures tells apart.
// A second server, the same but with rate limiting off (so no Redis either), answers the same
// requests for comparison: a request waiting on Redis shows as slower than its twin there.

const dataDir = newDataDir('ipdr-auth-failures');
const baselineDataDir = newDataDir('ipdr-auth-failures-baseline');
const ADMIN_TOKEN = 'auth-failures-test-admin-token-0123456789';
/** No request here needs nearly this long, even on a loaded machine: one that does fails. */
const ANSWER_TIMEOUT_MS = 30_000;
let server: RunningServer;
let port: number;
let baseline: RunningServer;
let baselinePort: number;

async function deadPort(): Promise<number> {
  const listener = createServer().listen(0, '127.0.0.1');
  await once(listener, 'listening');
  const { port: free } = listener.address() as { port: number };
  listener.close();
  await once(listener, 'close');
  return free;
}

beforeAll(async () => {
  server = await startServer({
    DATA_DIR: dataDir,
    NODE_ENV: 'production',
    RATE_LIMIT_PER_MINUTE: '6',
    AUTH_FAILURES_PER_MINUTE: '5',
    REDIS_URL: `redis://127.0.0.1:${await deadPort()}`,
    IPDR_ADMIN_TOKEN: ADMIN_TOKEN,
  });
  port = Number(new URL(server.url).port);
});

// A hook of its own (its own hook timeout), and before any test: the rate-limit tests spend a
// token's points within one minute.
beforeAll(async () => {
  baseline = await startServer({
    DATA_DIR: baselineDataDir,
    NODE_ENV: 'production',
    RATE_LIMIT_PER_MINUTE: '0',
    AUTH_FAILURES_PER_MINUTE: '0',
    IPDR_ADMIN_TOKEN: ADMIN_TOKEN,
  });
  baselinePort = Number(new URL(baseline.url).port);
});

afterAll(async () => {
  if (baseline) expect(await stopServer(baseline)).toBe(0);
  if (server) expect(await stopServer(server)).toBe(0);
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(baselineDataDir, { recursive: true, force: true });
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  ms: number;
}

/** One HTTP request from the given loopback address (to the baseline server if `to` says so). */
function send(
  from: string,
  method: string,
  path: string,
  body?: unknown,
  token?: string,
  to: 'limited' | 'baseline' = 'limited',
): Promise<Answer> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port: to === 'baseline' ? baselinePort : port,
        localAddress: from,
        method,
        path,
        headers: {
          ...(payload === undefined
            ? {}
            : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }),
          ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode!, headers: res.headers, text, ms: performance.now() - started }),
        );
      },
    );
    req.setTimeout(ANSWER_TIMEOUT_MS, () =>
      req.destroy(new Error(`no answer to ${method} ${path} in ${ANSWER_TIMEOUT_MS} ms`)),
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const graphql = (from: string, query: string, token?: string, to?: 'limited' | 'baseline') =>
  send(from, 'POST', '/graphql', { query }, token, to);
const errorsOf = (answer: Answer) =>
  (JSON.parse(answer.text) as { errors?: { message: string; extensions: { code: string } }[] }).errors;

describe('unauthenticated and failing callers, in production with Redis unreachable', () => {
  it('answers a query without a valid token 401 before validating it: no field can be probed', async () => {
    for (const token of [undefined, 'wrong-token-0123456789abcdef']) {
      const answer = await graphql('127.0.0.3', '{ customerz { secretField } }', token);
      expect(answer.status).toBe(401);
      expect(answer.headers['www-authenticate']).toBe('Bearer');
      expect(errorsOf(answer)).toEqual([
        expect.objectContaining({ extensions: expect.objectContaining({ code: 'UNAUTHENTICATED' }) }),
      ]);
      expect(answer.text).not.toMatch(/customerz|Cannot query/);
    }
  });

  it('answers a malformed REST path 400 in the REST shape, with no stack or server path', async () => {
    const answer = await send('127.0.0.1', 'GET', '/api/ipdrcustomers/%zz');
    expect(answer.status).toBe(400);
    expect(answer.headers['content-type']).toMatch(/application\/json/);
    expect(JSON.parse(answer.text)).toEqual({
      status: 'Error',
      message: 'Malformed percent-encoding in the path: /api/ipdrcustomers/%zz',
    });
    expect(answer.text).not.toMatch(/ at |\.ts:|\.js:|node_modules/);
  });

  it('refuses further failed authentications from an address after 5, in each API’s shape, and lets valid tokens through', async () => {
    const from = '127.0.0.2';
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++)
      statuses.push((await graphql(from, '{ __typename }', `guess-${i}-0123456789abcdef`)).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401]);

    const limited = await graphql(from, '{ __typename }', 'guess-5-0123456789abcdef');
    expect(limited.status).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(errorsOf(limited)?.[0]).toMatchObject({ extensions: { code: 'RATE_LIMITED' } });
    // A valid token from the same address (say, another client behind the same proxy) still passes.
    expect((await graphql(from, '{ __typename }', ADMIN_TOKEN)).status).toBe(200);

    const rest = await send(from, 'GET', '/api/ipdrcustomers', {
      api_token: 'guess-rest-0123456789abcdef',
      username: 'admin',
    });
    expect(rest.status).toBe(429);
    expect(Number(rest.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(JSON.parse(rest.text)).toMatchObject({
      status: 'Error',
      message: expect.stringMatching(/failed authentications/),
    });

    // Another address is not affected.
    expect((await graphql('127.0.0.4', '{ __typename }', 'guess-other-0123456789abcdef')).status).toBe(401);
  });

  it('counts one REST request as one point however many pages it reads, and answers each as fast as with no limit', async () => {
    const from = '127.0.0.1';
    // Each request goes to the baseline server just before: same work, same moment's load.
    const answers: Answer[] = [];
    const baselineAnswers: Answer[] = [];
    const listCustomers = (to: 'limited' | 'baseline') =>
      send(from, 'GET', '/api/ipdrcustomers', { api_token: ADMIN_TOKEN, username: 'admin' }, undefined, to);
    // The baseline server has answered nothing yet: warm it up a little, as the tests above did this one.
    for (let i = 0; i < 3; i++)
      expect((await graphql(from, '{ __typename }', ADMIN_TOKEN, 'baseline')).status).toBe(200);
    // 300 customers in 3 requests (3 points): the REST list reads them in two pages.
    for (let batch = 0; batch < 3; batch++) {
      const creates = Array.from(
        { length: 100 },
        (_, i) => `c${i}: createCustomer(input: { userId: "U${batch * 100 + i}", name: "N" }) { __typename }`,
      );
      const twin = await graphql(from, `mutation { ${creates.join(' ')} }`, ADMIN_TOKEN, 'baseline');
      expect(twin.status, twin.text).toBe(200);
      baselineAnswers.push(twin);
      const created = await graphql(from, `mutation { ${creates.join(' ')} }`, ADMIN_TOKEN);
      expect(created.status, created.text).toBe(200);
      answers.push(created);
    }
    for (let list = 0; list < 2; list++) {
      const twin = await listCustomers('baseline');
      expect(twin.status, twin.text).toBe(200);
      baselineAnswers.push(twin);
      const listed = await listCustomers('limited');
      expect(listed.status, listed.text).toBe(200);
      expect(JSON.parse(listed.text)).toHaveLength(300);
      answers.push(listed);
    }
    // That is the token's sixth point this minute (the test above spent one): had each page cost
    // one, the second list would have been refused. The next request is the seventh.

    baselineAnswers.push(await graphql(from, '{ __typename }', ADMIN_TOKEN, 'baseline'));
    const limited = await graphql(from, '{ __typename }', ADMIN_TOKEN);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    baselineAnswers.push(await listCustomers('baseline'));
    const rest = await listCustomers('limited');
    expect(rest.status).toBe(429);
    expect(Number(rest.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(JSON.parse(rest.text)).toMatchObject({
      status: 'Error',
      message: expect.stringMatching(/Rate limit exceeded/),
    });

    // Redis is unreachable: no request waits for it, measured against the twins on the server
    // with no limit, interleaved so that both see the same load. Had these 7 requests each waited
    // for a reconnection attempt (every 5 s by now; by default ioredis keeps a command through 20),
    // they would take seconds more in all: twice the twins' time and 2 s more allows for load.
    const total = (list: Answer[]) => Math.round(list.reduce((sum, answer) => sum + answer.ms, 0));
    const ms = (list: Answer[]) => list.map((answer) => Math.round(answer.ms)).join(', ');
    expect(
      total([...answers, limited, rest]),
      `with Redis unreachable: ${ms([...answers, limited, rest])} ms; with no limit: ${ms(baselineAnswers)} ms`,
    ).toBeLessThanOrEqual(2 * total(baselineAnswers) + 2_000);
    // A shorter wait, a Redis command's own 500 ms timeout, shows on requests that do almost
    // nothing else: the median of 5 refused ones (each still counted) against 5 twins'.
    const cheap: Answer[] = [];
    const cheapTwins: Answer[] = [];
    for (let i = 0; i < 5; i++) {
      cheapTwins.push(await graphql(from, '{ __typename }', ADMIN_TOKEN, 'baseline'));
      cheap.push(await graphql(from, '{ __typename }', ADMIN_TOKEN));
    }
    expect(cheap.map((answer) => answer.status)).toEqual([429, 429, 429, 429, 429]);
    const median = (list: Answer[]) => list.map((answer) => answer.ms).sort((x, y) => x - y)[2]!;
    expect(
      median(cheap),
      `with Redis unreachable: ${ms(cheap)} ms; with no limit: ${ms(cheapTwins)} ms`,
    ).toBeLessThanOrEqual(median(cheapTwins) + 300);
  });
});
