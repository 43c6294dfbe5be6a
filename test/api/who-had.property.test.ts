import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type IpSubnet, parseIpAddress, parseIpSubnet, subnetContains, subnetsOverlap } from '../../src/domain/ip.js';
import { holdingsConflict } from '../../src/domain/mapping.js';
import { rangeContains, rangesOverlap } from '../../src/domain/time.js';
import { type SystemInstant, microsSql, systemInstantOfColumn } from '../../src/domain/system-time.js';
import { historyAt, historyCountAt, lookupColumns, whoHadBatch } from '../../src/lookups/store.js';
import { createCustomer, createMapping, graphqlData, resetData } from '../helpers.js';
import { db, prisma } from '../setup/app.js';

// Random histories of create / end / delete / reassign / rename, applied both to the API and to a
// plain in-memory model of the rules; after every step `whoHad` must agree with the model
// everywhere, and after the whole history the records as known at each step's instant must agree
// with the model as it stood then: whoHad's answers, and ipHistory's timelines of each subnet and
// window, paged forward and back.

interface ModelMapping {
  id: number;
  userId: string;
  subnet: IpSubnet;
  start: number;
  end: number | null;
}

const customers = ['A', 'B', 'C'];
const subnets = ['10.0.0.0/30', '10.0.0.0/31', '10.0.0.2/31', '10.0.0.1', '10.0.0.3', '2001:db8::/127', '2001:db8::1'];
const probeAddresses = ['10.0.0.0', '10.0.0.1', '10.0.0.2', '10.0.0.3', '2001:db8::', '2001:db8::1'];
const probeTimes = Array.from({ length: 34 }, (_, i) => i);

type Operation =
  | { kind: 'create'; userId: string; subnet: string; start: number; length: number | null }
  | { kind: 'end'; pick: number; at: number }
  | { kind: 'delete'; pick: number }
  | { kind: 'reassign'; userId: string; subnet: string; at: number }
  | { kind: 'rename'; userId: string; name: string };

const operation: fc.Arbitrary<Operation> = fc.oneof(
  fc.record({
    kind: fc.constant('create' as const),
    userId: fc.constantFrom(...customers),
    subnet: fc.constantFrom(...subnets),
    start: fc.integer({ min: 0, max: 20 }),
    length: fc.option(fc.integer({ min: 0, max: 10 })),
  }),
  fc.record({ kind: fc.constant('end' as const), pick: fc.nat(), at: fc.integer({ min: 0, max: 30 }) }),
  fc.record({ kind: fc.constant('delete' as const), pick: fc.nat() }),
  fc.record({
    kind: fc.constant('reassign' as const),
    userId: fc.constantFrom(...customers),
    subnet: fc.constantFrom(...subnets),
    at: fc.integer({ min: 0, max: 30 }),
  }),
  fc.record({
    kind: fc.constant('rename' as const),
    userId: fc.constantFrom(...customers),
    name: fc.constantFrom('Asha', 'Bilal', 'Chen'),
  }),
);

/** The model: the mappings, and each customer's name. */
interface Model {
  mappings: ModelMapping[];
  names: Readonly<Record<string, string>>;
}

const conflictsWith = (model: ModelMapping[], candidate: Omit<ModelMapping, 'id' | 'userId'>, except: number[] = []) =>
  model.some(
    (m) =>
      !except.includes(m.id) &&
      holdingsConflict(
        { subnet: m.subnet, period: { start: m.start, end: m.end } },
        {
          subnet: candidate.subnet,
          period: { start: candidate.start, end: candidate.end },
        },
      ),
  );

async function apply(model: Model, op: Operation): Promise<Model> {
  if (op.kind !== 'rename') return { ...model, mappings: await applyToMappings(model.mappings, op) };
  const data = await graphqlData(
    `mutation($u: String!, $input: CustomerInput!) { updateCustomer(userId: $u, input: $input) { __typename } }`,
    { u: op.userId, input: { userId: op.userId, name: op.name } },
  );
  expect(data.updateCustomer.__typename).toBe('Customer');
  return { ...model, names: { ...model.names, [op.userId]: op.name } };
}

