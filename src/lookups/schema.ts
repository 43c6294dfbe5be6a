import { GraphQLError } from 'graphql';
import { needs } from '../access/scopes.js';
import { builder } from '../schema/builder.js';
import { type RequestContext, loadersOf, tenantOf } from '../context.js';
import { optionalText } from '../domain/customer.js';
import { portProblem } from '../domain/nat.js';
import { ValidationError, checkField } from '../errors.js';
import { badUserInput } from '../schema/input.js';
import { type IpAddress, type IpSubnet, parseIpAddress, parseIpSubnet, subnetContains } from '../domain/ip.js';
import { type TimeRange, nowUnixTime, rangesOverlap } from '../domain/time.js';
import type { IpMapping, Prisma } from '../generated/prisma/client.js';
import { readsColumns } from '../schema/columns.js';
import type { LookupRecord } from './log.js';
import { answerImage } from './digest.js';
import {
  type FieldsRead,
  type LookupRow,
  MAX_HISTORY_HOPS,
  MAX_LOOKUPS,
  type NatHop,
  PortRequired,
  historyAt,
  historyCountAt,
  lookupColumns,
  natHopsDuring,
  portRequiredReason,
  versioningStartedAt,
  whoHadBatch,
  whoHadShared,
} from './store.js';
import { type SystemInstant, asOfProblem, endOfSecond } from '../domain/system-time.js';
import { type Lenient, RejectedValue } from '../schema/lenient.js';
import { asMappingParent, asMappingParents, fieldsRead } from './fields.js';
import { firstDescription, listBound, takeFirst } from '../schema/list-bounds.js';
import { IpMappingRef, MappingConnection } from '../mappings/schema.js';
import { type MappingSpan, spanWhere } from '../mappings/filters.js';

// The questions IPDR reports ask: who held an address at an instant, for one pair or many, and
// the whole ownership timeline of an address range. With a `reason` (a case reference) each is
// recorded in the lookup log.

interface LookupRefusal {
  index: number;
  field: 'ip' | 'at' | 'port';
  reason: string;
}

/** Why `port` is not a port, or null when it is one (or absent). */
const askedPortProblem = (port: number | null | undefined) => (port == null ? null : portProblem(port));

/** One question as asked, its values through the lenient scalars. */
interface AskedLookup {
  ip: Lenient<IpAddress>;
  at?: Lenient<number> | null;
  port?: number | null;
}

/** The lookups that can be asked, in order, and where and why the others were refused. */
function checkLookups(asked: readonly AskedLookup[], now: number) {
  // A type literal, not the Lookup interface: the lookup log stores these as JSON.
  const lookups: { ip: string; at: number; port?: number }[] = [];
  const refusals: LookupRefusal[] = [];
  asked.forEach(({ ip, at, port }, index) => {
    const badPort = askedPortProblem(port);
    if (ip instanceof RejectedValue) refusals.push({ index, field: 'ip', reason: ip.reason });
    else if (at instanceof RejectedValue) refusals.push({ index, field: 'at', reason: at.reason });
    else if (badPort !== null) refusals.push({ index, field: 'port', reason: badPort });
    else lookups.push({ ip: ip.text, at: at ?? now, ...(port == null ? {} : { port }) });
  });
  return { lookups, refusals };
}

/** whoHadMany's questions in either shape: the list of lookups, or the parallel lists. */
interface WhoHadManyArgs {
  lookups?: readonly AskedLookup[] | null;
  ips?: readonly Lenient<IpAddress>[] | null;
  ats?: readonly (Lenient<number> | null | undefined)[] | null;
  ports?: readonly (number | null | undefined)[] | null;
}

// The parallel lists' names for a lookup's fields, as a refusal names where it stands.
const PARALLEL_LISTS = { ip: 'ips', at: 'ats', port: 'ports' } as const;

/**
 * The questions, in order, and how a refusal names the value it refuses: `lookups[i].port`, or
 * `ports[i]` when they came as parallel lists (which spare the server coercing an input object a
 * lookup: most of a 10,000-lookup request's own time).
 */
