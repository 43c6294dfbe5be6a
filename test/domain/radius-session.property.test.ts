import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type IpAddress, type IpSubnet, parseIpAddress, parseIpSubnet } from '../../src/domain/ip.js';
import type { AccountingEvent, NasIdentity } from '../../src/domain/radius.js';
import {
  type AccountingInput,
  type AccountingPlan,
  type AccountingRules,
  type AccountingSnapshot,
  type EventOutcome,
  type HoldingState,
  type SessionState,
  type SnapshotNeeds,
  planAccounting,
  snapshotNeeds,
} from '../../src/domain/radius-session.js';
import {
  AccountingModel,
  NAS_A,
  NAS_B,
  type Owner,
  PlanStore,
  type StaticMapping,
  nasEvent,
  sessionEvent,
} from './radius-model.js';

// Random histories of accounting events are planned batch by batch from a store holding the
// whole state, and replayed through an independent model of the rules (radius-model.ts).
// Two kinds of history: "chaotic" ones, any event of any session at any time, hold the planner
// to the model and to its own invariants whatever arrives; "lived" ones are made from sessions
// that really happened (one owner per address, NAS reboots end their sessions), then lost,
// repeated and reordered as UDP and NASes do, and every event applied must be reflected.

const rules: AccountingRules = { sessionTimeout: 100 };

const POOL = ['100.64.0.1', '100.64.0.2', '100.64.0.3', '2001:db8:0:1::/64', '2001:db8:0:1::1/128'];
const SUBNETS = new Map(POOL.map((text) => [text, parseIpSubnet(text)]));
const subnetOf = (text: string): IpSubnet => SUBNETS.get(text) ?? parseIpSubnet(text);
/** Every address of the pool, and one inside the /64 that its /128 does not cover. */
const PROBES: IpAddress[] = ['100.64.0.1', '100.64.0.2', '100.64.0.3', '2001:db8:0:1::1', '2001:db8:0:1::2'].map(
  (text) => parseIpAddress(text),
);
const NASES: NasIdentity[] = [NAS_A, NAS_B];
const USERS = ['u1', 'u2', 'u3'];
const STATIC_USER = 'static-customer';

// ---- generators ----

interface History {
  statics: StaticMapping[];
  inputs: AccountingInput[];
  /** Sizes of the batches the inputs are planned in (cycled; the last batch takes the rest). */
  batchSizes: number[];
}

const staticsArbitrary: fc.Arbitrary<StaticMapping[]> = fc
  .array(
    fc.record({
      subnet: fc.constantFrom(...POOL),
      start: fc.integer({ min: 0, max: 500 }),
      length: fc.option(fc.integer({ min: 0, max: 200 }), { nil: null }),
    }),
    { maxLength: 2 },
  )
  .map((drawn) => {
    const statics: StaticMapping[] = [];
    for (const { subnet, start, length } of drawn) {
      const mapping: StaticMapping = {
        id: statics.length + 1,
        userId: STATIC_USER,
        subnet: subnetOf(subnet),
        start,
        end: length === null ? null : start + length,
      };
      const clashes = statics.some(
        (other) => overlapsInAddress(other.subnet, mapping.subnet) && spansMeet(other, mapping),
      );
      if (!clashes) statics.push(mapping);
    }
    return statics;
  });

const batchSizesArbitrary = fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 6 });

/** A few fixed sessions (user, Acct-Session-Id, NAS) that chaotic events pick from. */
const IDENTITIES = [
  { user: 'u1', sid: 'a', nas: NAS_A },
  { user: 'u2', sid: 'b', nas: NAS_A },
  { user: 'u3', sid: 'c', nas: NAS_B },
  { user: 'u1', sid: 'd', nas: NAS_B },
  { user: 'u2', sid: 'e', nas: NAS_B },
];

