import { serverAudits } from 'graphql-http';
import { describe, expect, it } from 'vitest';
import { yoga } from '../setup/app.js';
import { ADMIN_TOKEN } from '../setup/credentials.js';

// The GraphQL-over-HTTP spec, as graphql-http's own audit suite checks a server, run in-process
// with a token (every request here needs one).
const withToken = (input: RequestInfo | URL, init?: RequestInit) => {
  const headers = new Headers(init?.headers);
  headers.set('authorization', `Bearer ${ADMIN_TOKEN}`);
  return yoga.fetch(input instanceof Request ? input.url : String(input), { ...init, headers });
};

describe('GraphQL over HTTP (graphql-http server audits)', () => {
  for (const audit of serverAudits({ url: 'http://ipdr.test/graphql', fetchFn: withToken })) {
    if (audit.name.startsWith('MAY')) continue;
    it(audit.name, async () => {
      const result = await audit.fn();
      if (result.status !== 'ok') {
        const body = await result.response.text().catch(() => '');
        expect.fail(`${result.status}: ${result.reason} (status ${result.response.status}, body ${body})`);
      }
    });
  }
});

async function post(body: unknown, accept: string) {
  const response = await withToken('http://ipdr.test/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as { data?: unknown; errors?: unknown[] } };
}

describe('request errors in variables', () => {
  const graphqlResponse = 'application/graphql-response+json';

  it('answers 400 without data when an Int variable cannot be coerced', async () => {
    const result = await post(
      { query: 'query($n: Int) { customers(first: $n) { totalCount } }', variables: { n: 'x' } },
      graphqlResponse,
    );
    expect(result.status).toBe(400);
    expect(result.body.data).toBeUndefined();
    expect(JSON.stringify(result.body.errors)).toContain('$n');
  });

  it('answers 400 naming the variable and the reason for a malformed IPAddress variable', async () => {
    const result = await post(
      { query: 'query($ip: IPAddress!) { whoHad(ip: $ip) { id } }', variables: { ip: '10.20.1.256' } },
      graphqlResponse,
    );
    expect(result.status).toBe(400);
    expect(result.body.data).toBeUndefined();
    const message = JSON.stringify(result.body.errors);
    expect(message).toContain('$ip');
    expect(message).toContain('10.20.1.256');
  });

  it('still answers 200 with the field error when execution ran', async () => {
    const result = await post({ query: '{ whoHadMany(lookups: [{ ip: "10.20.1.256" }]) { id } }' }, graphqlResponse);
    expect(result.status).toBe(200);
    expect(result.body.data).toEqual({ whoHadMany: [null] });
    expect(JSON.stringify(result.body.errors)).toContain('lookups[0].ip');
  });
});
