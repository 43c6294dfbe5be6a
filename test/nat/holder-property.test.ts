import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Actor, Tenant } from '../../src/access/types.js';
import { type IpAddress, type IpSubnet, parseIpAddress, parseIpSubnet, subnetContains } from '../../src/domain/ip.js';
import {
  type DeterministicNatRule,
  PORT_MAX,
  deterministicNatRule,
  deterministicReverse,
  sharingRatio,
} from '../../src/domain/nat.js';
import { type TimeRange, checkTimeRange, rangeContains, rangesOverlap } from '../../src/domain/time.js';
import { ConflictError, HolderConflictError, ValidationError } from '../../src/errors.js';
import { EVERY_FIELD, type LookupAnswer, PortRequired, lookupColumns, whoHadBatch } from '../../src/lookups/store.js';
import { createMapping } from '../../src/mappings/store.js';
import { createBinding, createRule, endBinding, endRule } from '../../src/nat/manage.js';
import { createCustomer, resetData } from '../helpers.js';
import { db, prisma } from '../setup/app.js';

// The one-holder rule with ports, as a property: random port-block bindings, deterministic rules
// and whole-address mappings, written through the real write paths in a small universe where they
// collide often, each accepted exactly when a model of the holders finds nothing in its way (and
// refused naming what the model finds); then whoHad of random (address, port, instant) answers as
// the model says. A mapping and a rule hold every port of their addresses (README, "One holder per
// (context, address, port, instant)"), a binding its block; a rule gives only the ports
// firstPort .. firstPort + ratio·portsPerHost − 1 to inside hosts (domain/nat.ts).

const PUBLIC = ['198.51.100.0', '198.51.100.1', '198.51.100.2', '198.51.100.3'];
const OUTSIDE_PREFIXES = [...PUBLIC, '198.51.100.0/31', '198.51.100.2/31', '198.51.100.0/30'];
const PUBLIC_MAPPINGS = [...PUBLIC, '198.51.100.0/31', '198.51.100.2/31'];
// The inside addresses, 100.64.0.0/29, held by mappings of their own.
const INSIDE_MAPPINGS = [
  ...Array.from({ length: 8 }, (_, n) => `100.64.0.${n}`),
  ...[0, 2, 4, 6].map((n) => `100.64.0.${n}/31`),
];
const CUSTOMERS = ['A', 'B', 'C'];
const actor: Actor = { name: 'holder-property', channel: 'graphql' };

// ---- the model ----

interface Extent {
  subnet: IpSubnet;
  portFirst: number;
  portLast: number;
  period: TimeRange;
}
type Holder =
  | (Extent & { kind: 'mapping'; id: number })
  | (Extent & { kind: 'binding'; id: number; insideAddress: IpAddress })
  | (Extent & { kind: 'rule'; id: number; rule: DeterministicNatRule });

const shares = (a: Extent, b: Extent) =>
  a.subnet.first.value <= b.subnet.last.value &&
  b.subnet.first.value <= a.subnet.last.value &&
  a.portFirst <= b.portLast &&
  b.portFirst <= a.portLast &&
  rangesOverlap(a.period, b.period);

const inTheWay = (model: Holder[], extent: Extent, self?: Holder) =>
  model.filter((held) => held !== self && shares(held, extent));

const ids = (holders: { kind: string; id: number }[]) => holders.map(({ kind, id }) => `${kind} ${id}`).sort();

/** The mapping holding `address` at `at`. */
const mappingOf = (model: Holder[], address: IpAddress, at: number) =>
  model.find(
    (held) => held.kind === 'mapping' && subnetContains(held.subnet, address) && rangeContains(held.period, at),
  );

type Expected =
  | null
  | { portRequired: number }
  | {
      mapping: number;
      nat: {
        kind: string;
        id: number;
        insideAddress: string;
        portFirst: number;
        portLast: number;
        source: string;
      } | null;
    };