const chaoticInput: fc.Arbitrary<AccountingInput> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .record({
        status: fc.constantFrom('Start' as const, 'Interim-Update' as const, 'Stop' as const),
        identity: fc.constantFrom(...IDENTITIES),
        at: fc.integer({ min: 0, max: 300 }),
        addresses: fc.subarray(POOL, { maxLength: 3 }),
        sessionTime: fc.option(fc.integer({ min: 0, max: 150 }), { nil: null }),
      })
      .map(({ status, identity, at, addresses, sessionTime }) =>
        sessionEvent(status, at, { ...identity, addresses, sessionTime }),
      ),
  },
  {
    weight: 1,
    arbitrary: fc
      .record({
        status: fc.constantFrom('Accounting-On' as const, 'Accounting-Off' as const),
        nas: fc.constantFrom(...NASES),
        at: fc.integer({ min: 0, max: 300 }),
      })
      .map(({ status, nas, at }) => nasEvent(status, at, nas)),
  },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 450 }).map((at) => ({ kind: 'sweep' as const, at })) },
);

const chaoticHistory: fc.Arbitrary<History> = fc.record({
  statics: staticsArbitrary,
  inputs: fc.array(chaoticInput, { maxLength: 30 }),
  batchSizes: batchSizesArbitrary,
});

interface LivedSessionDraw {
  user: string;
  nas: number;
  start: number;
  length: number;
  interval: number;
  addresses: string[];
  /** When (as a share of its length) the session's addresses change, if they do. */
  change: { at: number; addresses: string[] } | null;
  stopped: boolean;
}

type Perturbation = { kind: 'drop' | 'repeat' | 'swap'; at: number; by: number };

const livedHistory: fc.Arbitrary<History> = fc
  .record({
    statics: staticsArbitrary,
    sessions: fc.array(
      fc.record({
        user: fc.constantFrom(...USERS),
        nas: fc.integer({ min: 0, max: 1 }),
        start: fc.integer({ min: 0, max: 500 }),
        length: fc.integer({ min: 1, max: 300 }),
        // Mostly within the timeout; some gaps are longer, so that sweeps end live sessions.
        interval: fc.integer({ min: 20, max: 160 }),
        addresses: fc.subarray(POOL, { minLength: 1, maxLength: 3 }),
        change: fc.option(
          fc.record({
            at: fc.double({ min: 0.1, max: 0.9, noNaN: true }),
            addresses: fc.subarray(POOL, { maxLength: 2 }),
          }),
          { nil: null },
        ),
        stopped: fc.boolean(),
      }),
      { maxLength: 7 },
    ),
    reboots: fc.array(fc.record({ nas: fc.integer({ min: 0, max: 1 }), at: fc.integer({ min: 50, max: 700 }) }), {
      maxLength: 2,
    }),
    sweepEvery: fc.integer({ min: 40, max: 250 }),
    perturbations: fc.array(
      fc.record({
        kind: fc.constantFrom('drop' as const, 'repeat' as const, 'swap' as const),
        at: fc.nat(),
        by: fc.integer({ min: 1, max: 3 }),
      }),
      { maxLength: 6 },
    ),
    batchSizes: batchSizesArbitrary,
  })
  .map(({ statics, sessions, reboots, sweepEvery, perturbations, batchSizes }) => ({
    statics,
    inputs: perturb(livedEvents(sessions, reboots, sweepEvery), perturbations),
    batchSizes,
  }));

interface TimedInput {
  at: number;
  order: number;
  input: AccountingInput;
}

