import { describe, expect, it } from 'vitest';
import { parseIpAddress, parseIpSubnet } from '../../src/domain/ip.js';
import {
  type AccountingInput,
  type AccountingPlan,
  type AccountingRules,
  type EventOutcome,
  isInferredEnd,
  planAccounting,
  snapshotNeeds,
} from '../../src/domain/radius-session.js';
import {
  NAS_A,
  NAS_B,
  PlanStore,
  type SessionEventSpec,
  type StaticMapping,
  nasEvent,
  sessionEvent,
  sessionKeyOf,
} from './radius-model.js';

// One example per rule of the comment above planAccounting, each planned from a store holding
// the whole state and applied to it; radius-session.property.test.ts checks the same rules on
// random histories against an independent model.

const rules: AccountingRules = { sessionTimeout: 3600 };

const alice: SessionEventSpec = { user: 'alice', sid: 'a-1', addresses: ['100.64.0.1'] };
const bob: SessionEventSpec = { user: 'bob', sid: 'b-1', addresses: ['100.64.0.2'] };

function staticMapping(
  id: number,
  subnet: string,
  start: number,
  end: number | null,
  userId = 'static-1',
): StaticMapping {
  return { id, userId, subnet: parseIpSubnet(subnet), start, end };
}

/** Plans each input on its own, from the whole state, and applies the plan. */
function run(store: PlanStore, ...inputs: AccountingInput[]): EventOutcome[] {
  return inputs.flatMap((input) => {
    const plan = planAccounting(store.snapshot(), [input], rules);
    store.apply(plan);
    return plan.outcomes;
  });
}

function planOnce(store: PlanStore, ...inputs: AccountingInput[]): AccountingPlan {
  const plan = planAccounting(store.snapshot(), inputs, rules);
  store.apply(plan);
  return plan;
}

const mappingsOf = (store: PlanStore, spec: SessionEventSpec) =>
  store.holdingsOf(sessionKeyOf(spec)).map(({ subnet, start, end, endKind, userId }) => ({
    subnet: subnet.network,
    start,
    end,
    endKind,
    userId,
  }));

const sessionOf = (store: PlanStore, spec: SessionEventSpec) => {
  const session = store.sessionByKey(sessionKeyOf(spec));
  if (!session) throw new Error(`no session ${sessionKeyOf(spec)}`);
  return session;
};

const owner = (store: PlanStore, address: string, at: number) =>
  store.holders(parseIpAddress(address), at).map((holding) => store.ownerOf(holding));

describe('Start', () => {
  it('begins the session at the event time, each address a mapping from then, ongoing', () => {
    const store = new PlanStore();
    const plan = planOnce(
      store,
      sessionEvent('Start', 1000, { ...alice, addresses: ['100.64.0.1', '2001:db8:1::/56'], nas: NAS_B }),
    );
    expect(plan.outcomes).toEqual(['applied']);
    expect(plan.customers).toEqual(['alice']);
    expect(plan.sessions).toHaveLength(1);
    const [session] = plan.sessions;
    expect(session!.id).toBeLessThan(0);
    expect(plan.holdings.map((holding) => holding.sessionId)).toEqual([session!.id, session!.id]);
    expect(plan.holdings.every((holding) => holding.id < 0)).toBe(true);
    expect(sessionOf(store, { ...alice, nas: NAS_B })).toMatchObject({
      userName: 'alice',
      acctSessionId: 'a-1',
      nasKey: NAS_B.key,
      nasIpAddress: NAS_B.ipAddress,
      nasIdentifier: NAS_B.identifier,
      startedAt: 1000,
      lastSeen: 1000,
      endedAt: null,
      endKind: null,
    });
    expect(mappingsOf(store, { ...alice, nas: NAS_B })).toEqual([
      { subnet: '100.64.0.1/32', start: 1000, end: null, endKind: null, userId: 'alice' },
      { subnet: '2001:db8:1::/56', start: 1000, end: null, endKind: null, userId: 'alice' },
    ]);
    expect(plan.conflicts).toEqual([]);
  });

  it('of a known session is a duplicate that changes nothing', () => {
    const store = new PlanStore();
    run(store, sessionEvent('Start', 1000, alice));
    const plan = planOnce(store, sessionEvent('Start', 1005, { ...alice, addresses: ['100.64.0.9'] }));
    expect(plan.outcomes).toEqual(['duplicate']);
    expect(plan.sessions).toEqual([]);
    expect(plan.holdings).toEqual([]);
    expect(mappingsOf(store, alice)).toEqual([
      { subnet: '100.64.0.1/32', start: 1000, end: null, endKind: null, userId: 'alice' },
    ]);
  });

  it('and its retransmission in the same batch: applied once, then a duplicate', () => {
    const store = new PlanStore();
    const plan = planOnce(store, sessionEvent('Start', 1000, alice), sessionEvent('Start', 1000, alice));
    expect(plan.outcomes).toEqual(['applied', 'duplicate']);
    expect(plan.sessions).toHaveLength(1);
    expect(plan.holdings).toHaveLength(1);
  });
});

