import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseIpAddress } from '../../src/domain/ip.js';
import {
  type BindingState,
  type PortBlockEvent,
  type PortBlockEventKind,
  planPortBlocks,
} from '../../src/domain/nat-binding.js';

const PUBLIC = parseIpAddress('203.0.113.100');
const event = (kind: PortBlockEventKind, at: number, inside: string, ports: [number, number] = [24064, 24191]) =>
  ({
    kind,
    at,
    publicAddress: PUBLIC,
    portFirst: ports[0],
    portLast: ports[1],
    insideAddress: parseIpAddress(inside),
  }) satisfies PortBlockEvent;

/** Applies events one plan at a time, as the store would, and keeps every binding. */
class BindingStore {
  readonly bindings = new Map<number, BindingState>();
  private nextId = 1;

  run(...events: PortBlockEvent[]) {
    const plan = planPortBlocks([...this.bindings.values()], events);
    for (const binding of plan.bindings) {
      const id = binding.id < 0 ? this.nextId++ : binding.id;
      this.bindings.set(id, { ...binding, id });
    }
    return plan.outcomes;
  }

  list() {
    return [...this.bindings.values()]
      .sort((a, b) => a.start - b.start || a.portFirst - b.portFirst)
      .map((b) => ({
        inside: b.insideAddress.text,
        ports: `${b.portFirst}-${b.portLast}`,
        start: b.start,
        end: b.end,
        endKind: b.endKind,
      }));
  }
}

describe('port-block bindings', () => {
  it('ALLOC opens, INTERIM confirms, RELEASE ends', () => {
    const store = new BindingStore();
    expect(store.run(event('ALLOC', 100, '100.64.60.74'))).toEqual(['applied']);
    expect(store.run(event('INTERIM', 1900, '100.64.60.74'))).toEqual(['applied']);
    expect(store.run(event('RELEASE', 2500, '100.64.60.74'))).toEqual(['applied']);
    expect(store.list()).toEqual([
      { inside: '100.64.60.74', ports: '24064-24191', start: 100, end: 2500, endKind: 'RELEASED' },
    ]);
    expect([...store.bindings.values()][0]!.lastSeen).toBe(1900);
  });

  it('a repeated line is a duplicate and changes nothing', () => {
    const store = new BindingStore();
    store.run(
      event('ALLOC', 100, '100.64.60.74'),
      event('INTERIM', 200, '100.64.60.74'),
      event('RELEASE', 300, '100.64.60.74'),
    );
    const before = store.list();
    expect(
      store.run(
        event('ALLOC', 100, '100.64.60.74'),
        event('INTERIM', 200, '100.64.60.74'),
        event('RELEASE', 300, '100.64.60.74'),
      ),
    ).toEqual(['duplicate', 'duplicate', 'duplicate']);
    expect(store.list()).toEqual(before);
  });

  it('an ALLOC of a block still open ends the old binding just before (its RELEASE was lost)', () => {
    const store = new BindingStore();
    store.run(event('ALLOC', 100, '100.64.0.1'));
    // Another subscriber gets a block overlapping it in part.
    expect(store.run(event('ALLOC', 500, '100.64.0.2', [24128, 24255]))).toEqual(['applied']);
    expect(store.list()).toEqual([
      { inside: '100.64.0.1', ports: '24064-24191', start: 100, end: 499, endKind: 'SUPERSEDED' },
      { inside: '100.64.0.2', ports: '24128-24255', start: 500, end: null, endKind: null },
    ]);
  });

  it('a block of other ports of the same address is left alone', () => {
    const store = new BindingStore();
    store.run(event('ALLOC', 100, '100.64.0.1'), event('ALLOC', 200, '100.64.0.2', [24192, 24319]));
    expect(store.list().map((b) => b.end)).toEqual([null, null]);
  });

  it('an ALLOC read late ends just before the binding that began after it', () => {
    const store = new BindingStore();
    store.run(event('ALLOC', 500, '100.64.0.2'));
    expect(store.run(event('ALLOC', 100, '100.64.0.1'))).toEqual(['applied']);
    expect(store.list()).toEqual([
      { inside: '100.64.0.1', ports: '24064-24191', start: 100, end: 499, endKind: 'SUPERSEDED' },
      { inside: '100.64.0.2', ports: '24064-24191', start: 500, end: null, endKind: null },
    ]);
    // Its RELEASE, read later still, ends it earlier: the better evidence.
    expect(store.run(event('RELEASE', 300, '100.64.0.1'))).toEqual(['applied']);
    expect(store.list()[0]).toMatchObject({ end: 300, endKind: 'RELEASED' });
    // A RELEASE after the next binding began cannot reach past it.
    const other = new BindingStore();
    other.run(event('ALLOC', 500, '100.64.0.2'), event('ALLOC', 100, '100.64.0.1'));
    // It is recorded all the same, at the time it was logged.
    expect(other.run(event('RELEASE', 700, '100.64.0.1'))).toEqual(['applied']);
    expect(other.list()[0]).toMatchObject({ end: 499, endKind: 'SUPERSEDED' });
    expect([...other.bindings.values()].find((b) => b.start === 100)?.releasedAt).toBe(700);
  });

  it('an ALLOC older than a confirmation of the binding it would end is stale', () => {
    const store = new BindingStore();
    store.run(event('ALLOC', 0, '100.64.0.1'), event('INTERIM', 50, '100.64.0.1'));
    // The device said at 50 that 100.64.0.1 still held the block: an ALLOC of it at 30 read now is older news.
    expect(store.run(event('ALLOC', 30, '100.64.0.2'))).toEqual(['stale']);
    expect(store.list()).toEqual([{ inside: '100.64.0.1', ports: '24064-24191', start: 0, end: null, endKind: null }]);
  });

  it('an INTERIM whose ALLOC was lost opens the binding from then', () => {
    const store = new BindingStore();
    expect(store.run(event('INTERIM', 1800, '100.64.0.9'))).toEqual(['applied']);
    expect(store.list()).toEqual([
      { inside: '100.64.0.9', ports: '24064-24191', start: 1800, end: null, endKind: null },
    ]);
  });

  it('a RELEASE of a block nobody is known to hold writes nothing', () => {
    const store = new BindingStore();
    expect(store.run(event('RELEASE', 300, '100.64.0.1'))).toEqual(['unmatched']);
    expect(store.list()).toEqual([]);
  });

  it('a block released and allocated again in the same second: the repeated RELEASE is the first binding’s', () => {
    const store = new BindingStore();
    store.run(
      event('ALLOC', 100, '100.64.0.1'),
      event('RELEASE', 200, '100.64.0.1'),
      event('ALLOC', 200, '100.64.0.1'),
    );
    expect(store.list()).toEqual([
      { inside: '100.64.0.1', ports: '24064-24191', start: 100, end: 199, endKind: 'SUPERSEDED' },
      { inside: '100.64.0.1', ports: '24064-24191', start: 200, end: null, endKind: null },
    ]);
    expect(store.run(event('RELEASE', 200, '100.64.0.1'))).toEqual(['duplicate']);
    expect(store.list()[1]!.end).toBeNull();
  });

  it('two ALLOCs of one block at the same second: the one on record stays', () => {
    const store = new BindingStore();
    store.run(event('ALLOC', 100, '100.64.0.1'));
    expect(store.run(event('ALLOC', 100, '100.64.0.2'))).toEqual(['stale']);
    expect(store.list()).toHaveLength(1);
  });
});

