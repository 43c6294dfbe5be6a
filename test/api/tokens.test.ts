import { db } from '../setup/app.js';
import { describe, expect, it } from 'vitest';
import { prisma } from '../setup/app.js';
import { hashToken } from '../../src/access/tokens.js';
import {
  AUTH_CACHE_MS,
  authenticate,
  bootstrapAccess,
  createToken,
  createUser,
  MAX_CONTEXT_ID,
  grantAccess,
} from '../../src/access/store.js';
import { yoga } from '../setup/app.js';
import { graphqlData } from '../helpers.js';
import { checkContextName, checkUsername } from '../../src/domain/names.js';
import { checkTokenExpiry } from '../../src/access/tokens.js';

async function call(token: string) {
  const response = await yoga.fetch('http://ipdr.test/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: '{ customers { totalCount } }' }),
  });
  return { status: response.status, body: await response.text() };
}

describe('tokens', () => {
  it('are random, URL-safe and long enough', async () => {
    await createUser(db, checkUsername('t-random'), false);
    const { token } = await createToken(db, 't-random');
    expect(token).toMatch(/^ipdr_[A-Za-z0-9_-]{43}$/);
    expect((await createToken(db, 't-random')).token).not.toBe(token);
  });

  it('are stored only as SHA-256 hashes', async () => {
    await createUser(db, checkUsername('t-hash'), false);
    const { token, record } = await createToken(db, 't-hash');
    expect(record.tokenHash).toBe(hashToken(token));
    const everything = JSON.stringify(await prisma.apiToken.findMany());
    expect(everything).not.toContain(token);
    expect(everything).not.toContain(token.slice(5, 25));
  });

  it('fail the same way when wrong, malformed, expired or revoked', async () => {
    await createUser(db, checkUsername('t-fail'), false);
    await grantAccess(db, 't-fail', 'default', false);
    const valid = (await createToken(db, 't-fail')).token;
    expect((await call(valid)).status).toBe(200);

    const expiring = await createToken(db, 't-fail', { expiresAt: checkTokenExpiry(new Date(Date.now() + 60_000)) });
    await prisma.apiToken.update({
      where: { id: expiring.record.id },
      data: { expiresAt: new Date(Date.now() - 1000) },
    });
    const revoked = await createToken(db, 't-fail');
    await graphqlData('mutation($id: Int!) { revokeToken(id: $id) { __typename } }', { id: revoked.record.id });

    const failures = await Promise.all(
      [`${valid}x`, valid.slice(0, -1), 'short', 'x'.repeat(300), expiring.token, revoked.token].map(call),
    );
    for (const failure of failures) expect(failure).toEqual(failures[0]);
    expect(failures[0]!.status).toBe(401);
    expect(JSON.parse(failures[0]!.body).errors[0].message).toBe('Invalid API token');
  });

  it('record when they were last used, at most once a minute', async () => {
    await createUser(db, checkUsername('t-used'), false);
    const { token, record } = await createToken(db, 't-used');
    const lastUsed = async () => (await prisma.apiToken.findUniqueOrThrow({ where: { id: record.id } })).lastUsedAt;
    expect(await lastUsed()).toBeNull();
    const start = new Date('2030-01-01T00:00:00Z');
    await authenticate(db, token, start);
    expect(await lastUsed()).toEqual(start);
    await authenticate(db, token, new Date(start.getTime() + 59_000));
    expect(await lastUsed()).toEqual(start);
    // (A caller is remembered for AUTH_CACHE_MS, so the write may come that much later.)
    const later = new Date(start.getTime() + 60_000 + AUTH_CACHE_MS);
    await authenticate(db, token, later);
    expect(await lastUsed()).toEqual(later);
  });

  it("can be a legacy caller's existing token, registered by an admin", async () => {
    await createUser(db, checkUsername('legacy'), false);
    await grantAccess(db, 'legacy', 'default', true);
    const legacy = 'a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6';
    const created = await graphqlData(
      'mutation($token: String) { createToken(username: "legacy", token: $token, label: "trisul") { __typename ... on CreatedToken { token apiToken { hint label } } } }',
      { token: legacy },
    );
    expect(created.createToken).toEqual({
      __typename: 'CreatedToken',
      token: legacy,
      apiToken: { hint: '…c5d6', label: 'trisul' },
    });
    expect((await call(legacy)).status).toBe(200);
    const again = await graphqlData(
      'mutation($token: String) { createToken(username: "legacy", token: $token) { __typename ... on AlreadyExistsError { field } } }',
      { token: legacy },
    );
    expect(again.createToken).toEqual({ __typename: 'AlreadyExistsError', field: 'token' });
    const bad = await graphqlData(
      'mutation { createToken(username: "legacy", token: "has spaces in it, twenty+") { __typename ... on ValidationError { field reason } } }',
    );
    expect(bad.createToken).toEqual({
      __typename: 'ValidationError',
      field: 'token',
      reason: 'may contain only letters, digits and . _ ~ -',
    });
  });
});

