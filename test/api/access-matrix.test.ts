import { db } from '../setup/app.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { prisma } from '../setup/app.js';
import { createContext, createToken, createUser, grantAccess } from '../../src/access/store.js';
import { yoga } from '../setup/app.js';
import { ADMIN_TOKEN } from '../setup/credentials.js';
import { checkContextName, checkUsername } from '../../src/domain/names.js';

// Two contexts, several callers; every tenant query and mutation is tried by each caller who
// should not get through. Refused requests must change nothing and reveal nothing.

const tokens: Record<string, string> = {};
let betaMappingId = 0;

async function send(token: string | null, query: string, variables: Record<string, unknown> = {}, context?: string) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (context) headers['x-context'] = context;
  const response = await yoga.fetch('http://ipdr.test/graphql', {
    method: 'POST',
    headers,
    body: JSON.stringify({ query, variables }),
  });
  return { status: response.status, body: (await response.json()) as { data?: any; errors?: any[] } };
}

/** Everything stored, except token use times (reading with a token may update those). */
async function snapshot(contextName?: string) {
  const where = contextName ? { context: { name: contextName } } : {};
  return JSON.stringify(
    await Promise.all([
      prisma.context.findMany({ orderBy: { id: 'asc' } }),
      prisma.customer.findMany({ where, orderBy: { id: 'asc' } }),
      prisma.ipMapping.findMany({
        where: contextName ? { customer: { context: { name: contextName } } } : {},
        orderBy: { id: 'asc' },
      }),
      prisma.auditEvent.findMany({ where, orderBy: { id: 'asc' } }),
      prisma.apiUser.findMany({ orderBy: { id: 'asc' } }),
      prisma.apiGrant.findMany({ orderBy: [{ userId: 'asc' }, { contextId: 'asc' }] }),
      prisma.apiToken.findMany({ orderBy: { id: 'asc' }, omit: { lastUsedAt: true } }),
    ]),
    (_key, value) => (typeof value === 'bigint' ? String(value) : value),
  );
}

const tenantQueries = () => [
  ['customer', '{ r: customer(userId: "SHARED") { id } }'],
  ['customers', '{ r: customers { totalCount edges { node { userId } } } }'],
  ['mapping', `{ r: mapping(id: ${betaMappingId}) { id } }`],
  ['mappings', '{ r: mappings { totalCount edges { node { id } } } }'],
  ['whoHad', '{ r: whoHad(ip: "198.51.100.7", at: 50) { id } }'],
  ['auditEvents', '{ r: auditEvents { totalCount edges { node { entityId } } } }'],
];

const tenantMutations = () => [
  ['createCustomer', 'mutation { r: createCustomer(input: { userId: "NEW", name: "N" }) { __typename } }'],
  [
    'updateCustomer',
    'mutation { r: updateCustomer(userId: "SHARED", input: { userId: "SHARED", name: "X" }) { __typename } }',
  ],
  ['patchCustomer', 'mutation { r: patchCustomer(userId: "SHARED", input: { name: "X" }) { __typename } }'],
  ['deleteCustomer', 'mutation { r: deleteCustomer(userId: "SHARED", cascade: true) { __typename } }'],
  [
    'createMapping',
    'mutation { r: createMapping(input: { userId: "SHARED", ipsubnet: "198.51.100.0/24", starttime: 0 }) { __typename } }',
  ],
  ['updateMapping', `mutation { r: updateMapping(id: ${betaMappingId}, input: { starttime: 1 }) { __typename } }`],
  ['deleteMapping', `mutation { r: deleteMapping(id: ${betaMappingId}) { __typename } }`],
  ['endMapping', `mutation { r: endMapping(id: ${betaMappingId}, at: 60) { __typename } }`],
  [
    'reassignMapping',
    'mutation { r: reassignMapping(ipsubnet: "198.51.100.0/24", toUserId: "SHARED", at: 70) { __typename } }',
  ],
];

const adminOperations = [
  ['users', '{ r: users { username } }'],
  ['tokens', '{ r: tokens { id } }'],
  ['createContext', 'mutation { r: createContext(name: "gamma") { __typename } }'],
  ['createUser', 'mutation { r: createUser(username: "mallory", isAdmin: true) { __typename } }'],
  ['grantAccess', 'mutation { r: grantAccess(username: "alice", context: "beta", canWrite: true) { __typename } }'],
  ['revokeAccess', 'mutation { r: revokeAccess(username: "bob", context: "beta") { __typename } }'],
  ['createToken', 'mutation { r: createToken(username: "bob") { __typename } }'],
  ['revokeToken', 'mutation { r: revokeToken(id: 1) { __typename } }'],
];

