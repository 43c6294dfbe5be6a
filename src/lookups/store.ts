import DataLoader from 'dataloader';
import type { Db } from '../db/handle.js';
import { type TableNames, customers, mappingPrefixLengths, mappings, natPortBlocks, natRules } from '../db/columns.js';
import { withoutDeadline } from '../db/connection.js';
import type { Customer, IpMapping } from '../generated/prisma/client.js';
import { type SystemInstant, microsSql, systemInstantOfColumn } from '../domain/system-time.js';
import { type MappingSpan, spanSql } from '../mappings/filters.js';

export interface Lookup {
  /** Canonical address text (see domain/ip.ts). */
  ip: string;
  at: number;
  /** The port asked about (0-65535), for an address shared through carrier-grade NAT; absent: none. */
  port?: number | null;
}

/** The carrier-grade NAT hop a lookup went through: the binding or rule that gave the port to an inside address. */
export interface NatHop {
  kind: 'binding' | 'rule';
  /** The binding's or the rule's id. */
  id: number;
  publicAddress: string;
  port: number;
  portFirst: number;
  portLast: number;
  insideAddress: string;
  insideContextId: number;
  /** SYSLOG, FILE or API for a binding; RULE for a deterministic rule. */
  source: string;
  /** The binding's or the rule's period: first instant, and last (null: open). */
  starttime: number;
  endtime: number | null;
}

/** What a lookup without a port of a shared address is told. */
export const portRequiredReason = (ip: string, at: number, blocks: number) =>
  `${ip} was shared through carrier-grade NAT at ${at} (${blocks} port ${blocks === 1 ? 'block' : 'blocks'}): a port is needed to name its holder`;

/** A lookup without a port of an address that was shared then: the answer needs a port. */
export class PortRequired {
  constructor(
    /** The port blocks (or hosts of a deterministic rule) the address had at that instant. */
    readonly blocks: number,
  ) {}
}

/**
 * The columns a lookup's caller reads: the statement selects only these (a report asking for
 * the customer's UserID of 10,000 lookups should not pay to decode twenty columns of each).
 * `customer` lists the columns read from the customer's row: `null` when no customer is asked
 * for; empty when only its id or UserID is, which the mapping has (no customer is probed).
 */
export interface LookupColumns {
  mapping: readonly (keyof IpMapping)[];
  customer: readonly (keyof Customer)[] | null;
}

/** A customer as lookups return it: its id and context, and the columns asked for. */
export type LookupCustomer = Pick<Customer, 'id' | 'contextId'> & Partial<Customer>;

/** A mapping as lookups return it: its context, the columns asked for, and its customer if asked for. */
export type LookupRow = Pick<IpMapping, 'contextId'> &
  Partial<IpMapping> & { customer?: LookupCustomer; nat?: NatHop | null };

/** What a lookup answers: the mapping that held the address (and port), that a port is needed, or null. */
export type LookupAnswer = LookupRow | PortRequired | null;

// Each field's column, qualified by the statement's alias (the mapping's network as text).
const qualified = <Model>(names: TableNames<Model>, alias: string) =>
  Object.fromEntries(Object.entries(names.columns).map(([field, column]) => [field, `${alias}.${column}`])) as {
    [Field in keyof Model]-?: string;
  };

// The mapping answering a lookup is the address's own holder (d) or, through a NAT binding or rule,
// the inside address's (i): at most one of the two is found, so each column is the one found.
const MAPPING_SQL = Object.fromEntries(
  Object.entries(mappings.columns).map(([field, column]) => [
    field,
    field === 'network' ? `coalesce(d.${column}, i.${column})::text` : `coalesce(d.${column}, i.${column})`,
  ]),
) as Record<keyof IpMapping, string>;

const CUSTOMER_SQL = qualified(customers, 'c') satisfies Record<keyof Customer, string>;

const MAPPING_FIELDS = Object.keys(MAPPING_SQL) as (keyof IpMapping)[];
const CUSTOMER_FIELDS = Object.keys(CUSTOMER_SQL) as (keyof Customer)[];

