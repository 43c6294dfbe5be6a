import { beforeEach, describe, expect, it } from 'vitest';
import { ECHO_LIMIT } from '../../src/domain/invalid-value.js';
import { createCustomer, createMapping, graphql, resetData } from '../helpers.js';
import { rest } from '../rest/helpers.js';
import { ADMIN_TOKEN } from '../setup/credentials.js';

// Text the database cannot hold (NUL), LIKE wildcards in a filter, expected failures of fields
// without a typed result, and how much of a bad value a message echoes.

const NUL = 'a\u0000b';

beforeEach(async () => {
  await resetData();
  await createCustomer('U1', '50% Off_Shop');
  await createCustomer('U2', 'Plain Broadband');
  await createCustomer('U3', 'Back\\slash Ltd');
});

/** The one error of a request that failed as a whole: never the masked one. */
async function requestError(query: string, variables?: Record<string, unknown>) {
  const result = await graphql(query, variables);
  expect(result.errors, JSON.stringify(result)).toHaveLength(1);
  const [error] = result.errors!;
  expect(error!.message).not.toBe('Unexpected error.');
  return error!;
}

describe('a NUL character in a text argument', () => {
  it.each([
    ['customer(userId:)', 'query($v: String!) { customer(userId: $v) { id } }', 'userId'],
    ['customers(nameContains:)', 'query($v: String) { customers(nameContains: $v) { totalCount } }', 'nameContains'],
    ['customers(userId:)', 'query($v: String) { customers(userId: $v) { totalCount } }', 'userId'],
    ['mappings(userId:)', 'query($v: String) { mappings(userId: $v) { totalCount } }', 'userId'],
    ['auditEvents(entityType:)', 'query($v: String) { auditEvents(entityType: $v) { totalCount } }', 'entityType'],
    ['lookupLog(username:)', 'query($v: String) { lookupLog(username: $v) { edges { cursor } } }', 'username'],
    ['lookupLog(reason:)', 'query($v: String) { lookupLog(reason: $v) { edges { cursor } } }', 'reason'],
    ['whoHad(reason:)', 'query($v: String) { whoHad(ip: "10.0.0.1", reason: $v) { id } }', 'reason'],
    ['tokens(username:)', 'query($v: String) { tokens(username: $v) { id } }', 'username'],
  ])('%s is refused as bad input naming the argument', async (_field, query, argument) => {
    const error = await requestError(query, { v: NUL });
    expect(error.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: argument });
    expect(error.message).toMatch(new RegExp(`^${argument}: must not contain a NUL character`));
  });

  it('in a mutation is its ValidationError, naming the field', async () => {
    const reassign = await graphql(
      `
        mutation ($u: String!) {
          r: reassignMapping(ipsubnet: "10.0.0.0/24", toUserId: $u, at: 5) {
            __typename
            ... on ValidationError {
              field
              reason
            }
          }
        }
      `,
      { u: NUL },
    );
    expect(reassign.data!.r).toEqual({
      __typename: 'ValidationError',
      field: 'toUserId',
      reason: 'must not contain a NUL character (\\u0000)',
    });
    const create = await graphql(
      `
        mutation ($input: MappingInput!) {
          r: createMapping(input: $input) {
            __typename
            ... on ValidationError {
              field
            }
          }
        }
      `,
      { input: { userId: NUL, ipsubnet: '10.0.0.1', starttime: 0 } },
    );
    expect(create.data!.r).toEqual({ __typename: 'ValidationError', field: 'userId' });
    const remove = await graphql(
      `
        mutation ($u: String!) {
          r: deleteCustomer(userId: $u) {
            __typename
            ... on Error {
              message
            }
          }
        }
      `,
      { u: NUL },
    );
    expect(remove.errors?.[0]?.message ?? remove.data!.r.__typename).not.toBe('Unexpected error.');
  });

  it('in a REST path is a 422 naming UserID', async () => {
    const response = await rest('PUT', '/api/ipdrcustomers_mapping/%00', {
      api_token: ADMIN_TOKEN,
      username: 'admin',
      ipsubnet: '10.0.0.1',
      starttime: 0,
    });
    expect(response).toMatchObject({
      status: 422,
      body: { status: 'Error', message: /^UserID: must not contain a NUL/ },
    });
    const customer = await rest('DELETE', '/api/ipdrcustomers/a%00b', { api_token: ADMIN_TOKEN, username: 'admin' });
    expect(customer).toMatchObject({
      status: 422,
      body: { status: 'Error', message: /^UserID: must not contain a NUL/ },
    });
  });
});

describe('nameContains', () => {
  const names = async (nameContains: string) => {
    const result = await graphql(
      `
        query ($v: String) {
          customers(nameContains: $v) {
            edges {
              node {
                userId
              }
            }
          }
        }
      `,
      { v: nameContains },
    );
    expect(result.errors).toBeUndefined();
    return result.data!.customers.edges.map((edge: { node: { userId: string } }) => edge.node.userId);
  };

  it('matches its wildcards and escape character literally', async () => {
    expect(await names('%')).toEqual(['U1']);
    expect(await names('0% o')).toEqual(['U1']);
    expect(await names('_')).toEqual(['U1']);
    expect(await names('Plain_Broadband')).toEqual([]);
    expect(await names('\\')).toEqual(['U3']);
    expect(await names('k\\s')).toEqual(['U3']);
    expect(await names('BROAD')).toEqual(['U2']);
  });
});

describe('a field without a typed result', () => {
  it('answers tokens(username:) of an unknown user as NOT_FOUND', async () => {
    const error = await requestError('{ tokens(username: "nobody") { id } }');
    expect(error.message).toBe('user nobody not found');
    expect(error.extensions).toMatchObject({ code: 'NOT_FOUND', entity: 'user', key: 'nobody' });
  });
});

describe('messages echo a short excerpt of a bad value', () => {
  const huge = '1'.repeat(100_000);

  it('in a mutation ValidationError', async () => {
    const result = await createMapping({ userId: 'U1', ipsubnet: `10.0.0.0/${huge}`, starttime: 0 });
    expect(result.__typename).toBe('ValidationError');
    expect(result.reason).toContain(`"${'1'.repeat(ECHO_LIMIT)}…"`);
    expect(result.message.length).toBeLessThan(200);
    const time = await createMapping({ userId: 'U1', ipsubnet: '10.0.0.0/8', starttime: `x${huge}` });
    expect(time.message.length).toBeLessThan(200);
    const far = await createMapping({ userId: 'U1', ipsubnet: '10.0.0.0/8', starttime: huge });
    expect(far.message.length).toBeLessThan(200);
  });

  it('in a not-found answer', async () => {
    const result = await graphql(
      `
        mutation ($u: String!) {
          r: reassignMapping(ipsubnet: "10.0.0.0/24", toUserId: $u, at: 5) {
            __typename
            ... on NotFoundError {
              message
              key
            }
          }
        }
      `,
      { u: huge },
    );
    expect(result.data!.r.__typename).toBe('NotFoundError');
    expect(result.data!.r.message.length).toBeLessThan(200);
    expect(result.data!.r.key).toBe(`${'1'.repeat(ECHO_LIMIT)}…`);
  });

  it('in a REST answer', async () => {
    const response = await rest('POST', '/api/ipdrcustomers_mapping', {
      api_token: ADMIN_TOKEN,
      username: 'admin',
      UserID: 'U1',
      ipsubnet: `10.0.0.0/${huge}`,
      starttime: 0,
    });
    expect(response.status).toBe(422);
    expect(response.text.length).toBeLessThan(300);
  });
});