async function applyToMappings(
  model: ModelMapping[],
  op: Exclude<Operation, { kind: 'rename' }>,
): Promise<ModelMapping[]> {
  switch (op.kind) {
    case 'create': {
      const candidate = {
        subnet: parseIpSubnet(op.subnet),
        start: op.start,
        end: op.length === null ? null : op.start + op.length,
      };
      const result = await createMapping({
        userId: op.userId,
        ipsubnet: op.subnet,
        starttime: candidate.start,
        endtime: candidate.end,
      });
      if (conflictsWith(model, candidate)) {
        expect(result.__typename).toBe('ConflictError');
        return model;
      }
      expect(result.__typename).toBe('IpMapping');
      return [...model, { id: result.id, userId: op.userId, ...candidate }];
    }
    case 'end': {
      if (model.length === 0) return model;
      const target = model[op.pick % model.length]!;
      const data = await graphqlData(
        `mutation($id: Int!, $at: UnixTime!) { endMapping(id: $id, at: $at) { __typename } }`,
        {
          id: target.id,
          at: op.at,
        },
      );
      const changed = { ...target, end: op.at };
      if (op.at < target.start) {
        expect(data.endMapping.__typename).toBe('ValidationError');
        return model;
      }
      if (conflictsWith(model, changed, [target.id])) {
        expect(data.endMapping.__typename).toBe('ConflictError');
        return model;
      }
      expect(data.endMapping.__typename).toBe('IpMapping');
      return model.map((m) => (m.id === target.id ? changed : m));
    }
    case 'delete': {
      if (model.length === 0) return model;
      const target = model[op.pick % model.length]!;
      const data = await graphqlData(`mutation($id: Int!) { deleteMapping(id: $id) { __typename } }`, {
        id: target.id,
      });
      expect(data.deleteMapping.__typename).toBe('IpMapping');
      return model.filter((m) => m.id !== target.id);
    }
    case 'reassign': {
      const subnet = parseIpSubnet(op.subnet);
      const data = await graphqlData(
        `mutation($s: IPSubnet!, $u: String!, $at: UnixTime!) { reassignMapping(ipsubnet: $s, toUserId: $u, at: $at) { __typename ... on IpMapping { id } } }`,
        { s: op.subnet, u: op.userId, at: op.at },
      );
      const kind = data.reassignMapping.__typename;
      const holder = model.find(
        (m) => m.subnet.network === subnet.network && rangeContains({ start: m.start, end: m.end }, op.at),
      );
      if (holder && (holder.userId === op.userId || holder.start === op.at)) {
        expect(kind).toBe('ValidationError');
        return model;
      }
      const after = holder ? model.map((m) => (m === holder ? { ...m, end: op.at - 1 } : m)) : model;
      const opened = { subnet, start: op.at, end: null };
      if (conflictsWith(after, opened)) {
        expect(kind).toBe('ConflictError');
        return model;
      }
      expect(kind).toBe('IpMapping');
      return [...after, { id: data.reassignMapping.id, userId: op.userId, ...opened }];
    }
  }
}

const probes = probeAddresses.flatMap((ip) => probeTimes.map((at) => ({ ip, at })));

/** What the model says held `probe.ip` at `probe.at`: the mapping's id and its customer. */
function modelAnswer(model: Model, probe: { ip: string; at: number }) {
  const address = parseIpAddress(probe.ip);
  const holder = model.mappings.find(
    (m) => subnetContains(m.subnet, address) && rangeContains({ start: m.start, end: m.end }, probe.at),
  );
  return holder ? { id: holder.id, customer: { userId: holder.userId, name: model.names[holder.userId] } } : null;
}

async function expectWhoHadAgrees(model: Model) {
  // At most 100 aliases a request (MAX_ALIASES).
  for (let first = 0; first < probes.length; first += 100) {
    const chunk = probes.slice(first, first + 100);
    const query = chunk
      .map((p, i) => `p${i}: whoHad(ip: "${p.ip}", at: ${p.at}) { id customer { userId name } }`)
      .join('\n');
    const data = await graphqlData(`{ ${query} }`);
    chunk.forEach((probe, i) => {
      expect(data[`p${i}`], `${probe.ip} at ${probe.at}`).toEqual(modelAnswer(model, probe));
    });
  }
}

const readClock = async () => {
  const [row] = await db.readRows<{ micros: string }>(`SELECT ${microsSql('clock_timestamp()')} AS micros`, []);
  return systemInstantOfColumn(row!.micros);
};

