import { parse } from 'csv-parse/sync';
import { beforeAll, describe, expect, it } from 'vitest';
import { nowUnixTime } from '../../src/domain/time.js';
import { createCustomer, createMapping, graphql, graphqlData, resetData } from '../helpers.js';
import { yoga } from '../setup/app.js';
import { ADMIN_TOKEN } from '../setup/credentials.js';

// Answers as known at a past system time: create, look up, correct, delete, recreate; every
// earlier answer comes back exactly when asked `asOf` the second it was given, through whoHad,
// whoHadMany, ipHistory and POST /attribute alike, and the current answer stays the current records'.

const ADDRESS = '10.77.0.9';
const SHARED = '203.0.113.90';
const INSIDE = '100.64.77.1';

/** Waits for the next second: what is written from here on is not known as at the seconds before. */
async function nextSecond() {
  const second = nowUnixTime();
  while (nowUnixTime() === second) await new Promise((resolve) => setTimeout(resolve, 20));
}

const WHO_HAD = `query($ip: IPAddress!, $at: UnixTime, $port: Int, $asOf: UnixTime) {
  whoHad(ip: $ip, at: $at, port: $port, asOf: $asOf) { id starttime endtime customer { userId name } nat { id portLast } } }`;

const whoHad = async (variables: Record<string, unknown>) => (await graphqlData(WHO_HAD, variables)).whoHad;

const attributed = async (asOf: number | null) => {
  const response = await yoga.fetch(
    `http://ipdr.test/attribute?reason=CASE-AS-OF${asOf === null ? '' : `&asOf=${asOf}`}`,
    {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'text/csv' },
      body: `ip,time,port\n${ADDRESS},150,\n${SHARED},150,5000\n`,
    },
  );
  expect(response.status).toBe(200);
  return (parse(await response.text(), { columns: true }) as Record<string, string>[]).map((row) => ({
    userid: row.userid,
    name: row.name,
    mapping_id: row.mapping_id,
    nat_port_last: row.nat_port_last,
  }));
};

interface HistoryPage {
  totalCount: number;
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; endCursor: string; startCursor: string };
  edges: { node: { id: number; starttime: number; endtime: number | null } }[];
}

/** What each channel answers at 150, as known at `asOf` (null: the current records). */
async function answersAsOf(asOf: number | null) {
  const direct = await whoHad({ ip: ADDRESS, at: 150, asOf });
  const shared = await whoHad({ ip: SHARED, at: 150, port: 5000, asOf });
  const many = await graphqlData(
    `query($asOf: UnixTime) { whoHadMany(ips: ["${ADDRESS}", "${SHARED}"], ats: [150, 150], ports: [null, 5000], asOf: $asOf) {
      id starttime endtime customer { userId name } nat { id portLast } } }`,
    { asOf },
  );
  const history = await graphqlData(
    `query($asOf: UnixTime) {
      own: ipHistory(ip: "10.77.0.0/24", asOf: $asOf, reason: "CASE-AS-OF") {
        totalCount edges { node { id starttime endtime customer { userId name } } } }
      shared: ipHistory(ip: "${SHARED}", port: 5000, asOf: $asOf) {
        totalCount edges { node { id customer { userId } natHops { id portFirst portLast starttime endtime } } } } }`,
    { asOf },
  );
  return {
    single: [direct, shared],
    many: many.whoHadMany,
    attributed: await attributed(asOf),
    history: [history.own, history.shared],
  };
}

beforeAll(async () => {
  await resetData();
  await createCustomer('U-1', 'First Name');
  await createCustomer('U-INSIDE', 'Inside Subscriber');
  await createMapping({ userId: 'U-INSIDE', ipsubnet: INSIDE, starttime: 0 });
});

