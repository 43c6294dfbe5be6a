import type { IncomingMessage } from 'node:http';
import { GraphQLError } from 'graphql';
import type { RateLimiter } from '../access/rate-limit.js';
import type { Plugin, YogaServerInstance } from 'graphql-yoga';
import type { Tenant } from '../access/types.js';
import { type RequestContext, type ServerContext, tenantOf } from '../context.js';
import { optionalText } from '../domain/customer.js';
import { InvalidValueError, excerpt } from '../domain/invalid-value.js';
import { isKnownTimeZone, nowUnixTime } from '../domain/time.js';
import { type SystemInstant, asOfProblem, endOfSecond } from '../domain/system-time.js';
import { versioningStartedAt } from '../lookups/store.js';
import type { ReadRoute } from '../db/replicas.js';
import type { Logger } from '../logger.js';
import { type AttributionJob, attributeRows } from './attribute.js';
import { CONTENT_TYPES, type Format, HeaderError, answerChunks, answerHeader, openRows } from './formats.js';
import { ATTRIBUTE_PATH } from './path.js';

// POST /attribute: report rows (CSV or NDJSON) in, the same rows with their holders out, streamed
// in input order. Authenticated and given its context as a GraphQL request is (run in-process on
// the app's envelope, as the REST layer is); failures before the first row is answered are
// GraphQL-shaped JSON with their status; a bad row is answered in its place with an `error`.

const FORMATS: Record<string, Format> = {
  'text/csv': 'csv',
  'application/x-ndjson': 'ndjson',
  'application/ndjson': 'ndjson',
  'application/jsonl': 'ndjson',
};

/** A refusal before anything is streamed, in GraphQL's error shape. */
class Refusal extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly extensions: Record<string, unknown>,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  toResponse(): Response {
    return new Response(JSON.stringify({ errors: [{ message: this.message, extensions: this.extensions }] }), {
      status: this.status,
      headers: { 'content-type': 'application/json', ...this.headers },
    });
  }
}

const badInput = (field: string, reason: string) =>
  new Refusal(400, `${field}: ${reason}`, { code: 'BAD_USER_INPUT', field, reason });

function refusalOf(error: GraphQLError): Refusal {
  const { http, ...extensions } = error.extensions as { http?: { status?: number; headers?: Record<string, string> } };
  return new Refusal(http?.status ?? 403, error.message, extensions, http?.headers ?? {});
}