/** Whether `name` is a field of the mapping model (a column the lookup can read). */
export const isMappingField = (name: string): name is keyof IpMapping => Object.hasOwn(MAPPING_SQL, name);
/** Whether `name` is a field of the customer model. */
export const isCustomerField = (name: string): name is keyof Customer => Object.hasOwn(CUSTOMER_SQL, name);

/** The fields a caller reads, of the mapping and (null: not at all) of its customer. */
export interface FieldsRead {
  mapping: ReadonlySet<keyof IpMapping>;
  customer: ReadonlySet<keyof Customer> | null;
}

export const EVERY_FIELD: FieldsRead = { mapping: new Set(MAPPING_FIELDS), customer: new Set(CUSTOMER_FIELDS) };

// A customer's id and UserID are also its mappings' own columns (customerId, userId: the foreign
// key keeps them equal), so only its other columns need the customer's row.
const CUSTOMER_FIELDS_OF_MAPPING = new Set<keyof Customer>(['id', 'contextId', 'userId']);

/**
 * The columns to read for these fields, in a fixed order (equal sets give equal statements).
 * The context ids are the statement's own parameter, and a customer's id and UserID come with
 * the mapping: neither is read twice.
 */
export function lookupColumns({ mapping, customer }: FieldsRead): LookupColumns {
  return {
    mapping: MAPPING_FIELDS.filter(
      (field) =>
        field !== 'contextId' &&
        (mapping.has(field) ||
          (field === 'customerId' && customer !== null) ||
          (field === 'userId' && customer !== null && customer.has('userId'))),
    ),
    customer:
      customer && CUSTOMER_FIELDS.filter((field) => !CUSTOMER_FIELDS_OF_MAPPING.has(field) && customer.has(field)),
  };
}

// The columns come from the tables above (never from a caller), customer ones as "c_<field>".
const selectList = (columns: LookupColumns) =>
  [
    'q.ord::int AS "lookupIndex"',
    ...columns.mapping.map((field) => `${MAPPING_SQL[field]} AS "${field}"`),
    ...(columns.customer ?? []).map((field) => `${CUSTOMER_SQL[field]} AS "c_${field}"`),
  ].join(', ');

// One statement answers a whole batch. For each (ip, at) and each prefix length in use for the
// address's family, a B-tree probe finds the mapping of exactly that network that started last
// at or before `at`; it holds the address if it has not ended by then. Mappings never overlap,
// so at most one prefix length answers (see the lookup_index migration).
// The prefix lengths are read once per statement, not once per lookup, and probed longest first:
// an ISP's most numerous mappings are its most specific ones (single addresses), so most lookups
// stop at their first probe. The order only saves probes; any order gives the same answer.
const prefixLengths = mappingPrefixLengths.columns;
const prefixLengthsSql = (family: 4 | 6, context: string) =>
  `(SELECT array_agg(${prefixLengths.prefixLength} ORDER BY ${prefixLengths.prefixLength} DESC) FROM ${mappingPrefixLengths.table} WHERE ${prefixLengths.contextId} = ${context} AND ${prefixLengths.family} = ${family})`;

const m = mappings.columns;
const b = natPortBlocks.columns;
const r = natRules.columns;

/**
 * What a lookup statement reads the records from: the tables (the current records), or their
 * versions as they stood at a past system instant (system_versioning migration).
 */
interface Records {
  mappings: string;
  customers: string;
  natPortBlocks: string;
  natRules: string;
}

const CURRENT_RECORDS: Records = {
  mappings: mappings.table,
  customers: customers.table,
  natPortBlocks: natPortBlocks.table,
  natRules: natRules.table,
};

// The rows of a table as they stood at `instant`: its current rows already the record then, and
// the replaced versions that were. Both halves list the same columns, so that the planner treats
// the union as one table: a condition on it reaches each half's index, and an ordered probe
// merges the two indexes' orders.
const versionsAt = <Model>(names: TableNames<Model>, instant: string) => {
  const list = Object.values<string>(names.columns).join(', ');
  return `(SELECT ${list} FROM ${names.table} WHERE sys_from <= ${instant}
    UNION ALL SELECT ${list} FROM ${names.table}_history WHERE sys_from <= ${instant} AND sys_to > ${instant})`;
};