beforeAll(async () => {
  await createContext(db, checkContextName('alpha'));
  await createContext(db, checkContextName('beta'));
  for (const [user, context, canWrite] of [
    ['alice', 'alpha', true],
    ['bob', 'beta', true],
    ['carol', 'alpha', false],
  ] as const) {
    await createUser(db, checkUsername(user), false);
    await grantAccess(db, user, context, canWrite);
    tokens[user] = (await createToken(db, user)).token;
  }
  tokens.aliceReadOnly = (await createToken(db, 'alice', { readOnly: true })).token;
  await grantAccess(db, 'admin', 'alpha', true);
  await grantAccess(db, 'admin', 'beta', true);
  tokens.adminReadOnly = (await createToken(db, 'admin', { readOnly: true })).token;

  const asBob = async (query: string) => (await send(tokens.bob!, query)).body.data;
  await asBob('mutation { createCustomer(input: { userId: "SHARED", name: "Beta only" }) { __typename } }');
  const mapping = await asBob(
    'mutation { createMapping(input: { userId: "SHARED", ipsubnet: "198.51.100.0/24", starttime: 0 }) { ... on IpMapping { id } } }',
  );
  betaMappingId = mapping.createMapping.id;
  const asAlice = async (query: string) => (await send(tokens.alice!, query)).body.data;
  await asAlice('mutation { createCustomer(input: { userId: "A1", name: "Alpha one" }) { __typename } }');
  await asAlice(
    'mutation { createMapping(input: { userId: "A1", ipsubnet: "203.0.113.0/24", starttime: 0 }) { __typename } }',
  );
});

describe('without a valid token', () => {
  it.each([
    ['no token', null, /Missing API token/],
    ['an unknown token', 'ipdr_thisTokenWasNeverIssuedToAnyone', /^Invalid API token$/],
    ['a malformed header value', '', /Invalid API token/],
  ])('refuses every operation with %s (401) and changes nothing', async (_case, token, message) => {
    const before = await snapshot();
    for (const [name, query] of [...tenantQueries(), ...tenantMutations(), ...adminOperations]) {
      const { status, body } = await send(token, query!);
      expect(status, name).toBe(401);
      expect(body.data, name).toBeUndefined();
      expect(body.errors?.[0].message, name).toMatch(message);
      expect(body.errors?.[0].extensions.code, name).toBe('UNAUTHENTICATED');
    }
    expect(await snapshot()).toBe(before);
  });
});

describe('in a context the caller has no grant for', () => {
  it('refuses every tenant operation, naming the context', async () => {
    const before = await snapshot();
    for (const [name, query] of [...tenantQueries(), ...tenantMutations()]) {
      const { body } = await send(tokens.alice!, query!, {}, 'beta');
      expect(body.data?.r ?? null, name).toBeNull();
      expect(body.errors?.[0].message, name).toBe('The user (alice) is not allowed to access the context beta');
      expect(body.errors?.[0].extensions.code, name).toBe('FORBIDDEN');
    }
    expect(await snapshot()).toBe(before);
  });

  it('says when the context does not exist at all', async () => {
    const { body } = await send(tokens.alice!, '{ customers { totalCount } }', {}, 'nonexistent');
    expect(body.errors?.[0].message).toBe('Invalid Context name - nonexistent');
  });
});

describe("another context's records", () => {
  it('are invisible: reads come back empty or null, and nothing reveals that they exist', async () => {
    const results = Object.fromEntries(
      await Promise.all(tenantQueries().map(async ([name, query]) => [name, (await send(tokens.alice!, query!)).body])),
    );
    expect(results.customer).toEqual({ data: { r: null } });
    expect(results.mapping).toEqual({ data: { r: null } });
    expect(results.whoHad).toEqual({ data: { r: null } });
    expect(results.customers.data.r.edges.map((e: any) => e.node.userId)).toEqual(['A1']);
    expect(results.mappings.data.r.totalCount).toBe(1);
    expect(results.auditEvents.data.r.totalCount).toBe(2);
  });

  it('cannot be changed: each mutation answers NotFoundError, exactly as for a record that never existed', async () => {
    const before = await snapshot('beta');
    for (const [name, query] of tenantMutations().filter(([name]) => name !== 'createCustomer')) {
      const { body } = await send(tokens.alice!, query!);
      expect(body.errors, name).toBeUndefined();
      expect(body.data.r.__typename, name).toBe('NotFoundError');
    }
    expect(await snapshot('beta')).toBe(before);
  });
});

describe('with read access only', () => {
  it.each([
    ['a read-only token', 'aliceReadOnly', 'This API token is read-only'],
    ['a read grant', 'carol', 'The user (carol) may only read in the context alpha'],
  ])('%s reads, and every mutation is refused', async (_case, who, message) => {
    const before = await snapshot();
    for (const [name, query] of tenantQueries()) {
      const { body } = await send(tokens[who]!, query!);
      expect(body.errors, name).toBeUndefined();
    }
    for (const [name, query] of tenantMutations()) {
      const { body } = await send(tokens[who]!, query!);
      expect(body.data?.r ?? null, name).toBeNull();
      expect(body.errors?.[0].message, name).toBe(message);
    }
    expect(await snapshot()).toBe(before);
  });
});

