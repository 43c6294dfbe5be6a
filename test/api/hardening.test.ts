import { describe, expect, it } from 'vitest';
import { env } from '../setup/app.js';
import { yoga } from '../setup/app.js';
import { ADMIN_TOKEN } from '../setup/credentials.js';
import { graphql } from '../helpers.js';

const errorOf = async (query: string) => (await graphql(query)).errors?.[0]?.message ?? null;

describe('query limits (graphql-armor)', () => {
  it(`accepts depth ${env.MAX_DEPTH} and rejects depth ${env.MAX_DEPTH + 1}`, async () => {
    expect(env.MAX_DEPTH).toBe(6);
    // customers > edges > node > mappings > customer > name: six levels.
    expect(await errorOf('{ customers { edges { node { mappings { customer { name } } } } } }')).toBeNull();
    expect(await errorOf('{ customers { edges { node { mappings { customer { mappings { id } } } } } } }')).toMatch(
      /depth/i,
    );
  });

  it(`accepts ${env.MAX_ALIASES} aliases and rejects more`, async () => {
    const aliases = (n: number) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: contexts { name }`).join(' ')} }`;
    expect(await errorOf(aliases(env.MAX_ALIASES))).toBeNull();
    expect(await errorOf(aliases(env.MAX_ALIASES + 1))).toMatch(/aliases/i);
  });

  it('rejects a query that costs too much, even when written briefly with fragments', async () => {
    const spreads = Array.from({ length: 600 }, () => '...M').join(' ');
    const query = `query { mappings { edges { node { ${spreads} } } } }
      fragment M on IpMapping { id ipsubnet network family prefixLength firstAddress lastAddress starttime endtime }`;
    expect(await errorOf(query)).toMatch(/cost/i);
  });

  it('rejects too many tokens', async () => {
    const fields = Array.from({ length: env.MAX_TOKENS }, () => '__typename').join(' ');
    expect(await errorOf(`{ ${fields} }`)).toMatch(/token/i);
  });

  it('rejects too many directives', async () => {
    const directives = Array.from({ length: env.MAX_DIRECTIVES + 1 }, () => '@include(if: true)').join(' ');
    expect(await errorOf(`{ __typename ${directives} }`)).toMatch(/directive/i);
  });

  it('does not suggest field names', async () => {
    const message = await errorOf('{ customerz { id } }');
    expect(message).toMatch(/Cannot query field "customerz"/);
    expect(message).not.toMatch(/Did you mean/);
  });
});

describe('request hygiene', () => {
  it('refuses a body larger than the limit before reading it', async () => {
    const response = await yoga.fetch('http://ipdr.test/graphql', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${ADMIN_TOKEN}`,
        'content-length': String(env.BODY_LIMIT_BYTES + 1),
      },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(response.status).toBe(413);
  });
  // Cross-site requests: test/csrf.test.ts.
});
