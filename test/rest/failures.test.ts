import { db } from '../setup/app.js';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { prisma } from '../setup/app.js';
import { createToken, createUser, grantAccess } from '../../src/access/store.js';
import { yoga } from '../setup/app.js';
import { rest } from './helpers.js';
import { resetData, holdManyAddresses } from '../helpers.js';
import { checkUsername } from '../../src/domain/names.js';
import { checkTokenFormat } from '../../src/access/tokens.js';

const TOKEN = 'rest-failures-token-0123456789';
const READ_ONLY = 'rest-failures-read-only-0123456789';
const auth = { api_token: TOKEN, username: 'ops', contextname: 'default' };
const error = (message: string | RegExp) => ({ status: 'Error', message });

beforeAll(async () => {
  await createUser(db, checkUsername('ops'), false);
  await grantAccess(db, 'ops', 'default', true);
  await createToken(db, 'ops', { token: checkTokenFormat(TOKEN) });
  await createToken(db, 'ops', { token: checkTokenFormat(READ_ONLY), readOnly: true });
});

beforeEach(async () => {
  await resetData();
  await rest('POST', '/api/ipdrcustomers', { ...auth, UserID: 'U1', Name: 'One' });
  await rest('POST', '/api/ipdrcustomers', { ...auth, UserID: 'U2', Name: 'Two' });
});

const createMapping = (fields: object) => rest('POST', '/api/ipdrcustomers_mapping', { ...auth, ...fields });

describe('bad requests get 422 with a message naming the field', () => {
  it.each([
    [
      'malformed JSON',
      () => yoga.fetch('http://t/api/ipdrcustomers', { method: 'POST', body: '{"api_token": ' }),
      /^Malformed JSON body/,
    ],
    [
      'a JSON array',
      () => yoga.fetch('http://t/api/ipdrcustomers', { method: 'POST', body: '[]' }),
      'The request body must be a JSON object',
    ],
  ])('%s', async (_case, send, message) => {
    const response = await send();
    expect(response.status).toBe(422);
    expect(await response.json()).toMatchObject(error(message as string));
  });

  it.each([
    [{ Name: 'No id' }, 'UserID is required'],
    [{ UserID: 'U9' }, 'Name is required'],
    [{ UserID: 'U9', Name: 7 }, 'Name must be a string'],
    [{ UserID: 'U9', Name: '' }, 'Name: must not be empty'],
    [{ UserID: 'U9', Name: '  ' }, 'Name: must not be empty (it is only white space)'],
    [{ UserID: 'U9', Name: 'N', Address: 'a\tb' }, 'Address: must not contain control characters'],
    [{ UserID: 'U9', Name: 'N', Adress: 'typo' }, 'Unknown field: Adress'],
    [{ UserID: 'U1', Name: 'Again' }, 'UserID: a customer with UserID U1 already exists'],
  ])('customer %j', async (fields, message) => {
    expect(await rest('POST', '/api/ipdrcustomers', { ...auth, ...fields })).toMatchObject({
      status: 422,
      body: error(message),
    });
  });

  it('a PUT names every missing field', async () => {
    const response = await rest('PUT', '/api/ipdrcustomers/U1', { ...auth, Name: 'X', UserID: 'U1' });
    expect(response).toMatchObject({
      status: 422,
      body: error('Missing required fields: Address, Email, PhoneNumber, AltPhoneNumber'),
    });
  });

  it.each([
    [
      { UserID: 'U1', ipsubnet: '010.1.1.1', starttime: '0' },
      /^ipsubnet: "010.1.1.1" is not an IPv4 address in canonical form/,
    ],
    [{ UserID: 'U1', ipsubnet: '10.0.0.0/33', starttime: '0' }, /^ipsubnet: prefix length 33 is out of range/],
    [{ UserID: 'U1', ipsubnet: '10.0.0.1', starttime: 'yesterday' }, /^starttime: "yesterday" is not a unix time/],
    [
      { UserID: 'U1', ipsubnet: '10.0.0.1', starttime: '100', endtime: '50' },
      'endtime: endtime 50 is before starttime 100',
    ],
    [{ UserID: 'U1', ipsubnet: '10.0.0.1' }, 'Missing required field: starttime'],
    [{ UserID: 'U1', ipsubnet: '10.0.0.1', starttime: true }, 'starttime must be a unix time (digits or a number)'],
    [{ UserID: 'U404', ipsubnet: '10.0.0.1', starttime: '0' }, 'IPDR Customer not found'],
  ])('mapping %j', async (fields, message) => {
    const response = await createMapping(fields);
    expect(response.status).toBe(422);
    expect((response.body as { message: string }).message).toMatch(message);
    expect(await prisma.ipMapping.count()).toBe(0);
  });

  it("an overlap with another customer's mapping names it: ipsubnet, UserID and period", async () => {
    const held = await createMapping({ UserID: 'U1', ipsubnet: '10.0.0.0/8', starttime: '100', endtime: '' });
    expect(held.status).toBe(200);
    const response = await createMapping({ UserID: 'U2', ipsubnet: '10.1.2.3/16', starttime: '150', endtime: '200' });
    expect(response).toMatchObject({
      status: 422,
      body: error(
        `ipsubnet overlaps mapping ${(held.body as { id: number }).id} (10.0.0.0/8 of UserID U1, 100 to ongoing): one customer per IP at a time`,
      ),
    });
  });

  it('a write with a read-only token is refused and changes nothing', async () => {
    const response = await rest('PATCH', '/api/ipdrcustomers/U1', { ...auth, api_token: READ_ONLY, Name: 'Changed' });
    expect(response).toMatchObject({ status: 422, body: error('This API token is read-only') });
    expect((await prisma.customer.findFirstOrThrow({ where: { userId: 'U1' } })).name).toBe('One');
  });
});

