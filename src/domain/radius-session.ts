import { type IpSubnet, subnetsOverlap } from './ip.js';
import type { AccountingEvent } from './radius.js';

// The rules that turn accounting events into mappings, as FreeRADIUS's radacct queries keep
// sessions, held to the one-owner rule. Pure: the store loads what the events touch (a snapshot),
// this plans every change, and the store writes the plan in the same transaction.

/** How a session or one of its mappings ended: reported by the NAS (Stop), or inferred. */
export type EndKind =
  /** A Stop said so. */
  | 'REPORTED'
  /** Accounting-On or -Off from its NAS: the NAS restarted, or stopped accounting. */
  | 'NAS_RESTARTED'
  /** Another session began on one of its addresses (its Stop was lost). */
  | 'SUPERSEDED'
  /** An Interim-Update listed other addresses: this one ended just before it. */
  | 'ADDRESS_CHANGED'
  /** Nothing heard for longer than the session timeout: it ended when it was last heard of. */
  | 'TIMED_OUT';

export const isInferredEnd = (kind: EndKind | null): boolean => kind !== null && kind !== 'REPORTED';

/** A RADIUS session as stored. `id` is negative for a session the plan creates. */
export interface SessionState {
  id: number;
  key: string;
  /** User-Name: the UserID of the session's customer in its context. */
  userName: string;
  acctSessionId: string;
  nasKey: string;
  nasIpAddress: string | null;
  nasIdentifier: string | null;
  nasPortId: string | null;
  callingStationId: string | null;
  startedAt: number;
  lastSeen: number;
  endedAt: number | null;
  endKind: EndKind | null;
  terminateCause: string | null;
}

/**
 * A mapping as the rules see it: RADIUS ones belong to a session, static ones (API, REST, CSV)
 * to none and are never changed here. `id` is negative for a mapping the plan creates.
 */
export interface HoldingState {
  id: number;
  userId: string;
  subnet: IpSubnet;
  start: number;
  end: number | null;
  sessionId: number | null;
  endKind: EndKind | null;
}

/**
 * A carrier-grade NAT port block or deterministic rule: it holds ports of its public addresses,
 * so no mapping of a whole address (as a session's is) may share an address and an instant with it.
 * Never changed here.
 */
export interface NatHolding {
  kind: 'NAT_BINDING' | 'NAT_RULE';
  /** The binding's or the rule's id. */
  id: number;
  /** The binding's public address, or the rule's outside prefix. */
  subnet: IpSubnet;
  start: number;
  end: number | null;
}

/** Everything the events touch, as stored, in one context (see SnapshotNeeds). */
export interface AccountingSnapshot {
  sessions: readonly SessionState[];
  holdings: readonly HoldingState[];
  /** The NAT bindings and rules sharing an address with the mappings of step 3 (see SnapshotNeeds). */
  natHolders: readonly NatHolding[];
}

/**
 * What a batch of events reads, in one context. The store loads:
 * 1. the sessions whose key is in `sessionKeys`; the open sessions of the NASes in `nasKeys`;
 *    when `staleBefore` is set, the open sessions last seen before it;
 * 2. every mapping of those sessions;
 * 3. every mapping (any source) that overlaps one of `subnets` or one of those mappings' subnets
 *    and is open or ends at or after `since` (or the earliest start of the sessions of step 1, if
 *    earlier): a mapping that ended before then cannot meet anything the events write;
 * 4. the sessions, still open, of the mappings of step 3, and every mapping of those sessions: a
 *    Start that takes an address from an open session ends the whole session;
 * 5. every NAT binding and rule sharing an address with the subnets of step 3 and open or ending
 *    at or after the same instant: they hold those addresses as a static mapping would.
 * Planning from that snapshot gives the same plan as planning from the whole database
 * (test/domain/radius-session.property.test.ts checks it).
 */
export interface SnapshotNeeds {
  sessionKeys: string[];
  nasKeys: string[];
  subnets: IpSubnet[];
  since: number;
  staleBefore: number | null;
}

/** Sessions silent for longer than `sessionTimeout` seconds before `at` end when they were last heard of. */
export interface TimeoutSweep {
  kind: 'sweep';
  at: number;
}

export type AccountingInput = AccountingEvent | TimeoutSweep;

