import type { Actor, Tenant } from '../access/types.js';
import type { ReadRoute } from '../db/replicas.js';
import { type SystemInstant, secondOf } from '../domain/system-time.js';
import { answerImage } from '../lookups/digest.js';
import { type AttributionLookup, type OutputColumn, readAttributionRow } from '../domain/attribution.js';
import { createLoaders } from '../lookups/loaders.js';
import { recordLookups } from '../lookups/log.js';
import {
  type LookupAnswer,
  MAX_LOOKUPS,
  PortRequired,
  lookupColumns,
  portRequiredReason,
  whoHadBatch,
} from '../lookups/store.js';

// Attribution of any number of rows: read in batches of MAX_LOOKUPS, each answered by whoHadBatch's
// set-based statements, with the next batch's lookups sent while the previous one's answers are
// written out (at most PIPELINE_DEPTH batches held at once, whatever the input's length).

/** One request's rows and how to answer them. */
export interface AttributionJob {
  /** Lookups read where this routes them (a replica, if there is one); the lookup log goes to its primary. */
  reads: ReadRoute;
  tenant: Tenant;
  actor: Actor;
  /** The case reference each batch is recorded in the lookup log with. */
  reason: string;
  /** The records answer as they stood at this system instant; absent: the current records. */
  asKnownAt?: SystemInstant;
  /** The zone Trisul-style `DD-MM-YYYY HH:MM:SS` times are read in; null: such times are refused. */
  timeZone: string | null;
  /** Aborted when the rows' sender has gone: nothing more is read or sent to the database. */
  signal?: AbortSignal;
  /** Awaited before each batch is sent (the caller's rate limit, one unit a batch as a whoHadMany request). */
  beforeBatch?: () => Promise<void>;
}

/** A row's cells by column name, as the input gave them. */
export type InputRow = Readonly<Record<string, string | undefined>>;

/** A row as its reader gives it: its cells, or why it could not be read (a malformed CSV record). */
export interface SourceRow {
  cells: InputRow;
  unreadable?: string;
  /** About how much of the input it took (bytes): a batch is also sent once it holds MAX_BATCH_BYTES. */
  bytes?: number;
}

/** What the answer adds to a row: null where it says nothing. */
export type AnswerCells = Record<OutputColumn, string | number | null>;

export interface AttributedRow<Row extends SourceRow = SourceRow> {
  row: Row;
  answer: AnswerCells;
}

/**
 * Batches in flight: while the oldest one's answers are written out and the next rows are read, two
 * are still being answered. With one left in the database at such times, its statements ran out
 * before the next batch was sent, and the database's share of the cores went idle (bench/nat.ts's
 * CPU seconds of each side show it).
 */
export const PIPELINE_DEPTH = 3;

/** A partial batch is sent once the input has paused this long. */
const IDLE_FLUSH_MS = 50;

/** Wide rows make smaller batches: what a batch holds stays bounded by bytes as well as by rows. */
const MAX_BATCH_BYTES = 8 * 1024 * 1024;

/** The fields every answer reads: the mapping's own and its customer's name (bench/nat.ts sends the same). */
export const ATTRIBUTION_COLUMNS = lookupColumns({
  mapping: new Set(['id', 'userId', 'ipsubnet', 'starttime', 'endtime', 'source']),
  customer: new Set(['name']),
});

const EMPTY: AnswerCells = {
  userid: null,
  name: null,
  mapping_id: null,
  ipsubnet: null,
  starttime: null,
  endtime: null,
  source: null,
  nat_kind: null,
  nat_id: null,
  nat_port_first: null,
  nat_port_last: null,
  nat_inside_address: null,
  nat_inside_context: null,
  nat_source: null,
  error: null,
};

const asNumber = (value: unknown) => (value === null || value === undefined ? null : Number(value));

/**
 * The rows' answers, in input order, a batch at a time; the rows come as their reader has them,
 * several at a time. Stopping the iteration (the client went away) stops reading the input; a
 * batch already sent to the database finishes there.
 */
