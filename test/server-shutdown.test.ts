import { databaseUrl } from './setup/app.js';
import { rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN } from './setup/credentials.js';
import { post, startServer, stopServer } from './server-process.js';
import { newDataDir } from './setup/data-dir.js';

const dataDir = newDataDir('ipdr-shutdown');
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

// On PostgreSQL (TEST_DATABASE_URL) the server works on many requests at once; on the embedded
// database one request's queries keep the process busy until it is done.
const serverEnv = {
  DATA_DIR: dataDir,
  DATABASE_URL: databaseUrl,
  NODE_ENV: 'test',
  IPDR_ADMIN_TOKEN: ADMIN_TOKEN,
  LOG_LEVEL: 'debug',
  // What is tested is the shutdown: the request deadline (test/http/request-timeout.test.ts) is off,
  // so a loaded machine running the ten batches one after another on PGlite answers none with 504.
  REQUEST_TIMEOUT_MS: '0',
};

type Outcome = { status: number; body: { data?: Record<string, unknown> } } | { error: string };

/** One request on a connection of its own, tagged with a request id the server logs. */
function send(url: string, requestId: string, query: string): Promise<Outcome> {
  const body = JSON.stringify({ query });
  return new Promise((resolve) => {
    const request = httpRequest(
      url,
      {
        method: 'POST',
        agent: false,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          authorization: `Bearer ${ADMIN_TOKEN}`,
          'x-request-id': requestId,
        },
      },
      (response) => {
        let text = '';
        response.on('data', (chunk) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode!, body: JSON.parse(text) }));
      },
    );
    request.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
    request.end(body);
  });
}

// A hundred writes: slow enough to still be running when the signal arrives.
const batch = (r: number) =>
  `mutation { ${Array.from({ length: 100 }, (_, i) => `c${i}: createCustomer(input: { userId: "R${r}-${i}", name: "N" }) { __typename }`).join(' ')} }`;

describe('graceful shutdown', () => {
  it('finishes every request it has taken in at SIGTERM, and half-does none', async () => {
    const server = await startServer(serverEnv);
    const outcomes = Array.from({ length: 10 }, (_, r) => send(server.url, `shutdown-${r}`, batch(r)));
    while (!server.output().includes('"msg":"request received"'))
      await new Promise((resolve) => setTimeout(resolve, 2));
    const exited = stopServer(server);
    const results = await Promise.all(outcomes);
    expect(await exited).toBe(0);

    const output = server.output();
    const shutdownAt = output.indexOf('"msg":"shutting down"');
    const takenIn = results.map((_, r) => {
      const at = output.indexOf(
        `"requestId":"shutdown-${r}","method":"POST","path":"/graphql","msg":"request received"`,
      );
      return at !== -1 && at < shutdownAt;
    });
    expect(takenIn.some(Boolean)).toBe(true);

    const restarted = await startServer(serverEnv);
    try {
      for (const [r, result] of results.entries()) {
        const stored = await post(restarted, ADMIN_TOKEN, `{ customers(userId: "R${r}-99") { totalCount } }`);
        const written = stored.body.data?.customers.totalCount;
        if ('status' in result) {
          expect(result.status).toBe(200);
          expect(Object.values(result.body.data ?? {})).toEqual(Array(100).fill({ __typename: 'Customer' }));
          expect(written).toBe(1);
        } else {
          // Never taken in: refused at the door, nothing written.
          expect(takenIn[r], `request ${r} was taken in but got ${result.error}`).toBe(false);
          expect(written).toBe(0);
        }
      }
      const all = await post(restarted, ADMIN_TOKEN, '{ customers(nameContains: "N") { totalCount } }');
      expect(all.body.data?.customers.totalCount).toBe(100 * results.filter((result) => 'status' in result).length);
    } finally {
      expect(await stopServer(restarted)).toBe(0);
    }
  });
});
