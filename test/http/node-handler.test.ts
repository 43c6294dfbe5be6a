import { once } from 'node:events';
import { type Server, request as httpRequest } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createHttpServer } from '../../src/http/node-handler.js';
import { app } from '../setup/app.js';

const { logger } = app;
const { requestsTotal } = app.operations.metrics;
import { graphqlData, resetData } from '../helpers.js';
import { ADMIN_TOKEN } from '../setup/credentials.js';

// The HTTP server as `npm start` runs it (src/main.ts builds it with createHttpServer), in this
// process: bodies as Node's http client, Python's requests and curl send them, and the framing
// errors only a raw socket can make.

const LIMIT = 4096;
const auth = { api_token: ADMIN_TOKEN, username: 'admin' };
let server: Server;
let port: number;

// Every log line the app writes, as pino writes it.
const logLines: Record<string, any>[] = [];
const requestLines = () => logLines.filter((line) => line.msg === 'request');

beforeAll(async () => {
  logger.level = 'info';
  (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] = {
    write: (line: string) => logLines.push(JSON.parse(line)),
  };
  server = createHttpServer(app, { bodyLimitBytes: LIMIT });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(async () => {
  await resetData();
  logLines.length = 0;
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
}

const timeout = (ms: number, what: string) =>
  new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms));

/**
 * Sends a request with Node's http client. With `chunks` and no Content-Length the body goes
 * chunked, one write per chunk; `end: false` leaves the body unfinished.
 */
function send(
  method: string,
  path: string,
  options: { chunks?: string[]; body?: string; headers?: Record<string, string>; end?: boolean } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...options.headers };
  if (options.chunks) headers['transfer-encoding'] = 'chunked';
  if (options.body !== undefined) headers['content-length'] = String(Buffer.byteLength(options.body));
  const answer = new Promise<Answer>((resolve, reject) => {
    const request = httpRequest({ host: '127.0.0.1', port, method, path, headers }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () =>
        resolve({
          status: response.statusCode!,
          headers: response.headers,
          body: text === '' ? null : JSON.parse(text),
        }),
      );
      response.on('error', reject);
    });
    // Once the server has answered, it may close the connection under a body still being sent.
    request.on('error', reject);
    for (const chunk of options.chunks ?? []) request.write(chunk);
    if (options.body !== undefined) request.write(options.body);
    if (options.end !== false) request.end();
  });
  return Promise.race([answer, timeout(10_000, `${method} ${path}`)]);
}

/** Writes `data` on a fresh connection (then closes its sending side, with `halfClose`); returns all the server sent. */
async function raw(data: string, { halfClose = false } = {}): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  let received = '';
  socket.on('data', (chunk) => (received += chunk));
  socket.on('error', () => {});
  socket.write(data);
  if (halfClose) socket.end();
  await Promise.race([once(socket, 'close'), timeout(10_000, 'raw request')]);
  return received;
}

/** The one response in `text` (more than one fails): status and JSON body. */
function onlyResponse(text: string) {
  expect(text.match(/HTTP\/1\.1 \d{3}/g)).toHaveLength(1);
  const [head, body] = text.split('\r\n\r\n') as [string, string];
  return { status: Number(head.split(' ')[1]), head, body: JSON.parse(body) };
}

const createCustomerQuery = (userId: string) =>
  JSON.stringify({
    query: `mutation { createCustomer(input: { userId: "${userId}", name: "Customer ${userId}" }) { __typename } }`,
  });

async function customerExists(userId: string) {
  const data = await graphqlData(`{ customers(userId: "${userId}") { totalCount } }`);
  return data.customers.totalCount > 0;
}

/** Splits `text` into chunks of `size` characters. */
const chunksOf = (text: string, size: number) =>
  Array.from({ length: Math.ceil(text.length / size) }, (_, i) => text.slice(i * size, (i + 1) * size));

const graphqlHeaders = { authorization: `Bearer ${ADMIN_TOKEN}` };