function askedLookups(args: WhoHadManyArgs): {
  asked: readonly AskedLookup[];
  pathOf: (refusal: LookupRefusal) => string;
} {
  if (args.ips != null) {
    if (args.lookups != null) {
      throw new ValidationError('lookups', 'give the questions once: as lookups, or as ips (with ats and ports)');
    }
    const { ips, ats, ports } = args;
    if (ips.length > MAX_LOOKUPS) {
      throw new ValidationError('ips', `at most ${MAX_LOOKUPS} per request (got ${ips.length})`);
    }
    for (const [name, list] of [
      ['ats', ats],
      ['ports', ports],
    ] as const) {
      if (list != null && list.length !== ips.length) {
        throw new ValidationError(name, `has ${list.length} elements: one for each of the ${ips.length} ips is needed`);
      }
    }
    return {
      asked: ips.map((ip, index) => ({ ip, at: ats?.[index] ?? null, port: ports?.[index] ?? null })),
      pathOf: ({ index, field }) => `${PARALLEL_LISTS[field]}[${index}]`,
    };
  }
  if (args.ats != null || args.ports != null) {
    throw new ValidationError('ips', 'required with ats or ports: the addresses they go with');
  }
  if (args.lookups == null) {
    throw new ValidationError('lookups', 'the questions are required: as lookups, or as ips (with ats and ports)');
  }
  if (args.lookups.length > MAX_LOOKUPS) {
    throw new ValidationError('lookups', `at most ${MAX_LOOKUPS} per request (got ${args.lookups.length})`);
  }
  return { asked: args.lookups, pathOf: ({ index, field }) => `lookups[${index}].${field}` };
}

const AS_OF_DESCRIPTION =
  'The system time (unix seconds) whose records answer: the mappings, customers and NAT port blocks as they stood at the end of that second, before any later correction or deletion. Absent or null: the current records. Not after now, nor before the database began keeping versions.';

/** The system instant the records answer as known at (see domain/system-time.ts); undefined: the current records. */
async function asKnownAt(ctx: RequestContext, asOf: number | null | undefined): Promise<SystemInstant | undefined> {
  if (asOf == null) return undefined;
  const problem = asOfProblem(asOf, nowUnixTime(), await versioningStartedAt(ctx.reads.reader()));
  if (problem !== null) throw new ValidationError('asOf', problem);
  return endOfSecond(asOf);
}

// Thrown where no typed result catches it: the caller gets BAD_USER_INPUT naming `reason`
// (schema/input.ts's expectedFailure), from the root field or from ipHistory's totalCount alike.
const checkReason = (reason: string | null | undefined) => checkField('reason', () => optionalText(reason));

// A connection's total count and its page are resolved apart (either may be asked alone); the
// lookup behind them is logged once.
const loggedLookups = new WeakMap<RequestContext, Set<string>>();

/** Records a lookup made with `reason` (checked), once answered; batched with the request's others. */
async function logLookup(ctx: RequestContext, reason: string, record: Omit<LookupRecord, 'reason'>) {
  if (record.operation === 'ipHistory') {
    const key = JSON.stringify([reason, record.asked]);
    const logged = loggedLookups.get(ctx) ?? new Set<string>();
    loggedLookups.set(ctx, logged);
    if (logged.has(key)) return;
    logged.add(key);
  }
  await loadersOf(ctx).lookupLog.load({ ...record, reason });
}

// A logged answer names its mapping and UserID (digest.ts), whatever the selection reads.
function fieldsToRead(info: Parameters<typeof fieldsRead>[0], logged: boolean): FieldsRead {
  const fields = fieldsRead(info);
  return logged ? { ...fields, mapping: new Set([...fields.mapping, 'id', 'userId']) } : fields;
}

const loggedAsOf = (asOf: number | null | undefined) => (asOf == null ? {} : { asOf });