/** What whoHad answers of (ip, port, at) by the model. */
function modelAnswer(model: Holder[], ip: IpAddress, port: number | null, at: number): Expected {
  const own = mappingOf(model, ip, at);
  if (own) return { mapping: own.id, nat: null };
  const live = model.filter(
    (held) => held.kind !== 'mapping' && subnetContains(held.subnet, ip) && rangeContains(held.period, at),
  );
  if (port === null) {
    const blocks = live.reduce((sum, held) => sum + (held.kind === 'rule' ? sharingRatio(held.rule) : 1), 0);
    return blocks > 0 ? { portRequired: blocks } : null;
  }
  for (const held of live) {
    let hop: NonNullable<Extract<Expected, { nat: unknown }>['nat']> | null = null;
    if (held.kind === 'binding' && held.portFirst <= port && port <= held.portLast) {
      hop = {
        kind: 'binding',
        id: held.id,
        insideAddress: held.insideAddress.text,
        portFirst: held.portFirst,
        portLast: held.portLast,
        source: 'API',
      };
    } else if (held.kind === 'rule') {
      const inside = deterministicReverse(held.rule, ip, port);
      if (inside) {
        const { firstPort, portsPerHost } = held.rule;
        const host = Math.floor((port - firstPort) / portsPerHost);
        hop = {
          kind: 'rule',
          id: held.id,
          insideAddress: inside.text,
          portFirst: firstPort + host * portsPerHost,
          portLast: firstPort + (host + 1) * portsPerHost - 1,
          source: 'RULE',
        };
      }
    }
    if (hop) {
      const insideHolder = mappingOf(model, parseIpAddress(hop.insideAddress), at);
      if (!insideHolder) stats.unheldInside++;
      return insideHolder ? { mapping: insideHolder.id, nat: hop } : null;
    }
  }
  return null;
}

function actualAnswer(answer: LookupAnswer): Expected {
  if (answer === null) return null;
  if (answer instanceof PortRequired) return { portRequired: answer.blocks };
  const nat = answer.nat;
  return {
    mapping: Number(answer.id),
    nat: nat
      ? {
          kind: nat.kind,
          id: nat.id,
          insideAddress: nat.insideAddress,
          portFirst: nat.portFirst,
          portLast: nat.portLast,
          source: nat.source,
        }
      : null,
  };
}

const stats = { accepted: 0, refused: 0, unheldInside: 0, answers: new Map<string, number>() };

// ---- the operations ----

const periodArbitrary = fc
  .record({
    start: fc.integer({ min: 0, max: 40 }),
    length: fc.option(fc.integer({ min: 0, max: 15 }), { nil: null, freq: 4 }),
  })
  .map(({ start, length }) => ({ start, end: length === null ? null : Math.min(40, start + length) }));

type Operation =
  | { op: 'binding'; address: number; portFirst: number; size: number; inside: number; period: TimeRange }
  | { op: 'rule'; outside: string; inside: string; firstPort: number; portsPerHost: number | null; period: TimeRange }
  | { op: 'mapping'; subnet: string; userId: string; period: TimeRange }
  | { op: 'end'; kind: 'binding' | 'rule'; pick: number; at: number };

const bindingArbitrary: fc.Arbitrary<Operation> = fc
  .record({
    address: fc.integer({ min: 0, max: 3 }),
    size: fc.constantFrom(16, 32, 64, 128),
    aligned: fc.boolean(),
    offset: fc.nat({ max: 255 }),
    inside: fc.integer({ min: 0, max: 7 }),
    period: periodArbitrary,
  })
  .map(({ address, size, aligned, offset, inside, period }) => ({
    op: 'binding' as const,
    address,
    // Ports 1024-1279: a block aligned on its size, or anywhere it fits.
    portFirst: 1024 + (aligned ? (offset % (256 / size)) * size : offset % (256 - size + 1)),
    size,
    inside,
    period,
  }));

