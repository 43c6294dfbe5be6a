import type { Plugin, YogaServerInstance } from 'graphql-yoga';
import type { RequestContext, ServerContext } from '../context.js';
import { responseTooLargeMessage } from '../http/response-limit.js';
import type { Logger } from '../logger.js';
import { type OperationName, documents } from './documents.js';
import { type Endpoint, type Method, resources } from './endpoints.js';
import { type ApiStatuses, RestError, restField } from './errors.js';
import { type Body, type RestAuth, authOf, readBody } from './requests.js';
import { type ResultData, failureOf } from './shapes.js';

type Yoga = YogaServerInstance<ServerContext, RequestContext>;

interface GraphQLResult {
  data?: Record<string, any> | null;
  errors?: { message: string; extensions?: { code?: string; reason?: string } }[];
  /** The GraphQL response's Retry-After, which a REST 429 carries on. */
  retryAfter?: string | null;
}

/** At most this much of a path the caller sent is echoed back. */
const ECHOED_PATH_CHARS = 100;
const echoPath = (path: string) => (path.length > ECHOED_PATH_CHARS ? `${path.slice(0, ECHOED_PATH_CHARS)}…` : path);

function decodeSegment(segment: string, path: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new RestError(400, `Malformed percent-encoding in the path: ${echoPath(path)}`);
  }
}

const route = /^\/api\/(ipdrcustomers|ipdrcustomers_mapping)(?:\/([^/]+))?\/?$/;

/** The REST error for a GraphQL error: Trisul's documented answers first. */
function errorOf(result: GraphQLResult, api: ApiStatuses): RestError {
  const error = result.errors![0]!;
  const { code, reason } = error.extensions ?? {};
  if (code === 'UNAUTHENTICATED') return new RestError(api.invalidToken, 'Invalid API token', 'ERROR');
  if (code === 'FORBIDDEN') {
    if (error.message.startsWith('Invalid Context name')) return new RestError(api.invalidContext, error.message);
    if (error.message.includes('is not allowed to access the context')) return new RestError(200, error.message);
    return new RestError(422, error.message);
  }
  if (code === 'RATE_LIMITED') {
    return new RestError(429, error.message, 'Error', result.retryAfter ? { 'retry-after': result.retryAfter } : {});
  }
  if (code === 'REQUEST_TIMEOUT') return new RestError(504, error.message);
  if (code === 'BAD_USER_INPUT') {
    // 'Variable "$input" got invalid value "x" at "input.starttime"; invalid UnixTime: ...'
    const path = /at "([^"]+)"/.exec(error.message)?.[1] ?? /Variable "\$(\w+)"/.exec(error.message)?.[1] ?? 'input';
    return new RestError(422, `${restField(path.split('.').pop()!)}: ${reason ?? error.message}`);
  }
  return new RestError(500, 'Internal error');
}

/**
 * Runs one named operation through the app itself: same auth, limits, audit and masking. It is
 * part of the REST request `outer`, which is the one logged and counted (http/operations.ts).
 */
async function execute(
  yoga: Yoga,
  outer: Request,
  operation: OperationName,
  variables: Record<string, unknown>,
  auth: RestAuth,
  clientAddress: string,
): Promise<GraphQLResult> {
  const headers: Record<string, string> = { 'content-type': 'application/json', 'x-context': auth.context };
  if (auth.token !== null) headers.authorization = `Bearer ${auth.token}`;
  const response = await yoga.fetch(
    'http://rest.internal/graphql',
    {
      method: 'POST',
      headers,
      body: JSON.stringify({ query: documents[operation], operationName: operation, variables }),
    },
    {
      channel: 'rest',
      outerRequest: outer,
      clientAddress,
      ...(auth.username === undefined ? {} : { expectedUsername: auth.username }),
    },
  );
  const result = (await response.json()) as GraphQLResult;
  result.retryAfter = response.headers.get('retry-after');
  return result;
}

/** The JSON of a REST answer, and its size in bytes (its Content-Length). */
interface Answer {
  json: string;
  bytes: number;
}

/**
 * A list's rows, stringified one by one as they are shaped and joined into the array at the
 * end. Past `maxBytes` it stops: no further page is read, and what is kept is bounded by the
 * limit, not by the table.
 */