describe('Interim-Update', () => {
  it('of an unknown session stands for its lost Start, begun at the event time − Acct-Session-Time', () => {
    const store = new PlanStore();
    expect(run(store, sessionEvent('Interim-Update', 5000, { ...alice, sessionTime: 900 }))).toEqual(['applied']);
    expect(sessionOf(store, alice)).toMatchObject({ startedAt: 4100, lastSeen: 5000, endedAt: null });
    expect(mappingsOf(store, alice)).toEqual([
      { subnet: '100.64.0.1/32', start: 4100, end: null, endKind: null, userId: 'alice' },
    ]);
    // The Start arriving after it is a duplicate.
    expect(run(store, sessionEvent('Start', 4100, alice))).toEqual(['duplicate']);
  });

  it('moves last-seen on, and one no newer than last-seen is a duplicate', () => {
    const store = new PlanStore();
    run(
      store,
      sessionEvent('Start', 1000, alice),
      sessionEvent('Interim-Update', 1900, { ...alice, sessionTime: 900 }),
    );
    expect(sessionOf(store, alice).lastSeen).toBe(1900);
    expect(run(store, sessionEvent('Interim-Update', 1300, { ...alice, sessionTime: 300 }))).toEqual(['duplicate']);
    expect(run(store, sessionEvent('Interim-Update', 1900, { ...alice, sessionTime: 900 }))).toEqual(['duplicate']);
    expect(sessionOf(store, alice).lastSeen).toBe(1900);
  });

  it('that lists other addresses ends the old mapping just before it and opens the new one from then', () => {
    const store = new PlanStore();
    run(
      store,
      sessionEvent('Start', 1000, { ...alice, addresses: ['100.64.0.1', '2001:db8:1::/56'] }),
      sessionEvent('Interim-Update', 2000, {
        ...alice,
        addresses: ['100.64.0.7', '2001:db8:1::/56'],
        sessionTime: 1000,
      }),
    );
    expect(mappingsOf(store, alice)).toEqual([
      { subnet: '100.64.0.1/32', start: 1000, end: 1999, endKind: 'ADDRESS_CHANGED', userId: 'alice' },
      { subnet: '2001:db8:1::/56', start: 1000, end: null, endKind: null, userId: 'alice' },
      { subnet: '100.64.0.7/32', start: 2000, end: null, endKind: null, userId: 'alice' },
    ]);
    expect(isInferredEnd('ADDRESS_CHANGED')).toBe(true);
    // One that lists no address says nothing about them.
    run(store, sessionEvent('Interim-Update', 2900, { ...alice, addresses: [], sessionTime: 1900 }));
    expect(mappingsOf(store, alice).filter((mapping) => mapping.end === null)).toHaveLength(2);
  });

  it('reopens a session that had timed out, and its mappings', () => {
    const store = new PlanStore();
    run(store, sessionEvent('Start', 1000, alice), { kind: 'sweep', at: 1000 + 3601 });
    expect(sessionOf(store, alice)).toMatchObject({ endedAt: 1000, endKind: 'TIMED_OUT' });
    expect(mappingsOf(store, alice)).toEqual([
      { subnet: '100.64.0.1/32', start: 1000, end: 1000, endKind: 'TIMED_OUT', userId: 'alice' },
    ]);
    expect(run(store, sessionEvent('Interim-Update', 6000, { ...alice, sessionTime: 5000 }))).toEqual(['applied']);
    expect(sessionOf(store, alice)).toMatchObject({ startedAt: 1000, lastSeen: 6000, endedAt: null, endKind: null });
    expect(mappingsOf(store, alice)).toEqual([
      { subnet: '100.64.0.1/32', start: 1000, end: null, endKind: null, userId: 'alice' },
    ]);
  });

  it('reopening stops short of a mapping that began on the address since (SUPERSEDED)', () => {
    const store = new PlanStore();
    run(
      store,
      sessionEvent('Start', 1000, alice),
      { kind: 'sweep', at: 1000 + 3601 },
      sessionEvent('Start', 3000, { ...bob, addresses: ['100.64.0.1'] }),
      sessionEvent('Interim-Update', 6000, { ...alice, addresses: [], sessionTime: 5000 }),
    );
    expect(sessionOf(store, alice)).toMatchObject({ endedAt: null, lastSeen: 6000 });
    expect(mappingsOf(store, alice)).toEqual([
      { subnet: '100.64.0.1/32', start: 1000, end: 2999, endKind: 'SUPERSEDED', userId: 'alice' },
    ]);
    expect(owner(store, '100.64.0.1', 6000)).toEqual([`session:${sessionKeyOf(bob)}`]);
  });

  it('after a reported or other inferred end is stale', () => {
    const store = new PlanStore();
    run(store, sessionEvent('Start', 1000, alice), sessionEvent('Stop', 2000, { ...alice, sessionTime: 1000 }));
    expect(run(store, sessionEvent('Interim-Update', 3000, { ...alice, sessionTime: 2000 }))).toEqual(['stale']);
    run(store, sessionEvent('Start', 1000, bob), nasEvent('Accounting-On', 1500));
    expect(run(store, sessionEvent('Interim-Update', 1800, { ...bob, sessionTime: 800 }))).toEqual(['stale']);
    expect(mappingsOf(store, bob)).toEqual([
      { subnet: '100.64.0.2/32', start: 1000, end: 1500, endKind: 'NAS_RESTARTED', userId: 'bob' },
    ]);
  });
});

