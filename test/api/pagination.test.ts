import { beforeAll, describe, expect, it } from 'vitest';
import { createCustomer, createMapping, graphql, graphqlData, resetData } from '../helpers.js';

// Relay's cursor connection algorithm: cursors first, then `first`, then `last`.
const PAGE = `query($first: Int, $last: Int, $after: String, $before: String) {
  customers(first: $first, last: $last, after: $after, before: $before) {
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id } }
  }
}`;

type Page = {
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
  edges: { cursor: string; node: { id: number } }[];
};

async function page(args: Record<string, unknown>): Promise<Page> {
  return (await graphqlData<{ customers: Page }>(PAGE, args)).customers;
}
const ids = (result: Page) => result.edges.map((edge) => edge.node.id);

beforeAll(async () => {
  await resetData();
  for (let i = 1; i <= 50; i++) await createCustomer(`U${i}`);
});

describe('cursor pagination', () => {
  it('applies first, then last', async () => {
    const both = await page({ first: 2, last: 2 });
    expect(ids(both)).toEqual([1, 2]);
    const window = await page({ first: 10, last: 3 });
    expect(ids(window)).toEqual([8, 9, 10]);
    expect(window.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: true });
    expect(window.pageInfo.startCursor).toBe(window.edges[0]!.cursor);
    expect(window.pageInfo.endCursor).toBe(window.edges[2]!.cursor);
  });

  it('applies first and last after a cursor', async () => {
    const start = await page({ first: 5 });
    const next = await page({ after: start.pageInfo.endCursor, first: 4, last: 2 });
    expect(ids(next)).toEqual([8, 9]);
    expect(next.pageInfo.hasPreviousPage).toBe(true);
    const tail = await page({ after: (await page({ first: 47 })).pageInfo.endCursor, first: 10, last: 2 });
    expect(ids(tail)).toEqual([49, 50]);
    expect(tail.pageInfo.hasNextPage).toBe(false);
  });

  it('answers first: 0 with no edges, the right hasNextPage, and no edge without a cursor', async () => {
    const empty = await page({ first: 0 });
    expect(empty.edges).toEqual([]);
    expect(empty.pageInfo).toEqual({ hasNextPage: true, hasPreviousPage: false, startCursor: null, endCursor: null });
    const atEnd = await page({ first: 0, after: (await page({ first: 50 })).pageInfo.endCursor });
    expect(atEnd.pageInfo.hasNextPage).toBe(false);
    for (const result of [await page({ first: 3 }), await page({ last: 3 }), await page({ first: 3, last: 1 })]) {
      for (const edge of result.edges) expect(edge.cursor).toEqual(expect.any(String));
      expect(result.pageInfo.startCursor).toBe(result.edges[0]!.cursor);
    }
  });

  it('refuses a negative last given with first, as it does a negative first', async () => {
    for (const args of ['first: 5, last: -1', 'first: -1, last: 5']) {
      const result = await graphql(`{ customers(${args}) { edges { node { id } } } }`);
      expect(result.errors?.[0]?.message, args).toMatch(/must be a non-negative integer/);
    }
  });

  it('pages mappings the same way', async () => {
    for (let i = 1; i <= 4; i++) await createMapping({ userId: 'U1', ipsubnet: `10.0.0.${i}`, starttime: 0 });
    const data = await graphqlData('{ mappings(first: 3, last: 2) { edges { node { ipsubnet } } } }');
    expect(data.mappings.edges.map((edge: any) => edge.node.ipsubnet)).toEqual(['10.0.0.2', '10.0.0.3']);
  });
});