async function runList(
  yoga: Yoga,
  outer: Request,
  clientAddress: string,
  endpoint: Endpoint,
  variables: Record<string, unknown>,
  auth: RestAuth,
  maxBytes: number,
): Promise<Answer> {
  const rows: string[] = [];
  // The brackets, and a comma before every row but the first.
  let bytes = 2;
  for (let after: string | null = null; ;) {
    const result = await execute(yoga, outer, endpoint.operation, { ...variables, after }, auth, clientAddress);
    if (result.errors?.length) throw errorOf(result, endpoint.api);
    const page = result.data!.page as {
      pageInfo: { hasNextPage: boolean; endCursor: string };
      edges: { node: unknown }[];
    };
    for (const edge of page.edges) {
      const row = JSON.stringify(endpoint.shape(edge.node));
      bytes += Buffer.byteLength(row) + (rows.length > 0 ? 1 : 0);
      if (bytes > maxBytes) throw new RestError(400, responseTooLargeMessage(bytes, maxBytes, 'at least'));
      rows.push(row);
    }
    if (!page.pageInfo.hasNextPage) return { json: `[${rows.join(',')}]`, bytes };
    after = page.pageInfo.endCursor;
  }
}

async function run(
  yoga: Yoga,
  outer: Request,
  clientAddress: string,
  endpoint: Endpoint,
  body: Body,
  userId: string,
  maxBytes: number,
): Promise<Answer> {
  const auth = authOf(body);
  const variables = endpoint.variables(body, userId);
  if (endpoint.list) return runList(yoga, outer, clientAddress, endpoint, variables, auth, maxBytes);
  const result = await execute(yoga, outer, endpoint.operation, variables, auth, clientAddress);
  if (result.errors?.length) throw errorOf(result, endpoint.api);
  const data = result.data!.result as ResultData;
  if (data.__typename === 'Customer' || data.__typename === 'IpMapping') {
    const json = JSON.stringify(endpoint.shape(data));
    return { json, bytes: Buffer.byteLength(json) };
  }
  throw failureOf(data, endpoint.requested?.(body) ?? null);
}

/**
 * Trisul's REST API (/api/ipdrcustomers, /api/ipdrcustomers_mapping) on top of the GraphQL API.
 * A list answers at most `maxResponseBytes` (http/response-limit.ts bounds every other answer).
 */
export interface RestApiOptions {
  /** The app the REST layer runs its GraphQL operations on. */
  getYoga: () => Yoga;
  maxResponseBytes: number;
  logger: Logger;
  /** Who is asking, as the app's authentication counts failures (access/authentication.ts). */
  clientAddressOf: (request: Request, server: ServerContext) => string;
}

export function useRestApi({
  getYoga,
  maxResponseBytes,
  logger,
  clientAddressOf,
}: RestApiOptions): Plugin<RequestContext, ServerContext> {
  return {
    async onRequest({ request, url, endResponse, serverContext }) {
      // Every request passes here; only /api/ ones are this layer's.
      if (!url.pathname.startsWith('/api/')) return;
      const match = route.exec(url.pathname);
      try {
        const resource = match ? resources[match[1]!] : undefined;
        if (!match || !resource) throw new RestError(404, `No such endpoint: ${echoPath(url.pathname)}`);
        const userId = match[2] === undefined ? undefined : decodeSegment(match[2], url.pathname);
        const endpoints = userId === undefined ? resource.collection : resource.item;
        const method = (serverContext.restMethod ?? request.method) as Method;
        const endpoint = endpoints[method];
        if (!endpoint) {
          throw new RestError(405, `${method} is not allowed here`, 'Error', {
            allow: Object.keys(endpoints).join(', '),
          });
        }
        const body = await readBody(request, url.searchParams);
        const address = clientAddressOf(request, serverContext);
        const { json, bytes } = await run(getYoga(), request, address, endpoint, body, userId ?? '', maxResponseBytes);
        // Its length, which http/response-limit.ts bounds.
        const headers = { 'content-type': 'application/json', 'content-length': String(bytes) };
        endResponse(new Response(json, { headers }));
      } catch (error) {
        if (error instanceof RestError) return endResponse(error.toResponse());
        // Nothing may escape this hook: @whatwg-node/server would answer it with its stack trace.
        logger.error({ err: error, path: echoPath(url.pathname) }, 'REST request failed');
        endResponse(new RestError(500, 'Internal error').toResponse());
      }
    },
  };
}
