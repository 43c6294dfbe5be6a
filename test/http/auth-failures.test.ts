import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer, stopServer } from '../server-process.js';

// The server as production runs it, with Redis configured but unreachable, a rate limit of 6
// requests per token per minute and 5 failed authentications per address per minute. Requests
// come from several loopback addresses (127.0.0.x), which the limit of failures tells apart.

const dataDir = mkdtempSync(join(tmpdir(), 'ipdr-auth-failures-'));
const ADMIN_TOKEN = 'auth-failures-test-admin-token-0123456789';
let server: RunningServer;
let port: number;

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

afterAll(async () => {
  expect(await stopServer(server)).toBe(0);
  rmSync(dataDir, { recursive: true, force: true });
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  ms: number;
}

/** One HTTP request from the given loopback address. */
function send(from: string, method: string, path: string, body?: unknown, token?: string): Promise<Answer> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
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
    req.on('error', reject);
    req.end(payload);
  });
}

const graphql = (from: string, query: string, token?: string) => send(from, 'POST', '/graphql', { query }, token);
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

  it('counts one REST request as one point however many pages it reads, and answers each quickly', async () => {
    const from = '127.0.0.1';
    const answers: Answer[] = [];
    // 300 customers in 3 requests (3 points): the REST list reads them in two pages.
    for (let batch = 0; batch < 3; batch++) {
      const creates = Array.from(
        { length: 100 },
        (_, i) => `c${i}: createCustomer(input: { userId: "U${batch * 100 + i}", name: "N" }) { __typename }`,
      );
      const created = await graphql(from, `mutation { ${creates.join(' ')} }`, ADMIN_TOKEN);
      expect(created.status, created.text).toBe(200);
      answers.push(created);
    }
    for (let list = 0; list < 2; list++) {
      const listed = await send(from, 'GET', '/api/ipdrcustomers', { api_token: ADMIN_TOKEN, username: 'admin' });
      expect(listed.status, listed.text).toBe(200);
      expect(JSON.parse(listed.text)).toHaveLength(300);
      answers.push(listed);
    }
    // That is the token's sixth point this minute (the test above spent one): had each page cost
    // one, the second list would have been refused. The next request is the seventh.

    const limited = await graphql(from, '{ __typename }', ADMIN_TOKEN);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    const rest = await send(from, 'GET', '/api/ipdrcustomers', { api_token: ADMIN_TOKEN, username: 'admin' });
    expect(rest.status).toBe(429);
    expect(Number(rest.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(JSON.parse(rest.text)).toMatchObject({
      status: 'Error',
      message: expect.stringMatching(/Rate limit exceeded/),
    });

    // Redis is unreachable: no request waits for it (a generous bound, not a measurement).
    for (const answer of [...answers, limited, rest]) expect(answer.ms).toBeLessThan(3_000);
  });
});
