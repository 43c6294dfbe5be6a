import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { getOperationAST } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { RequestContext, ServerContext } from '../context.js';
import type { Db } from '../db/handle.js';
import type { Logger } from '../logger.js';
import { documents } from '../rest/documents.js';
import type { Metrics } from './metrics.js';

/** One request as a client sent it: what its log line and metrics say. */
export interface RequestRecord {
  id: string;
  startedAt: bigint;
  /** As the client sent it: a GET with a body reaches Yoga as a POST. */
  method: string | undefined;
  /** The operation run, or several joined with commas when a REST request ran more than one. */
  operation: string;
  username?: string;
}

const requests = new WeakMap<Request, RequestRecord>();
// Node requests the HTTP server answered itself after handing them to Yoga (a malformed body:
// http/node-handler.ts). Yoga's answer never reaches the client, so it is not logged.
const answeredByServer = new WeakSet<IncomingMessage>();

export function markAnsweredByServer(request: IncomingMessage) {
  answeredByServer.add(request);
}

export function newRequestRecord(method: string | undefined, givenId: string | null | undefined): RequestRecord {
  const id = givenId && /^[\w.-]{1,128}$/.test(givenId) ? givenId : randomUUID();
  return { id, startedAt: process.hrtime.bigint(), method, operation: 'anonymous' };
}

/** How many operation names from authenticated callers become labels of their own. */
export const MAX_LEARNT_OPERATIONS = 200;

function json(body: unknown, status: number, fetchAPI: { Response: typeof Response }) {
  return new fetchAPI.Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
}

export interface OperationsOptions {
  db: Db;
  logger: Logger;
  metrics: Metrics;
}

export type Operations = ReturnType<typeof createOperations>;

/**
 * Operations: /ready (the database answers) and /metrics (Prometheus) beside Yoga's own /health
 * (the process is up); a request id, a latency measurement and one structured log line per request.
 */
export function createOperations({ db, logger, metrics }: OperationsOptions) {
  const { registry, requestsTotal, requestDuration, graphqlErrors } = metrics;
  // Operation names come from clients, and every label is a time series kept for the life of the
  // process: only the REST layer's names and a bounded number seen from authenticated callers are
  // labels; any other name counts as "other", so that no caller, least of all one without a token,
  // can grow the metrics.
  const knownOperations = new Set<string>(Object.keys(documents));
  let learntOperations = 0;

  function operationLabel(name: string | null | undefined, authenticated: boolean): string {
    if (!name) return 'anonymous';
    if (knownOperations.has(name)) return name;
    if (!authenticated || learntOperations >= MAX_LEARNT_OPERATIONS || !/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(name)) {
      return 'other';
    }
    knownOperations.add(name);
    learntOperations++;
    return name;
  }

  /** Counts a request in the metrics and writes its one log line. */
  function finishRequest(
    record: RequestRecord,
    path: string | undefined,
    status: number,
    extra: { error?: string } = {},
  ) {
    const seconds = Number(process.hrtime.bigint() - record.startedAt) / 1e9;
    requestsTotal.inc({ operation: record.operation, status: String(status) });
    requestDuration.observe({ operation: record.operation }, seconds);
    // Never the headers or the body: they carry tokens.
    logger.info(
      {
        requestId: record.id,
        method: record.method,
        path,
        status,
        operation: record.operation,
        user: record.username,
        ms: Math.round(seconds * 1000 * 10) / 10,
        ...extra,
      },
      'request',
    );
  }

  const plugin: Plugin<RequestContext, ServerContext> = {
    async onRequest({ request, url, endResponse, fetchAPI, serverContext }) {
      if (url.pathname === '/ready') {
        try {
          await db.prisma.$queryRawUnsafe('SELECT 1');
          return endResponse(json({ status: 'ready' }, 200, fetchAPI));
        } catch (error) {
          logger.error({ err: error }, 'readiness check: database unreachable');
          return endResponse(json({ status: 'unavailable', reason: 'database unreachable' }, 503, fetchAPI));
        }
      }
      if (url.pathname === '/metrics') {
        // An exception escaping this hook would be answered with its stack (by @whatwg-node/server).
        try {
          const body = await registry.metrics();
          return endResponse(new fetchAPI.Response(body, { headers: { 'content-type': registry.contentType } }));
        } catch (error) {
          logger.error({ err: error }, 'rendering metrics failed');
          return endResponse(json({ status: 'unavailable', reason: 'metrics could not be rendered' }, 500, fetchAPI));
        }
      }
      const record = newRequestRecord(serverContext.restMethod ?? request.method, request.headers.get('x-request-id'));
      requests.set(request, record);
      logger.debug({ requestId: record.id, method: record.method, path: url.pathname }, 'request received');
    },
    onParams({ params, request }) {
      const record = requests.get(request);
      if (record) record.operation = operationLabel(params.operationName, false);
    },
    onExecute({ args }) {
      const { request, caller } = args.contextValue;
      const record = requests.get(request);
      if (!record) return;
      record.username = caller.username;
      const name = getOperationAST(args.document, args.operationName)?.name?.value;
      // The caller is authenticated here: the name it gave may now be learnt.
      record.operation = operationLabel(name, true);
    },
    onExecutionResult({ result, context }) {
      const record = requests.get(context.request);
      const results = Array.isArray(result) ? result : [result];
      for (const single of results) {
        for (const error of ('errors' in single ? single.errors : undefined) ?? []) {
          graphqlErrors.inc({
            operation: record?.operation ?? 'anonymous',
            code: String(error.extensions?.code ?? 'UNKNOWN'),
          });
        }
      }
    },
    onResponse({ request, response, serverContext }) {
      const record = requests.get(request);
      if (!record) return;
      // Yoga's Node adapter passes the Node request as `req`.
      const node = (serverContext as { req?: IncomingMessage }).req;
      if (node && answeredByServer.has(node)) return;
      response.headers.set('x-request-id', record.id);
      finishRequest(record, new URL(request.url).pathname, response.status);
    },
  };

  /** Names the operation a request asks for before it is authenticated (the REST layer's are known). */
  function nameOperation(request: Request, name: string) {
    const record = requests.get(request);
    if (record) record.operation = operationLabel(name, false);
  }

  return { plugin, finishRequest, nameOperation, metrics };
}
