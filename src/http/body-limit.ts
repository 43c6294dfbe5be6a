import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Plugin } from 'graphql-yoga';

const tooLarge = (limitBytes: number) =>
  JSON.stringify({ errors: [{ message: `Request body is larger than ${limitBytes} bytes` }] });

/** Refuses a request whose declared body is over `limitBytes`, before reading it. */
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
 * For the HTTP server: a body sent without a declared length (chunked) could only be measured by
 * reading it, so it is refused; the plugin above then bounds every body that gets through.
 */
export function refuseUndeclaredBody(request: IncomingMessage, response: ServerResponse): boolean {
  if (request.headers['transfer-encoding'] === undefined || request.headers['content-length'] !== undefined)
    return false;
  response.writeHead(411, { 'content-type': 'application/json' });
  response.end(JSON.stringify({ errors: [{ message: 'Send the request body with a Content-Length header' }] }));
  return true;
}
