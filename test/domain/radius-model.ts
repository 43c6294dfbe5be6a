import { requiredText } from '../../src/domain/customer.js';
import { type IpAddress, type IpSubnet, parseIpSubnet } from '../../src/domain/ip.js';
import type { AccountingEvent, NasIdentity, NasStatus, SessionStatus } from '../../src/domain/radius.js';
import type {
  AccountingConflict,
  AccountingInput,
  AccountingPlan,
  AccountingSnapshot,
  EndKind,
  EventOutcome,
  HoldingState,
  SessionState,
} from '../../src/domain/radius-session.js';

// A second implementation of the accounting rules, written from the rules comment in
// src/domain/radius-session.ts and issue 16 alone, for the property test to hold the planner to.
// It is deliberately plain: one list of holdings, every question answered by scanning all of it,
// no snapshot, no ids. Where the comment leaves a choice open, the choice is said where it is made.

/** Who a holding belongs to: `session:<key>` for a RADIUS session, `static:<id>` for a static mapping. */
export type Owner = `session:${string}` | `static:${number}`;

export interface ModelSession {
  key: string;
  userName: string;
  nasKey: string;
  startedAt: number;
  lastSeen: number;
  endedAt: number | null;
  endKind: EndKind | null;
}

export interface ModelHolding {
  owner: Owner;
  userId: string;
  subnet: IpSubnet;
  start: number;
  end: number | null;
  endKind: EndKind | null;
}

export interface StaticMapping {
  id: number;
  userId: string;
  subnet: IpSubnet;
  start: number;
  end: number | null;
}

export interface ModelConflict {
  sessionKey: string;
  network: string;
  kind: 'STATIC_MAPPING' | 'SESSION';
  holder: Owner;
}

const FOREVER = Number.POSITIVE_INFINITY;
const endOf = (span: { end: number | null }) => span.end ?? FOREVER;
const spansMeet = (a: { start: number; end: number | null }, b: { start: number; end: number | null }) =>
  a.start <= endOf(b) && b.start <= endOf(a);
const addressesMeet = (a: IpSubnet, b: IpSubnet) =>
  a.family === b.family && a.first.value <= b.last.value && b.first.value <= a.last.value;
const sessionOwner = (key: string): Owner => `session:${key}`;

export class AccountingModel {
  readonly sessions = new Map<string, ModelSession>();
  readonly holdings: ModelHolding[] = [];
  readonly conflicts: ModelConflict[] = [];
  /** How many sessions the last Accounting-On/Off or sweep ended. */
  private lastEnded = 0;

  constructor(
    statics: readonly StaticMapping[],
    private readonly sessionTimeout: number,
  ) {
    for (const mapping of statics) {
      this.holdings.push({
        owner: `static:${mapping.id}`,
        userId: mapping.userId,
        subnet: mapping.subnet,
        start: mapping.start,
        end: mapping.end,
        endKind: null,
      });
    }
  }

  apply(input: AccountingInput): EventOutcome {
    if (input.kind === 'sweep') return this.sweep(input.at);
    if (input.kind === 'nas') return this.nasRestarted(input.nas.key, input.at);
    switch (input.status) {
      case 'Start':
        return this.start(input);
      case 'Interim-Update':
        return this.interim(input);
      case 'Stop':
        return this.stop(input);
    }
  }

  /** The holding that held `address` at `at`, if any. */
  whoHad(address: IpAddress, at: number): ModelHolding | null {
    const holders = this.holdings.filter(
      (holding) =>
        holding.subnet.family === address.family &&
        holding.subnet.first.value <= address.value &&
        address.value <= holding.subnet.last.value &&
        holding.start <= at &&
        at <= endOf(holding),
    );
    if (holders.length > 1) throw new Error(`the model broke the one-owner rule at ${address.text}, ${at}`);
    return holders[0] ?? null;
  }

  private holdingsOf(key: string): ModelHolding[] {
    return this.holdings.filter((holding) => holding.owner === sessionOwner(key));
  }

  private begin(event: SessionEvent, startedAt: number, ended: { at: number; kind: EndKind } | null): ModelSession {
    const session: ModelSession = {
      key: event.session.key,
      userName: event.session.userName,
      nasKey: event.nas.key,
      startedAt,
      lastSeen: event.at,
      endedAt: ended?.at ?? null,
      endKind: ended?.kind ?? null,
    };
    this.sessions.set(session.key, session);
    return session;
  }

  private start(event: SessionEvent): EventOutcome {
    if (this.sessions.has(event.session.key)) return 'duplicate';
    const session = this.begin(event, event.at, null);
    this.placeAll(session, event.session.addresses, event.at, null, null);
    return 'applied';
  }