/** The events of sessions that really happened: each address has one owner at a time. */
function livedEvents(
  draws: LivedSessionDraw[],
  reboots: { nas: number; at: number }[],
  sweepEvery: number,
): AccountingInput[] {
  const truth: { subnet: IpSubnet; start: number; end: number }[] = [];
  const free = (text: string, start: number, end: number) =>
    !truth.some((held) => overlapsInAddress(held.subnet, subnetOf(text)) && held.start <= end && start <= held.end);
  const take = (texts: string[], start: number, end: number) => {
    const taken = texts.filter((text) => free(text, start, end));
    for (const text of taken) truth.push({ subnet: subnetOf(text), start, end });
    return taken;
  };
  const timed: TimedInput[] = [];
  const push = (input: AccountingInput) => timed.push({ at: input.at, order: timed.length, input });
  const ordered = [...draws].sort((a, b) => a.start - b.start);
  ordered.forEach((draw, index) => {
    const nas = NASES[draw.nas]!;
    let end = draw.start + draw.length;
    let stopped = draw.stopped;
    const reboot = reboots
      .filter((candidate) => candidate.nas === draw.nas && candidate.at > draw.start && candidate.at <= end)
      .sort((a, b) => a.at - b.at)[0];
    if (reboot) {
      // The NAS went down with the session: no Stop, and Accounting-On says so.
      end = reboot.at;
      stopped = false;
    }
    const changeAt = draw.change
      ? Math.min(end, draw.start + Math.max(1, Math.round(draw.length * draw.change.at)))
      : null;
    const first = take(draw.addresses, draw.start, changeAt === null ? end : changeAt - 1);
    const second = changeAt === null || !draw.change ? first : take(draw.change.addresses, changeAt, end);
    const spec = { user: draw.user, sid: `s${index}`, nas };
    const addressesAt = (at: number) => (changeAt !== null && at >= changeAt ? second : first);
    push(sessionEvent('Start', draw.start, { ...spec, addresses: first }));
    const reports = new Set<number>();
    for (let at = draw.start + draw.interval; at < end; at += draw.interval) reports.add(at);
    if (changeAt !== null && changeAt < end) reports.add(changeAt);
    for (const at of [...reports].sort((a, b) => a - b)) {
      push(sessionEvent('Interim-Update', at, { ...spec, addresses: addressesAt(at), sessionTime: at - draw.start }));
    }
    if (stopped)
      push(sessionEvent('Stop', end, { ...spec, addresses: addressesAt(end), sessionTime: end - draw.start }));
  });
  for (const reboot of reboots) push(nasEvent('Accounting-On', reboot.at, NASES[reboot.nas]));
  const last = Math.max(0, ...timed.map((entry) => entry.at));
  for (let at = sweepEvery; at <= last + sweepEvery; at += sweepEvery) push({ kind: 'sweep', at });
  return timed.sort((a, b) => a.at - b.at || a.order - b.order).map((entry) => entry.input);
}

/** Loss, retransmission and reordering, as a NAS's UDP and its retries make them. */
function perturb(inputs: AccountingInput[], perturbations: Perturbation[]): AccountingInput[] {
  const result = [...inputs];
  for (const { kind, at, by } of perturbations) {
    if (result.length === 0) break;
    const index = at % result.length;
    if (kind === 'drop') result.splice(index, 1);
    else if (kind === 'repeat') result.splice(Math.min(result.length, index + by), 0, result[index]!);
    else {
      const other = Math.min(result.length - 1, index + by);
      [result[index], result[other]] = [result[other]!, result[index]!];
    }
  }
  return result;
}

// ---- running the planner ----

function batchesOf(inputs: AccountingInput[], sizes: number[]): AccountingInput[][] {
  const batches: AccountingInput[][] = [];
  for (let offset = 0, i = 0; offset < inputs.length; i++) {
    const size = sizes[i % sizes.length]!;
    batches.push(inputs.slice(offset, offset + size));
    offset += size;
  }
  return batches;
}

const overlapsInAddress = (a: IpSubnet, b: IpSubnet) =>
  a.family === b.family && a.first.value <= b.last.value && b.first.value <= a.last.value;
const endOf = (span: { end: number | null }) => span.end ?? Number.POSITIVE_INFINITY;
const spansMeet = (a: { start: number; end: number | null }, b: { start: number; end: number | null }) =>
  a.start <= endOf(b) && b.start <= endOf(a);

