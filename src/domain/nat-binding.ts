import type { IpAddress } from './ip.js';

// Port-block bindings from a CGNAT's allocation log (Juniper PBA and its kin): a public IPv4
// address's block of ports held by one inside address for a while. The device logs only the
// block's allocation, its release and (optionally) interim confirmations; syslog over UDP loses
// some of them and a device repeats others. These rules turn that stream into bindings with one
// holder per (public address, port, instant), as the store then writes them.

export type PortBlockEventKind = 'ALLOC' | 'RELEASE' | 'INTERIM';

export interface PortBlockEvent {
  kind: PortBlockEventKind;
  /** Unix seconds. */
  at: number;
  publicAddress: IpAddress;
  portFirst: number;
  portLast: number;
  insideAddress: IpAddress;
}

/**
 * Why a binding ended: `RELEASED` by its RELEASE; `SUPERSEDED`, inferred, when the block (or a
 * port of it) was allocated again, so its RELEASE was lost.
 */
export type BindingEndKind = 'RELEASED' | 'SUPERSEDED';

export interface BindingState {
  /** Negative for a binding these rules create. */
  id: number;
  publicAddress: IpAddress;
  portFirst: number;
  portLast: number;
  insideAddress: IpAddress;
  start: number;
  /** Inclusive; null while open. */
  end: number | null;
  endKind: BindingEndKind | null;
  /** The last ALLOC or INTERIM that spoke of it. */
  lastSeen: number;
  /** The time of its RELEASE as logged, even where the end had to stop short of the next holder. */
  releasedAt: number | null;
}

/**
 * `applied` changed something; `duplicate` had been applied already (a repeated line);
 * `stale` came after the binding it speaks of had ended, or is older than what is known of it;
 * `unmatched` is a RELEASE of a block nobody is known to hold: its start is unknown, so nothing
 * is written (and nothing guessed).
 */
export type PortBlockOutcome = 'applied' | 'duplicate' | 'stale' | 'unmatched';

export interface PortBlockPlan {
  /** New bindings (negative ids) and changed ones, each once, in its final state. */
  bindings: BindingState[];
  /** One per event, in order. */
  outcomes: PortBlockOutcome[];
}

/*
 * The rules, event by event (times are unix seconds, ends inclusive):
 * - ALLOC at T of ports P of address A for inside I: every binding of A sharing a port with P and
 *   open at T (begun before T) ends at T − 1 (SUPERSEDED: its RELEASE was lost), unless one was
 *   confirmed after T: then the ALLOC is the older news and stale; the new binding
 *   opens at T, ending just before the next binding of A that shares a port and begins later (a
 *   line read late). The same ALLOC again (same block, inside and start) is a duplicate.
 * - INTERIM at T: confirms the binding of that block and inside holding T (its last-seen time moves
 *   to T); with none, it stands for its lost ALLOC, as an ALLOC at T. A binding that had ended
 *   before T makes it stale.
 * - RELEASE at T: ends the binding of that block and inside that began no later at T (RELEASED), a
 *   binding inferred to have ended included (the RELEASE is the better evidence, though never past
 *   the next binding of its ports, its logged time then kept beside the end). The same RELEASE
 *   again is a duplicate, another RELEASE of a released binding stale. No such binding: unmatched.
 */

const NEVER = Number.MAX_SAFE_INTEGER;
const endOf = (binding: { end: number | null }) => binding.end ?? NEVER;

const sharesPorts = (a: PortRange, b: PortRange) =>
  a.publicAddress.value === b.publicAddress.value && a.portFirst <= b.portLast && b.portFirst <= a.portLast;
const sameBlock = (a: PortRange & { insideAddress: IpAddress }, b: PortRange & { insideAddress: IpAddress }) =>
  a.publicAddress.value === b.publicAddress.value &&
  a.portFirst === b.portFirst &&
  a.portLast === b.portLast &&
  a.insideAddress.value === b.insideAddress.value;

interface PortRange {
  publicAddress: IpAddress;
  portFirst: number;
  portLast: number;
}

