import { needs } from '../access/scopes.js';
import { loadersOf, tenantOf } from '../context.js';
import { CustomerRef } from '../customers/schema.js';
import { type AccountingConflict, type EndKind, isInferredEnd } from '../domain/radius-session.js';
import type { IpMapping, RadiusConflict, RadiusSession } from '../generated/prisma/client.js';
import { IpMappingRef } from '../mappings/schema.js';
import { NatBindingRef, NatRuleRef } from '../nat/schema.js';
import { builder, totalCountField } from '../schema/builder.js';
import { columnsOf, readsColumns } from '../schema/columns.js';
import { firstDescription, listBound, takeFirst } from '../schema/list-bounds.js';
import { radiusConflictsWhere, radiusSessionsWhere } from './store.js';

// RADIUS accounting read back: the sessions the NASes reported, the mappings they hold (which
// every lookup answers from, as from static ones), and the addresses refused because another
// holder had them. The listener and the detail import write all of it (radius/store.ts).

const END_KINDS = {
  REPORTED: { description: 'The NAS reported it (an Accounting Stop).' },
  NAS_RESTARTED: { description: 'Inferred: the NAS restarted or stopped accounting (Accounting-On or -Off).' },
  SUPERSEDED: {
    description: 'Inferred: another session began on one of its addresses (its Stop was lost); it ended just before.',
  },
  ADDRESS_CHANGED: {
    description: 'Inferred: an Interim-Update of the session no longer listed this address; it ended just before.',
  },
  TIMED_OUT: {
    description:
      'Inferred: nothing was heard of the session for longer than RADIUS_SESSION_TIMEOUT; it ended when last heard of.',
  },
} satisfies Record<EndKind, { description: string }>;

const isEndKind = (value: string): value is EndKind => Object.hasOwn(END_KINDS, value);

/** A stored end kind as the enum's value: the database's CHECK holds it to these. */
function endReason(stored: string | null): EndKind | null {
  if (stored === null) return null;
  if (!isEndKind(stored)) throw new Error(`end kind ${stored} is not one of ${Object.keys(END_KINDS)}`);
  return stored;
}

const MappingEndReasonRef = builder.enumType('MappingEndReason', {
  description: 'How a RADIUS session, or one of its mappings, ended.',
  values: END_KINDS,
});

const RadiusConflictKindRef = builder.enumType('RadiusConflictKind', {
  description: 'What already held an address a RADIUS session reported.',
  values: {
    STATIC_MAPPING: { description: 'A static mapping (API, REST or CSV) of another customer: it wins.' },
    SESSION: { description: 'Another session that began at the same instant: the one stored first keeps it.' },
    NAT_BINDING: {
      description:
        'A carrier-grade NAT port block of that public address: the address is shared, no one customer holds it.',
    },
    NAT_RULE: {
      description: 'A deterministic NAT rule whose outside prefix has that public address: the address is shared.',
    },
  } satisfies Record<AccountingConflict['kind'], unknown>,
});

const fromMapping = columnsOf<IpMapping>();

builder.prismaObjectFields(IpMappingRef, (t) => ({
  radiusSession: t.field({
    type: RadiusSessionRef,
    nullable: true,
    description: 'The RADIUS session whose address this is; null for a static mapping (API, REST, CSV).',
    // The sessions of a page of mappings, or of a batch of lookups, load in one statement.
    ...fromMapping(['radiusSessionId'], (mapping, _args, ctx) =>
      mapping.radiusSessionId === null ? null : loadersOf(ctx).radiusSessionById.load(mapping.radiusSessionId),
    ),
  }),
  endReason: t.field({
    type: MappingEndReasonRef,
    nullable: true,
    description:
      "How a RADIUS session's mapping ended: reported by the NAS or inferred (see endInferred); null while it is held, and for a static mapping's end.",
    ...fromMapping(['endKind'], (mapping) => endReason(mapping.endKind)),
  }),
  endInferred: t.boolean({
    description:
      'Whether the end was inferred (a lost Stop: the NAS restarted, another session took the address, the session went silent) rather than reported; false while held and for static mappings.',
    ...fromMapping(['endKind'], (mapping) => isInferredEnd(endReason(mapping.endKind))),
  }),
}));

const SESSION_MAPPINGS = { default: 100, max: 1000 };

const fromSession = columnsOf<RadiusSession>();