describe('chunked request bodies', () => {
  it('are accepted on /graphql', async () => {
    const answer = await send('POST', '/graphql', {
      chunks: chunksOf(createCustomerQuery('C1'), 20),
      headers: graphqlHeaders,
    });
    expect(answer).toMatchObject({ status: 200, body: { data: { createCustomer: { __typename: 'Customer' } } } });
    expect(await customerExists('C1')).toBe(true);
  });

  it('are accepted on the REST API, GET with a body included', async () => {
    const created = await send('POST', '/api/ipdrcustomers', {
      chunks: chunksOf(JSON.stringify({ ...auth, UserID: 'R1', Name: 'Rest chunked' }), 16),
    });
    expect(created.status).toBe(200);
    expect(created.body).toMatchObject({ UserID: 'R1', Name: 'Rest chunked' });
    const listed = await send('GET', '/api/ipdrcustomers', { chunks: chunksOf(JSON.stringify(auth), 8) });
    expect(listed.status).toBe(200);
    expect(listed.body).toEqual([expect.objectContaining({ UserID: 'R1' })]);
    // And with a Content-Length, as curl -X GET -d sends it.
    const declared = await send('GET', '/api/ipdrcustomers', { body: JSON.stringify(auth) });
    expect([declared.status, declared.body]).toEqual([listed.status, listed.body]);
  });

  it('get 413 as soon as they pass the limit, with nothing run: GraphQL-shaped on /graphql', async () => {
    const padded = createCustomerQuery('BIG1').replace(/}$/, `, "extensions": { "pad": "${' '.repeat(LIMIT)}" } }`);
    // The body is never finished: the answer must come while it streams.
    const answer = await send('POST', '/graphql', {
      chunks: chunksOf(padded, 1000),
      headers: graphqlHeaders,
      end: false,
    });
    expect(answer.status).toBe(413);
    expect(answer.body).toEqual({ errors: [{ message: `Request body is larger than ${LIMIT} bytes` }] });
    expect(await customerExists('BIG1')).toBe(false);
  });

  it('get 413 as soon as they pass the limit, with nothing run: REST-shaped on /api/', async () => {
    const body = JSON.stringify({ ...auth, UserID: 'BIG2', Name: 'x'.repeat(LIMIT) });
    const answer = await send('POST', '/api/ipdrcustomers', { chunks: chunksOf(body, 1000), end: false });
    expect(answer).toMatchObject({
      status: 413,
      body: { status: 'Error', message: `Request body is larger than ${LIMIT} bytes` },
    });
    const get = await send('GET', '/api/ipdrcustomers', { chunks: chunksOf(body, 1000), end: false });
    expect(get.status).toBe(413);
    expect(await customerExists('BIG2')).toBe(false);
    // Each refusal is logged as the request it was.
    expect(requestLines()).toEqual([
      expect.objectContaining({ method: 'POST', path: '/api/ipdrcustomers', status: 413 }),
      expect.objectContaining({ method: 'GET', path: '/api/ipdrcustomers', status: 413 }),
      expect.objectContaining({ path: '/graphql', status: 200 }), // customerExists
    ]);
  });

  it('a declared Content-Length over the limit is refused before the body is sent', async () => {
    const head = (path: string) =>
      `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${LIMIT + 1}\r\n\r\n`;
    const graphql = onlyResponse(await raw(head('/graphql')));
    expect([graphql.status, graphql.body]).toEqual([
      413,
      { errors: [{ message: `Request body is larger than ${LIMIT} bytes` }] },
    ]);
    const rest = onlyResponse(await raw(head('/api/ipdrcustomers')));
    expect([rest.status, rest.body]).toEqual([
      413,
      { status: 'Error', message: `Request body is larger than ${LIMIT} bytes` },
    ]);
  });
});