const ruleArbitrary: fc.Arbitrary<Operation> = fc
  .record({
    outside: fc.constantFrom(...OUTSIDE_PREFIXES),
    insideLength: fc.integer({ min: 29, max: 32 }),
    insideIndex: fc.nat({ max: 7 }),
    firstPort: fc.oneof(fc.constant(1024), fc.integer({ min: 1024, max: 1279 })),
    portsPerHost: fc.option(fc.constantFrom(16, 32, 64, 128), { nil: null, freq: 4 }),
    period: periodArbitrary,
  })
  .map(({ outside, insideLength, insideIndex, ...rest }) => {
    // Only valid rules: the inside prefix (within 100.64.0.0/29) no smaller than the outside one.
    const length = Math.min(insideLength, parseIpSubnet(outside).prefixLength);
    const index = insideIndex % 2 ** (length - 29);
    return { op: 'rule' as const, outside, inside: `100.64.0.${index * 2 ** (32 - length)}/${length}`, ...rest };
  });

const mappingArbitrary = (subnets: string[], period = periodArbitrary): fc.Arbitrary<Operation> =>
  fc.record({
    op: fc.constant('mapping' as const),
    subnet: fc.constantFrom(...subnets),
    userId: fc.constantFrom(...CUSTOMERS),
    period,
  });
// The inside mappings written first: long-lived, so that lookups through bindings and rules reach them.
const insideMappingsArbitrary = fc.array(
  mappingArbitrary(
    INSIDE_MAPPINGS,
    fc
      .record({
        start: fc.integer({ min: 0, max: 20 }),
        end: fc.option(fc.integer({ min: 20, max: 40 }), { nil: null }),
      })
      .map(({ start, end }) => ({ start, end: end === null ? null : Math.max(start, end) })),
  ),
  { minLength: 2, maxLength: 8 },
);

const endArbitrary: fc.Arbitrary<Operation> = fc.record({
  op: fc.constant('end' as const),
  kind: fc.constantFrom('binding' as const, 'rule' as const),
  pick: fc.nat(),
  at: fc.integer({ min: 0, max: 45 }),
});

const operationArbitrary = fc.oneof(
  { arbitrary: bindingArbitrary, weight: 4 },
  { arbitrary: ruleArbitrary, weight: 2 },
  { arbitrary: mappingArbitrary(PUBLIC_MAPPINGS), weight: 2 },
  { arbitrary: mappingArbitrary(INSIDE_MAPPINGS), weight: 1 },
  { arbitrary: endArbitrary, weight: 1 },
);

// Half the probes anywhere, half aimed at a holder: a port of its block (or of its first inside
// hosts, for a rule) at an instant of its period, where answers are seldom null.
const probeArbitrary = fc.record({
  address: fc.integer({ min: 0, max: 3 }),
  port: fc.option(fc.integer({ min: 1008, max: 1295 }), { nil: null, freq: 4 }),
  at: fc.integer({ min: 0, max: 42 }),
  aim: fc.option(fc.record({ pick: fc.nat(), address: fc.nat(), port: fc.nat(), at: fc.nat() }), {
    nil: null,
    freq: 2,
  }),
});
type Probe = typeof probeArbitrary extends fc.Arbitrary<infer T> ? T : never;

function lookupOf(model: Holder[], { address, port, at, aim }: Probe) {
  const nat = model.filter((held) => held.kind !== 'mapping');
  if (aim === null || nat.length === 0) return { ip: PUBLIC[address]!, port, at };
  const held = nat[aim.pick % nat.length]!;
  const size = Number(held.subnet.last.value - held.subnet.first.value) + 1;
  const [first, last] =
    held.kind === 'rule'
      ? [held.rule.firstPort, held.rule.firstPort + 2 * held.rule.portsPerHost - 1]
      : [held.portFirst, held.portLast];
  const { start, end } = held.period;
  return {
    ip: `198.51.100.${Number(held.subnet.first.value & 255n) + (aim.address % size)}`,
    port: port === null ? null : first + (aim.port % (last - first + 1)),
    at: start + (aim.at % ((end ?? start + 5) - start + 1)),
  };
}

// ---- applying them ----

type Outcome = { id: number } | { refused: Error };