  private interim(event: SessionEvent): EventOutcome {
    const known = this.sessions.get(event.session.key);
    if (!known) {
      const startedAt = Math.max(0, event.at - (event.session.sessionTime ?? 0));
      const session = this.begin(event, startedAt, null);
      this.placeAll(session, event.session.addresses, startedAt, null, null);
      return 'applied';
    }
    if (known.endKind !== null && known.endKind !== 'TIMED_OUT') return 'stale';
    // "No older than its last-seen time": one heard at that very second again is the same report.
    if (event.at <= known.lastSeen) return 'duplicate';
    known.lastSeen = event.at;
    if (known.endKind === 'TIMED_OUT') {
      const endedAt = known.endedAt;
      known.endedAt = null;
      known.endKind = null;
      for (const holding of this.holdingsOf(known.key)) {
        if (holding.endKind === 'TIMED_OUT' && holding.end === endedAt) this.moveEndLater(holding, null, null);
      }
    }
    if (event.session.addresses.length > 0) {
      const listed = new Set(event.session.addresses.map((subnet) => subnet.network));
      for (const holding of this.holdingsOf(known.key)) {
        if (holding.end === null && !listed.has(holding.subnet.network)) {
          holding.end = Math.max(holding.start, event.at - 1);
          holding.endKind = 'ADDRESS_CHANGED';
        }
      }
      const heldOpen = new Set(
        this.holdingsOf(known.key)
          .filter((holding) => holding.end === null)
          .map((holding) => holding.subnet.network),
      );
      const added = event.session.addresses.filter((subnet) => !heldOpen.has(subnet.network));
      this.placeAll(known, added, event.at, null, null);
    }
    return 'applied';
  }

  private stop(event: SessionEvent): EventOutcome {
    const known = this.sessions.get(event.session.key);
    if (!known) {
      const startedAt = Math.max(0, event.at - (event.session.sessionTime ?? 0));
      const session = this.begin(event, startedAt, { at: event.at, kind: 'REPORTED' });
      this.placeAll(session, event.session.addresses, startedAt, event.at, 'REPORTED');
      return 'applied';
    }
    if (known.endKind === 'REPORTED') return 'duplicate';
    // As a mapping's, a session's end never comes before its start.
    known.endedAt = Math.max(known.startedAt, event.at);
    known.endKind = 'REPORTED';
    known.lastSeen = Math.max(known.lastSeen, event.at);
    // Choice: "its mappings" are all but those an Interim-Update ended (ADDRESS_CHANGED): the
    // session had let go of those addresses before it stopped, so they only never outlive it.
    for (const holding of this.holdingsOf(known.key)) {
      if (holding.endKind === 'ADDRESS_CHANGED') {
        holding.end = Math.max(holding.start, Math.min(endOf(holding), known.endedAt));
        continue;
      }
      if (event.at > endOf(holding)) this.moveEndLater(holding, event.at, 'REPORTED');
      else {
        holding.end = Math.max(holding.start, event.at);
        holding.endKind = 'REPORTED';
      }
    }
    const everHeld = new Set(this.holdingsOf(known.key).map((holding) => holding.subnet.network));
    const neverHeld = event.session.addresses.filter((subnet) => !everHeld.has(subnet.network));
    this.placeAll(known, neverHeld, known.startedAt, known.endedAt, 'REPORTED');
    return 'applied';
  }

  private nasRestarted(nasKey: string, at: number): EventOutcome {
    this.lastEnded = 0;
    for (const session of this.sessions.values()) {
      if (session.nasKey !== nasKey || session.endedAt !== null || session.startedAt > at) continue;
      // Reported alive after the restart: the On/Off is the older news.
      if (session.lastSeen > at) continue;
      this.endSession(session, at, 'NAS_RESTARTED');
    }
    return this.lastEnded > 0 ? 'applied' : 'duplicate';
  }

  private sweep(at: number): EventOutcome {
    this.lastEnded = 0;
    for (const session of this.sessions.values()) {
      if (session.endedAt !== null || at - session.lastSeen <= this.sessionTimeout) continue;
      this.endSession(session, session.lastSeen, 'TIMED_OUT');
    }
    return this.lastEnded > 0 ? 'applied' : 'duplicate';
  }

  // Choice: no mapping outlives its session, so one that ends later (open, or bounded by a
  // later session after the session's end) ends with it.
  private endSession(session: ModelSession, at: number, kind: EndKind): void {
    this.lastEnded++;
    session.endedAt = at;
    session.endKind = kind;
    for (const holding of this.holdingsOf(session.key)) {
      if (endOf(holding) <= at) continue;
      holding.end = Math.max(holding.start, at);
      holding.endKind = kind;
    }
  }