describe('admin API', () => {
  it('creates contexts, users, grants and tokens that work at once, and revokes them', async () => {
    const data = await graphqlData(`mutation {
      context: createContext(name: "isp2") { __typename ... on Context { name } }
      user: createUser(username: "ops") { __typename ... on ApiUser { username isAdmin } }
      grant: grantAccess(username: "ops", context: "isp2", canWrite: true) { __typename ... on Grant { canWrite context { name } } }
      token: createToken(username: "ops", label: "ops laptop") { __typename ... on CreatedToken { token apiToken { id readOnly user { username } } } }
    }`);
    expect(data.context).toEqual({ __typename: 'Context', name: 'isp2' });
    expect(data.user).toEqual({ __typename: 'ApiUser', username: 'ops', isAdmin: false });
    expect(data.grant).toEqual({ __typename: 'Grant', canWrite: true, context: { name: 'isp2' } });
    const { token, apiToken } = data.token;
    expect(apiToken).toMatchObject({ readOnly: false, user: { username: 'ops' } });
    expect((await call(token)).status).toBe(200);

    const listed = await graphqlData(
      '{ tokens(username: "ops") { id hint label } users { username grants { context { name } canWrite } } }',
    );
    expect(listed.tokens).toEqual([{ id: apiToken.id, hint: `ipdr_…${token.slice(-4)}`, label: 'ops laptop' }]);
    expect(JSON.stringify(listed)).not.toContain(token);
    expect(listed.users.find((u: any) => u.username === 'ops').grants).toEqual([
      { context: { name: 'isp2' }, canWrite: true },
    ]);

    await graphqlData('mutation { revokeAccess(username: "ops", context: "isp2") { __typename } }');
    expect(JSON.parse((await call(token)).body).errors[0].message).toMatch(/has no access to any context/);
    await graphqlData(`mutation { revokeToken(id: ${apiToken.id}) { __typename } }`);
    expect((await call(token)).status).toBe(401);
  });

  it('names what is wrong with bad input', async () => {
    const data = await graphqlData(`mutation {
      badName: createContext(name: "no spaces") { __typename ... on ValidationError { field } }
      taken: createContext(name: "default") { __typename ... on AlreadyExistsError { field value } }
      noUser: grantAccess(username: "ghost", context: "default") { __typename ... on NotFoundError { entity key } }
      noContext: grantAccess(username: "admin", context: "ghost") { __typename ... on NotFoundError { entity key } }
      past: createToken(username: "admin", expiresAt: "2000-01-01T00:00:00Z") { __typename ... on ValidationError { field reason } }
    }`);
    expect(data).toEqual({
      badName: { __typename: 'ValidationError', field: 'name' },
      taken: { __typename: 'AlreadyExistsError', field: 'name', value: 'default' },
      noUser: { __typename: 'NotFoundError', entity: 'user', key: 'ghost' },
      noContext: { __typename: 'NotFoundError', entity: 'context', key: 'ghost' },
      past: { __typename: 'ValidationError', field: 'expiresAt', reason: 'must be in the future' },
    });
  });
});

describe('context ids', () => {
  it('says so when the last context id is taken, and creates nothing', async () => {
    const sequence = "pg_get_serial_sequence('contexts', 'id')";
    const before = await prisma.context.count();
    await prisma.$queryRawUnsafe(`SELECT setval(${sequence}, ${MAX_CONTEXT_ID})`);
    try {
      const data = await graphqlData(
        'mutation { createContext(name: "one-too-many") { __typename ... on ValidationError { field reason } } }',
      );
      expect(data.createContext).toEqual({
        __typename: 'ValidationError',
        field: 'name',
        reason: `no more contexts can be created: context ids end at ${MAX_CONTEXT_ID}`,
      });
      expect(await prisma.context.count()).toBe(before);
    } finally {
      await prisma.$queryRawUnsafe(`SELECT setval(${sequence}, (SELECT max(id) FROM contexts))`);
    }
  });
});

describe('bootstrap', () => {
  it('leaves a database that has users alone', async () => {
    const before = await prisma.apiUser.count();
    expect(
      await bootstrapAccess(db, { contexts: [checkContextName('other')], adminUser: checkUsername('root') }),
    ).toBeNull();
    expect(await prisma.apiUser.count()).toBe(before);
    expect(await prisma.context.findUnique({ where: { name: 'other' } })).toBeNull();
  });
});
