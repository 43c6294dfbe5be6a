import { beforeAll, describe, expect, it } from 'vitest';
import { createContext, createToken, createUser, grantAccess, revokeAccess } from '../../src/store/access.js';
import { type CurlExample, curlExamples, rest, seedCustomer, seedMapping } from './helpers.js';
import { resetData } from '../helpers.js';

// Every curl example of Trisul's API pages (../shared/spec), replayed against the state the page
// implies, with the exact documented response. Pages without a response example get the response
// our API gives, spelled out here.

const CUSTOMER_TOKEN = 'GiXwBWWv5g2Fs6QeaTlx';
const MAPPING_TOKEN = 'JhgyS1Tyb01ZH1Q4FIMT';

beforeAll(async () => {
  await createContext('ipdr');
  await createUser('user', false);
  await grantAccess('user', 'default', true);
  await grantAccess('user', 'ipdr', true);
  await createToken('user', { token: CUSTOMER_TOKEN });
  await createToken('user', { token: MAPPING_TOKEN });
});

const trisul = {
  UserID: 'B68t19',
  Name: 'Trisul',
  Address: 'Chennai',
  Email: 'demo@gmail.com',
  PhoneNumber: '1234567890',
  AltPhoneNumber: '9999999999',
};
const analyzer = {
  ...trisul,
  Name: 'Trisul Network Analyzer',
  Address: 'India',
  Email: 'test@gmail.com',
  PhoneNumber: '3333333333',
  AltPhoneNumber: '5555555555',
};
const json = (id: number, c: typeof trisul) => ({
  id,
  Name: c.Name,
  Address: c.Address,
  Email: c.Email,
  PhoneNumber: c.PhoneNumber,
  AltPhoneNumber: c.AltPhoneNumber,
  UserID: c.UserID,
});
const listExample = [
  json(5, trisul),
  {
    id: 6,
    Name: 'Trisul Network Analytics',
    Address: 'India',
    Email: 'test@gmail.com',
    PhoneNumber: '3333333333',
    AltPhoneNumber: '5555555555',
    UserID: 'Xlr8d3',
  },
];
const seedListExample = async (context = 'default') => {
  await resetData();
  await seedCustomer(5, trisul, context);
  await seedCustomer(6, { ...listExample[1]! }, context);
};
// A documented response lists keys in Trisul's order; compare the text too, not only the values.
const ordered = (value: unknown) => JSON.stringify(value);

interface Case {
  seed: () => Promise<void>;
  status: number;
  body: unknown;
}

/** The cases of each page, in the order its curl examples appear. */
const pages: Record<string, Case[]> = {
  'trisul-ipdr-customer-management-api.txt': [
    { seed: () => seedListExample(), status: 200, body: listExample },
    { seed: () => resetData({ customer: 3 }), status: 200, body: json(3, trisul) },
    { seed: async () => (await resetData(), await seedCustomer(3, trisul)), status: 200, body: json(3, analyzer) },
    {
      seed: async () => (await resetData(), await seedCustomer(3, analyzer)),
      status: 200,
      body: json(3, { ...analyzer, Address: 'Partially Updated' }),
    },
    {
      seed: async () => (await resetData(), await seedCustomer(3, { ...analyzer, Address: 'Partially Updated' })),
      status: 200,
      body: json(3, { ...analyzer, Address: 'Partially Updated' }),
    },
  ],
  'trisul-ipdr-customer-ip-mapping-api.txt': [
    {
      seed: async () => {
        await resetData();
        await seedCustomer(4, { UserID: 'U1001', Name: 'A' }, 'ipdr');
        await seedCustomer(5, { UserID: 'U1002', Name: 'B' }, 'ipdr');
        await seedCustomer(7, { UserID: 'U1003', Name: 'C' }, 'ipdr');
        await seedMapping(1, 4, '172.27.19.224', 0, 1735669799, ' TERM2025010001', 'ipdr');
        await seedMapping(6, 5, '192.168.1.23/24', 1775759400, null, '', 'ipdr');
        await seedMapping(7, 7, '10.62.8.160', 1775759400, null, '8798797', 'ipdr');
      },
      status: 200,
      body: [
        {
          id: 1,
          ipdr_customer_id: 4,
          ipsubnet: '172.27.19.224',
          starttime: 0,
          endtime: 1735669799,
          terminalid: ' TERM2025010001',
        },
        {
          id: 6,
          ipdr_customer_id: 5,
          ipsubnet: '192.168.1.23/24',
          starttime: 1775759400,
          endtime: null,
          terminalid: '',
        },
        {
          id: 7,
          ipdr_customer_id: 7,
          ipsubnet: '10.62.8.160',
          starttime: 1775759400,
          endtime: null,
          terminalid: '8798797',
        },
      ],
    },
    {
      seed: async () => (
        await resetData({ mapping: 11 }),
        await seedCustomer(4, { UserID: 'U1001', Name: 'A' }, 'ipdr')
      ),
      status: 200,
      body: {
        id: 11,
        ipdr_customer_id: 4,
        ipsubnet: '192.168.1.25/16',
        starttime: 1723431899,
        endtime: 1723444899,
        terminalid: 'TERM12345',
      },
    },
    {
      seed: async () => {
        await resetData();
        await seedCustomer(4, { UserID: 'U1001', Name: 'A' }, 'ipdr');
        await seedMapping(1, 4, '172.27.19.224', 0, 1735669799, ' TERM2025010001', 'ipdr');
      },
      status: 200,
      body: {
        id: 1,
        ipdr_customer_id: 4,
        ipsubnet: '172.27.19.224',
        starttime: 1723443837,
        endtime: 1723444899,
        terminalid: ' TERM2025010001',
      },
    },
    {
      seed: async () => {
        await resetData();
        await seedCustomer(8, { UserID: 'U1005', Name: 'E' }, 'ipdr');
        await seedMapping(5, 8, '172.27.19.200', 0, 1740799800, ' TERM2025010005', 'ipdr');
      },
      status: 200,
      body: {
        id: 5,
        ipdr_customer_id: 8,
        ipsubnet: '172.27.19.200',
        starttime: 0,
        endtime: 1740799800,
        terminalid: ' TERM2025010005',
      },
    },
    { seed: () => resetData(), status: 422, body: { status: 'Error', message: 'IPDR Customer not found' } },
    {
      seed: async () => {
        await resetData();
        await seedCustomer(4, { UserID: 'U1001', Name: 'A' }, 'ipdr');
        await seedMapping(2, 4, '192.168.1.25/16', 1723431899, 1723444899, 'TERM12345', 'ipdr');
      },
      status: 422,
      body: { status: 'Error', message: 'Duplicate Mapping for UserID : U1001' },
    },
  ],
};