  /** An end moved later stops short of the next mapping of its address, whatever its source. */
  private moveEndLater(holding: ModelHolding, end: number | null, kind: EndKind | null): void {
    const next = this.holdings
      .filter(
        (other) =>
          other !== holding &&
          addressesMeet(other.subnet, holding.subnet) &&
          other.start > holding.start &&
          other.start <= (end ?? FOREVER),
      )
      .reduce((earliest, other) => Math.min(earliest, other.start), FOREVER);
    if (next === FOREVER) {
      holding.end = end;
      holding.endKind = kind;
    } else {
      holding.end = Math.max(holding.start, next - 1);
      holding.endKind = 'SUPERSEDED';
    }
  }

  private placeAll(
    session: ModelSession,
    addresses: readonly IpSubnet[],
    start: number,
    end: number | null,
    endKind: EndKind | null,
  ): void {
    const widestFirst = [...addresses].sort((a, b) => a.prefixLength - b.prefixLength);
    for (const subnet of widestFirst) this.place(session, subnet, start, end, endKind);
  }

  /** The one-owner rule, placing `subnet` over [start, end] for `session`. */
  private place(
    session: ModelSession,
    subnet: IpSubnet,
    start: number,
    end: number | null,
    endKind: EndKind | null,
  ): void {
    const span = { start, end };
    const meeting = this.holdings.filter(
      (holding) => addressesMeet(holding.subnet, subnet) && spansMeet(holding, span),
    );
    // Choice: any holding of its own that meets the placement is taken as covering it.
    if (meeting.some((holding) => holding.owner === sessionOwner(session.key))) return;
    const statics = meeting.filter((holding) => holding.owner.startsWith('static:'));
    if (statics.length > 0) {
      for (const holding of statics) {
        this.conflicts.push({
          sessionKey: session.key,
          network: subnet.network,
          kind: 'STATIC_MAPPING',
          holder: holding.owner,
        });
      }
      return;
    }
    const sameStart = meeting.filter((holding) => holding.start === start);
    if (sameStart.length > 0) {
      for (const holding of sameStart) {
        this.conflicts.push({
          sessionKey: session.key,
          network: subnet.network,
          kind: 'SESSION',
          holder: holding.owner,
        });
      }
      return;
    }
    const laterStart = meeting
      .filter((holding) => holding.start > start)
      .reduce((earliest, holding) => Math.min(earliest, holding.start), FOREVER);
    const placed: ModelHolding = {
      owner: sessionOwner(session.key),
      userId: session.userName,
      subnet,
      start,
      end: laterStart === FOREVER ? end : laterStart - 1,
      endKind: laterStart === FOREVER ? endKind : 'SUPERSEDED',
    };
    for (const holding of meeting.filter((other) => other.start < start)) {
      const loser = this.sessions.get(holding.owner.slice('session:'.length));
      if (loser && loser.endedAt === null) this.endSession(loser, start - 1, 'SUPERSEDED');
      holding.end = Math.max(holding.start, start - 1);
      holding.endKind = 'SUPERSEDED';
    }
    this.holdings.push(placed);
  }
}

type SessionEvent = Extract<AccountingEvent, { kind: 'session' }>;

// ---- Building events, and a store that applies plans, for the tests of the planner ----

export const NAS_A: NasIdentity = { ipAddress: '10.0.0.1', identifier: null, key: '10.0.0.1/' };
export const NAS_B: NasIdentity = { ipAddress: '10.0.0.2', identifier: 'bng-b', key: '10.0.0.2/bng-b' };

export interface SessionEventSpec {
  user: string;
  sid: string;
  nas?: NasIdentity;
  addresses?: readonly string[];
  sessionTime?: number | null;
}

/** A session event as readAccountingEvent gives it; the key stands for acct_unique's MD5. */
export function sessionEvent(status: SessionStatus, at: number, spec: SessionEventSpec): AccountingEvent {
  const nas = spec.nas ?? NAS_A;
  return {
    kind: 'session',
    status,
    at,
    nas,
    session: {
      key: `${spec.user},${spec.sid},${nas.key}`,
      userName: requiredText(spec.user),
      acctSessionId: spec.sid,
      callingStationId: null,
      nasPortId: null,
      sessionTime: spec.sessionTime ?? null,
      terminateCause: status === 'Stop' ? 'User-Request' : null,
      addresses: (spec.addresses ?? []).map((text) => parseIpSubnet(text)),
    },
  };
}

export const sessionKeyOf = (spec: SessionEventSpec) => `${spec.user},${spec.sid},${(spec.nas ?? NAS_A).key}`;

export function nasEvent(status: NasStatus, at: number, nas: NasIdentity = NAS_A): AccountingEvent {
  return { kind: 'nas', status, at, nas };
}

/**
 * The whole database of one context, in memory: plans are applied as the real store writes them
 * (a negative id becomes a fresh positive one, wherever it is referred to), and a plan that
 * names a row twice, changes a static mapping or refers to an unknown row fails the test.
 */