const historyRecord = (args: {
  ip: { input: string };
  port?: number | null;
  from?: number | null;
  to?: number | null;
  asOf?: number | null;
}) => ({
  operation: 'ipHistory' as const,
  ...loggedAsOf(args.asOf),
  asked: [
    {
      ip: args.ip.input,
      ...(args.port == null ? {} : { port: args.port }),
      from: args.from ?? null,
      to: args.to ?? null,
    },
  ],
});

const WhoHadLookup = builder.inputType('WhoHadLookup', {
  description: 'One question of a batch: who held this address at this instant.',
  fields: (t) => ({
    ip: t.field({ type: 'IPAddressInput', required: true, description: 'The address asked about.' }),
    at: t.field({ type: 'UnixTimeInput', description: 'The instant asked about; absent or null: now.' }),
    port: t.int({
      description:
        'The port asked about (0-65535): needed for an address shared through carrier-grade NAT, ignored by an address a customer held whole.',
    }),
  }),
});

const NatHopRef = builder.objectRef<NatHop>('NatHop').implement({
  description:
    'How a lookup of a shared public address and port reached its holder: the carrier-grade NAT port block (or deterministic rule) that gave the port to an inside address, whose own holder is the mapping this hangs from.',
  fields: (t) => ({
    kind: t.exposeString('kind', {
      description: '"binding" (a port block from a NAT log or the API) or "rule" (deterministic NAT).',
    }),
    id: t.exposeInt('id', { description: "The binding's or the rule's id." }),
    publicAddress: t.field({
      type: 'IPAddress',
      description: 'The public address asked about.',
      resolve: (hop) => hop.publicAddress,
    }),
    port: t.exposeInt('port', { description: 'The port asked about.' }),
    portFirst: t.exposeInt('portFirst', { description: 'The first port of the block that held it.' }),
    portLast: t.exposeInt('portLast', { description: 'The last port of the block that held it.' }),
    insideAddress: t.field({
      type: 'IPAddress',
      description: 'The inside (subscriber) address the block was given to.',
      resolve: (hop) => hop.insideAddress,
    }),
    insideContext: t.string({
      description: 'The context in which the inside address was looked up.',
      resolve: (hop, _args, ctx) => loadersOf(ctx).contextNameById.load(hop.insideContextId),
    }),
    source: t.exposeString('source', {
      description: 'Where the block came from: SYSLOG, FILE or API; RULE for a deterministic rule.',
    }),
    starttime: t.expose('starttime', {
      type: 'UnixTime',
      description: "The first instant of the binding's (or the rule's) period.",
    }),
    endtime: t.expose('endtime', {
      type: 'UnixTime',
      nullable: true,
      description: "The last instant of the binding's (or the rule's) period, inclusive; null: ongoing.",
    }),
  }),
});

builder.objectField(IpMappingRef, 'nat', (t) =>
  t.field({
    type: NatHopRef,
    nullable: true,
    description:
      'When a lookup reached this mapping through carrier-grade NAT (a public address and port): the hop, from the public address to the inside one this mapping holds. Null otherwise.',
    extensions: readsColumns<IpMapping>([]),
    resolve: (mapping) => (mapping as { nat?: NatHop | null }).nat ?? null,
  }),
);

// A subscriber that kept its address while its block was released and given again has a hop
// for each: a handful in a window, rarely more.
const NAT_HOP_LISTS = { default: 10, max: 100 };

builder.objectField(IpMappingRef, 'natHops', (t) =>
  t.field({
    type: [NatHopRef],
    description:
      "In ipHistory with a port: every port block (or rule) that gave the asked address and port to this mapping's address while it held it, within the window, by start (nat is the first). In whoHad and whoHadMany: nat's hop alone. Empty otherwise.",
    args: { first: t.arg.int({ description: firstDescription('hops', NAT_HOP_LISTS) }) },
    extensions: {
      ...readsColumns<IpMapping>([]),
      ...listBound({ kind: 'argument', argument: 'first', ...NAT_HOP_LISTS }),
    },
    resolve: (mapping, args) => {
      const { nat, natHops } = mapping as { nat?: NatHop | null; natHops?: NatHop[] };
      return (natHops ?? (nat ? [nat] : [])).slice(0, takeFirst(args.first, NAT_HOP_LISTS));
    },
  }),
);