describe('routes', () => {
  it('answers 404 for an unknown route and 405 (with Allow) for a method it does not serve', async () => {
    expect(await rest('GET', '/api/ipdrusers', auth)).toMatchObject({
      status: 404,
      body: error('No such endpoint: /api/ipdrusers'),
    });
    const response = await yoga.fetch('http://t/api/ipdrcustomers_mapping/U1', { method: 'PATCH', body: '{}' });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('PUT, DELETE');
  });

  it('takes GET parameters from the query string too', async () => {
    const response = await yoga.fetch(`http://t/api/ipdrcustomers?api_token=${TOKEN}&username=ops`);
    expect(response.status).toBe(200);
    expect(((await response.json()) as { UserID: string }[]).map((c) => c.UserID)).toEqual(['U1', 'U2']);
  });

  it('returns whole lists, however many pages they take', async () => {
    const context = await prisma.context.findUniqueOrThrow({ where: { name: 'default' } });
    await prisma.customer.createMany({
      data: Array.from({ length: 600 }, (_, i) => ({ contextId: context.id, userId: `BULK${i}`, name: `Bulk ${i}` })),
    });
    const response = await rest('GET', '/api/ipdrcustomers', auth);
    expect((response.body as unknown[]).length).toBe(602);
  });
});

describe('mapping PUT and DELETE name a customer', () => {
  const put = (userId: string, fields: object) =>
    rest('PUT', `/api/ipdrcustomers_mapping/${userId}`, { ...auth, ...fields });
  const del = (userId: string, fields: object = {}) =>
    rest('DELETE', `/api/ipdrcustomers_mapping/${userId}`, { ...auth, ...fields });

  it('with several mappings and nothing to choose by: 422 saying how to choose, nothing changed', async () => {
    await createMapping({ UserID: 'U1', ipsubnet: '10.0.0.1', starttime: '0' });
    await createMapping({ UserID: 'U1', ipsubnet: '10.0.0.2', starttime: '0' });
    const before = await prisma.ipMapping.findMany({ orderBy: { id: 'asc' } });
    const ambiguous = error(
      /^The customer has 2 mappings \(id \d+: 10\.0\.0\.1, id \d+: 10\.0\.0\.2\); add "id" or "ipsubnet" to the body to say which one$/,
    );
    expect(await put('U1', { ipsubnet: '10.0.0.9', starttime: '5' })).toMatchObject({ status: 422, body: ambiguous });
    expect(await del('U1')).toMatchObject({ status: 422, body: ambiguous });
    expect(await prisma.ipMapping.findMany({ orderBy: { id: 'asc' } })).toEqual(before);
  });

  it('changes exactly the one named by id or ipsubnet', async () => {
    const first = (await createMapping({ UserID: 'U1', ipsubnet: '10.0.0.1', starttime: '0' })).body as { id: number };
    const second = (await createMapping({ UserID: 'U1', ipsubnet: '10.0.0.2', starttime: '0' })).body as { id: number };
    const byId = await put('U1', { id: second.id, ipsubnet: '10.0.0.3', starttime: '5' });
    expect(byId.body).toMatchObject({ id: second.id, ipsubnet: '10.0.0.3', starttime: 5 });
    const bySubnet = await put('U1', { ipsubnet: '10.0.0.1', starttime: '7', endtime: '9' });
    expect(bySubnet.body).toMatchObject({ id: first.id, ipsubnet: '10.0.0.1', starttime: 7, endtime: 9 });
    expect((await del('U1', { ipsubnet: '10.0.0.3' })).body).toMatchObject({ id: second.id });
    expect((await prisma.ipMapping.findMany()).map((m) => m.id)).toEqual([first.id]);
  });

  it('a DELETE naming a subnet the customer does not hold deletes nothing and lists what it holds', async () => {
    const held = (await createMapping({ UserID: 'U1', ipsubnet: '10.0.0.1', starttime: '0' })).body as { id: number };
    const response = await del('U1', { ipsubnet: '10.9.9.9' });
    expect(response).toMatchObject({
      status: 422,
      body: error(
        `The customer has no mapping with ipsubnet 10.9.9.9; its mappings: id ${held.id}: 10.0.0.1. Send the "id" or "ipsubnet" of one of them`,
      ),
    });
    expect(await prisma.ipMapping.count()).toBe(1);
  });

  it('a customer without mappings: 422 saying so', async () => {
    expect(await del('U1', { ipsubnet: '10.9.9.9' })).toMatchObject({
      status: 422,
      body: error('mapping of customer U1 not found'),
    });
  });
});

