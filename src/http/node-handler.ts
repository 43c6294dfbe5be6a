import { type IncomingMessage, STATUS_CODES, type Server, type ServerResponse, createServer } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { YogaServerInstance } from 'graphql-yoga';
import type { RequestContext, ServerContext } from '../context.js';
import type { Logger } from '../logger.js';
import { ATTRIBUTE_PATH } from '../attribution/path.js';
import { errorJson, readBoundedBody, tooLargeMessage } from './body-limit.js';
import { type Operations, markAnsweredByServer, newRequestRecord } from './operations.js';

type Yoga = YogaServerInstance<ServerContext, RequestContext>;

/** What the server serves: an app's Yoga, and its request log and metrics. */
export interface HttpApp {
  yoga: Yoga;
  operations: Pick<Operations, 'finishRequest'>;
  logger: Logger;
}

export interface HttpOptions {
  bodyLimitBytes: number;
  /** Time to send a request's headers; at most `receiveTimeoutMs`. */
  headersTimeoutMs?: number;
  /** Time to send a whole request, body included. */
  receiveTimeoutMs?: number;
  /** Time an idle keep-alive connection stays open. */
  keepAliveTimeoutMs?: number;
}

/** The latest request on a connection, for answering what Node cannot parse after it. */
interface Exchange {
  request: IncomingMessage;
  response: ServerResponse;
}

/**
 * The HTTP server: Yoga behind the one Node handler that bounds request bodies and passes on
 * Trisul's GET with a body.
 *
 * A body with a Content-Length goes to Yoga as Node reads it: Node delivers no more than the
 * declared length, so a declared length within the limit bounds the body and nothing needs to
 * count it again (Yoga's own limit, which counts every body through a stream transform, is off:
 * it cost CPU on every request). A declared length over the limit is refused before reading. A
 * chunked body declares no length: it is read here, counted as it arrives, and refused as soon
 * as it passes the limit, before anything runs. So is a GET with a body to /api/: the Fetch API
 * that Yoga builds requests with drops a GET's body, so it goes to the REST layer as a POST
 * marked as the GET it was.
 *
 * A body shorter or longer than its Content-Length is a framing error that only Node's parser
 * sees; `clientError` answers it (400) in the caller's error shape.
 *
 * POST /attribute is the exception: its body is any number of rows, streamed to the handler as
 * it arrives (no length limit, no deadline for the whole body), and the connection is closed
 * only when it has been silent for the receive timeout.
 */
export function createHttpServer(app: HttpApp, options: HttpOptions): Server {
  const latest = new WeakMap<Duplex, Exchange>();
  // Node's defaults (60 s for headers, 300 s for a request) let a few thousand connections that
  // trickle bytes hold the server's sockets for minutes. An API's callers send a small request at
  // once; one that has not arrived in time gets 408 (see describeClientError) and is closed.
  const receiveTimeout = options.receiveTimeoutMs ?? 30_000;
  const headersTimeout = Math.min(options.headersTimeoutMs ?? 10_000, receiveTimeout);
  const server = createServer(
    {
      headersTimeout,
      // Node's own request deadline is for every request of a server; each but /attribute gets
      // its own below (receiveDeadline), from the end of its headers.
      requestTimeout: 0,
      keepAliveTimeout: options.keepAliveTimeoutMs ?? 5_000,
      // Node checks those deadlines every 30 s by default, which would let a 10 s one last 40 s.
      connectionsCheckingInterval: Math.max(50, Math.min(1000, headersTimeout / 4)),
    },
    (request, response) => {
      latest.set(request.socket, { request, response });
      if (request.method === 'POST' && pathOf(request) === ATTRIBUTE_PATH) {
        // Streamed: closed once silent for the receive timeout (attribution/http.ts keeps that
        // once the answer has begun, which turns the socket's own timeout off).
        request.setTimeout(receiveTimeout, () => request.destroy());
        return void app.yoga(request, response);
      }
      receiveDeadline(request, response, receiveTimeout, () =>
        answerClientError(app, requestTimeoutError(), request.socket, latest.get(request.socket)),
      );
      handle(app, options.bodyLimitBytes, request, response);
    },
  );
  // Node's deadlines start with a request's first byte: a connection that sends nothing at all
  // would stay open for ever. It gets as long as a request's headers get.
  server.on('connection', (socket: Socket) => {
    const timer = setTimeout(() => socket.destroy(), headersTimeout);
    socket.once('data', () => clearTimeout(timer));
    socket.once('close', () => clearTimeout(timer));
  });
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) =>
    answerClientError(app, error, socket, latest.get(socket)),
  );
  return server;
}

