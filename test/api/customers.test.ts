import { beforeEach, describe, expect, it } from 'vitest';
import { createCustomer, createMapping, graphql, graphqlData, resetData, holdManyAddresses } from '../helpers.js';
import { prisma } from '../setup/app.js';

// Listeners for the SQL Prisma sends (Prisma cannot remove one of its own, so there is one, here).
const listeners = new Set<(event: { query: string }) => void>();
(prisma.$on as (event: 'query', callback: (event: { query: string }) => void) => void)('query', (event) => {
  for (const listen of listeners) listen(event);
});

const CUSTOMER_FIELDS = 'id userId name address email phoneNumber altPhoneNumber createdAt updatedAt';
const ERROR_FIELDS: Record<string, string> = {
  ValidationError: 'field reason',
  NotFoundError: 'entity key',
  AlreadyExistsError: 'field value',
  CustomerHasMappingsError: 'userId mappingCount',
};
/** A selection for a mutation result union made of Customer and these error types. */
const result = (...errors: string[]) =>
  `__typename ... on Customer { ${CUSTOMER_FIELDS} } ... on Error { message } ${errors.map((type) => `... on ${type} { ${ERROR_FIELDS[type]} }`).join(' ')}`;
const CREATE_RESULT = result('ValidationError', 'AlreadyExistsError');
const UPDATE_RESULT = result('ValidationError', 'NotFoundError', 'AlreadyExistsError');
const DELETE_RESULT = result('NotFoundError', 'CustomerHasMappingsError');

const full = {
  userId: 'U1001',
  name: 'Acme Broadband',
  address: '1 Fiber Way',
  email: 'noc@acme.example',
  phoneNumber: '+1 555 0100',
  altPhoneNumber: '+1 555 0101',
};

async function create(input: Record<string, unknown>) {
  return (
    await graphqlData(`mutation($input: CustomerInput!) { createCustomer(input: $input) { ${CREATE_RESULT} } }`, {
      input,
    })
  ).createCustomer;
}

beforeEach(() => resetData());

describe('createCustomer', () => {
  it('creates a customer with every field and returns it', async () => {
    const customer = await create(full);
    expect(customer).toMatchObject({ __typename: 'Customer', ...full });
    expect(Date.parse(customer.createdAt)).not.toBeNaN();
    const read = await graphqlData(`query($u: String!) { customer(userId: $u) { ${CUSTOMER_FIELDS} } }`, {
      u: 'U1001',
    });
    expect(read.customer).toMatchObject(full);
  });

  it('keeps text as sent and stores empty optional fields as null', async () => {
    const customer = await create({ userId: ' U7 ', name: ' Bob ', email: '  ', phoneNumber: '' });
    expect(customer).toMatchObject({ userId: ' U7 ', name: ' Bob ', email: '  ', phoneNumber: null, address: null });
  });

  it.each([
    [{ userId: '', name: 'X' }, 'userId', /must not be empty/],
    [{ userId: 'U2', name: '   ' }, 'name', /must not be empty/],
    [{ userId: 'U2', name: 'X', email: 'a\u0007b' }, 'email', /control characters/],
    [{ userId: 'U2', name: 'X', email: 'a\u0000b' }, 'email', /NUL character/],
    [{ userId: 'U2', name: 'X', address: 'x'.repeat(1025) }, 'address', /longer than 1024/],
  ])('rejects %j naming the field', async (input, field, reason) => {
    const result = await create(input);
    expect(result.__typename).toBe('ValidationError');
    expect(result.field).toBe(field);
    expect(result.reason).toMatch(reason);
    expect(result.message).toContain(field);
    expect((await graphqlData('{ customers { totalCount } }')).customers.totalCount).toBe(0);
  });

  it('rejects a second customer with the same UserID', async () => {
    await create(full);
    const result = await create({ ...full, name: 'Other' });
    expect(result).toMatchObject({ __typename: 'AlreadyExistsError', field: 'userId', value: 'U1001' });
    expect((await graphqlData('{ customer(userId: "U1001") { name } }')).customer.name).toBe('Acme Broadband');
  });

  it('rejects a request without a required field as a GraphQL error naming it', async () => {
    const result = await graphql(`
      mutation {
        createCustomer(input: { userId: "U9" }) {
          __typename
        }
      }
    `);
    expect(result.errors?.[0]?.message).toMatch(/name/);
  });
});