describe('admin operations', () => {
  it('are refused to non-admins, who see only their own contexts', async () => {
    const before = await snapshot();
    for (const [name, query] of adminOperations) {
      const { body } = await send(tokens.alice!, query!);
      expect(body.errors?.[0].message, name).toBe('The user (alice) is not an admin');
    }
    expect(await snapshot()).toBe(before);
    const { body } = await send(tokens.alice!, '{ contexts { name } }');
    expect(body.data.contexts).toEqual([{ name: 'alpha' }]);
  });

  it('need a writable token to change anything', async () => {
    const before = await snapshot();
    for (const [name, query] of adminOperations.filter(([, query]) => query!.startsWith('mutation'))) {
      const { body } = await send(tokens.adminReadOnly!, query!);
      expect(body.errors?.[0].message, name).toBe('This API token is read-only');
    }
    expect(await snapshot()).toBe(before);
  });

  it('need no context; tenant operations without X-Context act in default, which the admin may use', async () => {
    const users = await send(ADMIN_TOKEN, '{ users { username } }');
    expect(users.body.data.users.map((u: any) => u.username)).toEqual(['admin', 'alice', 'bob', 'carol']);
    const unnamed = await send(ADMIN_TOKEN, '{ customers { totalCount } }');
    expect(unnamed.body.errors).toBeUndefined();
    expect(unnamed.body.data.customers.totalCount).toBe(0);
    const named = await send(ADMIN_TOKEN, '{ customers { totalCount } }', {}, 'beta');
    expect(named.body.data.customers.totalCount).toBe(1);
  });

  it('let an admin use a context it has just created, at once', async () => {
    const created = await send(ADMIN_TOKEN, 'mutation { createContext(name: "delta") { __typename } }');
    expect(created.body.data.createContext.__typename).toBe('Context');
    const write = await send(
      ADMIN_TOKEN,
      'mutation { createCustomer(input: { userId: "D1", name: "Delta one" }) { __typename } }',
      {},
      'delta',
    );
    expect(write.body.data.createCustomer.__typename).toBe('Customer');
    const read = await send(ADMIN_TOKEN, '{ customers { totalCount } }', {}, 'delta');
    expect(read.body.data.customers.totalCount).toBe(1);
    const readOnly = await send(
      tokens.adminReadOnly!,
      'mutation { createCustomer(input: { userId: "D2", name: "Delta two" }) { __typename } }',
      {},
      'delta',
    );
    expect(readOnly.body.errors?.[0].message).toBe('This API token is read-only');
  });
});

describe('a caller that names no context', () => {
  it('acts in default once a second context is added, and in its only context otherwise', async () => {
    await createUser(db, checkUsername('dora'), false);
    await grantAccess(db, 'dora', 'default', true);
    const dora = (await createToken(db, 'dora')).token;
    const before = await send(dora, 'mutation { createCustomer(input: { userId: "DORA", name: "D" }) { __typename } }');
    expect(before.body.data.createCustomer.__typename).toBe('Customer');
    await grantAccess(db, 'dora', 'alpha', false);
    const after = await send(dora, '{ customer(userId: "DORA") { userId } }');
    expect(after.body).toEqual({ data: { customer: { userId: 'DORA' } } });
    const onlyAlpha = await send(tokens.alice!, '{ customers { totalCount } }');
    expect(onlyAlpha.body.data.customers.totalCount).toBe(1);
  });

  it('must name one when it has several and default is not among them', async () => {
    await createUser(db, checkUsername('ezra'), false);
    await grantAccess(db, 'ezra', 'alpha', false);
    await grantAccess(db, 'ezra', 'beta', false);
    const ezra = (await createToken(db, 'ezra')).token;
    const { status, body } = await send(ezra, '{ customers { totalCount } }');
    expect(status).toBe(403);
    expect(body.errors?.[0].message).toBe('Name a context in the X-Context header; ezra may use alpha, beta');
  });
});

describe('the audit trail', () => {
  it('records the real user and the channel', async () => {
    const { body } = await send(tokens.bob!, '{ auditEvents { edges { node { actor channel action entityType } } } }');
    expect(body.data.auditEvents.edges.map((e: any) => e.node)).toEqual([
      { actor: 'bob', channel: 'graphql', action: 'create', entityType: 'customer' },
      { actor: 'bob', channel: 'graphql', action: 'create', entityType: 'mapping' },
    ]);
  });
});
