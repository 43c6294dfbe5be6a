import type { Plugin } from 'graphql-yoga';
import type { RequestContext, ServerContext } from '../context.js';
import { errorJson } from './body-limit.js';

export const RESPONSE_TOO_LARGE = 'RESPONSE_TOO_LARGE';

/** `bytes` is the response's size, or with 'at least' what of it was counted before it was stopped. */
export const responseTooLargeMessage = (bytes: number, limit: number, measure: 'exactly' | 'at least' = 'exactly') =>
  `The response would be ${measure === 'at least' ? 'at least ' : ''}${bytes} bytes, over the server's limit of ${limit} bytes (MAX_RESPONSE_BYTES): ask for fewer items or fields`;

const tooLargeResult = (message: string) =>
  JSON.stringify({ errors: [{ message, extensions: { code: RESPONSE_TOO_LARGE } }] });

/**
 * How a streamed GraphQL response is cut into messages, and how it ends with an error. Only
 * whole messages are sent, so the client can always parse what it got. Neither delimiter can
 * occur inside a message: each is JSON (which escapes CR and LF) after its framing lines.
 */
interface Framing {
  /** Ends every message: SSE's blank line; in multipart/mixed, the boundary that ends each part (Yoga's is "-"). */
  delimiter: Buffer;
  /** What comes before the first message: the error, when it is the first, comes after it. */
  opening: string;
  /** A last message carrying `errorJson` and the end of the stream, after whole messages. */
  end(errorJson: string): string;
}

const framings: { contentType: RegExp; framing: Framing }[] = [
  {
    contentType: /^text\/event-stream\b/i,
    framing: {
      delimiter: Buffer.from('\n\n'),
      opening: '',
      end: (json) => `event: next\ndata: ${json}\n\nevent: complete\ndata:\n\n`,
    },
  },
  {
    contentType: /^multipart\/mixed\b/i,
    framing: {
      delimiter: Buffer.from('\r\n---'),
      opening: '\r\n---',
      end: (json) =>
        `\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(json)}\r\n\r\n${json}\r\n-----\r\n`,
    },
  },
];

/**
 * `body`, counted as it passes: whole messages go on while the count is within `limitBytes`;
 * the first that would pass it (or a message that grows past it before it ends) is not sent,
 * the stream ends with an error message in its own framing, and the source is cancelled. Holds
 * at most one message, and no more of it than the limit.
 */
function boundedStream(
  body: ReadableStream<Uint8Array>,
  { delimiter, opening, end }: Framing,
  limitBytes: number,
  ReadableStreamClass: typeof ReadableStream,
): ReadableStream<Uint8Array> {
  const source = body.getReader();
  let sent = 0;
  let pending = Buffer.alloc(0);
  return new ReadableStreamClass<Uint8Array>({
    // Reads until it has a whole message to pass on (or the end): a pull that enqueues nothing
    // is not called again by every implementation of streams.
    async pull(controller) {
      for (;;) {
        const { done, value } = await source.read();
        if (!done) pending = Buffer.concat([pending, value]);
        let passed = false;
        let cut = false;
        for (let at = pending.indexOf(delimiter); at >= 0 && !cut; at = pending.indexOf(delimiter)) {
          const message = pending.subarray(0, at + delimiter.length);
          if (sent + message.length > limitBytes) cut = true;
          else {
            controller.enqueue(new Uint8Array(message));
            sent += message.length;
            pending = pending.subarray(message.length);
            passed = true;
          }
        }
        // The end of the stream (multipart's closing "--") is the one unit with no delimiter after it.
        if (cut || sent + pending.length > limitBytes) {
          const counted = sent + pending.length;
          pending = Buffer.alloc(0);
          await source.cancel().catch(() => {});
          const json = tooLargeResult(responseTooLargeMessage(counted, limitBytes, 'at least'));
          controller.enqueue(new TextEncoder().encode((sent === 0 ? opening : '') + end(json)));
          controller.close();
          return;
        }
        if (done) {
          if (pending.length > 0) controller.enqueue(new Uint8Array(pending));
          controller.close();
          return;
        }
        if (passed) return;
      }
    },
    cancel(reason) {
      return source.cancel(reason);
    },
  });
}

/**
 * Replaces a response larger than `limitBytes` with a 400 naming the limit (the caller asked for
 * more than the server sends; asking again will not help, so not a 5xx that clients retry). The
 * size is the Content-Length that the fetch API's Response works out from the body Yoga
 * stringified, so nothing is stringified or counted twice. A GraphQL response streamed without
 * one (Server-Sent Events, multipart/mixed) is counted as it passes and ends with a
 * RESPONSE_TOO_LARGE error in its own framing once it would pass the limit; its status and
 * headers are sent by then. The GraphiQL page, and any other stream (none is a GraphQL answer),
 * pass as they are. Must come before useOperations, whose log line and request id are for the
 * response sent.
 */
export function useResponseLimit(limitBytes: number): Plugin<RequestContext, ServerContext> {
  return {
    onResponse({ request, response, setResponse, fetchAPI }) {
      const contentType = response.headers.get('content-type') ?? '';
      // The GraphiQL page: the server's own, the same whatever the caller asks, and no answer to a query.
      if (/^text\/html\b/i.test(contentType)) return;
      const declared = response.headers.get('content-length');
      if (declared === null) {
        const streamed = framings.find(({ contentType: type }) => type.test(contentType));
        if (!streamed || !response.body) return;
        const body = boundedStream(response.body, streamed.framing, limitBytes, fetchAPI.ReadableStream);
        setResponse(new fetchAPI.Response(body, { status: response.status, headers: response.headers }));
        return;
      }
      const bytes = Number(declared);
      if (!(bytes > limitBytes)) return;
      const path = new URL(request.url).pathname;
      const message = responseTooLargeMessage(bytes, limitBytes);
      const body = path.startsWith('/api/') ? errorJson(path, message) : tooLargeResult(message);
      setResponse(new fetchAPI.Response(body, { status: 400, headers: { 'content-type': 'application/json' } }));
    },
  };
}