describe('updateCustomer and patchCustomer', () => {
  it('replaces every field, clearing the optional ones not sent', async () => {
    await create(full);
    const result = (
      await graphqlData(
        `mutation($u: String!, $input: CustomerInput!) { updateCustomer(userId: $u, input: $input) { ${UPDATE_RESULT} } }`,
        {
          u: 'U1001',
          input: { userId: 'U1001', name: 'Acme 2', email: 'new@acme.example' },
        },
      )
    ).updateCustomer;
    expect(result).toMatchObject({
      __typename: 'Customer',
      name: 'Acme 2',
      email: 'new@acme.example',
      address: null,
      phoneNumber: null,
    });
  });

  it('can rename the UserID, but not onto another customer', async () => {
    await create(full);
    await create({ userId: 'U2', name: 'Two' });
    const renamed = (
      await graphqlData(
        `mutation { updateCustomer(userId: "U1001", input: { userId: "U1", name: "Acme" }) { ${UPDATE_RESULT} } }`,
      )
    ).updateCustomer;
    expect(renamed).toMatchObject({ __typename: 'Customer', userId: 'U1' });
    const clash = (
      await graphqlData(`mutation { patchCustomer(userId: "U1", input: { userId: "U2" }) { ${UPDATE_RESULT} } }`)
    ).patchCustomer;
    expect(clash).toMatchObject({ __typename: 'AlreadyExistsError', field: 'userId', value: 'U2' });
  });

  it("takes a renamed UserID to the customer's mappings: lookups name the new one", async () => {
    await create(full);
    await createMapping({ userId: 'U1001', ipsubnet: '10.1.2.3', starttime: 0 });
    await graphqlData(`mutation { patchCustomer(userId: "U1001", input: { userId: "U1" }) { ${UPDATE_RESULT} } }`);
    const data = await graphqlData(`{
      whoHad(ip: "10.1.2.3", at: 5) { customer { userId } }
      whoHadMany(lookups: [{ ip: "10.1.2.3", at: 5 }]) { customer { userId name } }
    }`);
    expect(data).toEqual({
      whoHad: { customer: { userId: 'U1' } },
      whoHadMany: [{ customer: { userId: 'U1', name: full.name } }],
    });
  });

  it('patches only the fields sent; null clears an optional field', async () => {
    await create(full);
    const result = (
      await graphqlData(
        `mutation { patchCustomer(userId: "U1001", input: { phoneNumber: "+1 555 0199", email: null }) { ${UPDATE_RESULT} } }`,
      )
    ).patchCustomer;
    expect(result).toMatchObject({ ...full, phoneNumber: '+1 555 0199', email: null });
  });

  it('refuses to clear the name', async () => {
    await create(full);
    const result = (
      await graphqlData(`mutation { patchCustomer(userId: "U1001", input: { name: null }) { ${UPDATE_RESULT} } }`)
    ).patchCustomer;
    expect(result).toMatchObject({ __typename: 'ValidationError', field: 'name' });
  });

  it('reports an unknown UserID as NotFoundError', async () => {
    for (const mutation of [
      `updateCustomer(userId: "nobody", input: { userId: "nobody", name: "X" })`,
      `patchCustomer(userId: "nobody", input: { name: "X" })`,
    ]) {
      const data = await graphqlData(`mutation { result: ${mutation} { ${UPDATE_RESULT} } }`);
      expect(data.result).toMatchObject({ __typename: 'NotFoundError', entity: 'customer', key: 'nobody' });
    }
  });
});

describe('deleteCustomer', () => {
  it('deletes a customer without mappings and returns it', async () => {
    await create(full);
    const result = (await graphqlData(`mutation { deleteCustomer(userId: "U1001") { ${DELETE_RESULT} } }`))
      .deleteCustomer;
    expect(result).toMatchObject({ __typename: 'Customer', ...full });
    expect((await graphqlData('{ customer(userId: "U1001") { id } }')).customer).toBeNull();
  });

  it('refuses while the customer has mappings, unless cascade is true', async () => {
    await create(full);
    await createMapping({ userId: 'U1001', ipsubnet: '10.0.0.1', starttime: 0 });
    await createMapping({ userId: 'U1001', ipsubnet: '10.0.0.2', starttime: 0 });
    const refused = (await graphqlData(`mutation { deleteCustomer(userId: "U1001") { ${DELETE_RESULT} } }`))
      .deleteCustomer;
    expect(refused).toMatchObject({ __typename: 'CustomerHasMappingsError', userId: 'U1001', mappingCount: 2 });
    expect((await graphqlData('{ mappings { totalCount } }')).mappings.totalCount).toBe(2);
    const deleted = (
      await graphqlData(`mutation { deleteCustomer(userId: "U1001", cascade: true) { ${DELETE_RESULT} } }`)
    ).deleteCustomer;
    expect(deleted.__typename).toBe('Customer');
    expect((await graphqlData('{ mappings { totalCount } customers { totalCount } }')).mappings.totalCount).toBe(0);
  });

  it('reports an unknown UserID as NotFoundError', async () => {
    const result = (await graphqlData(`mutation { deleteCustomer(userId: "nobody") { ${DELETE_RESULT} } }`))
      .deleteCustomer;
    expect(result).toMatchObject({ __typename: 'NotFoundError', key: 'nobody' });
  });
});

