import type { OperationName } from './documents.js';
import { type ApiStatuses, customerApi, mappingApi } from './errors.js';
import {
  type Body,
  endTimeField,
  idField,
  onlyFields,
  requireFields,
  requiredTimeField,
  textField,
} from './requests.js';
import { type CustomerData, type MappingData, type Requested, customerJson, mappingJson } from './shapes.js';

// Trisul's REST API as a table: each endpoint is one named GraphQL operation (documents.ts),
// how a request becomes its variables, and how its data becomes Trisul's JSON.

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface Endpoint {
  api: ApiStatuses;
  operation: OperationName;
  /** Lists are read page by page; the response is every row. */
  list?: true;
  variables(body: Body, userId: string): Record<string, unknown>;
  shape(data: unknown): unknown;
  /** What the body asks for, to word a failure (see failureOf). */
  requested?(body: Body): Requested | null;
}

export interface Resource {
  collection: Partial<Record<Method, Endpoint>>;
  item: Partial<Record<Method, Endpoint>>;
}

const CUSTOMER_FIELDS = ['UserID', 'Name', 'Address', 'Email', 'PhoneNumber', 'AltPhoneNumber'] as const;
// What GET answers for a mapping; a PUT may send it all back (read-modify-write).
const MAPPING_FIELDS = ['id', 'ipdr_customer_id', 'ipsubnet', 'starttime', 'endtime', 'terminalid'] as const;

function customerInput(body: Body, required: boolean) {
  const input: Record<string, string | null | undefined> = {
    userId: textField(body, 'UserID', required),
    name: textField(body, 'Name', required),
    address: textField(body, 'Address', false),
    email: textField(body, 'Email', false),
    phoneNumber: textField(body, 'PhoneNumber', false),
    altPhoneNumber: textField(body, 'AltPhoneNumber', false),
  };
  return Object.fromEntries(Object.entries(input).filter(([, value]) => value !== undefined));
}

const customerResult = (data: unknown) => customerJson(data as CustomerData);
const mappingResult = (data: unknown) => mappingJson(data as MappingData);

/**
 * A customer write may carry the `id` GET gave (read-modify-write): it must be the customer's, so
 * an object read from one customer cannot overwrite another.
 */
function customerWrite(body: Body, userId: string, input: Record<string, unknown>) {
  const id = idField(body, 'id', 'customer');
  return { userId, input, ...(id === undefined ? {} : { id }) };
}

/**
 * A mapping request names the customer; `id` or `ipsubnet` may say which of its mappings. In a
 * PUT the ipsubnet is also the new value, so it only picks among several mappings. A mapping sent
 * back as GET gave it also carries `ipdr_customer_id`, which must be the customer's.
 */
function mappingChoice(body: Body, ipsubnetIsNewValue: boolean) {
  const id = idField(body, 'id', 'mapping');
  const customerId = idField(body, 'ipdr_customer_id', 'customer');
  const ipsubnet = textField(body, 'ipsubnet', false);
  const pick =
    id !== undefined ? { id } : !ipsubnet ? {} : ipsubnetIsNewValue ? { ipsubnetHint: ipsubnet } : { ipsubnet };
  const choice = { ...pick, ...(customerId === undefined ? {} : { customerId }) };
  return Object.keys(choice).length > 0 ? choice : null;
}

/** How the body names one of the customer's mappings, to word an ambiguous answer. */
function namedMapping(body: Body): Requested {
  const id = idField(body, 'id', 'mapping');
  const ipsubnet = textField(body, 'ipsubnet', false);
  return { choice: id !== undefined ? { id } : ipsubnet ? { ipsubnet } : null };
}

export const resources: Record<string, Resource> = {
  ipdrcustomers: {
    collection: {
      GET: {
        api: customerApi,
        operation: 'RestListCustomers',
        list: true,
        variables: (body) => (onlyFields(body, []), {}),
        shape: customerResult,
      },
      POST: {
        api: customerApi,
        operation: 'RestCreateCustomer',
        variables: (body) => (onlyFields(body, CUSTOMER_FIELDS), { input: customerInput(body, true) }),
        shape: customerResult,
      },
    },
    item: {
      PUT: {
        api: customerApi,
        operation: 'RestReplaceCustomer',
        variables: (body, userId) => {
          onlyFields(body, ['id', ...CUSTOMER_FIELDS]);
          requireFields(body, CUSTOMER_FIELDS);
          return customerWrite(body, userId, customerInput(body, true));
        },
        shape: customerResult,
      },
      PATCH: {
        api: customerApi,
        operation: 'RestPatchCustomer',
        variables: (body, userId) => (
          onlyFields(body, ['id', ...CUSTOMER_FIELDS]),
          customerWrite(body, userId, customerInput(body, false))
        ),
        shape: customerResult,
      },
      DELETE: {
        api: customerApi,
        operation: 'RestDeleteCustomer',
        variables: (body, userId) => (onlyFields(body, []), { userId }),
        shape: customerResult,
      },
    },
  },
  ipdrcustomers_mapping: {
    collection: {
      GET: {
        api: mappingApi,
        operation: 'RestListMappings',
        list: true,
        variables: (body) => (onlyFields(body, []), {}),
        shape: mappingResult,
      },
      POST: {
        api: mappingApi,
        operation: 'RestCreateMapping',
        variables: (body) => {
          onlyFields(body, ['UserID', 'ipsubnet', 'starttime', 'endtime', 'terminalid']);
          return {
            input: {
              userId: textField(body, 'UserID', true),
              ipsubnet: textField(body, 'ipsubnet', true),
              starttime: requiredTimeField(body, 'starttime'),
              endtime: endTimeField(body),
              terminalId: textField(body, 'terminalid', false),
            },
          };
        },
        shape: mappingResult,
        requested: (body) => {
          const end = endTimeField(body);
          return {
            mapping: {
              userId: String(body.UserID),
              ipsubnet: String(body.ipsubnet),
              starttime: Number(body.starttime),
              endtime: end === null ? null : Number(end),
            },
          };
        },
      },
    },
    item: {
      PUT: {
        api: mappingApi,
        operation: 'RestUpdateMapping',
        variables: (body, userId) => {
          onlyFields(body, MAPPING_FIELDS);
          requireFields(body, ['ipsubnet', 'starttime']);
          const terminalId = textField(body, 'terminalid', false);
          return {
            userId,
            choose: mappingChoice(body, true),
            // A full replace, except that an absent terminalid stays as it was (as Trisul does).
            input: {
              ipsubnet: textField(body, 'ipsubnet', true),
              starttime: requiredTimeField(body, 'starttime'),
              endtime: endTimeField(body),
              ...(terminalId === undefined ? {} : { terminalId }),
            },
          };
        },
        shape: mappingResult,
        requested: namedMapping,
      },
      DELETE: {
        api: mappingApi,
        operation: 'RestDeleteMapping',
        variables: (body, userId) => (
          onlyFields(body, ['id', 'ipdr_customer_id', 'ipsubnet']),
          { userId, choose: mappingChoice(body, false) }
        ),
        shape: mappingResult,
        requested: namedMapping,
      },
    },
  },
};