export const RadiusSessionRef = builder.prismaObject('RadiusSession', {
  description:
    'A RADIUS accounting session (RFC 2866) as its NAS reported it: who, from which NAS, when; its addresses are its mappings.',
  fields: (t) => ({
    id: t.exposeInt('id', { description: "The session's id in this gateway (mappings name it)." }),
    sessionKey: t.exposeString('sessionKey', {
      description:
        "FreeRADIUS's unique session id (radacct's acctuniqueid): MD5 of User-Name, Acct-Session-Id, NAS address, NAS-Identifier, NAS-Port-Id and NAS-Port.",
    }),
    acctSessionId: t.exposeString('acctSessionId', { description: 'Acct-Session-Id as the NAS sent it.' }),
    userName: t.exposeString('userName', {
      description: "User-Name: the UserID of the session's customer in the context.",
    }),
    customer: t.field({
      type: CustomerRef,
      nullable: true,
      description:
        'The customer whose UserID is the User-Name (created from RADIUS when it was unknown); null if it has since been deleted or renamed.',
      ...fromSession(['userName'], (session, _args, ctx) => loadersOf(ctx).customerByUserId.load(session.userName)),
    }),
    nasIpAddress: t.exposeString('nasIpAddress', {
      nullable: true,
      description: "NAS-IP-Address (or NAS-IPv6-Address, or the packet's source); null when none was known.",
    }),
    nasIdentifier: t.exposeString('nasIdentifier', {
      nullable: true,
      description: 'NAS-Identifier; null if not sent.',
    }),
    nasPortId: t.exposeString('nasPortId', { nullable: true, description: 'NAS-Port-Id; null if not sent.' }),
    callingStationId: t.exposeString('callingStationId', {
      nullable: true,
      description: "Calling-Station-Id (often the subscriber's CPE MAC address); null if not sent.",
    }),
    startedAt: t.expose('startedAt', {
      type: 'UnixTime',
      description: 'When the session began: its Start, or an Interim-Update or Stop minus Acct-Session-Time.',
    }),
    lastSeen: t.expose('lastSeen', {
      type: 'UnixTime',
      description: 'The time of the last event heard of the session.',
    }),
    endedAt: t.expose('endedAt', {
      type: 'UnixTime',
      nullable: true,
      description: 'When the session ended (inclusive); null while it is open.',
    }),
    endReason: t.field({
      type: MappingEndReasonRef,
      nullable: true,
      description: 'How it ended: reported by a Stop, or inferred; null while open.',
      ...fromSession(['endKind'], (session) => endReason(session.endKind)),
    }),
    endInferred: t.boolean({
      description: 'Whether its end was inferred rather than reported; false while open.',
      ...fromSession(['endKind'], (session) => isInferredEnd(endReason(session.endKind))),
    }),
    terminateCause: t.exposeString('terminateCause', {
      nullable: true,
      description: "Acct-Terminate-Cause of the session's Stop; null otherwise.",
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the session was first written.' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime', description: 'When the session last changed.' }),
    mappings: t.relation('mappings', {
      description: `The addresses the session held, as mappings, oldest first, at most \`first\` (${SESSION_MAPPINGS.default} unless told).`,
      args: {
        first: t.arg.int({
          defaultValue: SESSION_MAPPINGS.default,
          description: firstDescription('mappings (the oldest)', SESSION_MAPPINGS),
        }),
      },
      extensions: {
        ...listBound({ kind: 'argument', argument: 'first', ...SESSION_MAPPINGS }),
        ...readsColumns<RadiusSession>(['id']),
      },
      query: (args) => ({
        orderBy: [{ starttime: 'asc' }, { id: 'asc' }],
        take: takeFirst(args.first, SESSION_MAPPINGS),
      }),
    }),
  }),
});

const fromConflict = columnsOf<RadiusConflict>();