const LookupLogEntryRef = builder.prismaObject('LookupLogEntry', {
  description: 'A lookup made with a reason.',
  fields: (t) => ({
    id: t.string({
      description: "The entry's id, as decimal digits (it may exceed a JSON number's exact range).",
      resolve: (entry) => String(entry.id),
    }),
    at: t.expose('at', { type: 'DateTime', description: 'When the lookup was made.' }),
    username: t.exposeString('username', { description: 'The user whose token made it.' }),
    channel: t.exposeString('channel', { description: 'How it arrived: graphql or rest.' }),
    operation: t.exposeString('operation', { description: 'The query asked: whoHad, whoHadMany or ipHistory.' }),
    reason: t.exposeString('reason', { description: 'The case reference given with it.' }),
    lookups: t.exposeInt('lookups', { description: 'How many pairs or ranges were asked about.' }),
    detail: t.expose('detail', {
      type: 'JSON',
      description: 'What was asked: every lookup, in order (asked), and the asOf it was answered as known at, if any.',
    }),
    requestDigest: t.exposeString('requestDigest', {
      nullable: true,
      description:
        'SHA-256 (hex) of the canonical text of what was asked (the lookups in order and asOf); null for entries written before the log kept digests.',
    }),
    answerDigest: t.exposeString('answerDigest', {
      nullable: true,
      description:
        'SHA-256 (hex) of the canonical text of the answers given (for each lookup: the mapping id, UserID and NAT hop, a port required, or none); null for ipHistory and for entries written before the log kept digests.',
    }),
    answer: t.expose('answer', {
      type: 'JSON',
      nullable: true,
      description:
        "A single whoHad's answer: { mappingId, userId, nat } of the holder, { portRequired } when a port was needed, or null when nobody held the address.",
    }),
  }),
});

const LookupLogConnection = builder.connectionObject(
  {
    type: LookupLogEntryRef,
    name: 'LookupLogConnection',
    description: 'A page of the lookup log.',
  },
  { description: 'An entry on a page of the lookup log, with its cursor.' },
);

