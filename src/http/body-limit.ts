import type { IncomingMessage } from 'node:http';
import type { Plugin } from 'graphql-yoga';
import { ATTRIBUTE_PATH } from '../attribution/path.js';

/** A failure in the caller's own error shape: Trisul's on /api/..., GraphQL's elsewhere. */
export function errorJson(path: string, message: string): string {
  return path.startsWith('/api/')
    ? JSON.stringify({ status: 'Error', message })
    : JSON.stringify({ errors: [{ message }] });
}

export const tooLargeMessage = (limitBytes: number) => `Request body is larger than ${limitBytes} bytes`;

/**
 * Refuses a request whose declared body is over `limitBytes`, before reading it. The HTTP server
 * does this itself (http/node-handler.ts); this is for `yoga.fetch` callers. POST /attribute
 * streams any number of rows: no limit.
 */
export function useBodyLimit(limitBytes: number): Plugin {
  return {
    onRequest({ request, url, endResponse, fetchAPI }) {
      if (url.pathname === ATTRIBUTE_PATH) return;
      const declared = request.headers.get('content-length');
      if (declared !== null && Number(declared) > limitBytes) {
        endResponse(
          new fetchAPI.Response(errorJson(url.pathname, tooLargeMessage(limitBytes)), {
            status: 413,
            headers: { 'content-type': 'application/json' },
          }),
        );
      }
    },
  };
}

/**
 * Reads a body whose length was not declared (chunked), counting its bytes as they arrive: null
 * as soon as they pass `limitBytes`, and the rest is not kept. Rejects when the request ends
 * before its body does (the client went away, or sent a malformed body).
 */
export function readBoundedBody(request: IncomingMessage, limitBytes: number): Promise<Buffer<ArrayBuffer> | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limitBytes) {
        chunks.push(chunk);
        return;
      }
      // The stream keeps flowing with no listener, so what is left of the body is discarded.
      request.off('data', onData);
      chunks.length = 0;
      resolve(null);
    };
    request.on('data', onData);
    request.once('end', () => {
      if (size <= limitBytes) resolve(Buffer.concat(chunks, size));
    });
    request.once('error', reject);
    request.once('close', () => reject(new Error('The request closed before its body ended')));
  });
}