describe('Stop', () => {
  it('ends the session and its mappings at the stop time, reported; a second Stop is a duplicate', () => {
    const store = new PlanStore();
    run(
      store,
      sessionEvent('Start', 1000, { ...alice, addresses: ['100.64.0.1', '2001:db8:1::/56'] }),
      sessionEvent('Stop', 4000, { ...alice, addresses: ['100.64.0.1', '2001:db8:1::/56'], sessionTime: 3000 }),
    );
    expect(sessionOf(store, alice)).toMatchObject({
      endedAt: 4000,
      endKind: 'REPORTED',
      terminateCause: 'User-Request',
    });
    expect(mappingsOf(store, alice)).toEqual([
      { subnet: '100.64.0.1/32', start: 1000, end: 4000, endKind: 'REPORTED', userId: 'alice' },
      { subnet: '2001:db8:1::/56', start: 1000, end: 4000, endKind: 'REPORTED', userId: 'alice' },
    ]);
    expect(isInferredEnd('REPORTED')).toBe(false);
    const again = planOnce(store, sessionEvent('Stop', 4000, { ...alice, sessionTime: 3000 }));
    expect(again.outcomes).toEqual(['duplicate']);
    expect([...again.sessions, ...again.holdings]).toEqual([]);
  });

  it('without a Start creates the closed session, from event time − Acct-Session-Time', () => {
    const store = new PlanStore();
    expect(run(store, sessionEvent('Stop', 9000, { ...alice, sessionTime: 2500 }))).toEqual(['applied']);
    expect(sessionOf(store, alice)).toMatchObject({ startedAt: 6500, endedAt: 9000, endKind: 'REPORTED' });
    expect(mappingsOf(store, alice)).toEqual([
      { subnet: '100.64.0.1/32', start: 6500, end: 9000, endKind: 'REPORTED', userId: 'alice' },
    ]);
    // Its Start and Interim-Updates arriving late change nothing.
    expect(
      run(
        store,
        sessionEvent('Start', 6500, alice),
        sessionEvent('Interim-Update', 8000, { ...alice, sessionTime: 1500 }),
      ),
    ).toEqual(['duplicate', 'stale']);
  });

  it('after an inferred end replaces it: the session and its mappings end at the stop time, reported', () => {
    const store = new PlanStore();
    run(store, sessionEvent('Start', 1000, alice), { kind: 'sweep', at: 1000 + 3601 });
    expect(sessionOf(store, alice).endKind).toBe('TIMED_OUT');
    expect(run(store, sessionEvent('Stop', 2500, { ...alice, sessionTime: 1500 }))).toEqual(['applied']);
    expect(sessionOf(store, alice)).toMatchObject({ endedAt: 2500, endKind: 'REPORTED' });
    expect(mappingsOf(store, alice)).toEqual([
      { subnet: '100.64.0.1/32', start: 1000, end: 2500, endKind: 'REPORTED', userId: 'alice' },
    ]);
  });

  it('adds an address the session never held, for the whole session', () => {
    const store = new PlanStore();
    run(
      store,
      sessionEvent('Start', 1000, alice),
      sessionEvent('Stop', 3000, { ...alice, addresses: ['100.64.0.1', '2001:db8:1::/56'], sessionTime: 2000 }),
    );
    expect(mappingsOf(store, alice)).toEqual([
      { subnet: '100.64.0.1/32', start: 1000, end: 3000, endKind: 'REPORTED', userId: 'alice' },
      { subnet: '2001:db8:1::/56', start: 1000, end: 3000, endKind: 'REPORTED', userId: 'alice' },
    ]);
  });
});