builder.queryFields((t) => ({
  whoHad: t.field({
    type: IpMappingRef,
    nullable: true,
    ...needs.tenantRead,
    description: 'The mapping (and so the customer) that held `ip` at instant `at` (default: now), or null.',
    args: {
      ip: t.arg({ type: 'IPAddress', required: true, description: 'The address asked about.' }),
      at: t.arg({ type: 'UnixTime', description: 'The instant asked about; absent or null: now.' }),
      port: t.arg.int({
        description:
          'The port asked about (0-65535): needed for an address shared through carrier-grade NAT, whose holder is then found through the port block (see IpMapping.nat).',
      }),
      asOf: t.arg({ type: 'UnixTime', description: AS_OF_DESCRIPTION }),
      reason: t.arg.string({ description: 'A case reference: the lookup is recorded with it.' }),
    },
    resolve: async (_root, args, ctx, info) => {
      const badPort = askedPortProblem(args.port);
      if (badPort !== null) throw new ValidationError('port', badPort);
      const lookup = {
        ip: args.ip.text,
        at: args.at ?? nowUnixTime(),
        ...(args.port == null ? {} : { port: args.port }),
      };
      const knownAt = await asKnownAt(ctx, args.asOf);
      const reason = checkReason(args.reason);
      const fields = fieldsToRead(info, reason !== null);
      // As known at an instant, a lookup is answered alone: the shared batch reads the current records.
      const answer =
        knownAt === undefined
          ? await whoHadShared(ctx.reads.reader(), tenantOf(ctx).id, lookup, fields)
          : (await whoHadBatch(ctx.reads.reader(), tenantOf(ctx).id, [lookup], lookupColumns(fields), knownAt))[0]!;
      if (reason !== null) {
        await logLookup(ctx, reason, {
          operation: 'whoHad',
          asked: [lookup],
          ...loggedAsOf(args.asOf),
          answers: [answerImage(answer)],
        });
      }
      if (answer instanceof PortRequired) {
        throw badUserInput('port', portRequiredReason(lookup.ip, lookup.at, answer.blocks));
      }
      return asMappingParent(answer);
    },
  }),
  whoHadMany: t.field({
    type: [IpMappingRef],
    nullable: { list: false, items: true },
    ...needs.tenantRead,
    description: `Who held each address at each instant: one result per lookup, in input order (null where nobody did). Up to ${MAX_LOOKUPS} lookups a request (those of every whoHadMany field in it together), answered by at most four statements sent at once.`,
    args: {
      lookups: t.arg({
        type: [WhoHadLookup],
        required: false,
        description: `The questions, up to ${MAX_LOOKUPS}; or give them as ips, ats and ports instead.`,
      }),
      ips: t.arg({
        type: ['IPAddressInput'],
        required: { list: false, items: true },
        description: `The questions as parallel lists, instead of lookups (cheaper for the server to read): the addresses, up to ${MAX_LOOKUPS}. Element i of ats and ports goes with element i of ips.`,
      }),
      ats: t.arg({
        type: ['UnixTimeInput'],
        required: { list: false, items: false },
        description: 'With ips: the instant of each address, as many as ips (null: now); absent: now for every one.',
      }),
      ports: t.arg.intList({
        required: { list: false, items: false },
        description:
          'With ips: the port of each address (0-65535), as many as ips (null: none); absent: no port for any.',
      }),
      asOf: t.arg({ type: 'UnixTime', description: AS_OF_DESCRIPTION }),
      reason: t.arg.string({ description: 'A case reference: the lookups are recorded with it.' }),
    },
    // One answer per lookup; the lookups of all whoHadMany fields of a request count together
    // against MAX_LOOKUPS (http/cost-limit.ts refuses more before anything runs).
    extensions: listBound({ kind: 'lengthOf', argument: 'lookups', alternative: 'ips', lookups: true }),
    resolve: async (_root, args, ctx, info) => {
      const { asked, pathOf } = askedLookups(args);
      const { lookups, refusals } = checkLookups(asked, nowUnixTime());
      const knownAt = await asKnownAt(ctx, args.asOf);
      const reason = checkReason(args.reason);
      const found =
        lookups.length === 0
          ? []
          : await whoHadBatch(
              ctx.reads.reader(),
              tenantOf(ctx).id,
              lookups,
              lookupColumns(fieldsToRead(info, reason !== null)),
              knownAt,
            );
      if (reason !== null) {
        await logLookup(ctx, reason, {
          operation: 'whoHadMany',
          asked: lookups,
          ...loggedAsOf(args.asOf),
          answers: found.map(answerImage),
        });
      }
      // A shared address asked about without a port is answered at its index, as a refused lookup is.
      const answerIndexes = asked
        .map((_lookup, index) => index)
        .filter((index) => !refusals.some((refusal) => refusal.index === index));
      found.forEach((answer, position) => {
        if (answer instanceof PortRequired) {
          const lookup = lookups[position]!;
          refusals.push({
            index: answerIndexes[position]!,
            field: 'port',
            reason: portRequiredReason(lookup.ip, lookup.at, answer.blocks),
          });
        }
      });
      refusals.sort((x, y) => x.index - y.index);
      const answers = asMappingParents(
        found.filter((answer): answer is LookupRow | null => !(answer instanceof PortRequired)),
      );
      if (refusals.length === 0) return answers;
      // A refused lookup's place holds its error: graphql-js reports it at that index, with null there.
      const results: ((typeof answers)[number] | GraphQLError)[] = [];
      let answered = 0;
      for (const refusal of refusals) {
        while (results.length < refusal.index) results.push(answers[answered++]!);
        results.push(badUserInput(pathOf(refusal), refusal.reason, { index: refusal.index }));
      }
      while (answered < answers.length) results.push(answers[answered++]!);
      return results as typeof answers;
    },
  }),
  ipHistory: t.prismaConnection(
    {
      type: 'IpMapping',
      cursor: 'id',
      ...needs.tenantRead,
      description:
        'The ownership timeline of an address or subnet: every mapping sharing an address with it and held at some instant of [from, to], in time order, with its customer.',
      args: {
        ip: t.arg({ type: 'IPSubnet', required: true, description: 'An address or a subnet.' }),
        port: t.arg.int({
          description:
            "A port (0-65535) of `ip`, then a single IPv4 address: the timeline of that address and port. Mappings of the whole address, and, through every carrier-grade NAT port block or rule that gave the port to an inside address in the window, the inside address's mappings while the block held it (see IpMapping.natHops). At most " +
            `${MAX_HISTORY_HOPS} blocks: narrow the window for more.`,
        }),
        from: t.arg({
          type: 'UnixTime',
          description: 'The first instant of the window, inclusive; absent: since ever.',
        }),
        to: t.arg({ type: 'UnixTime', description: 'The last instant of the window, inclusive; absent: no end.' }),
        asOf: t.arg({ type: 'UnixTime', description: AS_OF_DESCRIPTION }),
        reason: t.arg.string({ description: 'A case reference: the lookup is recorded with it.' }),
      },
      totalCount: async (_connection, args, ctx) => {
        const reason = checkReason(args.reason);
        const { spans, knownAt } = await historyOf(ctx, args);
        if (reason !== null) await logLookup(ctx, reason, historyRecord(args));
        if (knownAt !== undefined) return historyCountAt(ctx.reads.reader(), spans, knownAt);
        return ctx.reads.reader().prisma.ipMapping.count({ where: spansWhere(spans) });
      },
      resolve: async (query, _root, args, ctx) => {
        const reason = checkReason(args.reason);
        const { spans, hops, knownAt } = await historyOf(ctx, args);
        if (reason !== null) await logLookup(ctx, reason, historyRecord(args));
        if (knownAt !== undefined) {
          // The versions are read below Prisma; the page is the one Prisma's cursor would give.
          const rows = asMappingParents(
            await historyAt(ctx.reads.reader(), spans, knownAt, {
              cursorId: query.cursor?.id ?? null,
              take: query.take,
              skip: query.skip,
            }),
          ).filter((row) => row !== null);
          return hops.length === 0 ? rows : rows.map((row) => withHops(row, hops, args));
        }
        const where = spansWhere(spans);
        if (hops.length === 0) {
          return ctx.reads
            .reader()
            .prisma.ipMapping.findMany({ ...query, where, orderBy: [{ starttime: 'asc' }, { id: 'asc' }] });
        }
        // Which hops reached a mapping is read from its own context, address and period.
        const select = 'select' in query && query.select ? { ...query.select, ...HOP_MATCH_COLUMNS } : undefined;
        const rows = await ctx.reads.reader().prisma.ipMapping.findMany({
          ...query,
          ...(select ? { select } : {}),
          where,
          orderBy: [{ starttime: 'asc' }, { id: 'asc' }],
        });
        return rows.map((row) => withHops(row, hops, args));
      },
    },
    MappingConnection,
  ),
  lookupLog: t.prismaConnection(
    {
      type: 'LookupLogEntry',
      cursor: 'id',
      ...needs.admin,
      description: "The lookups made with a reason in the request's context, newest first.",
      args: {
        reason: t.arg.string({ description: 'Only lookups made with exactly this case reference.' }),
        username: t.arg.string({ description: 'Only lookups made by this user.' }),
      },
      resolve: (query, _root, args, ctx) =>
        ctx.db.prisma.lookupLogEntry.findMany({
          ...query,
          where: {
            contextId: tenantOf(ctx).id,
            ...(args.reason == null ? {} : { reason: args.reason }),
            ...(args.username == null ? {} : { username: args.username }),
          },
          orderBy: { id: 'desc' },
        }),
    },
    LookupLogConnection,
  ),
}));

