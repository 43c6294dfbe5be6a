import { beforeEach, describe, expect, it } from 'vitest';
import { prisma } from '../setup/app.js';
import { BusyError } from '../../src/errors.js';
import { failureOf } from '../../src/rest/errors.js';
import { resetData } from '../helpers.js';
import { ADMIN_TOKEN } from '../setup/credentials.js';
import { rest } from './helpers.js';

// Fields of a REST body whose type or absence used to be taken for something else: a null
// starttime (a 500 on POST, the old start kept on PUT), a context name that is not a string
// (silently `default`), a missing username (the check skipped).

const auth = { api_token: ADMIN_TOKEN, username: 'admin', contextname: 'default' };

beforeEach(async () => {
  await resetData();
  await rest('POST', '/api/ipdrcustomers', { ...auth, UserID: 'U1', Name: 'One' });
  const created = await rest('POST', '/api/ipdrcustomers_mapping', {
    ...auth,
    UserID: 'U1',
    ipsubnet: '10.0.0.0/24',
    starttime: 100,
    endtime: 200,
  });
  expect(created.status).toBe(200);
});

const stored = async () =>
  (await prisma.ipMapping.findMany()).map((m) => [m.ipsubnet, Number(m.starttime), m.endtime && Number(m.endtime)]);

describe('starttime: null', () => {
  it.each(['POST', 'PUT'])('is a 422 naming starttime on %s, and nothing changes', async (method) => {
    const path = method === 'POST' ? '/api/ipdrcustomers_mapping' : '/api/ipdrcustomers_mapping/U1';
    const body = { ...auth, ...(method === 'POST' ? { UserID: 'U1' } : {}), ipsubnet: '10.9.0.0/24', starttime: null };
    const response = await rest(method, path, body);
    expect(response.status).toBe(422);
    expect(response.body).toEqual({ status: 'Error', message: expect.stringMatching(/^starttime is required/) });
    expect(await stored()).toEqual([['10.0.0.0/24', 100, 200]]);
  });
});

describe('contextname and context', () => {
  it.each([
    ['contextname', 42],
    ['contextname', {}],
    ['context', ['default']],
    ['context', true],
  ])('%s: %j is a 422 naming the field', async (field, value) => {
    const response = await rest('GET', '/api/ipdrcustomers', {
      api_token: ADMIN_TOKEN,
      username: 'admin',
      [field]: value,
    });
    expect(response.status).toBe(422);
    expect(response.body).toEqual({ status: 'Error', message: `${field} must be a string: the name of a context` });
  });

  it('with characters no context name has is a 422, not a 500', async () => {
    const response = await rest('GET', '/api/ipdrcustomers', { ...auth, contextname: 'a\u0000b' });
    expect(response.status).toBe(422);
    expect(response.body).toEqual({ status: 'Error', message: 'contextname: "a\u0000b" is not a context name' });
  });
});

describe('username', () => {
  it.each([
    ['missing', undefined, 'username is required: the user the api_token belongs to'],
    ['null', null, 'username is required: the user the api_token belongs to'],
    ['a number', 7, 'username must be a string'],
    ['an object', { name: 'admin' }, 'username must be a string'],
  ])('%s is a 422 naming it, and nothing is written', async (_case, username, message) => {
    const response = await rest('POST', '/api/ipdrcustomers', {
      api_token: ADMIN_TOKEN,
      username,
      UserID: 'U9',
      Name: 'Nine',
    });
    expect(response.status).toBe(422);
    expect(response.body).toEqual({ status: 'Error', message });
    expect(await prisma.customer.count({ where: { userId: 'U9' } })).toBe(0);
  });

  it("that is not the token's user is refused as before", async () => {
    const response = await rest('POST', '/api/ipdrcustomers', {
      ...auth,
      username: 'someone',
      UserID: 'U9',
      Name: 'Nine',
    });
    expect(response.body).toEqual({ status: 'ERROR', message: 'Invalid API token' });
  });
});

describe('a busy database', () => {
  it('is a 503 with Retry-After in the REST shape', async () => {
    const busy = new BusyError();
    const response = failureOf({ __typename: 'BusyError', message: busy.message }).toResponse();
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe(String(busy.retryAfterSeconds));
    expect(await response.json()).toEqual({ status: 'Error', message: busy.message });
  });
});