export class PlanStore {
  readonly sessions = new Map<number, SessionState>();
  readonly holdings = new Map<number, HoldingState>();
  readonly conflicts: AccountingConflict[] = [];
  private nextId = 1;

  constructor(statics: readonly StaticMapping[] = []) {
    for (const mapping of statics) {
      this.holdings.set(mapping.id, { ...mapping, sessionId: null, endKind: null });
      this.nextId = Math.max(this.nextId, mapping.id + 1);
    }
  }

  clone(): PlanStore {
    const copy = new PlanStore();
    for (const [id, session] of this.sessions) copy.sessions.set(id, { ...session });
    for (const [id, holding] of this.holdings) copy.holdings.set(id, { ...holding });
    copy.conflicts.push(...this.conflicts.map((conflict) => ({ ...conflict })));
    copy.nextId = this.nextId;
    return copy;
  }

  snapshot(): AccountingSnapshot {
    return { sessions: [...this.sessions.values()], holdings: [...this.holdings.values()], natHolders: [] };
  }

  apply(plan: AccountingPlan): void {
    const freshSessions = new Map<number, number>();
    const freshHoldings = new Map<number, number>();
    const idOf = (id: number, what: 'session' | 'mapping') => {
      if (id > 0) return id;
      const known = (what === 'session' ? freshSessions : freshHoldings).get(id);
      if (known === undefined) throw new Error(`the plan refers to ${what} ${id}, which it does not create`);
      return known;
    };
    const seenSessions = new Set<number>();
    for (const session of plan.sessions) {
      if (seenSessions.has(session.id)) throw new Error(`the plan names session ${session.id} twice`);
      seenSessions.add(session.id);
      if (session.id < 0) freshSessions.set(session.id, this.nextId++);
      else if (!this.sessions.has(session.id))
        throw new Error(`the plan changes session ${session.id}, which is not stored`);
      this.sessions.set(idOf(session.id, 'session'), { ...session, id: idOf(session.id, 'session') });
    }
    const seenHoldings = new Set<number>();
    for (const holding of plan.holdings) {
      if (seenHoldings.has(holding.id)) throw new Error(`the plan names mapping ${holding.id} twice`);
      seenHoldings.add(holding.id);
      if (holding.sessionId === null) throw new Error(`the plan writes static mapping ${holding.id}`);
      const stored = this.holdings.get(holding.id);
      if (holding.id > 0 && stored === undefined)
        throw new Error(`the plan changes mapping ${holding.id}, which is not stored`);
      if (stored && stored.sessionId === null) throw new Error(`the plan changes static mapping ${holding.id}`);
      const sessionId = idOf(holding.sessionId, 'session');
      if (!this.sessions.has(sessionId)) throw new Error(`mapping ${holding.id} belongs to no stored session`);
      const id = holding.id < 0 ? this.nextId++ : holding.id;
      if (holding.id < 0) freshHoldings.set(holding.id, id);
      this.holdings.set(id, { ...holding, id, sessionId });
    }
    for (const conflict of plan.conflicts) {
      if (!('mappingId' in conflict))
        throw new Error(`conflict with NAT holder ${conflict.natHolderId}: none is stored`);
      const mappingId = idOf(conflict.mappingId, 'mapping');
      if (!this.holdings.has(mappingId)) throw new Error(`conflict with mapping ${mappingId}, which is not stored`);
      this.conflicts.push({ ...conflict, sessionId: idOf(conflict.sessionId, 'session'), mappingId });
    }
  }

  ownerOf(holding: HoldingState): Owner {
    if (holding.sessionId === null) return `static:${holding.id}`;
    const session = this.sessions.get(holding.sessionId);
    if (!session) throw new Error(`mapping ${holding.id} belongs to no stored session`);
    return `session:${session.key}`;
  }

  sessionByKey(key: string): SessionState | undefined {
    return [...this.sessions.values()].find((session) => session.key === key);
  }

  /** The holdings that held `address` at `at` (the one-owner rule says at most one). */
  holders(address: IpAddress, at: number): HoldingState[] {
    return [...this.holdings.values()].filter(
      (holding) =>
        holding.subnet.family === address.family &&
        holding.subnet.first.value <= address.value &&
        address.value <= holding.subnet.last.value &&
        holding.start <= at &&
        at <= endOf(holding),
    );
  }

  /** The mappings of a session, by its key, oldest first. */
  holdingsOf(key: string): HoldingState[] {
    const session = this.sessionByKey(key);
    if (!session) return [];
    return [...this.holdings.values()]
      .filter((holding) => holding.sessionId === session.id)
      .sort((a, b) => a.start - b.start || a.subnet.network.localeCompare(b.subnet.network));
  }
}