const recordsAt = (instant: string): Records => ({
  mappings: versionsAt(mappings, instant),
  customers: versionsAt(customers, instant),
  natPortBlocks: versionsAt(natPortBlocks, instant),
  natRules: versionsAt(natRules, instant),
});

/** The mapping of `context` holding `address` at q.at (see above), as a lateral subquery. */
const holderSql = (context: string, address: string, records: Records) => `
  SELECT candidate.* FROM unnest(CASE family(${address}) WHEN 4 THEN ${prefixLengthsSql(4, context)} ELSE ${prefixLengthsSql(6, context)} END) AS p(prefix_length)
  CROSS JOIN LATERAL (
    SELECT * FROM ${records.mappings} m
    WHERE m.${m.contextId} = ${context}
      AND m.${m.network} = network(set_masklen(${address}, p.prefix_length))::inet
      AND m.${m.starttime} <= q.at
    ORDER BY m.${m.starttime} DESC
    LIMIT 1
  ) candidate
  WHERE candidate.${m.endtime} IS NULL OR candidate.${m.endtime} >= q.at
  LIMIT 1`;

// (q.ip, q.at) as a point in the exclusion constraints' terms (box_exclusion migration): the NAT
// tables' GiST indexes answer "which binding or rule held this address then".
// An IPv6 address is no point of theirs (null: it meets nothing); PostgreSQL may compute the point
// before the conditions that leave IPv6 out, and IPv6 minus an IPv4 address is an error.
const pointX = `CASE family(q.ip) WHEN 4 THEN (q.ip - '0.0.0.0'::inet) - 4294967296 END`;
const pointSql = `box(point(${pointX}, ($1::bigint << 38) + q.at), point(${pointX}, ($1::bigint << 38) + q.at))`;
const bindingExtent = `ipdr_mapping_extent(nb.${b.contextId}, nb.${b.publicAddress}, nb.${b.starttime}, nb.${b.endtime})`;
const ruleExtent = `ipdr_mapping_extent(nr.${r.contextId}, nr.${r.outsidePrefix}, nr.${r.starttime}, nr.${r.endtime})`;
// Inside hosts per outside address of a rule, and the host a port belongs to (domain/nat.ts).
const ruleRatio = `(1::bigint << (masklen(nr.${r.outsidePrefix}) - masklen(nr.${r.insidePrefix})))`;
const ruleHost = `((q.port - nr.${r.firstPort}) / nr.${r.portsPerHost})`;

/**
 * The bindings and rules of q.ip's context ($1) that gave port q.port of q.ip to an inside
 * address at some instant of `extent` (a box in the exclusion constraints' terms), with the
 * port block they gave: what whoHad and ipHistory go through.
 */
const natHopsSql = (extent: string, records: Records) => `
    SELECT 'binding' AS kind, nb.${b.id} AS id, nb.${b.portFirst} AS port_first, nb.${b.portLast} AS port_last,
      nb.${b.insideAddress} AS inside, nb.${b.insideContextId} AS inside_context_id, nb.${b.source} AS source,
      nb.${b.starttime} AS starttime, nb.${b.endtime} AS endtime
    FROM ${records.natPortBlocks} nb
    WHERE ${bindingExtent} && ${extent}
      AND ipdr_port_span(nb.${b.portFirst}, nb.${b.portLast}) && ipdr_port_span(q.port, q.port)
    UNION ALL
    SELECT 'rule', nr.${r.id}, nr.${r.firstPort} + ${ruleHost}::int * nr.${r.portsPerHost},
      nr.${r.firstPort} + (${ruleHost}::int + 1) * nr.${r.portsPerHost} - 1,
      set_masklen(nr.${r.insidePrefix}, 32) + ((q.ip - nr.${r.outsidePrefix}) * ${ruleRatio} + ${ruleHost}),
      nr.${r.insideContextId}, 'RULE', nr.${r.starttime}, nr.${r.endtime}
    FROM ${records.natRules} nr
    WHERE ${ruleExtent} && ${extent} AND q.port >= nr.${r.firstPort} AND ${ruleHost} < ${ruleRatio}`;