describe('Accounting-On and Accounting-Off', () => {
  it("end only that NAS's open sessions begun no later, at that time", () => {
    const store = new PlanStore();
    const carol: SessionEventSpec = { user: 'carol', sid: 'c-1', addresses: ['100.64.0.3'], nas: NAS_B };
    const dave: SessionEventSpec = { user: 'dave', sid: 'd-1', addresses: ['100.64.0.4'] };
    run(
      store,
      sessionEvent('Start', 1000, alice),
      sessionEvent('Start', 1100, bob),
      sessionEvent('Stop', 1200, { ...bob, sessionTime: 100 }),
      sessionEvent('Start', 1000, carol),
      sessionEvent('Start', 2500, dave),
    );
    expect(run(store, nasEvent('Accounting-On', 2000, NAS_A))).toEqual(['applied']);
    expect(sessionOf(store, alice)).toMatchObject({ endedAt: 2000, endKind: 'NAS_RESTARTED' });
    expect(mappingsOf(store, alice)).toEqual([
      { subnet: '100.64.0.1/32', start: 1000, end: 2000, endKind: 'NAS_RESTARTED', userId: 'alice' },
    ]);
    // Already stopped, another NAS, begun after the restart: untouched.
    expect(sessionOf(store, bob)).toMatchObject({ endedAt: 1200, endKind: 'REPORTED' });
    expect(sessionOf(store, carol)).toMatchObject({ endedAt: null });
    expect(sessionOf(store, dave)).toMatchObject({ endedAt: null });
    run(store, nasEvent('Accounting-Off', 3000, NAS_B));
    expect(sessionOf(store, carol)).toMatchObject({ endedAt: 3000, endKind: 'NAS_RESTARTED' });
    expect(sessionOf(store, dave)).toMatchObject({ endedAt: null });
  });

  it('leave a session the NAS has reported since: a late On/Off is older than that report', () => {
    const store = new PlanStore();
    // The Interim-Update (session begun at 1990, alive at 2010) is read before an On of 2000.
    run(store, sessionEvent('Interim-Update', 2010, { ...alice, sessionTime: 20 }));
    expect(run(store, nasEvent('Accounting-On', 2000, NAS_A))).toEqual(['duplicate']);
    expect(sessionOf(store, alice)).toMatchObject({ startedAt: 1990, endedAt: null });
    // Reported no later than the restart: it ends then.
    expect(run(store, nasEvent('Accounting-On', 2010, NAS_A))).toEqual(['applied']);
    expect(sessionOf(store, alice)).toMatchObject({ endedAt: 2010, endKind: 'NAS_RESTARTED' });
  });
});