/** The snapshot SnapshotNeeds describes, taken from the whole state by its doc comment's steps 1-4. */
function snapshotFor(full: AccountingSnapshot, needs: SnapshotNeeds): AccountingSnapshot {
  const keys = new Set(needs.sessionKeys);
  const nasKeys = new Set(needs.nasKeys);
  const sessions = new Map<number, SessionState>();
  for (const session of full.sessions) {
    const open = session.endedAt === null;
    if (
      keys.has(session.key) ||
      (open && nasKeys.has(session.nasKey)) ||
      (open && needs.staleBefore !== null && session.lastSeen < needs.staleBefore)
    ) {
      sessions.set(session.id, session);
    }
  }
  const holdings = new Map<number, HoldingState>();
  for (const holding of full.holdings) {
    if (holding.sessionId !== null && sessions.has(holding.sessionId)) holdings.set(holding.id, holding);
  }
  const since = Math.min(needs.since, ...[...sessions.values()].map((session) => session.startedAt));
  const subnets = [...needs.subnets, ...[...holdings.values()].map((holding) => holding.subnet)];
  const step3 = full.holdings.filter(
    (holding) =>
      (holding.end === null || holding.end >= since) &&
      subnets.some((subnet) => overlapsInAddress(subnet, holding.subnet)),
  );
  for (const holding of step3) holdings.set(holding.id, holding);
  const natHolders = full.natHolders.filter(
    (nat) => (nat.end === null || nat.end >= since) && subnets.some((subnet) => overlapsInAddress(subnet, nat.subnet)),
  );
  const sessionsById = new Map(full.sessions.map((session) => [session.id, session]));
  for (const holding of step3) {
    const session = holding.sessionId === null ? undefined : sessionsById.get(holding.sessionId);
    if (session && session.endedAt === null) sessions.set(session.id, session);
  }
  for (const holding of full.holdings) {
    if (holding.sessionId !== null && sessions.has(holding.sessionId)) holdings.set(holding.id, holding);
  }
  // In the store's own order, as a query would return them.
  return {
    sessions: full.sessions.filter((session) => sessions.has(session.id)),
    holdings: full.holdings.filter((holding) => holdings.has(holding.id)),
    natHolders,
  };
}

/**
 * The same state with its IPv4 static mappings presented as carrier-grade NAT port blocks and
 * rules (alternately): to the rules a NAT holder is a static mapping of its address.
 */
function withNatHolders(full: AccountingSnapshot): AccountingSnapshot {
  const nat = full.holdings.filter((holding) => holding.sessionId === null && holding.subnet.family === 4);
  return {
    sessions: full.sessions,
    holdings: full.holdings.filter((holding) => !nat.includes(holding)),
    natHolders: nat.map((holding, index) => ({
      kind: index % 2 === 0 ? 'NAT_BINDING' : 'NAT_RULE',
      id: holding.id,
      subnet: holding.subnet,
      start: holding.start,
      end: holding.end,
    })),
  };
}

/** A plan made with withNatHolders, its NAT conflicts named as the static mappings they stand for. */
const asStaticConflicts = (plan: AccountingPlan): AccountingPlan => ({
  ...plan,
  conflicts: plan.conflicts.map((conflict) => {
    if (!('natHolderId' in conflict)) return conflict;
    const { natHolderId, kind: _kind, ...span } = conflict;
    return { ...span, mappingId: natHolderId, holderUserId: STATIC_USER, kind: 'STATIC_MAPPING' };
  }),
});