/**
 * The lookup statement: $1 the context, $2 the addresses (inet[]), $3 the instants (int8[]), $4 the
 * ports (int4[], elements or the whole array null: no port); `asKnownAt`: $5 the system instant
 * (timestamptz) whose records answer, instead of the current ones.
 *
 * An address's own holder (d) holds every port of it. Without one, a shared IPv4 address is held
 * port by port: with a port, the binding or rule covering it (n) names an inside address, whose
 * holder in the inside context (i) answers; without a port, the statement counts the blocks the
 * address had then (s) so the caller can say a port is needed. A row comes back for every lookup
 * where any of these found something.
 */
export const whoHadSql = (columns: LookupColumns, asKnownAt = false) => {
  const records = asKnownAt ? recordsAt('$5::timestamptz') : CURRENT_RECORDS;
  return `
SELECT ${selectList(columns)}, (d.${m.id} IS NOT NULL OR i.${m.id} IS NOT NULL) AS "found",
  n.kind AS "natKind", n.id AS "natId", n.port_first AS "natPortFirst", n.port_last AS "natPortLast",
  host(n.inside) AS "natInsideAddress", n.inside_context_id AS "natInsideContextId", n.source AS "natSource",
  n.starttime AS "natStarttime", n.endtime AS "natEndtime", s.blocks AS "natBlocks"
FROM unnest($2::inet[], $3::int8[], $4::int4[]) WITH ORDINALITY AS q(ip, at, port, ord)
LEFT JOIN LATERAL (${holderSql('$1', 'q.ip', records)}
) d ON true
LEFT JOIN LATERAL (
  SELECT * FROM (
${natHopsSql(pointSql, records)}
  ) found
  WHERE d.${m.id} IS NULL AND q.port IS NOT NULL AND family(q.ip) = 4
  LIMIT 1
) n ON true
LEFT JOIN LATERAL (
  SELECT (SELECT count(*) FROM ${records.natPortBlocks} nb WHERE ${bindingExtent} && ${pointSql})
    + coalesce((SELECT ${ruleRatio} FROM ${records.natRules} nr WHERE ${ruleExtent} && ${pointSql} LIMIT 1), 0) AS blocks
  WHERE d.${m.id} IS NULL AND q.port IS NULL AND family(q.ip) = 4
  -- OFFSET 0 keeps this subquery whole: pulled up into the join, its WHERE became a join filter
  -- applied after the counts, which then ran for every lookup, ports or not (bench/nat.ts's plan).
  OFFSET 0
) s ON true
LEFT JOIN LATERAL (${holderSql('n.inside_context_id', 'n.inside', records)}
) i ON true${columns.customer?.length ? `\nLEFT JOIN ${records.customers} c ON c.${customers.columns.id} = coalesce(d.${m.customerId}, i.${m.customerId})` : ''}
WHERE d.${m.id} IS NOT NULL OR n.id IS NOT NULL OR s.blocks > 0`;
};

// What the statement answers: the mapping's columns by their field names, the customer's as "c_<field>".
type Row = { lookupIndex: number; found: boolean } & Partial<IpMapping> &
  Partial<Record<`c_${keyof Customer}`, unknown>> & {
    natKind: 'binding' | 'rule' | null;
    natId: number | null;
    natPortFirst: number | null;
    natPortLast: number | null;
    natInsideAddress: string | null;
    natInsideContextId: number | null;
    natSource: string | null;
    natStarttime: number | string | null;
    natEndtime: number | string | null;
    natBlocks: number | string | null;
  };

/** The most lookups one batch answers: whoHadMany's bound per request, and the shared batches' size. */
export const MAX_LOOKUPS = 10_000;

// A large batch is split over up to four statements, sent at once on separate connections: the
// database answers the later parts while this process decodes the first ones. The statement is
// prepared: planned anew for each batch, its planning cost more than answering a few dozen
// lookups, and under concurrent single lookups the database spent most of its time planning
// (BENCHMARKS.md, "Figures behind design choices").
const STATEMENTS_PER_BATCH = 4;
const MIN_LOOKUPS_PER_STATEMENT = 1000;

