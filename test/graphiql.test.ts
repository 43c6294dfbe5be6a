import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { acceptsGzip } from '../src/http/graphiql.js';
import { yoga } from './setup/app.js';

// GraphiQL is served from the gateway itself: the page and everything it references must load
// where the network reaches only the gateway (see test/graphiql-browser.test.ts for a browser).

const ORIGIN = 'http://ipdr.test';
const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

const getPage = (headers: Record<string, string> = {}) =>
  yoga.fetch(`${ORIGIN}/graphql`, { headers: { accept: BROWSER_ACCEPT, ...headers } });

/** Every URL the markup (outside scripts and styles) or the styles reference. */
function references(html: string): string[] {
  const styles = [...html.matchAll(/<style[^>]*>([\s\S]*?)<\/style>/gi)].map((match) => match[1]!);
  const markup = html.replace(/<(script|style)\b[^>]*>[\s\S]*?<\/\1>/gi, (tag) => tag.replace(/>[\s\S]*</, '><'));
  const found: string[] = [];
  for (const match of markup.matchAll(
    /\s(?:src|href|srcset|action|poster|data|formaction)\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)/gi,
  )) {
    found.push(match[1]!.replace(/^["']|["']$/g, ''));
  }
  for (const css of styles) found.push(...cssReferences(css));
  return found;
}

function cssReferences(css: string): string[] {
  const found: string[] = [];
  for (const match of css.matchAll(/url\(\s*(?:"([^"]*)"|'([^']*)'|([^)\s]*))\s*\)/gi)) {
    found.push(match[1] ?? match[2] ?? match[3]!);
  }
  for (const match of css.matchAll(/@import\s+(?:"([^"]*)"|'([^']*)')/gi)) found.push(match[1] ?? match[2]!);
  return found;
}

/** Absolute or protocol-relative URLs of another host that name a loadable file, anywhere in the text. */
const externalResources = (text: string) =>
  text.match(
    /(?:https?:)?\/\/(?!127\.0\.0\.1[:/])[a-z0-9-]+(?:\.[a-z0-9-]+)+\/[^\s"'`)\\]*\.(?:m?js|css|woff2?|ttf|otf|eot|png|ico|svg|gif|jpe?g|webp|json|wasm|map)\b/gi,
  ) ?? [];

describe('GraphiQL', () => {
  it('is served to a browser, with nothing on another host: scripts, styles, fonts, icons and workers are in the page', async () => {
    const response = await getPage();
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await response.text();
    expect(html).toContain('<div id="root"></div>');
    expect(html).toContain('YogaGraphiQL.renderYogaGraphiQL');
    expect(html).not.toMatch(/<script[^>]*\ssrc\s*=/i);
    // Yoga's own page loads GraphiQL from unpkg and its icon from GitHub.
    expect(html).not.toMatch(/unpkg\.com|jsdelivr|raw\.githubusercontent|fonts\.(googleapis|gstatic)\.com|cdn\./i);
    expect(externalResources(html)).toEqual([]);

    const seen = new Set<string>();
    const queue = references(html).map((reference) => ({ reference, from: `${ORIGIN}/graphql` }));
    expect(queue.length).toBeGreaterThan(10); // the icon and the inlined fonts at least
    const external: string[] = [];
    for (let i = 0; i < queue.length && i < 500; i++) {
      const { reference, from } = queue[i]!;
      const url = new URL(reference, from);
      if (url.protocol === 'data:' || url.protocol === 'blob:') continue;
      if (url.origin !== ORIGIN) {
        external.push(reference);
        continue;
      }
      if (url.hash !== '' && url.href.split('#')[0] === from.split('#')[0]) continue; // same document
      if (seen.has(url.href)) continue;
      seen.add(url.href);
      // A same-origin asset must really be served, and name no other host either.
      const asset = await yoga.fetch(url.href, { headers: { accept: '*/*' } });
      expect(asset.status, url.href).toBe(200);
      const text = await asset.text();
      expect(externalResources(text), url.href).toEqual([]);
      const type = asset.headers.get('content-type') ?? '';
      const nested = type.includes('css') ? cssReferences(text) : type.includes('html') ? references(text) : [];
      queue.push(...nested.map((nestedReference) => ({ reference: nestedReference, from: url.href })));
    }
    expect(external).toEqual([]);
  });

  it('is sent gzipped to a client that accepts it, and revalidated with its ETag', async () => {
    const plain = await getPage();
    const html = Buffer.from(await plain.arrayBuffer());
    expect(plain.headers.get('content-encoding')).toBeNull();
    expect(plain.headers.get('vary')).toMatch(/accept-encoding/i);

    const compressed = await getPage({ 'accept-encoding': 'gzip, deflate, br, zstd' });
    expect(compressed.headers.get('content-encoding')).toBe('gzip');
    const body = Buffer.from(await compressed.arrayBuffer());
    expect(body.length).toBeLessThan(html.length / 2);
    expect(gunzipSync(body).equals(html)).toBe(true);

    const etag = plain.headers.get('etag');
    expect(etag).toMatch(/^W\/".+"$/);
    expect(compressed.headers.get('etag')).toBe(etag);
    expect(plain.headers.get('cache-control')).toBe('no-cache');
    const revalidated = await getPage({ 'if-none-match': `"other", ${etag}` });
    expect(revalidated.status).toBe(304);
    expect(await revalidated.text()).toBe('');
    expect((await getPage({ 'if-none-match': '"other"' })).status).toBe(200);
  });

  it('is served on /graphql/ too, and only to a GET that asks for HTML', async () => {
    expect((await yoga.fetch(`${ORIGIN}/graphql/`, { headers: { accept: BROWSER_ACCEPT } })).status).toBe(200);
    const json = await yoga.fetch(`${ORIGIN}/graphql?query=${encodeURIComponent('{ __typename }')}`, {
      headers: { accept: 'application/json' },
    });
    expect(json.headers.get('content-type')).toMatch(/application\/json/);
    const post = await yoga.fetch(`${ORIGIN}/graphql`, {
      method: 'POST',
      headers: { accept: BROWSER_ACCEPT, 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(post.headers.get('content-type')).not.toMatch(/text\/html/);
    const elsewhere = await yoga.fetch(`${ORIGIN}/graphiql`, { headers: { accept: BROWSER_ACCEPT } });
    expect(elsewhere.headers.get('content-type') ?? '').not.toMatch(/text\/html/);
  });

  it('reads Accept-Encoding as RFC 9110 does', () => {
    expect(acceptsGzip('gzip')).toBe(true);
    expect(acceptsGzip('deflate, GZIP;q=0.5')).toBe(true);
    expect(acceptsGzip('*')).toBe(true);
    expect(acceptsGzip('gzip;q=0')).toBe(false);
    expect(acceptsGzip('gzip; q=0.000')).toBe(false);
    expect(acceptsGzip('br, deflate')).toBe(false);
    expect(acceptsGzip('identity')).toBe(false);
    expect(acceptsGzip('gzip;q=0, *')).toBe(false);
    expect(acceptsGzip('br, *;q=0.1')).toBe(true);
    expect(acceptsGzip('')).toBe(false);
    expect(acceptsGzip(null)).toBe(false);
  });
});
