import { beforeEach, describe, expect, it } from 'vitest';
import { yoga } from './setup/app.js';
import { graphqlData, resetData } from './helpers.js';
import { ADMIN_TOKEN } from './setup/credentials.js';

// No CSRF-prevention plugin: the only credential is the bearer token each request carries itself
// (no cookie, no HTTP basic auth), which a page on another site does not have and a browser does
// not add. So a plain GET from a dashboard is answered, and a cross-site request is refused as
// unauthenticated, whatever headers it has or lacks.

const ORIGIN = 'http://ipdr.test';
// What urql sends with `preferGetMethod` (its default for small queries): no custom header.
const URQL_ACCEPT =
  'application/graphql-response+json, application/graphql+json, application/json, text/event-stream, multipart/mixed';
// What a browser adds to a request that a page on another site makes it send.
const CROSS_SITE = {
  origin: 'https://attacker.example',
  referer: 'https://attacker.example/page.html',
  'sec-fetch-site': 'cross-site',
  'sec-fetch-mode': 'no-cors',
  cookie: 'session=whatever-the-browser-holds',
};

const getUrl = (params: Record<string, string>) => `${ORIGIN}/graphql?${new URLSearchParams(params)}`;
const customerCount = async () =>
  (await graphqlData<{ customers: { totalCount: number } }>('{ customers { totalCount } }')).customers.totalCount;

beforeEach(() => resetData());

describe('cross-site requests', () => {
  it('answers a GET query with a token and no special header, as urql sends it', async () => {
    const response = await yoga.fetch(getUrl({ query: '{ __typename }' }), {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, accept: URQL_ACCEPT },
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ data: { __typename: 'Query' } });

    const named = await yoga.fetch(
      getUrl({
        query: 'query Names($first: Int) { customers(first: $first) { totalCount } }',
        operationName: 'Names',
        variables: JSON.stringify({ first: 1 }),
      }),
      { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } },
    );
    expect(named.status).toBe(200);
    expect(await named.json()).toEqual({ data: { customers: { totalCount: 0 } } });
  });

  it('refuses a cross-site GET without the token as unauthenticated (401)', async () => {
    const response = await yoga.fetch(getUrl({ query: '{ customers { totalCount } }' }), {
      headers: { ...CROSS_SITE, accept: URQL_ACCEPT },
    });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer');
    const body = (await response.json()) as { data?: unknown; errors: { extensions: { code: string } }[] };
    expect(body.data).toBeUndefined();
    expect(body.errors[0]!.extensions.code).toBe('UNAUTHENTICATED');
  });

  it('refuses the requests a cross-site page can send without a preflight, and changes nothing', async () => {
    const mutation = 'mutation { createCustomer(input: { userId: "CSRF1", name: "Planted" }) { __typename } }';
    // An HTML form posting to the gateway.
    const form = await yoga.fetch(`${ORIGIN}/graphql`, {
      method: 'POST',
      headers: { ...CROSS_SITE, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ query: mutation }).toString(),
    });
    expect(form.status).toBe(401);
    // fetch(..., { mode: 'no-cors' }) with a JSON body sent as text/plain: not a GraphQL request.
    const plain = await yoga.fetch(`${ORIGIN}/graphql`, {
      method: 'POST',
      headers: { ...CROSS_SITE, 'content-type': 'text/plain;charset=UTF-8' },
      body: JSON.stringify({ query: mutation }),
    });
    expect(plain.status).toBe(415);
    expect(await customerCount()).toBe(0);
  });

  it('never runs a mutation sent as a GET, token or not', async () => {
    const mutation = 'mutation { createCustomer(input: { userId: "CSRF2", name: "Planted" }) { __typename } }';
    const withToken = await yoga.fetch(getUrl({ query: mutation }), {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, accept: 'application/json' },
    });
    expect(withToken.status).toBe(405);
    // Without a token it is refused before it is even parsed.
    const withoutToken = await yoga.fetch(getUrl({ query: mutation }), { headers: CROSS_SITE });
    expect(withoutToken.status).toBe(401);
    expect(await customerCount()).toBe(0);
  });
});