/** Where and when a session's address was refused, and who for. */
interface ConflictSpan {
  sessionId: number;
  subnet: IpSubnet;
  start: number;
  end: number | null;
}

/**
 * A session's address that another holder already had: another customer's static mapping, a
 * session that began no later, or a carrier-grade NAT port block or rule of that public address.
 */
export type AccountingConflict = ConflictSpan &
  (
    | {
        /** The mapping that holds it. */
        mappingId: number;
        holderUserId: string;
        kind: 'STATIC_MAPPING' | 'SESSION';
      }
    | {
        /** The binding or rule that holds it. */
        natHolderId: number;
        kind: NatHolding['kind'];
      }
  );

/**
 * What became of an event: `applied` changed something; `duplicate` had been applied already
 * (a retransmission, a replayed file); `stale` came after its session had ended for good, or
 * older than what is known of it; `ignored` reports nothing about addresses. An Accounting-On/Off
 * or a sweep with no open session to end is a `duplicate`: it changes nothing, as a resent one
 * would not, so it is acknowledged as a no-op rather than counted as a change.
 */
export type EventOutcome = 'applied' | 'duplicate' | 'stale' | 'ignored';

export interface AccountingPlan {
  /** UserIDs the sessions' customers have; the store creates the missing ones (source RADIUS). */
  customers: string[];
  /** New sessions (negative ids) and changed ones, each in its final state, each once. */
  sessions: SessionState[];
  /** New mappings (negative ids, `sessionId` possibly negative) and changed ones, final state, each once. */
  holdings: HoldingState[];
  conflicts: AccountingConflict[];
  /** One per input, in order. */
  outcomes: EventOutcome[];
}

export interface AccountingRules {
  /** RADIUS_SESSION_TIMEOUT, seconds. */
  sessionTimeout: number;
}

/*
 * The rules, event by event (times are unix seconds, ends inclusive):
 *
 * - Start: a session not yet known begins at the event time, ongoing, and each of its addresses
 *   becomes a mapping from then. A Start of a known session is a duplicate.
 * - Interim-Update: of an unknown session (its Start was lost), the Start, begun at the event time
 *   − Acct-Session-Time. Of a known one: no older than its last-seen time, else a duplicate; it
 *   moves last-seen to the event time and reopens a session (and mappings) that had timed out;
 *   when it lists addresses, an open mapping of an address it no longer lists ends just before it
 *   (ADDRESS_CHANGED) and an address it lists that the session does not hold is added from then.
 *   After a reported or other inferred end, it is stale.
 * - Stop: of an unknown session, the closed session from event time − Acct-Session-Time to the
 *   event time. Of a known one: already REPORTED is a duplicate; otherwise the session and its
 *   mappings end at the stop time (REPORTED), including ends that had been inferred; an address
 *   the session never held is added for the whole session.
 * - Accounting-On/Off: every open session of that NAS begun no later ends then (NAS_RESTARTED),
 *   except one the NAS has reported since (last seen later): it outlived the restart, or the
 *   On/Off is a late copy, and either way its own later report is the better evidence.
 * - Sweep: every open session last seen more than the timeout before it ends at its last-seen
 *   time (TIMED_OUT).
 *
 * Placing an address [start, end] for a session, the one-owner rule decides:
 * - a static mapping (API, REST, CSV) sharing an address and an instant wins: nothing of it is
 *   written and a STATIC_MAPPING conflict is recorded;
 * - a mapping of another session begun earlier loses: an open session ends at start − 1 with all
 *   its open mappings (SUPERSEDED, its Stop was lost); a closed one only has that mapping cut;
 * - a mapping of another session begun later bounds this one: it ends just before (SUPERSEDED);
 *   begun at the same instant, the stored one stays and a SESSION conflict is recorded;
 * - one of its own addresses already covering it: nothing more to write (so addresses are placed
 *   widest prefix first).
 * An end moved later (a reopened or a reported end) stops short of the next mapping of the address,
 * whatever its source, and is then SUPERSEDED; an end never comes before its mapping's start.
 */

const NEVER = Number.MAX_SAFE_INTEGER;
const endOf = (holding: { end: number | null }) => holding.end ?? NEVER;
const timesMeet = (a: { start: number; end: number | null }, b: { start: number; end: number | null }) =>
  a.start <= endOf(b) && b.start <= endOf(a);