export async function* attributeRows<Row extends SourceRow>(
  job: AttributionJob,
  rows: AsyncIterable<readonly Row[]>,
): AsyncGenerator<AttributedRow<Row>[]> {
  // The inside contexts NAT hops name: the request loaders' cache reads each once.
  const { contextNameById } = createLoaders(job.reads, job.tenant, job.actor);
  async function contextNamesOf(answers: readonly LookupAnswer[]): Promise<ReadonlyMap<number, string>> {
    const ids = new Set<number>();
    for (const answer of answers) {
      if (answer && !(answer instanceof PortRequired) && answer.nat) ids.add(answer.nat.insideContextId);
    }
    const names = await contextNameById.loadMany([...ids]);
    return new Map([...ids].flatMap((id, index) => (typeof names[index] === 'string' ? [[id, names[index]]] : [])));
  }

  async function answerBatch(batch: Row[]): Promise<AttributedRow<Row>[]> {
    const read = batch.map((row) =>
      row.unreadable === undefined ? readAttributionRow(row.cells, job.timeZone) : { error: row.unreadable },
    );
    const lookups: AttributionLookup[] = [];
    for (const row of read) if ('lookup' in row) lookups.push(row.lookup);
    const answers =
      lookups.length === 0
        ? []
        : await whoHadBatch(job.reads.reader(), job.tenant.id, lookups, ATTRIBUTION_COLUMNS, job.asKnownAt);
    // Logged with its answers before any of them is sent; the log's write and the context names'
    // read go together.
    const [contextNames] = await Promise.all([
      contextNamesOf(answers),
      lookups.length === 0
        ? undefined
        : recordLookups(job.reads.primary, job.tenant, job.actor, [
            {
              operation: 'attribute',
              reason: job.reason,
              asked: lookups,
              answers: answers.map(answerImage),
              ...(job.asKnownAt === undefined ? {} : { asOf: secondOf(job.asKnownAt) }),
            },
          ]),
    ]);
    let next = 0;
    return read.map((read, index) => {
      const row = batch[index]!;
      if ('error' in read) return { row, answer: { ...EMPTY, error: read.error } };
      const lookup = lookups[next]!;
      return { row, answer: cellsOf(answers[next++]!, lookup, contextNames) };
    });
  }

  const inFlight: Promise<AttributedRow<Row>[]>[] = [];
  const send = (batch: Row[]) => {
    const answered = (job.beforeBatch ? job.beforeBatch() : Promise.resolve()).then(() => answerBatch(batch));
    // Awaited in order below; until then a failure must not count as unhandled.
    answered.catch(() => {});
    inFlight.push(answered);
  };
  const aborted = new Promise<'aborted'>((resolve) => {
    if (job.signal?.aborted) resolve('aborted');
    job.signal?.addEventListener('abort', () => resolve('aborted'), { once: true });
  });
  // Waiting for the next rows, four things can happen first: they arrive; the oldest batch's
  // answers are ready (written out at once, not when the next batch fills); the input pauses with
  // a partial batch read (sent after IDLE_FLUSH_MS if fewer than PIPELINE_DEPTH are in flight, so a
  // slow sender still gets answers); or the sender goes away (nothing more is sent).
  const input = rows[Symbol.asyncIterator]();
  let pendingRows: Promise<IteratorResult<readonly Row[]>> | null = null;
  let batch: Row[] = [];
  let batchBytes = 0;
  const sendBatch = () => {
    send(batch);
    batch = [];
    batchBytes = 0;
  };
  try {
    for (;;) {
      if (pendingRows === null) {
        pendingRows = input.next();
        // Its failure is handled where it is awaited below; meanwhile it must not count as unhandled.
        pendingRows.catch(() => {});
      }
      const waits: Promise<'rows' | 'answered' | 'idle' | 'aborted'>[] = [
        pendingRows.then(() => 'rows' as const),
        aborted,
      ];
      if (inFlight.length > 0) {
        waits.push(
          inFlight[0]!.then(
            () => 'answered' as const,
            () => 'answered' as const,
          ),
        );
      }
      let idle: NodeJS.Timeout | undefined;
      if (batch.length > 0 && inFlight.length < PIPELINE_DEPTH) {
        waits.push(new Promise((resolve) => (idle = setTimeout(() => resolve('idle'), IDLE_FLUSH_MS))));
      }
      const first = await Promise.race(waits);
      clearTimeout(idle);
      if (first === 'aborted') return;
      if (first === 'answered') {
        yield await inFlight.shift()!;
        continue;
      }
      if (first === 'idle') {
        sendBatch();
        continue;
      }
      const next = await pendingRows;
      pendingRows = null;
      if (next.done) break;
      for (const row of next.value) {
        batch.push(row);
        batchBytes += row.bytes ?? 0;
        if (batch.length < MAX_LOOKUPS && batchBytes < MAX_BATCH_BYTES) continue;
        sendBatch();
        while (inFlight.length >= PIPELINE_DEPTH) {
          if (job.signal?.aborted) return;
          yield await inFlight.shift()!;
        }
      }
    }
    if (batch.length > 0 && !job.signal?.aborted) sendBatch();
    while (inFlight.length > 0 && !job.signal?.aborted) yield await inFlight.shift()!;
  } finally {
    // Stopped early (the sender went away, or the reader): the input is not read further.
    if (pendingRows === null) await input.return?.();
    else
      void pendingRows.then(
        () => input.return?.(),
        () => {},
      );
  }
}

function cellsOf(
  answer: LookupAnswer,
  lookup: AttributionLookup,
  contextNames: ReadonlyMap<number, string>,
): AnswerCells {
  if (answer === null) return EMPTY;
  if (answer instanceof PortRequired) {
    return { ...EMPTY, error: `port: ${portRequiredReason(lookup.ip, lookup.at, answer.blocks)}` };
  }
  const { nat } = answer;
  return {
    userid: answer.userId ?? null,
    name: answer.customer?.name ?? null,
    mapping_id: answer.id ?? null,
    ipsubnet: answer.ipsubnet ?? null,
    starttime: asNumber(answer.starttime),
    endtime: asNumber(answer.endtime),
    source: answer.source ?? null,
    nat_kind: nat?.kind ?? null,
    nat_id: nat?.id ?? null,
    nat_port_first: nat?.portFirst ?? null,
    nat_port_last: nat?.portLast ?? null,
    nat_inside_address: nat?.insideAddress ?? null,
    nat_inside_context: nat ? (contextNames.get(nat.insideContextId) ?? null) : null,
    nat_source: nat?.source ?? null,
    error: null,
  };
}