/** The state with ids replaced by what identifies a row across runs: a session's key, a mapping's owner. */
function comparable(store: PlanStore) {
  const sessions = [...store.sessions.values()]
    .map(({ id: _id, ...session }) => session)
    .sort((a, b) => a.key.localeCompare(b.key));
  const holdings = [...store.holdings.values()]
    .map((holding) => {
      const { id: _id, sessionId: _sessionId, ...fields } = holding;
      return { ...fields, subnet: holding.subnet.network, owner: store.ownerOf(holding) };
    })
    .sort((a, b) => `${a.owner} ${a.subnet} ${a.start}`.localeCompare(`${b.owner} ${b.subnet} ${b.start}`));
  const conflicts = store.conflicts
    .map((conflict) => {
      // The store's states hold mapping conflicts only (withNatHolders plans are compared apart).
      if (!('mappingId' in conflict)) throw new Error(`NAT conflict in a store: ${JSON.stringify(conflict)}`);
      return conflict;
    })
    .map(({ sessionId, mappingId, ...conflict }) => ({
      ...conflict,
      subnet: conflict.subnet.network,
      session: store.sessions.get(sessionId)?.key,
      holder: store.holdings.has(mappingId) ? store.ownerOf(store.holdings.get(mappingId)!) : `missing ${mappingId}`,
    }))
    .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
  return { sessions, holdings, conflicts };
}

function expectOneOwner(store: PlanStore, context: string): void {
  const holdings = [...store.holdings.values()];
  for (const [i, a] of holdings.entries()) {
    if (a.end !== null && a.end < a.start) throw new Error(`${context}: mapping ${a.id} ends before it starts`);
    for (const b of holdings.slice(i + 1)) {
      if (overlapsInAddress(a.subnet, b.subnet) && spansMeet(a, b)) {
        throw new Error(
          `${context}: mappings ${a.id} (${store.ownerOf(a)} ${a.subnet.network} ${a.start}-${a.end}) and ` +
            `${b.id} (${store.ownerOf(b)} ${b.subnet.network} ${b.start}-${b.end}) share an address and an instant`,
        );
      }
    }
  }
}

const describeInput = (input: AccountingInput) =>
  input.kind === 'sweep'
    ? `sweep@${input.at}`
    : input.kind === 'nas'
      ? `${input.status}@${input.at} ${input.nas.key}`
      : `${input.status}@${input.at} ${input.session.key} [${input.session.addresses.map((s) => s.network).join(' ')}] t=${input.session.sessionTime}`;

interface Run {
  store: PlanStore;
  outcomes: EventOutcome[];
}

/**
 * Plans the history batch by batch from the whole state, checking on the way that each state
 * keeps the one-owner rule (a), that planning from the snapshot SnapshotNeeds describes gives
 * the same plan (d), and that the batch's last input sent again right after changes nothing (e).
 */
function runPlanner(history: History, batchSizes = history.batchSizes): Run {
  const store = new PlanStore(history.statics);
  const outcomes: EventOutcome[] = [];
  for (const batch of batchesOf(history.inputs, batchSizes)) {
    const context = `after ${batch.map(describeInput).join(', ')}`;
    const full = store.snapshot();
    const plan = planAccounting(full, batch, rules);
    expect(plan.outcomes).toHaveLength(batch.length);

    const fromSnapshot = planAccounting(snapshotFor(full, snapshotNeeds(batch, rules)), batch, rules);
    const [viaFull, viaSnapshot] = [store.clone(), store.clone()];
    viaFull.apply(plan);
    viaSnapshot.apply(fromSnapshot);
    expect({ outcomes: fromSnapshot.outcomes, state: comparable(viaSnapshot) }, `snapshot plan ${context}`).toEqual({
      outcomes: plan.outcomes,
      state: comparable(viaFull),
    });

    // (f) NAT port blocks and rules in the way are planned around as static mappings are, read
    // from the whole state or from the snapshot, and recorded as NAT conflicts.
    const natFull = withNatHolders(full);
    const viaNat = planAccounting(natFull, batch, rules);
    expect(asStaticConflicts(viaNat), `NAT holders as static mappings ${context}`).toEqual(plan);
    expect(planAccounting(snapshotFor(natFull, snapshotNeeds(batch, rules)), batch, rules)).toEqual(viaNat);

    store.apply(plan);
    outcomes.push(...plan.outcomes);
    expectOneOwner(store, context);

    const last = batch.at(-1)!;
    const again = planAccounting(store.snapshot(), [last], rules);
    expect(
      { sessions: again.sessions, holdings: again.holdings, conflicts: again.conflicts },
      `sent again: ${context}`,
    ).toEqual({
      sessions: [],
      holdings: [],
      conflicts: [],
    });
    if (last.kind === 'session') expect(['duplicate', 'stale'], `sent again: ${context}`).toContain(again.outcomes[0]);
  }
  return { store, outcomes };
}