describe('a body that does not match its Content-Length is a 400, with nothing run', () => {
  const post = (path: string, length: number, body: string) =>
    `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
    `Authorization: Bearer ${ADMIN_TOKEN}\r\nContent-Length: ${length}\r\n\r\n${body}`;

  it('shorter, the client having closed its side', async () => {
    const body = createCustomerQuery('SHORT1');
    const answer = onlyResponse(await raw(post('/graphql', body.length + 10, body), { halfClose: true }));
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({
      errors: [{ message: `The request body is shorter than its Content-Length (${body.length + 10} bytes)` }],
    });
    const rest = JSON.stringify({ ...auth, UserID: 'SHORT2', Name: 'Short' });
    const restAnswer = onlyResponse(await raw(post('/api/ipdrcustomers', rest.length + 1, rest), { halfClose: true }));
    expect([restAnswer.status, restAnswer.body.status]).toEqual([400, 'Error']);
    expect(await customerExists('SHORT1')).toBe(false);
    expect(await customerExists('SHORT2')).toBe(false);
  });

  it('shorter, chunked: the connection ends before the last chunk', async () => {
    const head = `POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`;
    const body = createCustomerQuery('SHORT3');
    const answer = onlyResponse(await raw(`${head}${body.length.toString(16)}\r\n${body}\r\n`, { halfClose: true }));
    expect(answer).toMatchObject({
      status: 400,
      body: { errors: [{ message: 'The request body ended before its last chunk' }] },
    });
    expect(await customerExists('SHORT3')).toBe(false);
  });

  it('longer: the bytes after the declared length are not a request', async () => {
    // A client that counted characters, not bytes, declares a complete JSON document and sends more.
    const body = createCustomerQuery('LONG1');
    const answer = onlyResponse(await raw(post('/graphql', body.length, `${body}{"more":"é"}`)));
    expect(answer.status).toBe(400);
    expect(answer.body.errors[0].message).toMatch(
      new RegExp(
        `^Bytes after the request body are not a request .*longer than its Content-Length \\(${body.length} bytes\\)`,
      ),
    );
    const rest = JSON.stringify({ ...auth, UserID: 'LONG2', Name: 'Long' });
    const restAnswer = onlyResponse(await raw(post('/api/ipdrcustomers', rest.length, `${rest}xyz`)));
    expect([restAnswer.status, restAnswer.body.status]).toEqual([400, 'Error']);
    expect(await customerExists('LONG1')).toBe(false);
    expect(await customerExists('LONG2')).toBe(false);
  });

  it('a malformed request gets a JSON 400 too, and each is logged once', async () => {
    const answer = onlyResponse(await raw('NOT A REQUEST\r\n\r\n'));
    expect(answer.status).toBe(400);
    expect(answer.body.errors[0].message).toMatch(/^Malformed HTTP request: /);
    const body = createCustomerQuery('SHORT4');
    await raw(post('/graphql', body.length + 1, body), { halfClose: true });
    expect(requestLines()).toEqual([
      expect.objectContaining({ status: 400, error: 'HPE_INVALID_METHOD' }),
      expect.objectContaining({ method: 'POST', path: '/graphql', status: 400, error: 'HPE_INVALID_EOF_STATE' }),
    ]);
  });
});

describe('a malformed request after a good one on a keep-alive connection', () => {
  /**
   * Sends `first` on a fresh connection, waits for its whole answer, then sends `second` on the
   * same connection; returns what the server sent after the first answer.
   */
  async function afterAnswered(first: string, second: string): Promise<{ first: string; second: string }> {
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    socket.on('error', () => {});
    let received = '';
    let firstAnswer: string | undefined;
    socket.on('data', (chunk) => {
      received += chunk;
      const head = received.indexOf('\r\n\r\n');
      if (firstAnswer !== undefined || head < 0) return;
      const length = /\r\ncontent-length: (\d+)/i.exec(received.slice(0, head))?.[1];
      // Without a length, the body is chunked: it ends with the last, empty, chunk.
      const end = length === undefined ? received.indexOf('\r\n0\r\n\r\n', head) + 7 : head + 4 + Number(length);
      if (end < 7 || received.length < end) return;
      firstAnswer = received.slice(0, end);
      received = received.slice(firstAnswer.length);
      socket.write(second);
    });
    socket.write(first);
    await Promise.race([once(socket, 'close'), timeout(10_000, 'two requests on one connection')]);
    return { first: firstAnswer ?? '', second: received };
  }

  const typename = JSON.stringify({ query: '{ __typename }' });
  const goodGraphql =
    `POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
    `Authorization: Bearer ${ADMIN_TOKEN}\r\nContent-Length: ${typename.length}\r\n\r\n${typename}`;
  const listBody = JSON.stringify(auth);
  const goodRest =
    `GET /api/ipdrcustomers HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${listBody.length}\r\n\r\n${listBody}`;

  it("is answered for what it is, not as the previous request's over-long body", async () => {
    const { first, second } = await afterAnswered(goodGraphql, 'NOT A REQUEST\r\n\r\n');
    expect(first).toMatch(/^HTTP\/1\.1 200 /);
    const answer = onlyResponse(second);
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({ errors: [{ message: expect.stringMatching(/^Malformed HTTP request: /) }] });
  });

  it('in its own shape: REST when its request line names an /api/ path, after a GraphQL request', async () => {
    const badHeader = 'GET /api/ipdrcustomers HTTP/1.1\r\nHost: 127.0.0.1\r\nNot a header\r\n\r\n';
    const rest = await afterAnswered(goodGraphql, badHeader);
    expect(rest.first).toMatch(/^HTTP\/1\.1 200 /);
    expect(onlyResponse(rest.second)).toMatchObject({
      status: 400,
      body: { status: 'Error', message: expect.stringMatching(/^Malformed HTTP request: /) },
    });
  });

  it("in GraphQL's shape when its path cannot be read, after a REST request", async () => {
    const unreadable = await afterAnswered(goodRest, '\x01\x02 garbage\r\n\r\n');
    expect(unreadable.first).toMatch(/^HTTP\/1\.1 200 /);
    expect(onlyResponse(unreadable.second)).toMatchObject({
      status: 400,
      body: { errors: [{ message: expect.stringMatching(/^Malformed HTTP request: /) }] },
    });
  });
});