function formatOf(request: Request): Format {
  const mediaType = (request.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  const format = FORMATS[mediaType];
  if (!format) {
    throw new Refusal(
      415,
      `Content-Type must be text/csv (a header row naming ip, time and optionally port) or application/x-ndjson${mediaType ? `, not ${excerpt(mediaType)}` : ''}`,
      { code: 'UNSUPPORTED_MEDIA_TYPE' },
    );
  }
  return format;
}

function optionsOf(url: URL): { reason: string; timeZone: string | null; asOf: number | null } {
  let reason: string | null;
  try {
    reason = optionalText(url.searchParams.get('reason'));
  } catch (error) {
    if (error instanceof InvalidValueError) throw badInput('reason', error.reason);
    throw error;
  }
  if (reason === null)
    throw badInput('reason', 'a case reference is required (?reason=…): every attribution is logged with it');
  const timeZone = url.searchParams.get('timezone');
  if (timeZone !== null && !isKnownTimeZone(timeZone)) {
    throw badInput('timezone', `${excerpt(timeZone)} is not an IANA time zone (e.g. UTC, Asia/Kolkata)`);
  }
  const asOf = url.searchParams.get('asOf');
  if (asOf !== null && !/^\d{1,15}$/.test(asOf)) {
    throw badInput('asOf', `${excerpt(asOf)} is not a unix time (whole seconds since 1970)`);
  }
  return {
    reason,
    timeZone: timeZone === null || timeZone === '' ? null : timeZone,
    asOf: asOf === null ? null : Number(asOf),
  };
}

/** The system instant the rows are answered as known at (?asOf=), checked as whoHad checks its own. */
async function asKnownAtOf(reads: ReadRoute, asOf: number | null): Promise<SystemInstant | undefined> {
  if (asOf === null) return undefined;
  const problem = asOfProblem(asOf, nowUnixTime(), await versioningStartedAt(reads.reader()));
  if (problem !== null) throw badInput('asOf', problem);
  return endOfSecond(asOf);
}

export interface AttributionOptions {
  logger: Logger;
  /** The API's rate limit: a batch of 10,000 rows takes a unit, as a whoHadMany request does. */
  rateLimiter: RateLimiter;
  /** A connection silent this long (nothing sent, nothing read) is closed (RECEIVE_TIMEOUT_MS). */
  idleTimeoutMs: number;
}

/** Serves POST /attribute on the app's envelope (see createApp). */
export function useAttribution({
  logger,
  rateLimiter,
  idleTimeoutMs,
}: AttributionOptions): Plugin<RequestContext, ServerContext> {
  let getEnveloped: YogaServerInstance<ServerContext, RequestContext>['getEnveloped'] | undefined;
  return {
    onYogaInit({ yoga }) {
      getEnveloped = (yoga as unknown as YogaServerInstance<ServerContext, RequestContext>).getEnveloped;
    },
    async onRequest({ request, url, endResponse, serverContext }) {
      if (url.pathname !== ATTRIBUTE_PATH) return;
      try {
        if (request.method !== 'POST') {
          throw new Refusal(
            405,
            `${request.method} is not allowed here: POST the rows`,
            { code: 'METHOD_NOT_ALLOWED' },
            { allow: 'POST' },
          );
        }
        const format = formatOf(request);
        const { reason, timeZone, asOf } = optionsOf(url);
        let context: RequestContext;
        let tenant: Tenant;
        try {
          context = (await getEnveloped!({
            ...serverContext,
            request,
            channel: 'attribute',
          }).contextFactory()) as RequestContext;
          // Refused as GraphQL refuses a field that needs a context (FORBIDDEN, 403).
          tenant = tenantOf(context);
        } catch (error) {
          if (error instanceof GraphQLError) throw refusalOf(error);
          throw error;
        }
        // No body at all is an empty one: no header for CSV, no rows for NDJSON.
        const body = request.body ?? new ReadableStream<Uint8Array>({ start: (controller) => controller.close() });
        // The sender gone (its connection closed, or the answer's reader cancelled): the work stops.
        const gone = new AbortController();
        const node = serverContext.req;
        node?.once('close', () => {
          if (!node.complete) gone.abort();
        });
        const tokenKey = String(context.caller.tokenId);
        const job: AttributionJob = {
          reads: context.reads,
          tenant,
          actor: context.actor,
          reason,
          timeZone,
          ...(asOf === null ? {} : { asKnownAt: await asKnownAtOf(context.reads, asOf) }),
          signal: gone.signal,
          beforeBatch: () => throttled(rateLimiter, tokenKey, gone.signal),
        };
        endResponse(await respond(job, format, body, { logger, gone, idleTimeoutMs, node }));
      } catch (error) {
        if (error instanceof Refusal) return endResponse(error.toResponse());
        // Nothing may escape this hook: @whatwg-node/server would answer it with its stack trace.
        logger.error({ err: error }, 'attribution request failed');
        endResponse(new Refusal(500, 'Unexpected error.', { code: 'INTERNAL_SERVER_ERROR' }).toResponse());
      }
    },
  };
}

/** Waits until the rate limit lets `key` have a unit (or the sender has gone). */
async function throttled(rateLimiter: RateLimiter, key: string, signal: AbortSignal) {
  while (!signal.aborted) {
    const decision = await rateLimiter.take(key);
    if (decision.allowed) return;
    await new Promise((resolve) => setTimeout(resolve, decision.retryAfterSeconds * 1000).unref());
  }
}

interface Stream {
  logger: Logger;
  gone: AbortController;
  idleTimeoutMs: number;
  /** The Node request, when served by the HTTP server (not by yoga.fetch). */
  node: IncomingMessage | undefined;
}

async function respond(
  job: AttributionJob,
  format: Format,
  body: ReadableStream<Uint8Array>,
  { logger, gone, idleTimeoutMs, node }: Stream,
): Promise<Response> {
  // The first rows are read before answering: a CSV header that cannot be attributed is refused
  // with a status, not inside a 200.
  let opened: Awaited<ReturnType<typeof openRows>>;
  try {
    opened = await openRows(format, chunksOf(body));
  } catch (error) {
    if (error instanceof HeaderError) throw badInput(error.field, error.reason);
    throw error;
  }
  const { columns } = opened;
  const answers = attributeRows(job, opened.rows);
  const encoder = new TextEncoder();
  let started = false;
  const stream = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          // The server's adapter turns the socket's timeout off once it streams an answer: set
          // again at each piece, the connection closes when silent both ways for the receive timeout.
          node?.socket.setTimeout(idleTimeoutMs, () => node.socket.destroy());
          if (!started) {
            started = true;
            const header = answerHeader(columns());
            if (header !== '') return controller.enqueue(encoder.encode(header));
          }
          const next = await answers.next();
          if (next.done || gone.signal.aborted) return controller.close();
          for (const piece of answerChunks(next.value, columns())) controller.enqueue(encoder.encode(piece));
        } catch (error) {
          if (gone.signal.aborted) {
            logger.debug({ reason: job.reason }, 'attribution stopped: its sender went away');
          } else {
            logger.error({ err: error, reason: job.reason }, 'attribution failed while streaming');
          }
          gone.abort();
          // The status is sent: the answer must stop short, its connection closed without the last
          // chunk, for the client to see a failure. Served by the HTTP server, the connection is
          // ended here (what was written flushed first) and the stream closed once it is: erroring
          // it would leave the response open for good, and the adapter rejects a promise of its own
          // that nobody handles. Served by yoga.fetch, the stream errors.
          if (node) {
            const closed = new Promise((resolve) => node.socket.once('close', resolve));
            node.socket.end();
            setTimeout(() => node.socket.destroy(), idleTimeoutMs).unref();
            // No further pull until then: the stream ends where nothing more can be written.
            await closed;
            controller.close();
          } else {
            controller.error(error);
          }
        }
      },
      async cancel() {
        // The client went away: no more rows are read or looked up.
        gone.abort();
        await answers.return(undefined);
      },
    },
    { highWaterMark: 1 },
  );
  return new Response(stream, { status: 200, headers: { 'content-type': CONTENT_TYPES[format] } });
}

/** A request body's chunks; stopping early cancels the body (the rest is not read). */
async function* chunksOf(body: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = body.getReader();
  let finished = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        finished = true;
        return;
      }
      yield value;
    }
  } finally {
    if (!finished) void reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}