// PostgreSQL's text form of an array whose elements need no quoting: canonical addresses (digits,
// hex letters, dots and colons) and integers. The drivers would quote and escape each element,
// which cost 2.5 ms of a 10,000-lookup request.
const arrayLiteral = (elements: readonly (string | number | null)[]) =>
  `{${elements.map((element) => element ?? 'NULL').join(',')}}`;

/**
 * The mapping that held each address at each instant (null where none did), in input order,
 * with the columns asked for; its customer (with its id and the asked columns) if asked for.
 * With `asKnownAt` (a system instant, see domain/system-time.ts), the answer the records gave then.
 */
export async function whoHadBatch(
  db: Db,
  contextId: number,
  lookups: readonly Lookup[],
  columns: LookupColumns,
  asKnownAt?: SystemInstant,
): Promise<LookupAnswer[]> {
  const results = new Array<LookupAnswer>(lookups.length).fill(null);
  const partSize = Math.max(MIN_LOOKUPS_PER_STATEMENT, Math.ceil(lookups.length / STATEMENTS_PER_BATCH));
  const sql = whoHadSql(columns, asKnownAt !== undefined);
  const answerPart = async (offset: number) => {
    const part = lookups.slice(offset, offset + partSize);
    const rows = await db.readRows<Row>(
      sql,
      [
        contextId,
        arrayLiteral(part.map((lookup) => lookup.ip)),
        arrayLiteral(part.map((lookup) => lookup.at)),
        part.some((lookup) => lookup.port != null) ? arrayLiteral(part.map((lookup) => lookup.port ?? null)) : null,
        ...(asKnownAt === undefined ? [] : [asKnownAt.sql]),
      ],
      { prepared: true },
    );
    for (const row of rows) {
      const index = offset + row.lookupIndex - 1;
      results[index] = answerOf(row, lookups[index]!, contextId, columns);
    }
  };
  const offsets = [];
  for (let offset = 0; offset < lookups.length; offset += partSize) offsets.push(offset);
  await Promise.all(offsets.map(answerPart));
  return results;
}

function answerOf(row: Row, lookup: Lookup, contextId: number, columns: LookupColumns): LookupAnswer {
  if (row.natBlocks !== null && Number(row.natBlocks) > 0) return new PortRequired(Number(row.natBlocks));
  // A block or rule gave the port to an inside address nobody held then: no owner is known.
  if (!row.found) return null;
  const mapping = resultOf(row, row.natKind === null ? contextId : row.natInsideContextId!, columns);
  if (row.natKind !== null) {
    mapping.nat = {
      kind: row.natKind,
      id: row.natId!,
      publicAddress: lookup.ip,
      port: lookup.port!,
      portFirst: row.natPortFirst!,
      portLast: row.natPortLast!,
      insideAddress: row.natInsideAddress!,
      insideContextId: row.natInsideContextId!,
      source: row.natSource!,
      starttime: Number(row.natStarttime),
      endtime: row.natEndtime === null ? null : Number(row.natEndtime),
    };
  }
  return mapping;
}

/** The most port blocks (and rules) ipHistory follows for one address and port in its window. */
export const MAX_HISTORY_HOPS = 1000;

/**
 * Every binding or rule of `contextId` that gave `port` of `ip` (IPv4) to an inside address at
 * some instant of [from, to] (either end open), by start; at most MAX_HISTORY_HOPS + 1, so the
 * caller can tell there were more.
 */
