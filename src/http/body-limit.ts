import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Plugin } from 'graphql-yoga';

const tooLarge = (limitBytes: number) =>
  JSON.stringify({ errors: [{ message: `Request body is larger than ${limitBytes} bytes` }] });

/** Refuses a request whose declared body is over `limitBytes`, before reading it (for `yoga.fetch` callers). */
export function useBodyLimit(limitBytes: number): Plugin {
  return {
    onRequest({ request, endResponse, fetchAPI }) {
      const declared = request.headers.get('content-length');
      if (declared !== null && Number(declared) > limitBytes) {
        endResponse(
          new fetchAPI.Response(tooLarge(limitBytes), { status: 413, headers: { 'content-type': 'application/json' } }),
        );
      }
    },
  };
}

/**
 * For the HTTP server, before anything reads the body: a body sent without a declared length
 * (chunked) could only be measured by reading it, so it is refused; so is a declared length over
 * `limitBytes`. Node reads no more than the declared length as the body, so every body that gets
 * through is bounded. (Yoga's own limit, which counts each body through a stream transform, is
 * off: it cost about 0.1 ms of CPU per request.) The connection is closed rather than drained.
 */
export function refuseUnboundedBody(request: IncomingMessage, response: ServerResponse, limitBytes: number): boolean {
  const declared = request.headers['content-length'];
  if (declared === undefined && request.headers['transfer-encoding'] !== undefined) {
    response.writeHead(411, { 'content-type': 'application/json', connection: 'close' });
    response.end(JSON.stringify({ errors: [{ message: 'Send the request body with a Content-Length header' }] }));
    return true;
  }
  if (declared !== undefined && Number(declared) > limitBytes) {
    response.writeHead(413, { 'content-type': 'application/json', connection: 'close' });
    response.end(tooLarge(limitBytes));
    return true;
  }
  return false;
}
