import { rmSync } from 'node:fs';
import { connect } from 'node:net';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, post, startServer, stopServer } from './server-process.js';
import { newDataDir } from './setup/data-dir.js';

// The server as it runs in production: NODE_ENV=production and a tight rate limit.

const dataDir = newDataDir('ipdr-production');
const ADMIN_TOKEN = 'production-test-admin-token-0123456789';
let server: RunningServer;
let base: string;

beforeAll(async () => {
  server = await startServer({
    DATA_DIR: dataDir,
    NODE_ENV: 'production',
    RATE_LIMIT_PER_MINUTE: '5',
    IPDR_ADMIN_TOKEN: ADMIN_TOKEN,
  });
  base = server.url.replace(/\/graphql$/, '');
});

afterAll(async () => {
  expect(await stopServer(server)).toBe(0);
  rmSync(dataDir, { recursive: true, force: true });
});

/** Sends request headers only and returns the status line of the answer, read before any body is sent. */
async function statusForHeaders(headers: string): Promise<string> {
  const { port } = new URL(server.url);
  const socket = connect(Number(port), '127.0.0.1');
  await once(socket, 'connect');
  socket.write(`POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n${headers}\r\n`);
  const [chunk] = (await once(socket, 'data')) as [Buffer];
  socket.destroy();
  return chunk.toString().split('\r\n')[0]!;
}

describe('in production', () => {
  it('refuses, before reading it, a body declared over the limit; reads a chunked one', async () => {
    expect(await statusForHeaders('Content-Length: 2097153\r\n')).toBe('HTTP/1.1 413 Payload Too Large');
    // Without a token, so that the rate limit below does not count it. More: test/http/node-handler.test.ts.
    const body = '{"query":"{ __typename }"}';
    const chunked = `Transfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n`;
    expect(await statusForHeaders(chunked)).toBe('HTTP/1.1 401 Unauthorized');
  });

  it('serves no GraphiQL and answers no introspection', async () => {
    const page = await fetch(server.url, { headers: { accept: 'text/html' } });
    expect(await page.text()).not.toMatch(/graphiql/i);
    const introspection = await post(server, ADMIN_TOKEN, '{ __schema { queryType { name } } }');
    expect(introspection.body.errors?.[0].message).toMatch(/introspection/i);
  });

  it('logs one JSON line per request with its request id, and never a token', async () => {
    const response = await fetch(`${base}/health`);
    expect(response.status).toBe(200);
    const traced = await post(server, ADMIN_TOKEN, 'query Traced { __typename }', { 'x-request-id': 'trace-42' });
    expect(traced.headers.get('x-request-id')).toBe('trace-42');
    await new Promise((resolve) => setTimeout(resolve, 200));
    const lines = server
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{'));
    const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(entries.find((entry) => entry.requestId === 'trace-42')).toMatchObject({
      msg: 'request',
      method: 'POST',
      path: '/graphql',
      operation: 'Traced',
    });
    expect(server.output()).not.toContain(ADMIN_TOKEN);
  });

  it('limits requests per token with 429 and Retry-After', async () => {
    const statuses: number[] = [];
    let limited: Awaited<ReturnType<typeof post>> | undefined;
    for (let i = 0; i < 6; i++) {
      const result = await post(server, ADMIN_TOKEN, '{ customers { totalCount } }');
      statuses.push(result.status);
      if (result.status === 429) limited = result;
    }
    // Five a minute: two went to the tests above (the refused introspection counts too: a
    // request is counted when it is authenticated, before its query is parsed).
    expect(statuses).toEqual([200, 200, 200, 429, 429, 429]);
    expect(limited!.body.errors?.[0]).toMatchObject({ extensions: { code: 'RATE_LIMITED' } });
    expect(Number(limited!.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('reports health, readiness and metrics', async () => {
    expect((await fetch(`${base}/health`)).status).toBe(200);
    const ready = await fetch(`${base}/ready`);
    expect([ready.status, await ready.json()]).toEqual([200, { status: 'ready' }]);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/ipdr_http_requests_total\{operation="anonymous",status="429"\} [1-9]/);
    expect(metrics).toMatch(/ipdr_http_request_duration_seconds_bucket/);
    expect(metrics).toMatch(/ipdr_graphql_errors_total\{operation="anonymous",code="RATE_LIMITED"\}/);
    expect(metrics).toMatch(/ipdr_process_resident_memory_bytes/);
  });
});