export async function natHopsDuring(
  db: Db,
  contextId: number,
  ip: string,
  port: number,
  from: number | null,
  to: number | null,
  asKnownAt?: SystemInstant,
): Promise<NatHop[]> {
  const rows = await db.readRows<{
    kind: 'binding' | 'rule';
    id: number;
    port_first: number;
    port_last: number;
    inside: string;
    inside_context_id: number;
    source: string;
    starttime: number | string;
    endtime: number | string | null;
  }>(
    `SELECT kind, id, port_first, port_last, host(inside) AS inside, inside_context_id, source, starttime, endtime
     FROM (SELECT $2::inet AS ip, $3::int AS port) q
     CROSS JOIN LATERAL (${natHopsSql(
       'ipdr_mapping_extent($1, q.ip, $4::int8, $5::int8)',
       asKnownAt === undefined ? CURRENT_RECORDS : recordsAt('$6::timestamptz'),
     )}) hop
     ORDER BY starttime, kind, id
     LIMIT ${MAX_HISTORY_HOPS + 1}`,
    [contextId, ip, port, from ?? 0, to, ...(asKnownAt === undefined ? [] : [asKnownAt.sql])],
  );
  return rows.map((row) => ({
    kind: row.kind,
    id: row.id,
    publicAddress: ip,
    port,
    portFirst: row.port_first,
    portLast: row.port_last,
    insideAddress: row.inside,
    insideContextId: row.inside_context_id,
    source: row.source,
    starttime: Number(row.starttime),
    endtime: row.endtime === null ? null : Number(row.endtime),
  }));
}

/**
 * Where a page of ipHistory starts, in Prisma's terms (what Pothos's connection asks for): from the
 * row with id `cursorId` (none: the first), `skip` rows on, `take` rows (negative: the ones before,
 * counted back).
 */
export interface HistoryPage {
  cursorId: number | null;
  take: number;
  skip: number;
}

const EVERY_COLUMN = lookupColumns(EVERY_FIELD);

// A statement over the mappings as they stood at $1, with the spans' conditions and parameters.
function historyStatement(spans: readonly MappingSpan[], asKnownAt: SystemInstant) {
  const parameters: (string | number)[] = [asKnownAt.sql];
  const parameter = (value: string | number) => `$${parameters.push(value)}`;
  const where = spans.map((span) => spanSql('m', span, parameter)).join(' OR ');
  return { from: `${versionsAt(mappings, '$1::timestamptz')} m`, where: where || 'false', parameters, parameter };
}

/**
 * The mappings sharing an address with any of `spans`, as the records stood at `asKnownAt`, in
 * ipHistory's order (start, then id), one page of them; each with its customer as it stood then.
 */
export async function historyAt(
  db: Db,
  spans: readonly MappingSpan[],
  asKnownAt: SystemInstant,
  page: HistoryPage,
): Promise<LookupRow[]> {
  const statement = historyStatement(spans, asKnownAt);
  const backward = page.take < 0;
  const order = backward ? 'DESC' : 'ASC';
  // As Prisma's cursor: the cursor row's place in the order, looked up by its id alone.
  const fromCursor =
    page.cursorId === null
      ? ''
      : ` AND (m.${m.starttime}, m.${m.id}) ${backward ? '<=' : '>='} (SELECT k.${m.starttime}, k.${m.id}
          FROM ${versionsAt(mappings, '$1::timestamptz')} k WHERE k.${m.id} = ${statement.parameter(page.cursorId)})`;
  const select = [
    `m.${m.contextId} AS "contextId"`,
    ...EVERY_COLUMN.mapping.map(
      (field) => `m.${mappings.columns[field]}${field === 'network' ? '::text' : ''} AS "${field}"`,
    ),
    ...(EVERY_COLUMN.customer ?? []).map((field) => `c.${customers.columns[field]} AS "c_${field}"`),
  ].join(', ');
  const rows = await db.readRows<Row>(
    `SELECT ${select}
     FROM ${statement.from}
     LEFT JOIN ${versionsAt(customers, '$1::timestamptz')} c ON c.${customers.columns.id} = m.${m.customerId}
     WHERE (${statement.where})${fromCursor}
     ORDER BY m.${m.starttime} ${order}, m.${m.id} ${order}
     LIMIT ${statement.parameter(Math.abs(page.take))} OFFSET ${statement.parameter(page.skip)}`,
    statement.parameters,
  );
  const found = rows.map((row) => resultOf(row, row.contextId!, EVERY_COLUMN));
  return backward ? found.reverse() : found;
}

