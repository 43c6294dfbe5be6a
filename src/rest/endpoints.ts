import type { OperationName } from './documents.js';
import { type ApiStatuses, customerApi, mappingApi } from './errors.js';
import { type Body, endTimeField, idField, onlyFields, requireFields, textField, timeField } from './requests.js';
import { type CustomerData, type MappingData, type RequestedMapping, customerJson, mappingJson } from './shapes.js';

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
  /** For a create: what was asked for, to tell a duplicate from an overlap. */
  requested?(body: Body): RequestedMapping | null;
}

export interface Resource {
  collection: Partial<Record<Method, Endpoint>>;
  item: Partial<Record<Method, Endpoint>>;
}

const CUSTOMER_FIELDS = ['UserID', 'Name', 'Address', 'Email', 'PhoneNumber', 'AltPhoneNumber'] as const;

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
 * A mapping request names the customer; `id` or `ipsubnet` may say which of its mappings. In a
 * PUT the ipsubnet is also the new value, so it only picks among several mappings.
 */
function mappingChoice(body: Body, ipsubnetIsNewValue: boolean) {
  const id = idField(body);
  if (id !== undefined) return { id };
  const ipsubnet = textField(body, 'ipsubnet', false);
  if (!ipsubnet) return null;
  return ipsubnetIsNewValue ? { ipsubnetHint: ipsubnet } : { ipsubnet };
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
          onlyFields(body, CUSTOMER_FIELDS);
          requireFields(body, CUSTOMER_FIELDS);
          return { userId, input: customerInput(body, true) };
        },
        shape: customerResult,
      },
      PATCH: {
        api: customerApi,
        operation: 'RestPatchCustomer',
        variables: (body, userId) => (onlyFields(body, CUSTOMER_FIELDS), { userId, input: customerInput(body, false) }),
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
              starttime: timeField(body, 'starttime') ?? requireFields(body, ['starttime']),
              endtime: endTimeField(body),
              terminalId: textField(body, 'terminalid', false),
            },
          };
        },
        shape: mappingResult,
        requested: (body) => {
          const start = Number(body.starttime);
          const end = endTimeField(body);
          return {
            userId: String(body.UserID),
            ipsubnet: String(body.ipsubnet),
            starttime: start,
            endtime: end === null ? null : Number(end),
          };
        },
      },
    },
    item: {
      PUT: {
        api: mappingApi,
        operation: 'RestUpdateMapping',
        variables: (body, userId) => {
          onlyFields(body, ['id', 'ipsubnet', 'starttime', 'endtime', 'terminalid']);
          requireFields(body, ['ipsubnet', 'starttime']);
          const terminalId = textField(body, 'terminalid', false);
          return {
            userId,
            choose: mappingChoice(body, true),
            // A full replace, except that an absent terminalid stays as it was (as Trisul does).
            input: {
              ipsubnet: textField(body, 'ipsubnet', true),
              starttime: timeField(body, 'starttime'),
              endtime: endTimeField(body),
              ...(terminalId === undefined ? {} : { terminalId }),
            },
          };
        },
        shape: mappingResult,
      },
      DELETE: {
        api: mappingApi,
        operation: 'RestDeleteMapping',
        variables: (body, userId) => (
          onlyFields(body, ['id', 'ipsubnet']),
          { userId, choose: mappingChoice(body, false) }
        ),
        shape: mappingResult,
      },
    },
  },
};
