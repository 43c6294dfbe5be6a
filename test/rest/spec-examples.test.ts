import { db } from '../setup/app.js';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createContext, createToken, createUser, grantAccess, revokeAccess } from '../../src/access/store.js';
import { resetData } from '../helpers.js';
import { type FixtureCall, fixturePages, rest, seedCustomer, seedMapping } from './helpers.js';
import { checkContextName, checkUsername } from '../../src/domain/names.js';
import { checkTokenFormat } from '../../src/access/tokens.js';

// Every documented call of Trisul's API pages, as the project's fixtures record them
// (test/fixtures/trisul-api/: request, the state the page implies, and the response), replayed
// with the exact response. fixtures-match-spec.test.ts checks the fixtures against the pages.

// The pages' own tokens, of the pages' user.
const CUSTOMER_TOKEN = 'GiXwBWWv5g2Fs6QeaTlx';
const MAPPING_TOKEN = 'JhgyS1Tyb01ZH1Q4FIMT';

beforeAll(async () => {
  await createContext(db, checkContextName('ipdr'));
  await createUser(db, checkUsername('user'), false);
  await grantAccess(db, 'user', 'default', true);
  await grantAccess(db, 'user', 'ipdr', true);
  await createToken(db, 'user', { token: checkTokenFormat(CUSTOMER_TOKEN) });
  await createToken(db, 'user', { token: checkTokenFormat(MAPPING_TOKEN) });
});

let revoked: FixtureCall['given']['revokedAccess'] = [];
afterEach(async () => {
  for (const { username, context } of revoked ?? []) await grantAccess(db, username, context, true);
  revoked = [];
});

async function arrange(given: FixtureCall['given']) {
  await resetData(given.nextIds);
  for (const { context, id, ...fields } of given.customers ?? []) await seedCustomer(id, fields, context);
  for (const m of given.mappings ?? []) {
    await seedMapping(m.id, m.ipdr_customer_id, m.ipsubnet, m.starttime, m.endtime, m.terminalid, m.context);
  }
  revoked = given.revokedAccess ?? [];
  for (const { username, context } of revoked) await revokeAccess(db, username, context);
}

describe.each(fixturePages())('%s', (_file, { calls }) => {
  it.each(calls.map((call) => [`${call.title}: ${call.request.method} ${call.request.path}`, call] as const))(
    '%s',
    async (_name, call) => {
      await arrange(call.given);
      const response = await rest(call.request.method, call.request.path, call.request.body);
      expect(response.status).toBe(call.response.status);
      expect(response.body).toEqual(call.response.body);
      // A documented response lists keys in Trisul's order; compare the text too, not only the values.
      expect(response.text).toBe(JSON.stringify(call.response.body));
    },
  );
});

it('the username sent must be the token’s', async () => {
  const response = await rest('GET', '/api/ipdrcustomers', {
    api_token: CUSTOMER_TOKEN,
    username: 'someone',
    contextname: 'default',
  });
  expect(response).toMatchObject({ status: 200, body: { status: 'ERROR', message: 'Invalid API token' } });
});
