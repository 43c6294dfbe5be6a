import { db } from '../setup/app.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { exportCsv, importCsv } from '../../src/csv/cli.js';
import { prisma } from '../setup/app.js';
import { createToken, createUser, grantAccess } from '../../src/access/store.js';
import { graphqlData, resetData } from '../helpers.js';
import { rest } from './helpers.js';
import { checkUsername } from '../../src/domain/names.js';
import { checkTokenFormat } from '../../src/access/tokens.js';

// What CRMs do with Trisul's API: read an object, change a field, send the object back; name one
// of a customer's mappings; keep the text they sent.

const TOKEN = 'rest-rmw-token-0123456789abcdef';
const auth = { api_token: TOKEN, username: 'crm', contextname: 'default' };
const error = (message: string) => ({ status: 'Error', message });

interface CustomerJson {
  id: number;
  Name: string;
  Address: string;
  UserID: string;
  [field: string]: unknown;
}
interface MappingJson {
  id: number;
  ipdr_customer_id: number;
  ipsubnet: string;
  starttime: number;
  endtime: number | null;
  terminalid: string;
}

const customers = async () => (await rest('GET', '/api/ipdrcustomers', auth)).body as CustomerJson[];
const mappings = async () => (await rest('GET', '/api/ipdrcustomers_mapping', auth)).body as MappingJson[];
const createCustomer = async (fields: object) =>
  (await rest('POST', '/api/ipdrcustomers', { ...auth, ...fields })).body as CustomerJson;
const createMapping = async (fields: object) => {
  const response = await rest('POST', '/api/ipdrcustomers_mapping', { ...auth, ...fields });
  expect(response.status).toBe(200);
  return response.body as MappingJson;
};
const putMapping = (userId: string, body: object) =>
  rest('PUT', `/api/ipdrcustomers_mapping/${userId}`, { ...auth, ...body });
const deleteMapping = (userId: string, body: object) =>
  rest('DELETE', `/api/ipdrcustomers_mapping/${userId}`, { ...auth, ...body });

beforeAll(async () => {
  await createUser(db, checkUsername('crm'), false);
  await grantAccess(db, 'crm', 'default', true);
  await createToken(db, 'crm', { token: checkTokenFormat(TOKEN) });
});

beforeEach(() => resetData());