describe('sweep', () => {
  it('ends every open session silent for longer than the timeout, at its last-seen time', () => {
    const store = new PlanStore();
    run(
      store,
      sessionEvent('Start', 1000, alice),
      sessionEvent('Interim-Update', 2000, { ...alice, sessionTime: 1000 }),
      sessionEvent('Start', 1500, bob),
    );
    // bob was last seen exactly the timeout before: not yet.
    const early = planOnce(store, { kind: 'sweep', at: 1500 + 3600 });
    expect([...early.sessions, ...early.holdings]).toEqual([]);
    expect(sessionOf(store, bob).endedAt).toBeNull();
    run(store, { kind: 'sweep', at: 2000 + 3601 });
    expect(sessionOf(store, alice)).toMatchObject({ endedAt: 2000, endKind: 'TIMED_OUT' });
    expect(sessionOf(store, bob)).toMatchObject({ endedAt: 1500, endKind: 'TIMED_OUT' });
    expect(mappingsOf(store, alice)).toEqual([
      { subnet: '100.64.0.1/32', start: 1000, end: 2000, endKind: 'TIMED_OUT', userId: 'alice' },
    ]);
  });

  it('reads the sessions last seen before its time less the timeout', () => {
    expect(snapshotNeeds([{ kind: 'sweep', at: 10_000 }], rules).staleBefore).toBe(10_000 - 3600);
    const needs = snapshotNeeds(
      [
        sessionEvent('Start', 1000, { ...alice, addresses: ['100.64.0.1', '2001:db8::/64'] }),
        nasEvent('Accounting-On', 900, NAS_B),
      ],
      rules,
    );
    expect(needs.sessionKeys).toContain(sessionKeyOf(alice));
    expect(needs.nasKeys).toContain(NAS_B.key);
    expect(needs.subnets.map((subnet) => subnet.network)).toEqual(
      expect.arrayContaining(['100.64.0.1/32', '2001:db8::/64']),
    );
    expect(needs.since).toBeLessThanOrEqual(900);
    expect(needs.staleBefore).toBeNull();
  });
});