/** What Node's own request deadline reports, so that one answer (408) serves both. */
const requestTimeoutError = () =>
  Object.assign(new Error('The request was not received in time'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' });

/**
 * Calls `expire` when the request's body has not arrived whole within `timeoutMs`; a request
 * answered before its body was read (a GET with one) has its connection closed instead.
 */
function receiveDeadline(request: IncomingMessage, response: ServerResponse, timeoutMs: number, expire: () => void) {
  const timer = setTimeout(() => {
    if (request.complete) return;
    if (response.headersSent) request.socket.destroy();
    else expire();
  }, timeoutMs).unref();
  request.once('close', () => clearTimeout(timer));
}

const pathOf = (request: IncomingMessage) => new URL(request.url ?? '/', 'http://localhost').pathname;

function handle(app: HttpApp, limitBytes: number, request: IncomingMessage, response: ServerResponse) {
  const { yoga, logger } = app;
  const chunked = request.headers['transfer-encoding'] !== undefined;
  const declared = chunked ? 0 : Number(request.headers['content-length'] ?? 0);
  const restGet = request.method === 'GET' && (chunked || declared > 0) && pathOf(request).startsWith('/api/');
  if (declared > limitBytes) return refuseTooLarge(app, request, response, limitBytes);
  // GraphQL over GET reads no body; Node discards one that is sent.
  const readHere = restGet || (chunked && request.method !== 'GET' && request.method !== 'HEAD');
  if (!readHere) return void yoga(request, response);
  serveReadBody(app, limitBytes, request, response, restGet).catch((error: unknown) => {
    logger.error({ err: error }, 'serving a request whose body the server read failed');
    const path = pathOf(request);
    if (!response.headersSent) response.writeHead(500, { 'content-type': 'application/json' });
    response.end(errorJson(path, path.startsWith('/api/') ? 'Internal error' : 'Unexpected error.'));
  });
}

function refuseTooLarge(app: HttpApp, request: IncomingMessage, response: ServerResponse, limitBytes: number) {
  const path = pathOf(request);
  const record = newRequestRecord(request.method, request.headers['x-request-id'] as string | undefined);
  const body = errorJson(path, tooLargeMessage(limitBytes));
  // The rest of the body is not read: the connection closes after this answer instead.
  response.writeHead(413, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    connection: 'close',
    'x-request-id': record.id,
  });
  response.end(body);
  app.operations.finishRequest(record, path, 413);
}

async function serveReadBody(
  app: HttpApp,
  limitBytes: number,
  request: IncomingMessage,
  response: ServerResponse,
  restGet: boolean,
) {
  let body: Buffer<ArrayBuffer> | null;
  try {
    body = await readBoundedBody(request, limitBytes);
  } catch {
    // The body never ended: the client went away, or clientError below answered it.
    return;
  }
  if (body === null) return refuseTooLarge(app, request, response, limitBytes);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined || name === 'transfer-encoding' || name === 'content-length') continue;
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  headers['content-length'] = String(body.length);
  const answer = await app.yoga.fetch(
    new URL(request.url ?? '/', 'http://localhost'),
    { method: restGet ? 'POST' : request.method, headers, body },
    // Read here, it reaches Yoga without its socket: the peer's address goes with it (context.ts).
    { clientAddress: request.socket.remoteAddress, ...(restGet ? { restMethod: 'GET' as const } : {}) },
  );
  response.writeHead(answer.status, Object.fromEntries(answer.headers));
  response.end(Buffer.from(await answer.arrayBuffer()));
}

/** What Node's parser reports with an error: `rawPacket` is the chunk of bytes it failed in. */
type ParseError = NodeJS.ErrnoException & { reason?: string; rawPacket?: Buffer };

/**
 * The path in the request line that begins `raw`, if it begins with one: the path of a request
 * whose headers Node refused. Null when the request line is not there (it came in an earlier
 * chunk, or the bytes are not a request at all).
 */