describe('an object from GET sent back as it is', () => {
  it('customer PUT and PATCH accept it, `id` included', async () => {
    await createCustomer({ UserID: 'U1', Name: 'One', Address: 'Old street' });
    const [read] = await customers();
    const put = await rest('PUT', '/api/ipdrcustomers/U1', { ...auth, ...read, Address: 'New street' });
    expect(put).toMatchObject({ status: 200, body: { ...read, Address: 'New street' } });
    const patch = await rest('PATCH', '/api/ipdrcustomers/U1', { ...auth, ...read, Name: 'Renamed' });
    expect(patch).toMatchObject({ status: 200, body: { ...read, Name: 'Renamed' } });
    expect(await customers()).toEqual([{ ...read, Name: 'Renamed' }]);
  });

  it("customer PUT and PATCH refuse another customer's id, naming the field, and change nothing", async () => {
    const one = await createCustomer({ UserID: 'U1', Name: 'One' });
    const two = await createCustomer({ UserID: 'U2', Name: 'Two' });
    const before = await customers();
    for (const method of ['PUT', 'PATCH']) {
      const response = await rest(method, '/api/ipdrcustomers/U1', { ...auth, ...two, UserID: 'U1' });
      expect(response).toMatchObject({
        status: 422,
        body: error(`id: ${two.id} is not the id of customer U1 (${one.id})`),
      });
    }
    expect(await rest('PATCH', '/api/ipdrcustomers/U1', { ...auth, id: 'x', Name: 'N' })).toMatchObject({
      status: 422,
      body: error('id must be a customer id (a positive whole number)'),
    });
    expect(await customers()).toEqual(before);
  });

  it('GraphQL updateCustomer and patchCustomer check the id the same way', async () => {
    const one = await createCustomer({ UserID: 'U1', Name: 'One' });
    const selection = '__typename ... on ValidationError { field reason } ... on Customer { name }';
    const send = (id: number) =>
      graphqlData(
        `mutation($id: Int) {
          put: updateCustomer(userId: "U1", id: $id, input: { userId: "U1", name: "Put" }) { ${selection} }
          patch: patchCustomer(userId: "U1", id: $id, input: { name: "Patch" }) { ${selection} }
        }`,
        { id },
      );
    const refused = {
      __typename: 'ValidationError',
      field: 'id',
      reason: `${one.id + 1} is not the id of customer U1 (${one.id})`,
    };
    expect(await send(one.id + 1)).toEqual({ put: refused, patch: refused });
    expect(await send(one.id)).toEqual({
      put: { __typename: 'Customer', name: 'Put' },
      patch: { __typename: 'Customer', name: 'Patch' },
    });
  });

  it('mapping PUT accepts it (`id`, `ipdr_customer_id` included) and changes the mapping `id` names', async () => {
    await createCustomer({ UserID: 'U1', Name: 'One' });
    await createMapping({ UserID: 'U1', ipsubnet: '10.0.0.1', starttime: '0', terminalid: 'T1' });
    await createMapping({ UserID: 'U1', ipsubnet: '10.0.0.2', starttime: '0', terminalid: 'T2' });
    const [first, second] = await mappings();
    const response = await putMapping('U1', { ...second, endtime: 500 });
    expect(response).toMatchObject({ status: 200, body: { ...second, endtime: 500 } });
    expect(await mappings()).toEqual([first, { ...second!, endtime: 500 }]);
  });

  it("mapping PUT and DELETE refuse another customer's ipdr_customer_id and change nothing", async () => {
    const one = await createCustomer({ UserID: 'U1', Name: 'One' });
    const two = await createCustomer({ UserID: 'U2', Name: 'Two' });
    await createMapping({ UserID: 'U1', ipsubnet: '10.0.0.1', starttime: '0' });
    await createMapping({ UserID: 'U2', ipsubnet: '10.0.0.2', starttime: '0' });
    const before = await mappings();
    const ofTwo = before[1]!;
    const refused = error(`ipdr_customer_id: ${two.id} is not the id of customer U1 (${one.id})`);
    expect(await putMapping('U1', { ...ofTwo, endtime: 9 })).toMatchObject({ status: 422, body: refused });
    expect(await deleteMapping('U1', { id: ofTwo.id, ipdr_customer_id: ofTwo.ipdr_customer_id })).toMatchObject({
      status: 422,
      body: refused,
    });
    expect(await mappings()).toEqual(before);
  });

  it('mapping DELETE takes the id and ipdr_customer_id GET gave', async () => {
    await createCustomer({ UserID: 'U1', Name: 'One' });
    await createMapping({ UserID: 'U1', ipsubnet: '10.0.0.1', starttime: '0' });
    await createMapping({ UserID: 'U1', ipsubnet: '10.0.0.2', starttime: '0' });
    const [first, second] = await mappings();
    const response = await deleteMapping('U1', { id: second!.id, ipdr_customer_id: second!.ipdr_customer_id });
    expect(response).toMatchObject({ status: 200, body: second });
    expect(await mappings()).toEqual([first]);
  });
});

