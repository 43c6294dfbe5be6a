import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { GraphiQLOptions, Plugin } from 'graphql-yoga';

interface Page {
  html: Uint8Array<ArrayBuffer>;
  gzipped: Uint8Array<ArrayBuffer>;
  etag: string;
}

/**
 * @graphql-yoga/render-graphiql is a module of several megabytes (GraphiQL, its styles, fonts and
 * editor workers inlined): imported with the app it would slow every start and every test file
 * that imports the app, for a page most processes never serve. So it is imported, rendered and
 * compressed once, on the first request for the page.
 */
async function buildPage(options: GraphiQLOptions): Promise<Page> {
  const { renderGraphiQL } = await import('@graphql-yoga/render-graphiql');
  const html = new TextEncoder().encode(renderGraphiQL(options));
  const gzipped = new Uint8Array(await promisify(gzip)(html));
  // Weak: the gzipped and the plain body are the same page, so either revalidates the other.
  return { html, gzipped, etag: `W/"${createHash('sha256').update(html).digest('base64url')}"` };
}

/** Whether `Accept-Encoding` allows gzip: named without `q=0`, or else allowed by `*`. */
export function acceptsGzip(header: string | null): boolean {
  let anyCoding = false;
  for (const entry of header?.split(',') ?? []) {
    const [coding, ...params] = entry.split(';').map((part) => part.trim().toLowerCase());
    const refused = params.some((param) => /^q\s*=\s*0(\.0{0,3})?$/.test(param));
    if (coding === 'gzip') return !refused;
    if (coding === '*') anyCoding = !refused;
  }
  return anyCoding;
}

function respond(request: Request, { html, gzipped, etag }: Page, fetchAPI: { Response: typeof Response }) {
  const headers: Record<string, string> = {
    'content-type': 'text/html; charset=utf-8',
    etag,
    // Revalidated on every load (a 304 when unchanged), so an upgraded gateway serves its new page.
    'cache-control': 'no-cache',
    vary: 'accept-encoding',
  };
  const known = request.headers.get('if-none-match')?.split(',') ?? [];
  if (known.some((tag) => tag.trim() === etag)) return new fetchAPI.Response(null, { status: 304, headers });
  if (acceptsGzip(request.headers.get('accept-encoding'))) {
    return new fetchAPI.Response(gzipped, { headers: { ...headers, 'content-encoding': 'gzip' } });
  }
  return new fetchAPI.Response(html, { headers });
}

/**
 * GraphiQL on GET `endpoint` for a browser (Accept: text/html), served from the gateway itself:
 * the page names no other host, so it works where the network reaches only the gateway. Yoga's
 * own GraphiQL loads its scripts from a CDN, and its `renderGraphiQL` hook cannot set response
 * headers: this plugin sends the page gzipped to clients that accept it, and with an ETag, so a
 * reload gets a 304 instead of the page.
 */
export function useOfflineGraphiQL(endpoint: string, options: GraphiQLOptions = {}): Plugin {
  let page: Promise<Page> | undefined;
  const loadPage = () => {
    if (!page) {
      page = buildPage(options);
      // A failed build is retried on the next request rather than kept.
      page.catch(() => (page = undefined));
    }
    return page;
  };
  return {
    // Not async: every other request passes through here, and leaves without waiting for anything.
    onRequest({ request, url, endResponse, fetchAPI }) {
      if (request.method !== 'GET' || !request.headers.get('accept')?.includes('text/html')) return;
      if (url.pathname !== endpoint && url.pathname !== `${endpoint}/`) return;
      return loadPage().then((built) => endResponse(respond(request, built, fetchAPI)));
    },
  };
}
