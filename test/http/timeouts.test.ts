import { once } from 'node:events';
import type { Server } from 'node:http';
import { type AddressInfo, type Socket, connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpServer } from '../../src/http/node-handler.js';
import { app } from '../setup/app.js';
import { graphqlData } from '../helpers.js';
import { ADMIN_TOKEN } from '../setup/credentials.js';

// Connections that send their request too slowly, or sit idle, are closed after the server's
// timeouts (short here, through createHttpServer's options), not after Node's minutes.

let server: Server;
let port: number;

beforeAll(async () => {
  server = createHttpServer(app, {
    bodyLimitBytes: 4096,
    headersTimeoutMs: 1000,
    receiveTimeoutMs: 2000,
    keepAliveTimeoutMs: 1000,
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

interface Trickle {
  socket: Socket;
  /** Everything the server sent, once it closed the connection. */
  closed: Promise<string>;
  /** How many of the bytes were sent before the connection closed. */
  sent: () => number;
}

/** Sends `bytes` one at a time, every `everyMs` ms, while the connection is open. */
async function trickle(bytes: string, everyMs: number): Promise<Trickle> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  let received = '';
  let sent = 0;
  socket.on('data', (chunk) => (received += chunk));
  socket.on('error', () => {});
  const timer = setInterval(() => {
    if (sent < bytes.length && socket.writable) socket.write(bytes[sent++]!);
  }, everyMs);
  const closed = new Promise<string>((resolve) =>
    socket.once('close', () => {
      clearInterval(timer);
      resolve(received);
    }),
  );
  return { socket, closed, sent: () => sent };
}

const statusLine = (answer: string) => answer.split('\r\n')[0];

describe('HTTP timeouts', () => {
  it('closes connections that send their headers slowly, answering 408', async () => {
    // Each would take 100 s to send its headers; 20 of them at once.
    const headers = `POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: ${'a'.repeat(1000)}\r\n\r\n`;
    const connections = await Promise.all(Array.from({ length: 20 }, () => trickle(headers, 100)));
    const answers = await Promise.all(connections.map((connection) => connection.closed));
    for (const [index, answer] of answers.entries()) {
      expect(statusLine(answer)).toBe('HTTP/1.1 408 Request Timeout');
      expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toEqual({
        errors: [{ message: 'The request was not received in time' }],
      });
      expect(connections[index]!.sent()).toBeLessThan(headers.length);
    }
  });

  it('closes a connection that opens and sends nothing', async () => {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {});
    // Read (and drop) what arrives: a paused socket never sees the end of the stream, so it would
    // never emit 'close' however soon the server closed its side. Listened for from the start.
    socket.resume();
    const closed = once(socket, 'close');
    await once(socket, 'connect');
    await closed;
  });

  it('closes a connection whose body trickles in past the receive timeout, and runs nothing', async () => {
    const body = JSON.stringify({
      query: 'mutation { createCustomer(input: { userId: "SLOW1", name: "Slow" }) { __typename } }',
    });
    const request =
      `POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
      `Authorization: Bearer ${ADMIN_TOKEN}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`;
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {});
    await once(socket, 'connect');
    socket.write(request);
    let received = '';
    socket.on('data', (chunk) => (received += chunk));
    let sent = 0;
    const timer = setInterval(() => socket.writable && sent < body.length && socket.write(body[sent++]!), 100);
    await once(socket, 'close');
    clearInterval(timer);
    expect(sent).toBeLessThan(body.length);
    expect(statusLine(received)).toBe('HTTP/1.1 408 Request Timeout');
    const data = await graphqlData<{ customer: unknown }>('{ customer(userId: "SLOW1") { name } }');
    expect(data.customer).toBeNull();
  });

  it('closes a connection whose body still trickles in after its answer, at the receive timeout', async () => {
    // A GraphQL GET is answered without reading its body; the body's arrival is still bounded.
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {});
    await once(socket, 'connect');
    let received = '';
    socket.on('data', (chunk) => (received += chunk));
    socket.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n');
    const timer = setInterval(() => socket.writable && socket.write('1\r\na\r\n'), 300);
    const started = Date.now();
    await once(socket, 'close');
    clearInterval(timer);
    expect(Date.now() - started).toBeLessThan(6000);
    expect(statusLine(received)).toMatch(/^HTTP\/1\.1 (200|408)/);
  });

  it('closes an idle keep-alive connection after the keep-alive timeout, having answered its request', async () => {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {});
    await once(socket, 'connect');
    let received = '';
    socket.on('data', (chunk) => (received += chunk));
    socket.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n');
    await once(socket, 'close');
    expect(statusLine(received)).toBe('HTTP/1.1 200 OK');
    expect(received).toMatch(/keep-alive: timeout=1\r\n/i);
  });
});