describe("a mapping PUT or DELETE naming none of the customer's mappings", () => {
  let held: MappingJson[];
  const listed = () => held.map((m) => `id ${m.id}: ${m.ipsubnet}`).join(', ');
  const none = (named: string) =>
    error(
      `The customer has no mapping with ${named}; its mappings: ${listed()}. Send the "id" or "ipsubnet" of one of them`,
    );

  beforeEach(async () => {
    await createCustomer({ UserID: 'U1', Name: 'One' });
    await createMapping({ UserID: 'U1', ipsubnet: '10.0.0.1', starttime: '0' });
    await createMapping({ UserID: 'U1', ipsubnet: '10.0.0.2/31', starttime: '0' });
    held = await mappings();
  });

  it('answers 422 listing the candidates, and changes nothing', async () => {
    expect(await putMapping('U1', { ipsubnet: '10.9.9.9', starttime: '5' })).toMatchObject({
      status: 422,
      body: none('ipsubnet 10.9.9.9'),
    });
    expect(await deleteMapping('U1', { ipsubnet: '10.9.9.9' })).toMatchObject({
      status: 422,
      body: none('ipsubnet 10.9.9.9'),
    });
    expect(await deleteMapping('U1', { id: 999999 })).toMatchObject({ status: 422, body: none('id 999999') });
    expect(await putMapping('U1', { id: 999999, ipsubnet: '10.0.0.1', starttime: '5' })).toMatchObject({
      status: 422,
      body: none('id 999999'),
    });
    expect(await mappings()).toEqual(held);
  });

  it('a subnet names the mapping with its network, however it is spelt', async () => {
    expect(await deleteMapping('U1', { ipsubnet: '10.0.0.3/31' })).toMatchObject({ status: 200, body: held[1] });
    expect(await mappings()).toEqual([held[0]]);
  });

  it('one network held at two times: 422 asking for the id', async () => {
    await deleteMapping('U1', { id: held[1]!.id });
    await putMapping('U1', { ipsubnet: '10.0.0.1', starttime: '0', endtime: '99' });
    const later = await createMapping({ UserID: 'U1', ipsubnet: '10.0.0.1', starttime: '100' });
    expect(await deleteMapping('U1', { ipsubnet: '10.0.0.1' })).toMatchObject({
      status: 422,
      body: error(
        `The customer has 2 mappings with ipsubnet 10.0.0.1 (id ${held[0]!.id}: 10.0.0.1, id ${later.id}: 10.0.0.1); add "id" to the body to say which one`,
      ),
    });
    expect(await mappings()).toHaveLength(2);
  });

  it('GraphQL answers AmbiguousMappingError with every candidate', async () => {
    const data = await graphqlData(`mutation {
      deleteCustomerMapping(userId: "U1", choose: { ipsubnet: "10.9.9.9" }) {
        __typename ... on AmbiguousMappingError { message candidates { id } }
      }
    }`);
    expect(data.deleteCustomerMapping).toEqual({
      __typename: 'AmbiguousMappingError',
      message: `customer U1 has no mapping with ipsubnet 10.9.9.9 (its mappings: ids ${held.map((m) => m.id).join(', ')}); name one with "id" or "ipsubnet"`,
      candidates: held.map((m) => ({ id: m.id })),
    });
  });
});

describe('text is kept as sent', () => {
  const spaced = {
    UserID: ' U1 ',
    Name: ' Trisul ',
    Address: '  Chennai',
    Email: 'demo@example.com ',
    PhoneNumber: ' ',
    AltPhoneNumber: '',
  };

  it('through REST, as Trisul lists a terminal id with a leading space', async () => {
    const customer = await createCustomer(spaced);
    expect(customer).toEqual({ id: customer.id, ...spaced });
    const mapping = await createMapping({
      UserID: ' U1 ',
      ipsubnet: '172.27.19.224',
      starttime: '0',
      terminalid: ' TERM2025010001',
    });
    expect(mapping.terminalid).toBe(' TERM2025010001');
    expect(await customers()).toEqual([customer]);
    expect(await mappings()).toEqual([mapping]);
    const put = await putMapping('%20U1%20', { ipsubnet: '172.27.19.224', starttime: '5', terminalid: ' T2 ' });
    expect(put.body).toMatchObject({ terminalid: ' T2 ' });
  });

  it('through GraphQL', async () => {
    const data = await graphqlData(`mutation {
      c: createCustomer(input: { userId: " G1", name: "Name ", email: "  " }) { ... on Customer { userId name email } }
      m: createMapping(input: { userId: " G1", ipsubnet: "10.0.0.1", starttime: 0, terminalId: " T " }) { ... on IpMapping { terminalId } }
    }`);
    expect(data).toEqual({ c: { userId: ' G1', name: 'Name ', email: '  ' }, m: { terminalId: ' T ' } });
  });

  describe('through a CSV export and import', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ipdr-rest-csv-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('gives back the same customers and mappings', async () => {
      await createCustomer(spaced);
      await createMapping({ UserID: ' U1 ', ipsubnet: '172.27.19.224', starttime: '0', terminalid: ' TERM2025010001' });
      const before = { customers: await customers(), mappings: await mappings() };
      const path = join(dir, 'export.csv');
      await exportCsv(db, 'default', path);
      await resetData();
      await importCsv(db, path, 'default', false);
      // Ids are the database's; the rest must come back as it was.
      const strip = (row: object) => {
        const { id: _id, ipdr_customer_id: _customer, ...rest } = row as Record<string, unknown>;
        return rest;
      };
      expect((await customers()).map(strip)).toEqual(before.customers.map(strip));
      expect((await mappings()).map(strip)).toEqual(before.mappings.map(strip));
    });
  });
});