const bitsOf = (subnet: IpSubnet) => (subnet.family === 4 ? 32 : 128);

/** What `inputs` read, in one context (see SnapshotNeeds). */
export function snapshotNeeds(inputs: readonly AccountingInput[], rules: AccountingRules): SnapshotNeeds {
  const sessionKeys = new Set<string>();
  const nasKeys = new Set<string>();
  const subnets = new Map<string, IpSubnet>();
  let since = NEVER;
  let staleBefore: number | null = null;
  for (const input of inputs) {
    if (input.kind === 'sweep') {
      const before = input.at - rules.sessionTimeout;
      staleBefore = staleBefore === null ? before : Math.max(staleBefore, before);
    } else if (input.kind === 'nas') {
      nasKeys.add(input.nas.key);
      since = Math.min(since, input.at);
    } else {
      sessionKeys.add(input.session.key);
      for (const subnet of input.session.addresses) subnets.set(subnet.network, subnet);
      since = Math.min(since, Math.max(0, input.at - (input.session.sessionTime ?? 0)));
    }
  }
  return { sessionKeys: [...sessionKeys], nasKeys: [...nasKeys], subnets: [...subnets.values()], since, staleBefore };
}

/** The holdings by address: exact prefixes by key, and a scan for the longer prefixes inside a query. */
class HoldingIndex {
  private readonly byPrefix = new Map<string, HoldingState[]>();
  private readonly lengths = new Map<4 | 6, Set<number>>([
    [4, new Set()],
    [6, new Set()],
  ]);

  private static key(subnet: IpSubnet, length: number) {
    return `${subnet.family}/${length}/${(subnet.first.value >> BigInt(bitsOf(subnet) - length)).toString(16)}`;
  }

  add(holding: HoldingState) {
    const key = HoldingIndex.key(holding.subnet, holding.subnet.prefixLength);
    const bucket = this.byPrefix.get(key);
    if (bucket) bucket.push(holding);
    else this.byPrefix.set(key, [holding]);
    this.lengths.get(holding.subnet.family)!.add(holding.subnet.prefixLength);
  }

  /** Every holding sharing an address with `subnet`, at any time. */
  sharing(subnet: IpSubnet): HoldingState[] {
    const found: HoldingState[] = [];
    for (const length of this.lengths.get(subnet.family)!) {
      if (length <= subnet.prefixLength) {
        found.push(...(this.byPrefix.get(HoldingIndex.key(subnet, length)) ?? []));
      } else {
        for (const [key, bucket] of this.byPrefix) {
          if (!key.startsWith(`${subnet.family}/${length}/`)) continue;
          for (const holding of bucket) {
            if (holding.subnet.first.value >= subnet.first.value && holding.subnet.last.value <= subnet.last.value) {
              found.push(holding);
            }
          }
        }
      }
    }
    return found;
  }
}

