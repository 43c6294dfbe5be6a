import {
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  GraphQLError,
  coerceInputValue,
  getOperationAST,
  isInputType,
  typeFromAST,
} from 'graphql';
import type { Plugin, YogaServerInstance } from 'graphql-yoga';
import type { RequestContext, ServerContext } from '../context.js';
import { responseTooLargeMessage } from '../http/response-limit.js';
import type { Logger } from '../logger.js';
import { createLoaders } from '../lookups/loaders.js';
import { type OperationName, documents } from './documents.js';
import { type Endpoint, type Method, resources } from './endpoints.js';
import { type ApiStatuses, RestError, failureOf, internalError, restErrorOf, variableError } from './errors.js';
import { type Body, authOf, readBody } from './requests.js';
import type { ResultData } from './shapes.js';

type Enveloped = ReturnType<YogaServerInstance<ServerContext, RequestContext>['getEnveloped']>;

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

/**
 * One REST request's operations, run in-process on the app's own envelope (as SOFA's Yoga plugin
 * does): the request was authenticated and its context built once, and each operation (each page
 * of a list) runs through the same execute hooks as a GraphQL request (limits, deadline, metrics,
 * masking), with no HTTP request of its own.
 */
interface Run {
  enveloped: Enveloped;
  context: RequestContext;
  api: ApiStatuses;
  /** Each operation's document, parsed and validated once for the app. */
  documentOf(operation: OperationName): DocumentNode;
}

/**
 * Refuses a variable its GraphQL type does not accept, naming it by the path graphql-js found the
 * value at. A REST body's values become variables as they are, so the schema's scalars check them.
 */
function checkVariables({ enveloped }: Run, document: DocumentNode, variables: Record<string, unknown>) {
  for (const definition of getOperationAST(document)?.variableDefinitions ?? []) {
    const name = definition.variable.name.value;
    const type = typeFromAST(enveloped.schema, definition.type);
    if (!(name in variables) || !type || !isInputType(type)) continue;
    let refused: RestError | undefined;
    coerceInputValue(variables[name], type, (path, _value, error) => {
      const { reason } = error.extensions;
      refused ??= variableError([name, ...path], typeof reason === 'string' ? reason : error.message);
    });
    if (refused) throw refused;
  }
}

async function execute(
  run: Run,
  operation: OperationName,
  variables: Record<string, unknown>,
  context: RequestContext = run.context,
): Promise<Record<string, any>> {
  const document = run.documentOf(operation);
  checkVariables(run, document, variables);
  const args: ExecutionArgs = {
    schema: run.enveloped.schema,
    document,
    contextValue: context,
    variableValues: variables,
    operationName: operation,
  };
  const result = (await run.enveloped.execute(args)) as ExecutionResult;
  const error = result.errors?.[0];
  if (error) throw restErrorOf(error, run.api);
  return result.data!;
}

/** A later page's context: the same caller and tenant, with loaders (and their caches) of its own. */
const pageContext = (context: RequestContext): RequestContext => ({
  ...context,
  loaders: context.tenant ? createLoaders(context.reads, context.tenant, context.actor) : null,
});

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
  run: Run,
  endpoint: Endpoint,
  variables: Record<string, unknown>,
  maxBytes: number,
): Promise<Answer> {
  const rows: string[] = [];
  // The brackets, and a comma before every row but the first.
  let bytes = 2;
  for (let after: string | null = null; ;) {
    const context = after === null ? run.context : pageContext(run.context);
    const data = await execute(run, endpoint.operation, { ...variables, after }, context);
    const page = data.page as {
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

async function runOne(run: Run, endpoint: Endpoint, body: Body, variables: Record<string, unknown>): Promise<Answer> {
  const data = (await execute(run, endpoint.operation, variables)).result as ResultData;
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
  maxResponseBytes: number;
  logger: Logger;
  /** Names the REST request's operation in its log line and metrics before it is authenticated. */
  nameOperation: (request: Request, operation: OperationName) => void;
}

export function useRestApi({
  maxResponseBytes,
  logger,
  nameOperation,
}: RestApiOptions): Plugin<RequestContext, ServerContext> {
  let getEnveloped: YogaServerInstance<ServerContext, RequestContext>['getEnveloped'] | undefined;
  const prepared = new Map<OperationName, DocumentNode>();

  function documentOf(enveloped: Enveloped, operation: OperationName): DocumentNode {
    const known = prepared.get(operation);
    if (known) return known;
    const document = enveloped.parse(documents[operation]) as DocumentNode;
    const errors: readonly GraphQLError[] = enveloped.validate(enveloped.schema, document);
    // The documents are the server's own, checked against the schema by a test: this is a bug.
    if (errors.length > 0) throw new Error(`${operation}: ${errors.map((error) => error.message).join('; ')}`);
    prepared.set(operation, document);
    return document;
  }

  return {
    onYogaInit({ yoga }) {
      getEnveloped = (yoga as unknown as YogaServerInstance<ServerContext, RequestContext>).getEnveloped;
    },
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
        nameOperation(request, endpoint.operation);
        const body = await readBody(request, url.searchParams);
        const auth = authOf(body);
        const variables = endpoint.variables(body, userId ?? '');
        const enveloped = getEnveloped!({
          ...serverContext,
          request,
          channel: 'rest',
          // Every operation of this request runs under its one deadline (http/request-timeout.ts).
          outerRequest: request,
          restCredentials: { token: auth.token, context: auth.context },
          ...(auth.username === undefined ? {} : { expectedUsername: auth.username }),
        });
        let context: RequestContext;
        try {
          // Authenticated, counted by the rate limit and given its context here, once.
          context = (await enveloped.contextFactory()) as RequestContext;
        } catch (error) {
          if (error instanceof GraphQLError) throw restErrorOf(error, endpoint.api);
          throw error;
        }
        const run: Run = {
          enveloped,
          context,
          api: endpoint.api,
          documentOf: (operation) => documentOf(enveloped, operation),
        };
        const { json, bytes } = endpoint.list
          ? await runList(run, endpoint, variables, maxResponseBytes)
          : await runOne(run, endpoint, body, variables);
        // Its length, which http/response-limit.ts bounds.
        const headers = { 'content-type': 'application/json', 'content-length': String(bytes) };
        endResponse(new Response(json, { headers }));
      } catch (error) {
        if (error instanceof RestError) return endResponse(error.toResponse());
        // Nothing may escape this hook: @whatwg-node/server would answer it with its stack trace.
        logger.error({ err: error, path: echoPath(url.pathname) }, 'REST request failed');
        endResponse(internalError().toResponse());
      }
    },
  };
}