function runModel(history: History): { model: AccountingModel; outcomes: EventOutcome[] } {
  const model = new AccountingModel(history.statics, rules.sessionTimeout);
  const outcomes = history.inputs.map((input) => model.apply(input));
  return { model, outcomes };
}

/** Instants where an answer can change: every start and end, either side, and every event's time. */
function sampleTimes(history: History, store: PlanStore, model: AccountingModel): number[] {
  const times = new Set<number>([0]);
  const add = (at: number | null) => {
    if (at === null) return;
    for (const t of [at - 1, at, at + 1]) if (t >= 0) times.add(t);
  };
  for (const input of history.inputs) add(input.at);
  for (const holding of [...store.holdings.values(), ...model.holdings]) {
    add(holding.start);
    add(holding.end);
  }
  return [...times].sort((a, b) => a - b);
}

interface Answer {
  owner: Owner;
  userId: string;
  start: number;
  end: number | null;
  endKind: string | null;
}

function plannerAnswer(store: PlanStore, address: IpAddress, at: number): Answer | null {
  const holders = store.holders(address, at);
  const holding = holders[0];
  if (!holding) return null;
  return {
    owner: store.ownerOf(holding),
    userId: holding.userId,
    start: holding.start,
    end: holding.end,
    endKind: holding.endKind,
  };
}

function modelAnswer(model: AccountingModel, address: IpAddress, at: number): Answer | null {
  const holding = model.whoHad(address, at);
  if (!holding) return null;
  return {
    owner: holding.owner,
    userId: holding.userId,
    start: holding.start,
    end: holding.end,
    endKind: holding.endKind,
  };
}

function expectAgreement(history: History): void {
  const planned = runPlanner(history);
  const modelled = runModel(history);
  const steps = history.inputs.map((input, i) => `${describeInput(input)} → ${modelled.outcomes[i]}`);
  expect(planned.outcomes, `outcomes of\n${steps.join('\n')}`).toEqual(modelled.outcomes);
  for (const session of modelled.model.sessions.values()) {
    const stored = planned.store.sessionByKey(session.key);
    expect(
      stored && {
        startedAt: stored.startedAt,
        endedAt: stored.endedAt,
        endKind: stored.endKind,
        userName: stored.userName,
      },
      `session ${session.key} after\n${steps.join('\n')}`,
    ).toEqual({
      startedAt: session.startedAt,
      endedAt: session.endedAt,
      endKind: session.endKind,
      userName: session.userName,
    });
  }
  expect(planned.store.sessions.size).toBe(modelled.model.sessions.size);
  for (const at of sampleTimes(history, planned.store, modelled.model)) {
    for (const address of PROBES) {
      expect(
        plannerAnswer(planned.store, address, at),
        `whoHad(${address.text}, ${at}) after\n${steps.join('\n')}`,
      ).toEqual(modelAnswer(modelled.model, address, at));
    }
  }
}

// Each run plans a history of up to a few dozen events several times over; these counts keep the
// file to a few seconds.
const RUNS = { numRuns: 150 };