interface HistoryArgs {
  ip: IpSubnet;
  port?: number | null;
  from?: number | null;
  to?: number | null;
  asOf?: number | null;
}

// A connection's count and page each ask; the hops are read once per request and arguments.
const historyHops = new WeakMap<RequestContext, Map<string, Promise<NatHop[]>>>();

/**
 * What ipHistory lists: the mappings sharing an address with `ip` in the window and, with a port,
 * those of the inside addresses the port was given to, each while its block held it; as the
 * records stood at `asOf` when given (knownAt).
 */
async function historyOf(ctx: RequestContext, args: HistoryArgs) {
  const contextId = tenantOf(ctx).id;
  const knownAt = await asKnownAt(ctx, args.asOf);
  const own: MappingSpan = { contextId, subnet: args.ip, from: args.from ?? null, to: args.to ?? null };
  if (args.port == null) return { spans: [own], hops: [], knownAt };
  const badPort = askedPortProblem(args.port);
  if (badPort !== null) throw badUserInput('port', badPort);
  if (args.ip.family !== 4 || args.ip.prefixLength !== 32) {
    throw badUserInput('ip', `with a port, a single IPv4 address (got ${args.ip.input})`);
  }
  const key = JSON.stringify([args.ip.network, args.port, own.from, own.to, args.asOf ?? null]);
  let asked = historyHops.get(ctx);
  if (!asked) historyHops.set(ctx, (asked = new Map()));
  let found = asked.get(key);
  if (!found) {
    found = natHopsDuring(ctx.reads.reader(), contextId, args.ip.first.text, args.port, own.from, own.to, knownAt);
    asked.set(key, found);
  }
  const hops = await found;
  if (hops.length > MAX_HISTORY_HOPS) {
    throw badUserInput(
      'to',
      `more than ${MAX_HISTORY_HOPS} port blocks gave port ${args.port} of ${args.ip.input} to inside addresses in this window: narrow from and to`,
    );
  }
  const reached = hops.map((hop): MappingSpan => {
    const window = hopWindow(hop, args);
    return {
      contextId: hop.insideContextId,
      subnet: parseIpSubnet(hop.insideAddress),
      from: window.start,
      to: window.end,
    };
  });
  return { spans: [own, ...reached], hops, knownAt };
}