describe('port-block bindings, properties', () => {
  const events = fc.array(
    fc.record({
      kind: fc.constantFrom<PortBlockEventKind>('ALLOC', 'ALLOC', 'INTERIM', 'RELEASE'),
      at: fc.integer({ min: 0, max: 60 }),
      inside: fc.constantFrom('100.64.0.1', '100.64.0.2', '100.64.0.3'),
      block: fc.constantFrom<[number, number]>([1024, 1151], [1152, 1279], [1088, 1215], [1024, 1279]),
    }),
    { maxLength: 30 },
  );
  const batchSizes = fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 10 });

  it('never two holders of one port at one instant, however the events are ordered and batched', () => {
    fc.assert(
      fc.property(events, batchSizes, (drawn, sizes) => {
        const store = new BindingStore();
        const all = drawn.map((e) => event(e.kind, e.at, e.inside, e.block));
        for (let at = 0, i = 0; at < all.length; at += sizes[i++ % sizes.length]!) {
          store.run(...all.slice(at, at + sizes[i % sizes.length]!));
        }
        const bindings = [...store.bindings.values()];
        for (const a of bindings) {
          expect(a.end === null || a.end >= a.start).toBe(true);
          for (const b of bindings) {
            if (a === b) continue;
            const portsMeet = a.portFirst <= b.portLast && b.portFirst <= a.portLast;
            const timesMeet = a.start <= (b.end ?? Infinity) && b.start <= (a.end ?? Infinity);
            expect(portsMeet && timesMeet, `${JSON.stringify(store.list())}`).toBe(false);
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  it('a device repeating the lines that were applied changes nothing', () => {
    fc.assert(
      fc.property(events, (drawn) => {
        const store = new BindingStore();
        const all = drawn.map((e) => event(e.kind, e.at, e.inside, e.block));
        const outcomes = store.run(...all);
        const before = store.list();
        const applied = all.filter((_, i) => outcomes[i] === 'applied');
        expect(store.run(...applied).filter((outcome) => outcome === 'applied')).toEqual([]);
        expect(store.list()).toEqual(before);
      }),
      { numRuns: 300 },
    );
  });
});
