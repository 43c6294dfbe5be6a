import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpServer } from '../../src/http/node-handler.js';
import { createTestApp } from '../setup/app.js';
import { ADMIN_TOKEN } from '../setup/credentials.js';

// MAX_RESPONSE_BYTES on responses that declare no Content-Length: GraphQL over Server-Sent
// Events and multipart/mixed, which Yoga streams. The test's app is built with a small limit and
// served by the server's own HTTP handler, so what is checked is what goes over the wire.

const LIMIT = 2048;
const app = createTestApp({ MAX_RESPONSE_BYTES: String(LIMIT) });
const { env, yoga } = app;

// Every type's name and description: some 13 KB of JSON, far over the limit.
const LARGE = '{ __schema { types { name description } } }';
const SMALL = '{ __typename }';
const tooLarge = {
  errors: [
    {
      message: expect.stringMatching(
        new RegExp(
          `^The response would be at least \\d+ bytes, over the server's limit of ${LIMIT} bytes \\(MAX_RESPONSE_BYTES\\)`,
        ),
      ),
      extensions: { code: 'RESPONSE_TOO_LARGE' },
    },
  ],
};

let server: Server;
let url: string;

beforeAll(async () => {
  server = createHttpServer(app, { bodyLimitBytes: env.BODY_LIMIT_BYTES });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

/** Posts `query` asking for `accept`; the whole body as text, which must end within 30 s. */
async function post(query: string, accept: string) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept, authorization: `Bearer ${ADMIN_TOKEN}` },
    body: JSON.stringify({ query }),
    signal: AbortSignal.timeout(30_000),
  });
  return { status: response.status, contentType: response.headers.get('content-type'), text: await response.text() };
}

/** An SSE stream's events, without its keep-alive comments. */
function sseEvents(text: string) {
  return text
    .split('\n\n')
    .filter((block) => block !== '' && !block.startsWith(':'))
    .map((block) => {
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data:(.*)$/m.exec(block)?.[1]?.trim() ?? '';
      return { event, data: data === '' ? null : JSON.parse(data) };
    });
}

/** A multipart/mixed body with boundary "-": its parts' JSON, and whether it ended with the closing boundary. */
function multipartParts(text: string) {
  expect(text.startsWith('\r\n---')).toBe(true);
  const closed = text.endsWith('\r\n-----\r\n');
  const parts = text
    .slice('\r\n---'.length, closed ? -'--\r\n'.length : undefined)
    .split('\r\n---')
    .filter((part) => part !== '')
    .map((part) => {
      const [head, body] = part.split('\r\n\r\n') as [string, string];
      const declared = Number(/Content-Length: (\d+)/i.exec(head)?.[1]);
      expect(Buffer.byteLength(body)).toBe(declared);
      return JSON.parse(body);
    });
  return { parts, closed };
}

describe('MAX_RESPONSE_BYTES on a streamed response', () => {
  it('passes an SSE response within the limit as it is', async () => {
    const answer = await post(SMALL, 'text/event-stream');
    expect(answer.status).toBe(200);
    expect(answer.contentType).toMatch(/^text\/event-stream/);
    expect(sseEvents(answer.text)).toEqual([
      { event: 'next', data: { data: { __typename: 'Query' } } },
      { event: 'complete', data: null },
    ]);
  });

  it('ends an SSE response past the limit with a RESPONSE_TOO_LARGE event, and sends none of the data', async () => {
    const answer = await post(LARGE, 'text/event-stream');
    expect(answer.status).toBe(200);
    expect(sseEvents(answer.text)).toEqual([
      { event: 'next', data: tooLarge },
      { event: 'complete', data: null },
    ]);
    expect(answer.text).not.toContain('__Schema');
    // What was sent is within the limit, but for the closing error itself.
    expect(Buffer.byteLength(answer.text)).toBeLessThan(LIMIT);
  });

  it('passes a multipart response within the limit as it is', async () => {
    const answer = await post(SMALL, 'multipart/mixed');
    expect(answer.status).toBe(200);
    expect(answer.contentType).toMatch(/^multipart\/mixed/);
    expect(multipartParts(answer.text)).toEqual({ parts: [{ data: { __typename: 'Query' } }], closed: true });
  });

  it('ends a multipart response past the limit with a last part carrying the error, and the closing boundary', async () => {
    const answer = await post(LARGE, 'multipart/mixed');
    expect(answer.status).toBe(200);
    expect(multipartParts(answer.text)).toEqual({ parts: [tooLarge], closed: true });
    expect(answer.text).not.toContain('__Schema');
    expect(Buffer.byteLength(answer.text)).toBeLessThan(LIMIT);
  });

  it('still refuses a JSON response past the limit with a 400, and serves the GraphiQL page whatever its size', async () => {
    const json = await post(LARGE, 'application/json');
    expect(json.status).toBe(400);
    expect(JSON.parse(json.text)).toEqual({
      errors: [
        {
          message: expect.stringMatching(
            new RegExp(`^The response would be \\d+ bytes, over the server's limit of ${LIMIT}`),
          ),
          extensions: { code: 'RESPONSE_TOO_LARGE' },
        },
      ],
    });
    const page = await fetch(url, { headers: { accept: 'text/html' }, signal: AbortSignal.timeout(60_000) });
    const html = await page.text();
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(html).toContain('IPDR gateway GraphiQL');
    expect(Buffer.byteLength(html)).toBeGreaterThan(LIMIT);
  });
});