/** Every change `events` make to `known` (the bindings sharing a port with theirs), applied in order. */
export function planPortBlocks(known: readonly BindingState[], events: readonly PortBlockEvent[]): PortBlockPlan {
  const bindings = known.map((binding) => ({ ...binding }));
  const changed = new Set<BindingState>();
  let nextId = -1;

  /** The first start, after `start`, of another binding sharing a port with `range`. */
  const nextStart = (range: PortRange, start: number, except: BindingState | null) => {
    let next = NEVER;
    for (const other of bindings) {
      if (other !== except && other.start > start && sharesPorts(other, range)) next = Math.min(next, other.start);
    }
    return next;
  };

  /** Ends `binding` at `end`, short of the next binding of its ports; false when that changes nothing. */
  function setEnd(binding: BindingState, end: number, kind: BindingEndKind): boolean {
    const next = nextStart(binding, binding.start, binding);
    const [bounded, finalKind] = end >= next ? [next - 1, 'SUPERSEDED' as const] : [end, kind];
    const finalEnd = Math.max(binding.start, bounded);
    if (binding.end === finalEnd && binding.endKind === finalKind) return false;
    binding.end = finalEnd;
    binding.endKind = finalKind;
    changed.add(binding);
    return true;
  }

  function open(event: PortBlockEvent): PortBlockOutcome {
    const meeting = (other: BindingState) =>
      other.start < event.at && endOf(other) >= event.at && sharesPorts(other, event);
    // A binding the device confirmed after this event's time held those ports then: the event is
    // the older news (a line read late), and ending that binding on its word would be wrong.
    if (bindings.some((other) => meeting(other) && other.lastSeen > event.at)) return 'stale';
    for (const other of bindings) {
      if (meeting(other)) setEnd(other, event.at - 1, 'SUPERSEDED');
    }
    const next = nextStart(event, event.at, null);
    const binding: BindingState = {
      id: nextId--,
      publicAddress: event.publicAddress,
      portFirst: event.portFirst,
      portLast: event.portLast,
      insideAddress: event.insideAddress,
      start: event.at,
      end: next === NEVER ? null : next - 1,
      endKind: next === NEVER ? null : 'SUPERSEDED',
      lastSeen: event.at,
      releasedAt: null,
    };
    bindings.push(binding);
    changed.add(binding);
    return 'applied';
  }

  /** The binding of the event's block and inside address that began latest, no later than the event. */
  const holding = (event: PortBlockEvent) => {
    let found: BindingState | null = null;
    for (const binding of bindings) {
      if (sameBlock(binding, event) && binding.start <= event.at && (!found || binding.start > found.start)) {
        found = binding;
      }
    }
    return found;
  };

  function apply(event: PortBlockEvent): PortBlockOutcome {
    const own = holding(event);
    // Another binding sharing a port began at the same second: two holders cannot both be right,
    // and the one on record stays.
    const rival = bindings.find((other) => other.start === event.at && sharesPorts(other, event) && other !== own);
    if (event.kind === 'ALLOC') {
      if (own && own.start === event.at) return 'duplicate';
      if (rival) return 'stale';
      return open(event);
    }
    if (event.kind === 'INTERIM') {
      if (own && endOf(own) >= event.at) {
        if (event.at <= own.lastSeen) return 'duplicate';
        own.lastSeen = event.at;
        changed.add(own);
        return 'applied';
      }
      if (own && own.endKind === 'RELEASED') return 'stale';
      if (rival) return 'stale';
      return open(event);
    }
    // RELEASE. Matched on its logged time first: a block released and allocated again in the same
    // second leaves the released binding ending a second early, and the repeated RELEASE is its.
    if (bindings.some((binding) => sameBlock(binding, event) && binding.releasedAt === event.at)) return 'duplicate';
    if (!own) return 'unmatched';
    if (own.releasedAt !== null) return 'stale';
    own.releasedAt = event.at;
    changed.add(own);
    setEnd(own, event.at, 'RELEASED');
    return 'applied';
  }

  const outcomes = events.map(apply);
  return { bindings: [...changed], outcomes };
}
