import { beforeAll, describe, expect, it } from 'vitest';
import { prisma } from '../setup/app.js';
import { countStatements, graphqlData, resetData } from '../helpers.js';

async function seed(customers: number, mappingsPerCustomer: number) {
  const context = await prisma.context.findUniqueOrThrow({ where: { name: 'default' } });
  for (let c = 0; c < customers; c++) {
    const customer = await prisma.customer.create({
      data: { contextId: context.id, userId: `U${c}`, name: `Customer ${c}` },
    });
    await prisma.ipMapping.createMany({
      data: Array.from({ length: mappingsPerCustomer }, (_, m) => {
        const hex = (c * mappingsPerCustomer + m).toString(16).padStart(4, '0');
        return {
          contextId: context.id,
          customerId: customer.id,
          userId: customer.userId,
          ipsubnet: `10.9.${c}.${m}`,
          network: `10.9.${c}.${m}/32`,
          ipFirst: `40a09${hex}`,
          ipLast: `40a09${hex}`,
          starttime: 0n,
        };
      }),
    });
  }
}

describe('no N+1', () => {
  beforeAll(async () => {
    await resetData();
    await seed(50, 4);
    // The first request of a process also looks up its context; later ones do not.
    await graphqlData('{ customers(first: 1) { totalCount } }');
  });

  it('lists 10 or 100 mappings with their customers in the same number of statements', async () => {
    const query = (first: number) =>
      graphqlData(
        `{ mappings(first: ${first}) { totalCount edges { node { id ipsubnet customer { userId name } } } } }`,
      );
    const ten = await countStatements(() => query(10));
    const hundred = await countStatements(async () => {
      const data = await query(100);
      expect(data.mappings.edges).toHaveLength(100);
      expect(new Set(data.mappings.edges.map((e: any) => e.node.customer.userId)).size).toBe(25);
    });
    expect(hundred).toBe(ten);
    // Beyond authentication: the page, its total count, and one batch of customers.
    expect(hundred - (await countStatements(() => graphqlData('{ __typename }')))).toBe(3);
  });

  it('lists customers with their mappings in the same number of statements for 5 or 50', async () => {
    const query = (first: number) =>
      graphqlData(`{ customers(first: ${first}) { edges { node { userId mappings { ipsubnet } } } } }`);
    const five = await countStatements(() => query(5));
    const fifty = await countStatements(() => query(50));
    expect(fifty).toBe(five);
  });

  it('answers 100 whoHad fields of one request, customers included, with one statement', async () => {
    const baseline = await countStatements(() => graphqlData('{ __typename }'));
    const fields = Array.from(
      { length: 100 },
      (_, i) => `q${i}: whoHad(ip: "10.9.${i % 50}.${i % 4}", at: 10) { customer { userId } }`,
    );
    const statements = await countStatements(async () => {
      const data = await graphqlData(`{ ${fields.join('\n')} }`);
      expect(data.q7.customer.userId).toBe('U7');
      expect(Object.values(data).every((value) => value !== null)).toBe(true);
    });
    expect(statements - baseline).toBe(1);
  });

  it('answers the whoHad fields of concurrent requests with one statement, each request its own answer', async () => {
    const baseline = await countStatements(() => graphqlData('{ __typename }'));
    const statements = await countStatements(async () => {
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          graphqlData(`{ whoHad(ip: "10.9.${i}.${i % 4}", at: 10) { ipsubnet customer { userId } } }`),
        ),
      );
      answers.forEach((data, i) => {
        expect(data.whoHad).toEqual({ ipsubnet: `10.9.${i}.${i % 4}`, customer: { userId: `U${i}` } });
      });
    });
    expect(statements - 20 * baseline).toBe(1);
  });

  // The named connections declare their own totalCount field; it must still spare the page.
  it('counts a connection asked only for its totalCount with one statement and reads no page', async () => {
    const baseline = await countStatements(() => graphqlData('{ __typename }'));
    for (const [field, expected] of [
      ['customers(first: 5)', 50],
      ['mappings(first: 5)', 200],
      ['ipHistory(ip: "10.9.0.0/16", first: 5)', 200],
      ['auditEvents(first: 5)', 0],
    ] as const) {
      const statements = await countStatements(async () => {
        const data = await graphqlData(`{ page: ${field} { totalCount } }`);
        expect(data.page.totalCount, field).toBe(expected);
      });
      expect(statements - baseline, field).toBe(1);
    }
    const withPage = await countStatements(() =>
      graphqlData('{ customers(first: 5) { totalCount edges { cursor } } }'),
    );
    expect(withPage - baseline).toBe(2);
  });
});