/** How many mappings historyAt pages through. */
export async function historyCountAt(db: Db, spans: readonly MappingSpan[], asKnownAt: SystemInstant) {
  const statement = historyStatement(spans, asKnownAt);
  const [row] = await db.readRows<{ count: number }>(
    `SELECT count(*)::int AS count FROM ${statement.from} WHERE ${statement.where}`,
    statement.parameters,
  );
  return row!.count;
}

function resultOf(row: Row, contextId: number, columns: LookupColumns): LookupRow {
  const mapping: LookupRow = { contextId };
  for (const field of columns.mapping) copyColumn(row, mapping, field);
  if (columns.customer !== null) {
    // lookupColumns reads the mapping's customerId whenever a customer is asked for.
    const customer: LookupCustomer = { id: row.customerId!, contextId };
    if (row.userId !== undefined) customer.userId = row.userId;
    for (const field of columns.customer) copyCustomerColumn(row, customer, field);
    mapping.customer = customer;
  }
  return mapping;
}

function copyColumn<Field extends keyof IpMapping>(row: Row, into: Partial<IpMapping>, field: Field) {
  into[field] = row[field];
}

// The customer's column under its statement alias holds that field's value (see selectList).
function copyCustomerColumn<Field extends keyof Customer>(row: Row, into: Partial<Customer>, field: Field) {
  into[field] = row[`c_${field}`] as Customer[Field];
}

/** Every field any of these reads. */
function unionOf(all: readonly FieldsRead[]): FieldsRead {
  const mapping = new Set<keyof IpMapping>();
  let customer: Set<keyof Customer> | null = null;
  for (const fields of all) {
    for (const field of fields.mapping) mapping.add(field);
    if (fields.customer) {
      customer ??= new Set();
      for (const field of fields.customer) customer.add(field);
    }
  }
  return { mapping, customer };
}

// Single lookups share statements: those that reach this point in the same turn of the event
// loop (the whoHad fields of a request, and of the requests being served alongside it) go to
// the database as one batch per context, reading every field any of them reads. Under load one
// statement then answers many requests, where each would otherwise pay its own round trip,
// driver work and wake-up of a database process. Nothing is cached between turns.
interface PendingLookup {
  lookup: Lookup;
  fields: FieldsRead;
}
// Per database: apps on different databases (tests) never share a batch.
const versioningStarts = new WeakMap<Db, Promise<SystemInstant>>();

/**
 * When the database began keeping versions (system_versioning migration): the records before it
 * are not known, so nothing is answered as known at an earlier instant. Read once per database.
 */
export function versioningStartedAt(db: Db): Promise<SystemInstant> {
  let started = versioningStarts.get(db);
  if (!started) {
    started = db
      .readRows<{ micros: string }>(`SELECT ${microsSql('started_at')} AS micros FROM system_versioning`, [])
      .then(([row]) => {
        if (!row) throw new Error('system_versioning has no row: the migration that creates it inserts one');
        return systemInstantOfColumn(row.micros);
      });
    started.catch(() => versioningStarts.delete(db));
    versioningStarts.set(db, started);
  }
  return started;
}

const sharedBatches = new WeakMap<Db, Map<number, DataLoader<PendingLookup, LookupAnswer>>>();

/** Who held `lookup.ip` at `lookup.at`, answered with the other single lookups made at the same moment. */
export function whoHadShared(db: Db, contextId: number, lookup: Lookup, fields: FieldsRead) {
  let batches = sharedBatches.get(db);
  if (!batches) sharedBatches.set(db, (batches = new Map()));
  let batch = batches.get(contextId);
  if (!batch) {
    batch = new DataLoader(
      // The batch answers whichever requests are waiting, under none of their deadlines: it runs
      // in the context of the request that happened to start it, which may be past its own.
      (pending) =>
        withoutDeadline(() =>
          whoHadBatch(
            db,
            contextId,
            pending.map((one) => one.lookup),
            lookupColumns(unionOf(pending.map((one) => one.fields))),
          ),
        ),
      { cache: false, batchScheduleFn: (dispatch) => setImmediate(dispatch), maxBatchSize: MAX_LOOKUPS },
    );
    batches.set(contextId, batch);
  }
  return batch.load({ lookup, fields });
}