async function outcomeOf(write: () => Promise<{ id: number }>): Promise<Outcome> {
  try {
    return { id: (await write()).id };
  } catch (error) {
    // Only the refusals the model explains; anything else fails the property as it is.
    if (error instanceof HolderConflictError || error instanceof ConflictError || error instanceof ValidationError) {
      return { refused: error };
    }
    throw error;
  }
}

/** Applies `op` to the database and checks it against the model; returns the model after it. */
async function apply(tenant: Tenant, model: Holder[], op: Operation): Promise<Holder[]> {
  let candidate: Holder;
  let outcome: Outcome;
  let self: Holder | undefined;
  switch (op.op) {
    case 'binding': {
      const publicAddress = parseIpAddress(PUBLIC[op.address]!);
      const insideAddress = parseIpAddress(`100.64.0.${op.inside}`);
      const portLast = op.portFirst + op.size - 1;
      candidate = {
        kind: 'binding',
        id: 0,
        subnet: parseIpSubnet(publicAddress.text),
        portFirst: op.portFirst,
        portLast,
        period: op.period,
        insideAddress,
      };
      outcome = await outcomeOf(() =>
        createBinding(db, tenant, actor, {
          publicAddress,
          portFirst: op.portFirst,
          portLast,
          insideAddress,
          insideTenant: tenant,
          period: checkTimeRange(op.period),
        }),
      );
      break;
    }
    case 'rule': {
      const rule = deterministicNatRule({
        inside: parseIpSubnet(op.inside),
        outside: parseIpSubnet(op.outside),
        firstPort: op.firstPort,
        ...(op.portsPerHost === null ? {} : { portsPerHost: op.portsPerHost }),
      });
      candidate = {
        kind: 'rule',
        id: 0,
        subnet: rule.outside,
        portFirst: 0,
        portLast: PORT_MAX,
        period: op.period,
        rule,
      };
      outcome = await outcomeOf(() =>
        createRule(db, tenant, actor, {
          rule,
          insideTenant: tenant,
          period: checkTimeRange(op.period),
          description: null,
        }),
      );
      break;
    }
    case 'mapping': {
      const subnet = parseIpSubnet(op.subnet);
      candidate = { kind: 'mapping', id: 0, subnet, portFirst: 0, portLast: PORT_MAX, period: op.period };
      outcome = await outcomeOf(() =>
        createMapping(db, tenant, actor, op.userId, { subnet, period: checkTimeRange(op.period), terminalId: null }),
      );
      break;
    }
    case 'end': {
      const ofKind = model.filter((held) => held.kind === op.kind);
      if (ofKind.length === 0) return model;
      self = ofKind[op.pick % ofKind.length]!;
      const target = self;
      candidate = { ...target, period: { start: target.period.start, end: op.at } };
      outcome = await outcomeOf(() =>
        (op.kind === 'binding' ? endBinding : endRule)(db, tenant, actor, target.id, op.at),
      );
      if (op.at < target.period.start) {
        expect(outcome).toMatchObject({ refused: expect.any(ValidationError) });
        expect((outcome as { refused: ValidationError }).refused.field).toBe('at');
        stats.refused++;
        return model;
      }
      break;
    }
  }
  const conflicts = inTheWay(model, candidate, self);
  const what = `${JSON.stringify(op)} in the way: ${JSON.stringify(ids(conflicts))}`;
  if (conflicts.length === 0) {
    expect(outcome, what).toHaveProperty('id');
    stats.accepted++;
    const id = (outcome as { id: number }).id;
    if (self) return model.map((held) => (held === self ? candidate : held));
    return [...model, { ...candidate, id }];
  }
  expect(outcome, what).toHaveProperty('refused');
  stats.refused++;
  const error = (outcome as { refused: Error }).refused;
  const mappings = conflicts.filter((held) => held.kind === 'mapping');
  if (candidate.kind === 'mapping' && mappings.length > 0) {
    // A mapping in a mapping's way is the mappings' own constraint's refusal.
    expect(error, what).toBeInstanceOf(ConflictError);
    expect(ids((error as ConflictError).conflicts.map((m) => ({ kind: 'mapping', id: m.id }))), what).toEqual(
      ids(mappings),
    );
  } else {
    expect(error, what).toBeInstanceOf(HolderConflictError);
    expect(ids((error as HolderConflictError).holders), what).toEqual(ids(conflicts));
  }
  return model;
}

