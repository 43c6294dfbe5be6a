import type { Plugin } from 'graphql-yoga';
import type { RequestContext, ServerContext } from '../context.js';
import type { Logger } from '../logger.js';
import { type ConsoleAssets, buildConsoleAssets } from './build.js';

// Serves the console at /console: its page, script and stylesheet, from this gateway only. The
// page talks to /graphql and /attribute with the token the person signs in with, like any client.

export const CONSOLE_PATH = '/console';

// Scripts and styles from this origin only, requests to it only: no CDN, nothing inline.
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' blob: data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

export function useConsole({ logger }: { logger: Logger }): Plugin<RequestContext, ServerContext> {
  let assets: Promise<ConsoleAssets> | null = null;
  // Built once, on the first request for it; a failed build is tried again by the next request.
  const load = () =>
    (assets ??= buildConsoleAssets().catch((error: unknown) => {
      assets = null;
      throw error;
    }));
  return {
    async onRequest({ request, url, endResponse }) {
      const path = url.pathname;
      if (path !== CONSOLE_PATH && !path.startsWith(`${CONSOLE_PATH}/`)) return;
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        endResponse(
          new Response(`${request.method} is not allowed here`, { status: 405, headers: { allow: 'GET, HEAD' } }),
        );
        return;
      }
      let built: ConsoleAssets;
      try {
        built = await load();
      } catch (error) {
        logger.error({ err: error }, 'the console could not be built');
        endResponse(new Response('The console could not be built: see the server log.', { status: 500 }));
        return;
      }
      const [body, type] =
        path === `${CONSOLE_PATH}/console.js`
          ? [built.script, 'text/javascript; charset=utf-8']
          : path === `${CONSOLE_PATH}/console.css`
            ? [built.style, 'text/css; charset=utf-8']
            : path === CONSOLE_PATH || path === `${CONSOLE_PATH}/`
              ? [built.html, 'text/html; charset=utf-8']
              : [null, ''];
      if (body === null) {
        endResponse(new Response('Not found', { status: 404, headers: SECURITY_HEADERS }));
        return;
      }
      endResponse(
        new Response(request.method === 'HEAD' ? null : body, {
          headers: { ...SECURITY_HEADERS, 'content-type': type },
        }),
      );
    },
  };
}