describe('the one-owner rule', () => {
  it('a static mapping wins: nothing of the address is written and a STATIC_MAPPING conflict is recorded', () => {
    const store = new PlanStore([staticMapping(1, '100.64.0.0/30', 0, null)]);
    const plan = planOnce(store, sessionEvent('Start', 1000, { ...alice, addresses: ['100.64.0.1', '100.64.0.9'] }));
    // Acknowledged (the NAS must not retry for ever); the session is kept with what it may hold.
    expect(plan.outcomes).toEqual(['applied']);
    expect(mappingsOf(store, alice)).toEqual([
      { subnet: '100.64.0.9/32', start: 1000, end: null, endKind: null, userId: 'alice' },
    ]);
    expect(plan.conflicts).toEqual([
      {
        sessionId: plan.sessions[0]!.id,
        subnet: expect.objectContaining({ network: '100.64.0.1/32' }),
        start: 1000,
        end: null,
        mappingId: 1,
        holderUserId: 'static-1',
        kind: 'STATIC_MAPPING',
      },
    ]);
    expect(store.holdings.get(1)).toMatchObject({ start: 0, end: null, sessionId: null });
  });

  it('a static mapping that begins later still wins over an ongoing session', () => {
    const store = new PlanStore([staticMapping(1, '100.64.0.1', 5000, 6000)]);
    run(store, sessionEvent('Start', 1000, alice));
    expect(mappingsOf(store, alice)).toEqual([]);
    expect(store.conflicts.map((conflict) => conflict.kind)).toEqual(['STATIC_MAPPING']);
    // One that ended before the session began is no conflict.
    const later = new PlanStore([staticMapping(1, '100.64.0.1', 0, 999)]);
    run(later, sessionEvent('Start', 1000, alice));
    expect(mappingsOf(later, alice)).toHaveLength(1);
    expect(later.conflicts).toEqual([]);
  });

  it('a Start on an address another open session holds ends that session at start − 1, all its open mappings too (SUPERSEDED)', () => {
    const store = new PlanStore();
    run(
      store,
      sessionEvent('Start', 1000, { ...bob, addresses: ['100.64.0.1', '2001:db8:2::/56'] }),
      sessionEvent('Start', 5000, alice),
    );
    expect(sessionOf(store, bob)).toMatchObject({ endedAt: 4999, endKind: 'SUPERSEDED' });
    expect(mappingsOf(store, bob)).toEqual([
      { subnet: '100.64.0.1/32', start: 1000, end: 4999, endKind: 'SUPERSEDED', userId: 'bob' },
      { subnet: '2001:db8:2::/56', start: 1000, end: 4999, endKind: 'SUPERSEDED', userId: 'bob' },
    ]);
    expect(mappingsOf(store, alice)).toEqual([
      { subnet: '100.64.0.1/32', start: 5000, end: null, endKind: null, userId: 'alice' },
    ]);
    expect(store.conflicts).toEqual([]);
    // bob's Stop arriving now is taken, but cannot reach into alice's time.
    run(store, sessionEvent('Stop', 6000, { ...bob, addresses: [], sessionTime: 5000 }));
    expect(mappingsOf(store, bob)).toEqual([
      { subnet: '100.64.0.1/32', start: 1000, end: 4999, endKind: 'SUPERSEDED', userId: 'bob' },
      { subnet: '2001:db8:2::/56', start: 1000, end: 6000, endKind: 'REPORTED', userId: 'bob' },
    ]);
    expect(owner(store, '100.64.0.1', 5500)).toEqual([`session:${sessionKeyOf(alice)}`]);
  });

  it('a closed session that began earlier only has that mapping cut', () => {
    const store = new PlanStore();
    run(
      store,
      sessionEvent('Stop', 5000, { ...bob, addresses: ['100.64.0.1', '100.64.0.2'], sessionTime: 4000 }),
      sessionEvent('Start', 3000, alice),
    );
    expect(sessionOf(store, bob)).toMatchObject({ endedAt: 5000, endKind: 'REPORTED' });
    expect(mappingsOf(store, bob)).toEqual([
      { subnet: '100.64.0.1/32', start: 1000, end: 2999, endKind: 'SUPERSEDED', userId: 'bob' },
      { subnet: '100.64.0.2/32', start: 1000, end: 5000, endKind: 'REPORTED', userId: 'bob' },
    ]);
  });

  it('a late Start is bounded by a session that began later on its address', () => {
    const store = new PlanStore();
    run(store, sessionEvent('Start', 5000, bob), sessionEvent('Start', 2000, { ...alice, addresses: ['100.64.0.2'] }));
    expect(mappingsOf(store, alice)).toEqual([
      { subnet: '100.64.0.2/32', start: 2000, end: 4999, endKind: 'SUPERSEDED', userId: 'alice' },
    ]);
    expect(sessionOf(store, bob)).toMatchObject({ endedAt: null });
    expect(mappingsOf(store, bob)).toEqual([
      { subnet: '100.64.0.2/32', start: 5000, end: null, endKind: null, userId: 'bob' },
    ]);
  });

  it('a session that began at the same instant stays, and a SESSION conflict is recorded', () => {
    const store = new PlanStore();
    run(store, sessionEvent('Start', 5000, bob));
    const plan = planOnce(store, sessionEvent('Start', 5000, { ...alice, addresses: ['100.64.0.2'] }));
    expect(plan.outcomes).toEqual(['applied']);
    expect(mappingsOf(store, alice)).toEqual([]);
    expect(mappingsOf(store, bob)).toEqual([
      { subnet: '100.64.0.2/32', start: 5000, end: null, endKind: null, userId: 'bob' },
    ]);
    expect(plan.conflicts).toEqual([
      expect.objectContaining({
        sessionId: plan.sessions[0]!.id,
        subnet: expect.objectContaining({ network: '100.64.0.2/32' }),
        holderUserId: 'bob',
        kind: 'SESSION',
        mappingId: store.holdingsOf(sessionKeyOf(bob))[0]!.id,
      }),
    ]);
  });

  it("dual stack: a /128 inside the session's own /64 is covered by it, whatever order they come in", () => {
    const store = new PlanStore();
    const dual = { ...alice, addresses: ['2001:db8:0:1::1', '100.64.0.1', '2001:db8:0:1::/64'] };
    run(store, sessionEvent('Start', 1000, dual));
    expect(mappingsOf(store, alice)).toEqual([
      { subnet: '100.64.0.1/32', start: 1000, end: null, endKind: null, userId: 'alice' },
      { subnet: '2001:db8:0:1::/64', start: 1000, end: null, endKind: null, userId: 'alice' },
    ]);
    expect(owner(store, '2001:db8:0:1::1', 1000)).toEqual([`session:${sessionKeyOf(alice)}`]);
    expect(store.conflicts).toEqual([]);
    // Interim-Updates listing both keep it so.
    run(store, sessionEvent('Interim-Update', 2000, { ...dual, sessionTime: 1000 }));
    expect(mappingsOf(store, alice)).toHaveLength(2);
    // Another session given the /128 later takes it: alice's session ends just before.
    run(store, sessionEvent('Start', 3000, { ...bob, addresses: ['2001:db8:0:1::1'] }));
    expect(sessionOf(store, alice)).toMatchObject({ endedAt: 2999, endKind: 'SUPERSEDED' });
    expect(owner(store, '2001:db8:0:1::1', 3000)).toEqual([`session:${sessionKeyOf(bob)}`]);
    expect(owner(store, '2001:db8:0:1::2', 3000)).toEqual([]);
    expect(owner(store, '2001:db8:0:1::2', 2999)).toEqual([`session:${sessionKeyOf(alice)}`]);
  });
});