// Every two rows of the three tables sharing an (address, port, instant), straight from SQL: a
// mapping and a rule hold every port of their addresses, a binding its block.
const SECOND_HOLDERS_SQL = `
  WITH held AS (
    SELECT 'mapping' AS kind, id, context_id, network AS net, 0 AS pf, 65535 AS pl, starttime AS s, coalesce(endtime, 9e15::bigint) AS e FROM ipdr_customers_mapping
    UNION ALL SELECT 'binding', id, context_id, public_address, port_first, port_last, starttime, coalesce(endtime, 9e15::bigint) FROM nat_port_blocks
    UNION ALL SELECT 'rule', id, context_id, outside_prefix, 0, 65535, starttime, coalesce(endtime, 9e15::bigint) FROM nat_rules)
  SELECT a.kind || ' ' || a.id AS a, b.kind || ' ' || b.id AS b FROM held a JOIN held b
    ON (a.kind, a.id) < (b.kind, b.id) AND a.context_id = b.context_id AND a.net && b.net
   AND a.pf <= b.pl AND b.pf <= a.pl AND a.s <= b.e AND b.s <= a.e`;

async function expectDatabaseHoldsModel(model: Holder[]) {
  expect(await prisma.$queryRawUnsafe(SECOND_HOLDERS_SQL)).toEqual([]);
  const rows = [
    ...(await prisma.ipMapping.findMany()).map((row) => ({ kind: 'mapping', id: row.id, end: row.endtime })),
    ...(await prisma.natPortBlock.findMany()).map((row) => ({ kind: 'binding', id: row.id, end: row.endtime })),
    ...(await prisma.natRule.findMany()).map((row) => ({ kind: 'rule', id: row.id, end: row.endtime })),
  ];
  const described = (list: { kind: string; id: number; end: bigint | number | null }[]) =>
    list.map(({ kind, id, end }) => `${kind} ${id} to ${end ?? 'ongoing'}`).sort();
  expect(described(rows)).toEqual(described(model.map(({ kind, id, period }) => ({ kind, id, end: period.end }))));
}

describe('one holder per (address, port, instant), against a model', () => {
  it('accepts exactly the writes the model finds room for, and whoHad answers as the model', async () => {
    const tenant = await prisma.context.findUniqueOrThrow({
      where: { name: 'default' },
      select: { id: true, name: true },
    });
    const columns = lookupColumns(EVERY_FIELD);
    await fc.assert(
      fc.asyncProperty(
        insideMappingsArbitrary,
        fc.array(operationArbitrary, { minLength: 1, maxLength: 12 }),
        fc.array(probeArbitrary, { minLength: 50, maxLength: 50 }),
        async (insideMappings, operations, probes) => {
          await resetData();
          for (const userId of CUSTOMERS) await createCustomer(userId);
          let model: Holder[] = [];
          for (const op of [...insideMappings, ...operations]) model = await apply(tenant, model, op);
          await expectDatabaseHoldsModel(model);

          const lookups = probes.map((probe) => lookupOf(model, probe));
          const answers = await whoHadBatch(db, tenant.id, lookups, columns);
          lookups.forEach((lookup, index) => {
            const expected = modelAnswer(model, parseIpAddress(lookup.ip), lookup.port, lookup.at);
            const kind =
              expected === null
                ? 'null'
                : 'portRequired' in expected
                  ? 'portRequired'
                  : (expected.nat?.kind ?? 'mapping');
            stats.answers.set(kind, (stats.answers.get(kind) ?? 0) + 1);
            expect({ lookup, answer: actualAnswer(answers[index]!) }).toEqual({ lookup, answer: expected });
          });
        },
      ),
      { numRuns: 30 },
    );
    // The universe is small enough that every kind of outcome comes up.
    expect(stats.accepted).toBeGreaterThan(0);
    expect(stats.refused).toBeGreaterThan(0);
  });
});