describe('customer DELETE', () => {
  it('deletes its mappings too, and the trail keeps both, written by channel rest', async () => {
    await createMapping({ UserID: 'U1', ipsubnet: '10.0.0.1', starttime: '0', terminalid: 'T1' });
    const response = await rest('DELETE', '/api/ipdrcustomers/U1', auth);
    expect(response).toMatchObject({ status: 200, body: { Name: 'One', UserID: 'U1' } });
    expect(await prisma.ipMapping.count()).toBe(0);
    const deletions = await prisma.auditEvent.findMany({ where: { action: 'delete' }, orderBy: { id: 'asc' } });
    expect(deletions.map((e) => [e.entityType, e.actor, e.channel])).toEqual([
      ['mapping', 'ops', 'rest'],
      ['customer', 'ops', 'rest'],
    ]);
    expect(deletions[0]!.before).toMatchObject({ ipsubnet: '10.0.0.1', terminalId: 'T1', userId: 'U1' });
  });
});

describe('a long list of mappings is named in part and counted', () => {
  const HELD = 150;

  beforeEach(async () => {
    await holdManyAddresses('U1', '10.5', HELD);
  });

  it('a DELETE with nothing to choose by names 10 of the customer’s mappings and counts all', async () => {
    const answer = await rest('DELETE', '/api/ipdrcustomers_mapping/U1', auth);
    expect(answer.status).toBe(422);
    expect((answer.body as { message: string }).message).toMatch(
      new RegExp(
        `^The customer has ${HELD} mappings \\((id \\d+: 10\\.5\\.0\\.\\d+, ){10}and ${HELD - 10} more\\); add "id"`,
      ),
    );
  });

  it('a PUT naming a subnet it does not hold lists 10 of its mappings and counts all', async () => {
    const answer = await rest('PUT', '/api/ipdrcustomers_mapping/U1', {
      ...auth,
      ipsubnet: '10.9.9.9',
      starttime: '5',
    });
    expect(answer.status).toBe(422);
    expect((answer.body as { message: string }).message).toMatch(
      new RegExp(
        `^The customer has no mapping with ipsubnet 10\\.9\\.9\\.9; its mappings: (id \\d+: 10\\.5\\.0\\.\\d+, ){10}and ${HELD - 10} more\\. Send`,
      ),
    );
    expect(await prisma.ipMapping.count()).toBe(HELD);
  });

  it('an overlap with many mappings names 10 and counts the rest', async () => {
    const answer = await createMapping({ UserID: 'U2', ipsubnet: '10.5.0.0/24', starttime: '5' });
    expect(answer.status).toBe(422);
    const message = (answer.body as { message: string }).message;
    expect(message).toMatch(
      new RegExp(
        `^ipsubnet overlaps (mapping \\d+ \\(10\\.5\\.0\\.\\d+ of UserID U1, 0 to ongoing\\), ){10}and ${HELD - 10} more: one customer per IP at a time$`,
      ),
    );
  });
});
