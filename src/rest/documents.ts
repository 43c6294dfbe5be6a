// The GraphQL operations behind Trisul's REST endpoints (see endpoints.ts). Each is a named
// operation, so logs and metrics show which endpoint a request came through.

const CUSTOMER = 'id userId name address email phoneNumber altPhoneNumber';
const MAPPING = 'id ipsubnet starttime endtime terminalId customer { id userId }';
const CONFLICT = `... on ConflictError { conflictCount conflicts { ${MAPPING} } }`;
const ERRORS = '__typename ... on Error { message }';
const VALIDATION = '... on ValidationError { field reason }';
const AMBIGUOUS = '... on AmbiguousMappingError { candidateCount candidates { id ipsubnet } }';
// A failure's typed fields, which the REST layer words its answer from (errors.ts, failureOf).
const NOT_FOUND = '... on NotFoundError { entity key }';
const EXISTS = '... on AlreadyExistsError { entity field value }';
const BUSY = '... on BusyError { retryAfterSeconds }';

export const documents = {
  RestListCustomers: `query RestListCustomers($after: String) {
    page: customers(first: 250, after: $after) { pageInfo { hasNextPage endCursor } edges { node { ${CUSTOMER} } } }
  }`,
  RestCreateCustomer: `mutation RestCreateCustomer($input: CustomerInput!) {
    result: createCustomer(input: $input) { ${ERRORS} ${VALIDATION} ${EXISTS} ${BUSY} ... on Customer { ${CUSTOMER} } }
  }`,
  RestReplaceCustomer: `mutation RestReplaceCustomer($userId: String!, $id: Int, $input: CustomerInput!) {
    result: updateCustomer(userId: $userId, id: $id, input: $input) { ${ERRORS} ${VALIDATION} ${NOT_FOUND} ${EXISTS} ${BUSY} ... on Customer { ${CUSTOMER} } }
  }`,
  RestPatchCustomer: `mutation RestPatchCustomer($userId: String!, $id: Int, $input: CustomerPatch!) {
    result: patchCustomer(userId: $userId, id: $id, input: $input) { ${ERRORS} ${VALIDATION} ${NOT_FOUND} ${EXISTS} ${BUSY} ... on Customer { ${CUSTOMER} } }
  }`,
  RestDeleteCustomer: `mutation RestDeleteCustomer($userId: String!) {
    result: deleteCustomer(userId: $userId, cascade: true) { ${ERRORS} ${NOT_FOUND} ${BUSY} ... on Customer { ${CUSTOMER} } }
  }`,
  RestListMappings: `query RestListMappings($after: String) {
    page: mappings(first: 250, after: $after) { pageInfo { hasNextPage endCursor } edges { node { ${MAPPING} } } }
  }`,
  RestCreateMapping: `mutation RestCreateMapping($input: MappingInput!) {
    result: createMapping(input: $input) { ${ERRORS} ${VALIDATION} ${NOT_FOUND} ${BUSY} ${CONFLICT} ... on IpMapping { ${MAPPING} } }
  }`,
  RestUpdateMapping: `mutation RestUpdateMapping($userId: String!, $choose: MappingChoice, $input: MappingPatch!) {
    result: updateCustomerMapping(userId: $userId, choose: $choose, input: $input) { ${ERRORS} ${VALIDATION} ${NOT_FOUND} ${BUSY} ${CONFLICT} ${AMBIGUOUS} ... on IpMapping { ${MAPPING} } }
  }`,
  RestDeleteMapping: `mutation RestDeleteMapping($userId: String!, $choose: MappingChoice) {
    result: deleteCustomerMapping(userId: $userId, choose: $choose) { ${ERRORS} ${VALIDATION} ${NOT_FOUND} ${BUSY} ${AMBIGUOUS} ... on IpMapping { ${MAPPING} } }
  }`,
} as const;

export type OperationName = keyof typeof documents;