const RadiusConflictRef = builder.prismaObject('RadiusConflict', {
  description:
    'An address a RADIUS session reported that another holder already had: nothing overlapping was written, and the NAS was answered.',
  fields: (t) => ({
    id: t.exposeInt('id', { description: "The conflict's id; ids grow in the order conflicts were recorded." }),
    kind: t.field({
      type: RadiusConflictKindRef,
      description: 'What held the address: a static mapping, another session, or a NAT port block or rule.',
      ...fromConflict(['kind'], (conflict) => conflict.kind as AccountingConflict['kind']),
    }),
    session: t.relation('radiusSession', { description: 'The session that reported the address.' }),
    ipsubnet: t.expose('ipsubnet', { type: 'IPSubnet', description: 'The address or prefix the session reported.' }),
    starttime: t.expose('starttime', {
      type: 'UnixTime',
      description: 'The first instant the session would have held it.',
    }),
    endtime: t.expose('endtime', {
      type: 'UnixTime',
      nullable: true,
      description: 'The last instant the session would have held it; null: ongoing when it was recorded.',
    }),
    holderUserId: t.exposeString('holderUserId', {
      nullable: true,
      description: "The UserID of the mapping's customer, when it was recorded; null when a NAT block or rule held it.",
    }),
    mappingId: t.exposeInt('mappingId', {
      nullable: true,
      description: 'The id of the mapping that held it; null when a NAT block or rule held it.',
    }),
    mapping: t.field({
      type: IpMappingRef,
      nullable: true,
      description:
        'The mapping that held it, as it is now; null if it has since been deleted, or a NAT holder held it.',
      ...fromConflict(['mappingId'], (conflict, _args, ctx) =>
        conflict.mappingId === null ? null : loadersOf(ctx).mappingById.load(conflict.mappingId),
      ),
    }),
    natHolderId: t.exposeInt('natHolderId', {
      nullable: true,
      description: 'The id of the NAT port block (NAT_BINDING) or rule (NAT_RULE) that held it; null otherwise.',
    }),
    natBinding: t.field({
      type: NatBindingRef,
      nullable: true,
      description:
        'The NAT port block that held it, as it is now (kind NAT_BINDING); null otherwise or if since deleted.',
      // Prisma batches the findUnique calls of one tick into one statement.
      ...fromConflict(['kind', 'natHolderId'], (conflict, _args, ctx) =>
        conflict.kind === 'NAT_BINDING' && conflict.natHolderId !== null
          ? ctx.reads.reader().prisma.natPortBlock.findUnique({ where: { id: conflict.natHolderId } })
          : null,
      ),
    }),
    natRule: t.field({
      type: NatRuleRef,
      nullable: true,
      description:
        'The deterministic NAT rule that held it, as it is now (kind NAT_RULE); null otherwise or if since deleted.',
      ...fromConflict(['kind', 'natHolderId'], (conflict, _args, ctx) =>
        conflict.kind === 'NAT_RULE' && conflict.natHolderId !== null
          ? ctx.reads.reader().prisma.natRule.findUnique({ where: { id: conflict.natHolderId } })
          : null,
      ),
    }),
    recordedAt: t.expose('recordedAt', { type: 'DateTime', description: 'When the conflict was recorded.' }),
  }),
});

const RadiusSessionConnection = builder.connectionObject(
  {
    type: RadiusSessionRef,
    name: 'RadiusSessionConnection',
    description: 'A page of RADIUS sessions, with how many there are in all.',
    fields: (t) => ({
      totalCount: t.int(totalCountField('How many sessions match the arguments, on every page together.')),
    }),
  },
  { description: 'A RADIUS session on a page of sessions, with its cursor.' },
);

const RadiusConflictConnection = builder.connectionObject(
  {
    type: RadiusConflictRef,
    name: 'RadiusConflictConnection',
    description: 'A page of RADIUS conflicts, with how many there are in all.',
    fields: (t) => ({
      totalCount: t.int(totalCountField('How many conflicts there are, on every page together.')),
    }),
  },
  { description: 'A RADIUS conflict on a page of conflicts, with its cursor.' },
);

builder.queryFields((t) => ({
  radiusSessions: t.prismaConnection(
    {
      ...needs.tenantRead,
      type: 'RadiusSession',
      cursor: 'id',
      description:
        "RADIUS accounting sessions in the request's context, newest first, filtered by every argument given.",
      args: {
        userName: t.arg.string({ description: "Only this User-Name's sessions (the customer's UserID)." }),
        nas: t.arg.string({ description: 'Only the sessions of this NAS: its NAS-IP-Address or its NAS-Identifier.' }),
        open: t.arg.boolean({ description: 'true: only the sessions still open; false: only those that ended.' }),
        address: t.arg({
          type: 'IPAddress',
          description: 'Only the sessions one of whose mappings (at any time) contains this address.',
        }),
      },
      totalCount: (_connection, args, ctx) =>
        ctx.reads.reader().prisma.radiusSession.count({ where: radiusSessionsWhere(tenantOf(ctx).id, args) }),
      resolve: (query, _root, args, ctx) =>
        ctx.reads.reader().prisma.radiusSession.findMany({
          ...query,
          where: radiusSessionsWhere(tenantOf(ctx).id, args),
          orderBy: { id: 'desc' },
        }),
    },
    RadiusSessionConnection,
  ),
  radiusConflicts: t.prismaConnection(
    {
      ...needs.tenantRead,
      type: 'RadiusConflict',
      cursor: 'id',
      description:
        "Addresses RADIUS sessions reported that another holder already had, in the request's context, newest first.",
      totalCount: (_connection, _args, ctx) =>
        ctx.reads.reader().prisma.radiusConflict.count({ where: radiusConflictsWhere(tenantOf(ctx).id) }),
      resolve: (query, _root, _args, ctx) =>
        ctx.reads.reader().prisma.radiusConflict.findMany({
          ...query,
          where: radiusConflictsWhere(tenantOf(ctx).id),
          orderBy: { id: 'desc' },
        }),
    },
    RadiusConflictConnection,
  ),
}));