describe('accounting plans against the model of the rules', () => {
  it('chaotic histories: one owner per address and instant, the snapshot suffices, resends change nothing, whoHad agrees', () => {
    fc.assert(fc.property(chaoticHistory, expectAgreement), RUNS);
  });

  it('lived histories with loss, repetition and reordering: the same', () => {
    fc.assert(fc.property(livedHistory, expectAgreement), RUNS);
  });

  it('batch boundaries do not change the final state', () => {
    fc.assert(
      fc.property(fc.oneof(chaoticHistory, livedHistory), (history) => {
        const whole = runPlanner(history, [Math.max(1, history.inputs.length)]);
        const oneByOne = runPlanner(history, [1]);
        const batched = runPlanner(history);
        expect(comparable(batched.store)).toEqual(comparable(whole.store));
        expect(comparable(oneByOne.store)).toEqual(comparable(whole.store));
        expect(batched.outcomes).toEqual(whole.outcomes);
      }),
      RUNS,
    );
  });

  it('every applied Start, Interim-Update and Stop is reflected: its session exists and holds its addresses then', () => {
    fc.assert(
      fc.property(livedHistory, (history) => {
        const { store, outcomes } = runPlanner(history);
        history.inputs.forEach((input, i) => {
          if (input.kind !== 'session' || outcomes[i] !== 'applied') return;
          const session = store.sessionByKey(input.session.key);
          expect(session, `session of ${describeInput(input)}`).toBeDefined();
          for (const subnet of input.session.addresses) {
            for (const address of [subnet.first, subnet.last]) {
              const holders = store.holders(address, input.at);
              const heldByIt = holders.some((holding) => holding.sessionId === session!.id);
              // Taken by a static mapping: it wins for all of the session's time it meets.
              const staticWins = [...store.holdings.values()].some(
                (holding) =>
                  holding.sessionId === null &&
                  overlapsInAddress(holding.subnet, subnet) &&
                  endOf(holding) >= session!.startedAt,
              );
              // Taken by a session that began later (its Start says the address was given again).
              const laterSession = holders.some((holding) => {
                const other = holding.sessionId === null ? undefined : store.sessions.get(holding.sessionId);
                return other !== undefined && other.id !== session!.id && other.startedAt >= session!.startedAt;
              });
              // The session holds part of it (a narrower prefix placed before): the rules write
              // nothing over a session's own mapping, so a wider prefix it lists later is not added.
              const ownInside = [...store.holdings.values()].some(
                (holding) =>
                  holding.sessionId === session!.id &&
                  overlapsInAddress(holding.subnet, subnet) &&
                  holding.subnet.prefixLength > subnet.prefixLength,
              );
              // A later session took another of its addresses, which ended it whole before then,
              // or began on this one and so bounded its mapping of it, or of a wider prefix it
              // lists that covers it and so was placed instead (even if that session ended since:
              // a bound mapping is not extended again).
              const endedByLater = session!.endKind === 'SUPERSEDED' && session!.endedAt! < input.at;
              const boundByLater = store
                .holdingsOf(input.session.key)
                .some(
                  (holding) =>
                    holding.subnet.family === address.family &&
                    holding.subnet.first.value <= address.value &&
                    address.value <= holding.subnet.last.value &&
                    holding.endKind === 'SUPERSEDED' &&
                    endOf(holding) < input.at,
                );
              // A session that began at the same second holds it (a SESSION conflict says so):
              // an Interim-Update standing for a lost Start dates its addresses from the start.
              const sameStart = store.conflicts.some(
                (conflict) =>
                  conflict.sessionId === session!.id &&
                  conflict.kind === 'SESSION' &&
                  conflict.subnet.network === subnet.network,
              );
              expect(
                heldByIt || staticWins || laterSession || endedByLater || boundByLater || ownInside || sameStart,
                `${address.text} at ${input.at} after ${describeInput(input)}: held by ${holders.map((h) => store.ownerOf(h)).join(', ') || 'nobody'}\n${history.inputs.map(describeInput).join('\n')}`,
              ).toBe(true);
            }
          }
        });
      }),
      RUNS,
    );
  });
});
