import type { Plugin } from 'graphql-yoga';
import type { RequestContext, ServerContext } from '../context.js';
import { errorJson } from './body-limit.js';

export const RESPONSE_TOO_LARGE = 'RESPONSE_TOO_LARGE';

export const responseTooLargeMessage = (bytes: number, limit: number) =>
  `The response would be ${bytes} bytes, over the server's limit of ${limit} bytes (MAX_RESPONSE_BYTES): ask for fewer items or fields`;

/**
 * Replaces a response larger than `limitBytes` with a 400 naming the limit (the caller asked for
 * more than the server sends; asking again will not help, so not a 5xx that clients retry). The
 * size is the Content-Length that the fetch API's Response works out from the body Yoga
 * stringified, so nothing is stringified or counted twice. A response without one (a stream:
 * the GraphiQL page, which is small) passes as it is. Must come before useOperations, whose log
 * line and request id are for the response sent.
 */
export function useResponseLimit(limitBytes: number): Plugin<RequestContext, ServerContext> {
  return {
    onResponse({ request, response, setResponse, fetchAPI, serverContext }) {
      // The REST layer's own GraphQL requests are parts of its response, which is the one measured.
      if (serverContext.outerRequest) return;
      const bytes = Number(response.headers.get('content-length'));
      if (!(bytes > limitBytes)) return;
      const path = new URL(request.url).pathname;
      const message = responseTooLargeMessage(bytes, limitBytes);
      const body = path.startsWith('/api/')
        ? errorJson(path, message)
        : JSON.stringify({ errors: [{ message, extensions: { code: RESPONSE_TOO_LARGE } }] });
      setResponse(new fetchAPI.Response(body, { status: 400, headers: { 'content-type': 'application/json' } }));
    },
  };
}