const spansWhere = (spans: readonly MappingSpan[]): Prisma.IpMappingWhereInput =>
  spans.length === 1 ? spanWhere(spans[0]!) : { OR: spans.map(spanWhere) };

/** The part of the window the hop held the port: from the later start to the earlier end. */
const hopWindow = (hop: NatHop, args: HistoryArgs): TimeRange => {
  const ends = [hop.endtime, args.to ?? null].filter((end): end is number => end !== null);
  return { start: Math.max(hop.starttime, args.from ?? 0), end: ends.length === 0 ? null : Math.min(...ends) };
};

const HOP_MATCH_COLUMNS = { contextId: true, network: true, starttime: true, endtime: true } as const;

/** A page's row with the hops that reached it (none: a mapping of the asked address itself). */
function withHops<Row extends object>(row: Row, hops: readonly NatHop[], args: HistoryArgs) {
  const { contextId, network, starttime, endtime } = row as unknown as Pick<
    IpMapping,
    'contextId' | 'network' | 'starttime' | 'endtime'
  >;
  const subnet = parseIpSubnet(network);
  const natHops = hops.filter((hop) => {
    if (hop.insideContextId !== contextId || !subnetContains(subnet, parseIpAddress(hop.insideAddress))) return false;
    const held = { start: Number(starttime), end: endtime === null ? null : Number(endtime) };
    return rangesOverlap(held, hopWindow(hop, args));
  });
  return Object.assign(row, { nat: natHops[0] ?? null, natHops });
}