/**
 * The database's clock now: after a step's commit, and before the next step's transaction begins
 * (its clock is waited past: PGlite's ticks in milliseconds, and a write in the same tick would
 * share the instant).
 */
async function databaseNow(): Promise<SystemInstant> {
  const instant = await readClock();
  for (let read = 0; read < 10_000 && (await readClock()).micros === instant.micros; read++);
  return instant;
}

const ID_AND_NAME = lookupColumns({ mapping: new Set(['id']), customer: new Set(['userId', 'name']) });

/** The records as known at `instant` say what `model` says, everywhere. */
async function expectKnownAtAgrees(contextId: number, instant: SystemInstant, model: Model) {
  const answers = await whoHadBatch(db, contextId, probes, ID_AND_NAME, instant);
  const found = answers.map((answer) =>
    answer && 'id' in answer
      ? { id: answer.id, customer: { userId: answer.userId, name: answer.customer?.name } }
      : null,
  );
  expect(found, `as known at ${instant.sql}`).toEqual(probes.map((probe) => modelAnswer(model, probe)));
}

const windows = [
  { from: null, to: null },
  { from: 5, to: 12 },
  { from: 15, to: null },
];

/** ipHistory's rows as the model has them: every mapping sharing an address with the window, by start then id. */
function modelHistory(model: Model, subnet: IpSubnet, window: { from: number | null; to: number | null }) {
  return model.mappings
    .filter(
      (m) =>
        subnetsOverlap(m.subnet, subnet) &&
        rangesOverlap({ start: m.start, end: m.end }, { start: window.from ?? 0, end: window.to }),
    )
    .sort((x, y) => x.start - y.start || x.id - y.id)
    .map((m) => ({ id: m.id, customer: { userId: m.userId, name: model.names[m.userId] } }));
}

/** ipHistory's timelines as known at `instant` say what `model` says: whole, and two at a time forward and back. */
async function expectHistoryAtAgrees(contextId: number, instant: SystemInstant, model: Model) {
  const image = (rows: Awaited<ReturnType<typeof historyAt>>) =>
    rows.map((row) => ({ id: row.id, customer: { userId: row.userId, name: row.customer?.name } }));
  for (const subnet of ['10.0.0.0/24', '10.0.0.2/31', '10.0.0.1', '::/0']) {
    for (const window of windows) {
      const spans = [{ contextId, subnet: parseIpSubnet(subnet), ...window }];
      const expected = modelHistory(model, parseIpSubnet(subnet), window);
      const label = `${subnet} in ${JSON.stringify(window)} as known at ${instant.sql}`;
      expect(image(await historyAt(db, spans, instant, { cursorId: null, take: 100, skip: 0 })), label).toEqual(
        expected,
      );
      expect(await historyCountAt(db, spans, instant), label).toBe(expected.length);
      if (expected.length < 2) continue;
      // From the second row on, and the rows before the last one, as a cursor pages.
      const after = await historyAt(db, spans, instant, { cursorId: expected[0]!.id, take: 2, skip: 1 });
      expect(image(after), label).toEqual(expected.slice(1, 3));
      const before = await historyAt(db, spans, instant, { cursorId: expected.at(-1)!.id, take: -2, skip: 1 });
      expect(image(before), label).toEqual(expected.slice(-3, -1));
    }
  }
}

describe('whoHad against a model of the rules', () => {
  it('agrees after every step of random histories', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(operation, { minLength: 1, maxLength: 12 }), async (operations) => {
        await resetData();
        for (const userId of customers) await createCustomer(userId);
        let model: Model = { mappings: [], names: Object.fromEntries(customers.map((id) => [id, `Customer ${id}`])) };
        const steps: { instant: SystemInstant; model: Model }[] = [{ instant: await databaseNow(), model }];
        for (const op of operations) {
          model = await apply(model, op);
          await expectWhoHadAgrees(model);
          steps.push({ instant: await databaseNow(), model });
        }
        const { contextId } = await prisma.customer.findFirstOrThrow({ select: { contextId: true } });
        for (const step of steps) {
          await expectKnownAtAgrees(contextId, step.instant, step.model);
          await expectHistoryAtAgrees(contextId, step.instant, step.model);
        }
      }),
      { numRuns: 25 },
    );
  });
});