describe('customer queries', () => {
  it('returns null for an unknown UserID', async () => {
    expect((await graphqlData('{ customer(userId: "nobody") { id } }')).customer).toBeNull();
  });

  it('pages through customers in a stable order with a total count and filters', async () => {
    for (let i = 1; i <= 5; i++) await createCustomer(`U${i}`, i % 2 ? `Odd Customer ${i}` : `Even Customer ${i}`);
    const first = await graphqlData(
      '{ customers(first: 2) { totalCount pageInfo { hasNextPage endCursor } edges { node { userId } } } }',
    );
    expect(first.customers.totalCount).toBe(5);
    expect(first.customers.edges.map((e: any) => e.node.userId)).toEqual(['U1', 'U2']);
    const next = await graphqlData(
      'query($after: String) { customers(first: 10, after: $after) { edges { node { userId } } pageInfo { hasNextPage } } }',
      {
        after: first.customers.pageInfo.endCursor,
      },
    );
    expect(next.customers.edges.map((e: any) => e.node.userId)).toEqual(['U3', 'U4', 'U5']);
    expect(next.customers.pageInfo.hasNextPage).toBe(false);
    const odd = await graphqlData('{ customers(nameContains: "odd") { totalCount edges { node { userId } } } }');
    expect(odd.customers.totalCount).toBe(3);
    const one = await graphqlData('{ customers(userId: "U4") { totalCount edges { node { name } } } }');
    expect(one.customers.edges).toEqual([{ node: { name: 'Even Customer 4' } }]);
  });

  it('lists a customer’s mappings, optionally only those active at an instant', async () => {
    await createCustomer('U1');
    await createMapping({ userId: 'U1', ipsubnet: '10.0.0.1', starttime: 100, endtime: 199 });
    await createMapping({ userId: 'U1', ipsubnet: '10.0.0.1', starttime: 200 });
    const data = await graphqlData(
      '{ customer(userId: "U1") { all: mappings { starttime endtime } then: mappings(activeAt: 150) { starttime } } }',
    );
    expect(data.customer.all).toEqual([
      { starttime: 100, endtime: 199 },
      { starttime: 200, endtime: null },
    ]);
    expect(data.customer.then).toEqual([{ starttime: 100 }]);
  });
});

describe('deleteCustomer of a customer holding many mappings', () => {
  const HELD = 1500;

  it('refuses without cascade by counting them, not loading them', async () => {
    await createCustomer('U1001');
    await holdManyAddresses('U1001', '10.6', HELD);
    const sent: string[] = [];
    const listen = (event: { query: string }) => sent.push(event.query);
    listeners.add(listen);
    let refused: any;
    try {
      refused = (await graphqlData(`mutation { deleteCustomer(userId: "U1001") { ${DELETE_RESULT} } }`)).deleteCustomer;
    } finally {
      listeners.delete(listen);
    }
    expect(refused).toMatchObject({ __typename: 'CustomerHasMappingsError', userId: 'U1001', mappingCount: HELD });
    const mappingReads = sent.filter((sql) => /FROM "public"\."ipdr_customers_mapping"/.test(sql));
    expect(mappingReads).toHaveLength(1);
    expect(mappingReads[0]).toMatch(/COUNT\(/i);
    expect(await prisma.ipMapping.count()).toBe(HELD);

    const deleted = (
      await graphqlData(`mutation { deleteCustomer(userId: "U1001", cascade: true) { ${DELETE_RESULT} } }`)
    ).deleteCustomer;
    expect(deleted).toMatchObject({ __typename: 'Customer', userId: 'U1001' });
    expect(await prisma.ipMapping.count()).toBe(0);
    expect(await prisma.auditEvent.count({ where: { entityType: 'mapping', action: 'delete' } })).toBe(HELD);
  });
});