function pathInRequestLine(raw: Buffer | undefined): string | null {
  const line = raw?.subarray(0, 8192).toString('latin1').split('\n', 1)[0];
  const target = line && /^[!#$%&'*+.^_`|~0-9A-Za-z-]+ (\S+) HTTP\//.exec(line)?.[1];
  if (!target) return null;
  try {
    return new URL(target, 'http://localhost').pathname;
  } catch {
    return null;
  }
}

/**
 * What to answer a request that Node's parser refused. `owner` is the request the bytes belong
 * to, when they are not a request of their own (see answerClientError).
 */
function describeClientError(error: ParseError, owner: Exchange | undefined): { status: number; message: string } {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, message: 'Request headers are too large' };
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return { status: 413, message: 'Chunk extensions are too large' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, message: 'The request was not received in time' };
  }
  const declared = owner?.request.headers['content-length'];
  if (error.code === 'HPE_INVALID_EOF_STATE') {
    if (!owner || owner.request.complete) {
      return { status: 400, message: 'The connection ended in the middle of a request' };
    }
    return {
      status: 400,
      message:
        declared === undefined
          ? 'The request body ended before its last chunk'
          : `The request body is shorter than its Content-Length (${declared} bytes)`,
    };
  }
  const reason = error.reason || error.message;
  if (owner?.request.complete && declared !== undefined) {
    return {
      status: 400,
      message: `Bytes after the request body are not a request (${reason}): is the body longer than its Content-Length (${declared} bytes)?`,
    };
  }
  return { status: 400, message: `Malformed HTTP request: ${reason}` };
}

/**
 * Node's parser failed on this connection: the body was shorter than its Content-Length (the
 * client closed its side first) or longer (the extra bytes parse as a malformed next request), or
 * the request itself is malformed. Answered in the shape of the request it belongs to, then the
 * connection closes. A request whose body was not yet read whole is cancelled, so that nothing runs.
 *
 * The bytes belong to the connection's latest request while its body is arriving, or while it is
 * not yet answered (bytes right behind a body are most likely more of it). After its answer, a
 * client sends a request of its own: the latest one says nothing about it, and it is answered in
 * the shape its request line names (GraphQL's when that cannot be read).
 */
/** How long a client error's answer may take to flush before its connection is dropped anyway. */
const CLIENT_ERROR_FLUSH_MS = 2_000;

function answerClientError(app: HttpApp, error: ParseError, socket: Duplex, previous: Exchange | undefined) {
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const pending = previous && !previous.response.writableFinished ? previous : undefined;
  // Its body was read whole and it may be running: the bad bytes came after it, and are answered after it.
  const running = pending && (pending.response.headersSent || pending.request.readableEnded);
  const cancelled = pending && !running ? pending.request : undefined;
  const owner = previous && (!previous.request.complete || !previous.response.writableFinished) ? previous : undefined;
  const { status, message } = describeClientError(error, owner);
  const path = owner ? pathOf(owner.request) : (pathInRequestLine(error.rawPacket) ?? '/');
  const record = newRequestRecord(cancelled?.method, cancelled?.headers['x-request-id'] as string | undefined);
  const answer = () => {
    if (socket.writable) {
      const body = Buffer.from(errorJson(path, message));
      // Ended, then destroyed once flushed: destroying it at once drops whatever the socket has not
      // handed to the kernel yet, the whole 400 under backpressure. A peer that never reads does
      // not keep it open past the wait.
      const giveUp = setTimeout(() => socket.destroy(), CLIENT_ERROR_FLUSH_MS).unref();
      const done = () => {
        clearTimeout(giveUp);
        socket.destroy();
      };
      socket.once('finish', done);
      socket.once('close', done);
      socket.end(
        Buffer.concat([
          Buffer.from(
            `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json\r\n` +
              `content-length: ${body.length}\r\nconnection: close\r\nx-request-id: ${record.id}\r\n\r\n`,
          ),
          body,
        ]),
      );
    } else {
      socket.destroy();
    }
    app.operations.finishRequest(record, cancelled ? path : undefined, status, { error: error.code ?? error.message });
  };
  if (running) {
    pending.response.once('close', answer);
    return;
  }
  if (cancelled) {
    markAnsweredByServer(cancelled);
    answer();
    // With an error, so that the body's readers fail instead of seeing it end.
    cancelled.destroy(error);
    return;
  }
  answer();
}
