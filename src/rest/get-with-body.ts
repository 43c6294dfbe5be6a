import type { IncomingMessage, ServerResponse } from 'node:http';
import type { YogaServerInstance } from 'graphql-yoga';
import type { RequestContext, ServerContext } from '../context.js';

// Trisul's callers send GET requests with a JSON body (`curl -X GET -d '{...}'`). The Fetch API
// that Yoga builds requests with drops a GET's body, so the HTTP server hands such requests to
// the REST layer itself, as a POST marked as the GET it was.

export function isGetWithBody(request: IncomingMessage): boolean {
  return (
    request.method === 'GET' &&
    (request.url ?? '').startsWith('/api/') &&
    Number(request.headers['content-length'] ?? 0) > 0
  );
}

export async function serveGetWithBody(
  request: IncomingMessage,
  response: ServerResponse,
  yoga: YogaServerInstance<ServerContext, RequestContext>,
) {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const headers = new Headers();
  for (const [name, value] of Object.entries(request.headers)) {
    if (typeof value === 'string') headers.set(name, value);
  }
  const answer = await yoga.fetch(
    `http://${request.headers.host ?? 'localhost'}${request.url}`,
    { method: 'POST', headers, body: Buffer.concat(chunks) },
    { restMethod: 'GET' },
  );
  response.writeHead(answer.status, Object.fromEntries(answer.headers));
  response.end(Buffer.from(await answer.arrayBuffer()));
}