describe('as known at', () => {
  it('reproduces every earlier answer asOf its second, after corrections, deletion and recreation', async () => {
    const seen: { second: number; answers: Awaited<ReturnType<typeof answersAsOf>> }[] = [];
    const record = async () => {
      const answers = await answersAsOf(null);
      seen.push({ second: nowUnixTime(), answers });
      await nextSecond();
      return answers;
    };

    // Created: U-1 holds the address, the inside subscriber the shared address's port block.
    const created = await createMapping({ userId: 'U-1', ipsubnet: ADDRESS, starttime: 100 });
    const binding = await graphqlData(
      `mutation($input: NatBindingInput!) { createNatBinding(input: $input) { __typename ... on NatBinding { id } } }`,
      { input: { publicAddress: SHARED, portFirst: 4096, portLast: 8191, insideAddress: INSIDE, starttime: 100 } },
    );
    const first = await record();
    expect(first.single[0]).toMatchObject({ id: created.id, customer: { userId: 'U-1', name: 'First Name' } });
    expect(first.single[1]).toMatchObject({ customer: { userId: 'U-INSIDE' }, nat: { portLast: 8191 } });

    // Corrected: the customer renamed, the mapping's start moved, the binding's block narrowed.
    await graphqlData(
      `mutation { updateCustomer(userId: "U-1", input: { userId: "U-1", name: "Second Name" }) { __typename } }`,
    );
    const moved = await graphqlData(
      `mutation($id: Int!) { updateMapping(id: $id, input: { starttime: 120 }) { __typename } }`,
      { id: created.id },
    );
    expect(moved.updateMapping.__typename).toBe('IpMapping');
    const ended = await graphqlData(`mutation($id: Int!) { endNatBinding(id: $id, at: 149) { __typename } }`, {
      id: binding.createNatBinding.id,
    });
    expect(ended.endNatBinding.__typename).toBe('NatBinding');
    const corrected = await record();
    expect(corrected.single[0]).toMatchObject({ starttime: 120, customer: { name: 'Second Name' } });
    expect(corrected.single[1]).toBeNull();

    // Deleted: nobody holds the address.
    await graphqlData(`mutation($id: Int!) { deleteMapping(id: $id) { __typename } }`, { id: created.id });
    const deleted = await record();
    expect(deleted.single[0]).toBeNull();

    // Recreated, for another customer.
    await createCustomer('U-2', 'Other Customer');
    const recreated = await createMapping({ userId: 'U-2', ipsubnet: ADDRESS, starttime: 140 });
    const last = await record();
    expect(last.single[0]).toMatchObject({ id: recreated.id, customer: { userId: 'U-2' } });

    expect(new Set(seen.map((one) => JSON.stringify(one.answers))).size).toBe(seen.length);
    for (const { second, answers } of seen) expect(await answersAsOf(second), `as of ${second}`).toEqual(answers);
    // Without asOf, the current records.
    expect(await answersAsOf(null)).toEqual(last);
  });

  it('pages an ipHistory as known at a past second as it paged then, forward and back', async () => {
    await createCustomer('U-PAGES', 'Pages Customer');
    const created = [];
    for (let host = 1; host <= 5; host++) {
      created.push(await createMapping({ userId: 'U-PAGES', ipsubnet: `10.78.0.${host}`, starttime: 10 * host }));
    }
    // Every page of two, walked forward with after and back with before, and the total.
    const walk = async (asOf: number | null) => {
      const query = `query($asOf: UnixTime, $first: Int, $after: String, $last: Int, $before: String) {
        ipHistory(ip: "10.78.0.0/24", asOf: $asOf, first: $first, after: $after, last: $last, before: $before) {
          totalCount pageInfo { hasNextPage hasPreviousPage endCursor startCursor }
          edges { node { id starttime endtime } } } }`;
      const forward: HistoryPage[] = [];
      let after: string | null = null;
      do {
        const page: HistoryPage = (await graphqlData(query, { asOf, first: 2, after })).ipHistory;
        forward.push(page);
        after = page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null;
      } while (after !== null && forward.length < 10);
      const backward: HistoryPage[] = [];
      let before: string | null = null;
      do {
        const page: HistoryPage = (await graphqlData(query, { asOf, last: 2, before })).ipHistory;
        backward.push(page);
        before = page.pageInfo.hasPreviousPage ? page.pageInfo.startCursor : null;
      } while (before !== null && backward.length < 10);
      return { forward, backward };
    };
    const then = await walk(null);
    expect(then.forward.map((page) => page.edges.map((edge) => edge.node.id))).toEqual([
      [created[0]!.id, created[1]!.id],
      [created[2]!.id, created[3]!.id],
      [created[4]!.id],
    ]);
    const second = nowUnixTime();
    await nextSecond();

    // Corrected since: one moved to the end of the timeline, one ended, one deleted.
    await graphqlData(`mutation($id: Int!) { updateMapping(id: $id, input: { starttime: 100 }) { __typename } }`, {
      id: created[0]!.id,
    });
    await graphqlData(`mutation($id: Int!) { endMapping(id: $id, at: 35) { __typename } }`, { id: created[2]!.id });
    await graphqlData(`mutation($id: Int!) { deleteMapping(id: $id) { __typename } }`, { id: created[3]!.id });
    const now = await walk(null);
    expect(now).not.toEqual(then);
    expect(now.forward[0]!.totalCount).toBe(4);

    expect(await walk(second)).toEqual(then);
    expect(await walk(null)).toEqual(now);
  });

  it('logs an ipHistory asked asOf with its asOf', async () => {
    const asOf = nowUnixTime();
    await graphqlData(
      `query($asOf: UnixTime) { ipHistory(ip: "${ADDRESS}", asOf: $asOf, reason: "CASE-HISTORY-AS-OF") { totalCount } }`,
      { asOf },
    );
    const log = await graphqlData(
      `{ lookupLog(reason: "CASE-HISTORY-AS-OF") { edges { node { operation lookups detail } } } }`,
    );
    expect(log.lookupLog.edges.map((edge: { node: unknown }) => edge.node)).toEqual([
      { operation: 'ipHistory', lookups: 1, detail: { asked: [{ ip: ADDRESS, from: null, to: null }], asOf } },
    ]);
  });

  it('refuses an asOf after now or before the database kept versions, naming asOf', async () => {
    for (const asOf of [nowUnixTime() + 3600, 1]) {
      const response = await graphql(WHO_HAD, { ip: ADDRESS, at: 150, asOf });
      expect(response.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'asOf' });
      expect(response.data?.whoHad ?? null).toBeNull();
    }
    for (const asOf of [nowUnixTime() + 3600, 1]) {
      const response = await graphql(
        `query($asOf: UnixTime) { ipHistory(ip: "${ADDRESS}", asOf: $asOf) { totalCount edges { node { id } } } }`,
        { asOf },
      );
      expect(response.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'asOf' });
      expect(response.data?.ipHistory ?? null).toBeNull();
    }
    for (const asOf of ['1', 'yesterday', String(nowUnixTime() + 3600)]) {
      const response = await yoga.fetch(`http://ipdr.test/attribute?reason=CASE-AS-OF&asOf=${asOf}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'text/csv' },
        body: `ip,time\n${ADDRESS},150\n`,
      });
      expect(response.status, asOf).toBe(400);
      expect((await response.json()).errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'asOf' });
    }
  });
});