// The older pages: the same operations and responses, sent with `contextname` or no context.
const olderPage = pages['trisul-ipdr-customer-management-api.txt']!;
pages['trisul-ipdr-customers-rest-api-older.txt'] = olderPage;
pages['trisul-ipdr-customers-rest-api-older.md'] = olderPage;

describe.each(Object.entries(pages))('%s', (file, cases) => {
  const examples: CurlExample[] = curlExamples(file);

  it('has a case for each of its curl examples', () => {
    expect(examples.length).toBe(cases.length);
  });

  it.each(examples.map((example, i) => [`${example.method} ${example.path}`, i] as const))(
    'replays %s with the documented response',
    async (_name, i) => {
      const example = examples[i]!;
      const expected = cases[i]!;
      await expected.seed();
      const response = await rest(example.method, example.path, example.body);
      expect(response.status).toBe(expected.status);
      expect(response.body).toEqual(expected.body);
      expect(response.text).toBe(ordered(expected.body));
    },
  );
});

describe('documented errors', () => {
  const customers = (body: object) => rest('GET', '/api/ipdrcustomers', body);
  const mappings = (body: object) => rest('GET', '/api/ipdrcustomers_mapping', body);

  it('invalid API token: 200 on the customer API, 422 on the mapping API', async () => {
    const error = { status: 'ERROR', message: 'Invalid API token' };
    expect(await customers({ api_token: 'wrong', username: 'user', contextname: 'default' })).toMatchObject({
      status: 200,
      body: error,
    });
    expect(await mappings({ api_token: 'wrong', username: 'user', context: 'ipdr' })).toMatchObject({
      status: 422,
      body: error,
    });
    // The username sent must be the token's.
    expect(await customers({ api_token: CUSTOMER_TOKEN, username: 'someone', contextname: 'default' })).toMatchObject({
      status: 200,
      body: error,
    });
  });

  it('invalid context name: 200 on the customer API, 422 on the mapping API', async () => {
    const error = { status: 'Error', message: 'Invalid Context name - ipdrr' };
    expect(await customers({ api_token: CUSTOMER_TOKEN, username: 'user', contextname: 'ipdrr' })).toMatchObject({
      status: 200,
      body: error,
    });
    expect(await mappings({ api_token: MAPPING_TOKEN, username: 'user', context: 'ipdrr' })).toMatchObject({
      status: 422,
      body: error,
    });
  });

  it('a context the user may not use: 200 on both', async () => {
    await revokeAccess('user', 'ipdr');
    try {
      const error = { status: 'Error', message: 'The user (user) is not allowed to access the context ipdr' };
      expect(await customers({ api_token: CUSTOMER_TOKEN, username: 'user', contextname: 'ipdr' })).toMatchObject({
        status: 200,
        body: error,
      });
      expect(await mappings({ api_token: MAPPING_TOKEN, username: 'user', context: 'ipdr' })).toMatchObject({
        status: 200,
        body: error,
      });
    } finally {
      await grantAccess('user', 'ipdr', true);
    }
  });
});
