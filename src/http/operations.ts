import { randomUUID } from 'node:crypto';
import { getOperationAST } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { RequestContext } from '../context.js';
import { prisma } from '../db.js';
import { logger } from '../logger.js';
import { graphqlErrors, metrics, requestDuration, requestsTotal } from './metrics.js';

interface RequestInfo {
  id: string;
  startedAt: bigint;
  operation: string;
  username?: string;
}

const requests = new WeakMap<Request, RequestInfo>();

// Operation names come from clients; keep only sane ones as metric labels.
const operationLabel = (name: string | null | undefined) =>
  name && /^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(name) ? name : 'anonymous';

function json(body: unknown, status: number, fetchAPI: { Response: typeof Response }) {
  return new fetchAPI.Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
}

/**
 * Operations: /ready (the database answers) and /metrics (Prometheus) beside Yoga's own /health
 * (the process is up); a request id, a latency measurement and one structured log line per request.
 */
export function useOperations(): Plugin<RequestContext> {
  return {
    async onRequest({ request, url, endResponse, fetchAPI }) {
      if (url.pathname === '/ready') {
        try {
          await prisma.$queryRawUnsafe('SELECT 1');
          return endResponse(json({ status: 'ready' }, 200, fetchAPI));
        } catch (error) {
          logger.error({ err: error }, 'readiness check: database unreachable');
          return endResponse(json({ status: 'unavailable', reason: 'database unreachable' }, 503, fetchAPI));
        }
      }
      if (url.pathname === '/metrics') {
        const body = await metrics.metrics();
        return endResponse(new fetchAPI.Response(body, { headers: { 'content-type': metrics.contentType } }));
      }
      const given = request.headers.get('x-request-id');
      const id = given && /^[\w.-]{1,128}$/.test(given) ? given : randomUUID();
      requests.set(request, { id, startedAt: process.hrtime.bigint(), operation: 'anonymous' });
      logger.debug({ requestId: id, method: request.method, path: url.pathname }, 'request received');
    },
    onParams({ params, request }) {
      const info = requests.get(request);
      if (info) info.operation = operationLabel(params.operationName);
    },
    onExecute({ args }) {
      const info = requests.get(args.contextValue.request);
      if (!info) return;
      info.username = args.contextValue.caller.username;
      info.operation = operationLabel(getOperationAST(args.document, args.operationName)?.name?.value);
    },
    onExecutionResult({ result, context }) {
      const info = requests.get(context.request);
      const results = Array.isArray(result) ? result : [result];
      for (const single of results) {
        for (const error of ('errors' in single ? single.errors : undefined) ?? []) {
          graphqlErrors.inc({
            operation: info?.operation ?? 'anonymous',
            code: String(error.extensions?.code ?? 'UNKNOWN'),
          });
        }
      }
    },
    onResponse({ request, response }) {
      const info = requests.get(request);
      if (!info) return;
      const seconds = Number(process.hrtime.bigint() - info.startedAt) / 1e9;
      requestsTotal.inc({ operation: info.operation, status: String(response.status) });
      requestDuration.observe({ operation: info.operation }, seconds);
      response.headers.set('x-request-id', info.id);
      // Never the headers or the body: they carry tokens.
      logger.info(
        {
          requestId: info.id,
          method: request.method,
          path: new URL(request.url).pathname,
          status: response.status,
          operation: info.operation,
          user: info.username,
          ms: Math.round(seconds * 1000 * 10) / 10,
        },
        'request',
      );
    },
  };
}