/** Every change `inputs` make to `snapshot`, applied in order. */
export function planAccounting(
  snapshot: AccountingSnapshot,
  inputs: readonly AccountingInput[],
  rules: AccountingRules,
): AccountingPlan {
  const sessions = new Map<number, SessionState>();
  const sessionsByKey = new Map<string, SessionState>();
  const holdings = new Map<number, HoldingState>();
  const holdingsBySession = new Map<number, HoldingState[]>();
  const index = new HoldingIndex();
  const changedSessions = new Set<number>();
  const changedHoldings = new Set<number>();
  const customers = new Set<string>();
  const conflicts: AccountingConflict[] = [];
  let nextId = -1;

  const addSession = (session: SessionState) => {
    sessions.set(session.id, session);
    sessionsByKey.set(session.key, session);
  };
  const addHolding = (holding: HoldingState) => {
    holdings.set(holding.id, holding);
    index.add(holding);
    if (holding.sessionId !== null) {
      const own = holdingsBySession.get(holding.sessionId);
      if (own) own.push(holding);
      else holdingsBySession.set(holding.sessionId, [holding]);
    }
  };
  for (const session of snapshot.sessions) addSession({ ...session });
  for (const holding of snapshot.holdings) addHolding({ ...holding });

  // Few per batch (the public addresses a NAS handed out that a NAT pool also has): a scan.
  const natSharing = (subnet: IpSubnet) => snapshot.natHolders.filter((nat) => subnetsOverlap(nat.subnet, subnet));

  const ownHoldings = (session: SessionState) => holdingsBySession.get(session.id) ?? [];
  const touchSession = (session: SessionState) => changedSessions.add(session.id);

  /** Moves a holding's end to `end` (null: open), stopping short of the next mapping of its address. */
  function setEnd(holding: HoldingState, end: number | null, kind: EndKind | null) {
    let next = NEVER;
    for (const other of [...index.sharing(holding.subnet), ...natSharing(holding.subnet)]) {
      if (other !== holding && other.start > holding.start) next = Math.min(next, other.start);
    }
    let finalEnd = end;
    let finalKind = end === null ? null : kind;
    if (next !== NEVER && (end === null || end >= next)) {
      finalEnd = next - 1;
      finalKind = 'SUPERSEDED';
    }
    if (finalEnd !== null) finalEnd = Math.max(holding.start, finalEnd);
    if (holding.end === finalEnd && holding.endKind === finalKind) return;
    holding.end = finalEnd;
    holding.endKind = finalKind;
    changedHoldings.add(holding.id);
  }

  /** Ends an open session and its open holdings at `at`. */
  function endSession(session: SessionState, at: number, kind: EndKind) {
    session.endedAt = Math.max(session.startedAt, at);
    session.endKind = kind;
    touchSession(session);
    for (const holding of ownHoldings(session)) {
      if (holding.end === null || holding.end > session.endedAt) setEnd(holding, session.endedAt, kind);
    }
  }

  /** Writes `subnet` as held by `session` from `start` to `end`, by the one-owner rule. */
  function place(session: SessionState, subnet: IpSubnet, start: number, end: number | null, kind: EndKind | null) {
    const span = { start, end };
    const meeting = index.sharing(subnet).filter((other) => timesMeet(other, span));
    if (meeting.some((other) => other.sessionId === session.id)) return;
    const natHolder = natSharing(subnet).find((other) => timesMeet(other, span));
    if (natHolder) {
      conflicts.push({ sessionId: session.id, subnet, start, end, natHolderId: natHolder.id, kind: natHolder.kind });
      return;
    }
    const holder = meeting.find((other) => other.sessionId === null);
    const sameStart = meeting.find((other) => other.start === start);
    const blocking = holder ?? sameStart;
    if (blocking) {
      conflicts.push({
        sessionId: session.id,
        subnet,
        start,
        end,
        mappingId: blocking.id,
        holderUserId: blocking.userId,
        kind: blocking.sessionId === null ? 'STATIC_MAPPING' : 'SESSION',
      });
      return;
    }
    let finalEnd = end;
    let finalKind = kind;
    for (const other of meeting) {
      if (other.start < start) {
        const owner = sessions.get(other.sessionId!);
        if (owner && owner.endedAt === null) endSession(owner, start - 1, 'SUPERSEDED');
        if (endOf(other) >= start) setEnd(other, start - 1, 'SUPERSEDED');
      } else if (finalEnd === null || finalEnd >= other.start) {
        finalEnd = other.start - 1;
        finalKind = 'SUPERSEDED';
      }
    }
    const holding: HoldingState = {
      id: nextId--,
      userId: session.userName,
      subnet,
      start,
      end: finalEnd,
      sessionId: session.id,
      endKind: finalEnd === null ? null : finalKind,
    };
    customers.add(holding.userId);
    addHolding(holding);
    changedHoldings.add(holding.id);
  }

  const widestFirst = (subnets: readonly IpSubnet[]) => [...subnets].sort((a, b) => a.prefixLength - b.prefixLength);

  function newSession(event: Extract<AccountingEvent, { kind: 'session' }>, startedAt: number): SessionState {
    const { session: report, nas } = event;
    const session: SessionState = {
      id: nextId--,
      key: report.key,
      userName: report.userName,
      acctSessionId: report.acctSessionId,
      nasKey: nas.key,
      nasIpAddress: nas.ipAddress,
      nasIdentifier: nas.identifier,
      nasPortId: report.nasPortId,
      callingStationId: report.callingStationId,
      startedAt,
      lastSeen: Math.max(startedAt, event.at),
      endedAt: null,
      endKind: null,
      terminateCause: null,
    };
    addSession(session);
    touchSession(session);
    customers.add(session.userName);
    return session;
  }

  function apply(input: AccountingInput): EventOutcome {
    if (input.kind === 'sweep') {
      const before = input.at - rules.sessionTimeout;
      let ended = false;
      for (const session of sessions.values()) {
        if (session.endedAt !== null || session.lastSeen >= before) continue;
        endSession(session, session.lastSeen, 'TIMED_OUT');
        ended = true;
      }
      return ended ? 'applied' : 'duplicate';
    }
    if (input.kind === 'nas') {
      let ended = false;
      for (const session of sessions.values()) {
        if (session.endedAt !== null || session.nasKey !== input.nas.key) continue;
        if (session.startedAt > input.at || session.lastSeen > input.at) continue;
        endSession(session, input.at, 'NAS_RESTARTED');
        ended = true;
      }
      return ended ? 'applied' : 'duplicate';
    }

    const { session: report, at } = input;
    const known = sessionsByKey.get(report.key);
    const addresses = widestFirst(report.addresses);
    const begunAt = Math.max(0, at - (report.sessionTime ?? 0));
    if (input.status === 'Start') {
      if (known) return 'duplicate';
      const session = newSession(input, at);
      for (const subnet of addresses) place(session, subnet, at, null, null);
      return 'applied';
    }
    if (input.status === 'Interim-Update') {
      if (!known) {
        const session = newSession(input, begunAt);
        for (const subnet of addresses) place(session, subnet, begunAt, null, null);
        return 'applied';
      }
      if (known.endKind !== null && known.endKind !== 'TIMED_OUT') return 'stale';
      if (at <= known.lastSeen) return 'duplicate';
      known.lastSeen = at;
      touchSession(known);
      if (known.endKind === 'TIMED_OUT') {
        known.endedAt = null;
        known.endKind = null;
        for (const holding of ownHoldings(known)) {
          if (holding.endKind === 'TIMED_OUT') setEnd(holding, null, null);
        }
      }
      if (addresses.length > 0) {
        const listed = new Set(addresses.map((subnet) => subnet.network));
        for (const holding of ownHoldings(known)) {
          if (holding.end === null && !listed.has(holding.subnet.network)) setEnd(holding, at - 1, 'ADDRESS_CHANGED');
        }
        for (const subnet of addresses) {
          const held = ownHoldings(known).some(
            (holding) => holding.subnet.network === subnet.network && holding.end === null,
          );
          if (!held) place(known, subnet, at, null, null);
        }
      }
      return 'applied';
    }
    // Stop
    if (!known) {
      const session = newSession(input, begunAt);
      session.endedAt = Math.max(begunAt, at);
      session.endKind = 'REPORTED';
      session.terminateCause = report.terminateCause;
      for (const subnet of addresses) place(session, subnet, begunAt, session.endedAt, 'REPORTED');
      return 'applied';
    }
    if (known.endKind === 'REPORTED') return 'duplicate';
    known.endedAt = Math.max(known.startedAt, at);
    known.endKind = 'REPORTED';
    known.lastSeen = Math.max(known.lastSeen, at);
    known.terminateCause = report.terminateCause;
    touchSession(known);
    for (const holding of ownHoldings(known)) {
      if (holding.endKind === 'ADDRESS_CHANGED') {
        if (endOf(holding) > known.endedAt) setEnd(holding, known.endedAt, 'ADDRESS_CHANGED');
      } else {
        setEnd(holding, known.endedAt, 'REPORTED');
      }
    }
    for (const subnet of addresses) {
      if (!ownHoldings(known).some((holding) => holding.subnet.network === subnet.network)) {
        place(known, subnet, known.startedAt, known.endedAt, 'REPORTED');
      }
    }
    return 'applied';
  }

  const outcomes = inputs.map(apply);
  return {
    customers: [...customers],
    sessions: [...changedSessions].map((id) => sessions.get(id)!),
    holdings: [...changedHoldings].map((id) => holdings.get(id)!),
    conflicts,
    outcomes,
  };
}