describe('one log line per REST request', () => {
  const total = async () => (await requestsTotal.get()).values.reduce((sum, { value }) => sum + value, 0);
  const count = async (operation: string, status: string) =>
    (await requestsTotal.get()).values.find(({ labels }) => labels.operation === operation && labels.status === status)
      ?.value ?? 0;

  it('with its own request id, method, path, status, operation and user; counted once in the metrics', async () => {
    const before = { total: await total(), create: await count('RestCreateCustomer', '200') };
    const created = await send('POST', '/api/ipdrcustomers', {
      body: JSON.stringify({ ...auth, UserID: 'L1', Name: 'Logged' }),
      headers: { 'x-request-id': 'rest-trace-1' },
    });
    expect(created.status).toBe(200);
    expect(created.headers['x-request-id']).toBe('rest-trace-1');
    expect(await total()).toBe(before.total + 1);
    expect(await count('RestCreateCustomer', '200')).toBe(before.create + 1);

    const listed = await send('GET', '/api/ipdrcustomers', { chunks: [JSON.stringify(auth)] });
    expect(listed.status).toBe(200);
    expect(await total()).toBe(before.total + 2);

    expect(requestLines()).toEqual([
      expect.objectContaining({
        requestId: 'rest-trace-1',
        method: 'POST',
        path: '/api/ipdrcustomers',
        status: 200,
        operation: 'RestCreateCustomer',
        user: 'admin',
      }),
      expect.objectContaining({
        requestId: listed.headers['x-request-id'],
        method: 'GET',
        path: '/api/ipdrcustomers',
        status: 200,
        operation: 'RestListCustomers',
        user: 'admin',
      }),
    ]);
  });

  it('a refused token is one line too, with the operation it asked for', async () => {
    const answer = await send('POST', '/api/ipdrcustomers_mapping', {
      body: JSON.stringify({
        api_token: 'wrong-token',
        username: 'admin',
        UserID: 'U1',
        ipsubnet: '10.0.0.1',
        starttime: 1,
      }),
    });
    expect(answer).toMatchObject({ status: 422, body: { status: 'ERROR', message: 'Invalid API token' } });
    expect(requestLines()).toEqual([
      expect.objectContaining({
        method: 'POST',
        path: '/api/ipdrcustomers_mapping',
        status: 422,
        operation: 'RestCreateMapping',
      }),
    ]);
  });
});

describe('405', () => {
  it("names the request's own method: a GET with a body is a GET", async () => {
    const answer = await send('GET', '/api/ipdrcustomers/U1', { body: JSON.stringify(auth) });
    expect(answer.status).toBe(405);
    expect(answer.body).toEqual({ status: 'Error', message: 'GET is not allowed here' });
    expect(answer.headers.allow).toBe('PUT, PATCH, DELETE');
    const chunked = await send('GET', '/api/ipdrcustomers_mapping/U1', { chunks: [JSON.stringify(auth)] });
    expect([chunked.status, chunked.body.message]).toEqual([405, 'GET is not allowed here']);
    expect(requestLines().map((line) => [line.method, line.status])).toEqual([
      ['GET', 405],
      ['GET', 405],
    ]);
  });
});

describe('a malformed request larger than the socket buffers', () => {
  it('gets the whole 400, however much of the request is still unread', async () => {
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    let received = '';
    socket.on('data', (chunk) => (received += chunk));
    const errors: string[] = [];
    // Not once(socket, 'close'), which rejects at the socket's 'error'.
    const closed = new Promise((resolve) => socket.once('close', resolve));
    socket.on('error', (error: NodeJS.ErrnoException) => errors.push(error.code ?? error.message));
    // A bad header line, then 8 MB the server never reads: more than the kernel buffers hold.
    socket.write('POST /graphql HTTP/1.1\r\nhost: x\r\nbad header line\r\n');
    const junk = Buffer.alloc(1 << 20, 'x');
    for (let i = 0; i < 8 && !socket.destroyed; i++) socket.write(junk);
    await Promise.race([closed, timeout(15_000, 'large malformed request')]);
    const [head, body = ''] = received.split('\r\n\r\n') as [string, string?];
    expect(head, `received ${JSON.stringify(received.slice(0, 200))}; errors ${errors.join(', ')}`).toMatch(
      /^HTTP\/1\.1 400 /,
    );
    const length = Number(/content-length: (\d+)/i.exec(head)?.[1]);
    expect(Buffer.byteLength(body)).toBe(length);
    expect(JSON.parse(body).errors[0].message).toMatch(/^Malformed HTTP request: /);
  });
});
