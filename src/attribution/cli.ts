import { createReadStream, createWriteStream } from 'node:fs';
import { stat, unlink } from 'node:fs/promises';
import { type IncomingMessage, request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { extname, resolve } from 'node:path';
import { Readable, Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SingleBar } from 'cli-progress';
import { parse } from 'csv-parse';
import type { Db } from '../db/handle.js';
import { primaryOnly, routeReads } from '../db/replicas.js';
import { optionalText } from '../domain/customer.js';
import { InvalidValueError, excerpt } from '../domain/invalid-value.js';
import { isKnownTimeZone } from '../domain/time.js';
import { checkContextName } from '../domain/names.js';
import { NotFoundError, ValidationError, checkField } from '../errors.js';
import { type AttributedRow, type AttributionJob, attributeRows } from './attribute.js';
import { CONTENT_TYPES, type Format, HeaderError, answerChunks, answerHeader, openRows } from './formats.js';
import { ATTRIBUTE_PATH } from './path.js';
import { cliActor, findTenant } from '../access/store.js';

// `ipdr-admin attribute IN [OUT]`: what POST /attribute does, from the command line. On the
// database the CLI opened (the embedded one or DATABASE_URL), the rows go through the same
// attributeRows as the server's; with a server's URL, IN is streamed to its POST /attribute and
// its answer to OUT, and no database is opened here (a running server holds the embedded one).
// Either way IN and OUT are streams (constant memory, whatever their length), OUT is written only
// once the input's header has been accepted, and a run that fails leaves no OUT file behind.

/** Where the rows are answered: on a database, or by a running server. */
export type AttributionTarget = { db: Db } | { url: string; token: string };

export interface AttributeFileOptions {
  /** The rows to attribute: a CSV file (a header row naming ip, time and optionally port) or NDJSON. */
  inPath: string;
  /** Where the answers go; undefined or `-`: stdout. */
  outPath?: string | undefined;
  contextName: string;
  /** The case reference the lookups are logged with: required. */
  reason: string;
  /** The IANA zone Trisul-style `DD-MM-YYYY HH:MM:SS` times are read in; none: such rows are refused. */
  timeZone?: string | null | undefined;
  /** By default, from IN's extension (.csv; .ndjson or .jsonl). */
  format?: Format | undefined;
  /** Shows a progress bar on stderr; by default when stderr is a terminal. */
  progress?: boolean | undefined;
}

export interface AttributionSummary {
  rows: number;
  /** Answered with the mapping that held the address (NAT hops included). */
  withHolder: number;
  /** Of those, reached through a carrier-grade NAT binding or rule. */
  throughNat: number;
  /** Nobody held the address then. */
  withoutHolder: number;
  /** Rows that could not be read or answered (each has its `error`). */
  withError: number;
  elapsedSeconds: number;
}

/** The server refused the request, could not be reached, or stopped answering. */
export class AttributionServerError extends Error {
  override name = 'AttributionServerError';
}

/** The format a file's name says, if it says one. */
export function formatOfPath(path: string): Format | null {
  const extension = extname(path).toLowerCase();
  if (extension === '.csv') return 'csv';
  if (extension === '.ndjson' || extension === '.jsonl') return 'ndjson';
  return null;
}

export const writesToStdout = (outPath: string | undefined) => outPath === undefined || outPath === '-';

function checkReason(reason: string): string {
  let text: string | null;
  try {
    text = optionalText(reason);
  } catch (error) {
    if (error instanceof InvalidValueError) throw new ValidationError('reason', error.reason);
    throw error;
  }
  if (text === null || text.trim() === '') {
    throw new ValidationError('reason', 'a case reference is required: every attribution is logged with it');
  }
  return text;
}

async function inputSize(path: string): Promise<number> {
  try {
    const file = await stat(path);
    if (!file.isFile()) throw new ValidationError('IN', `${excerpt(path)} is not a file`);
    return file.size;
  } catch (error) {
    if (error instanceof ValidationError) throw error;
    throw new ValidationError('IN', `${excerpt(path)} cannot be read (${(error as NodeJS.ErrnoException).code})`);
  }
}

/** Counts the answers as they are written. */
class Tally {
  readonly summary: AttributionSummary = {
    rows: 0,
    withHolder: 0,
    throughNat: 0,
    withoutHolder: 0,
    withError: 0,
    elapsedSeconds: 0,
  };

  /** Told when rows have been counted (the progress bar). */
  onCount: () => void = () => {};

  add(userId: unknown, natKind: unknown, error: unknown) {
    const given = (value: unknown) => value !== null && value !== undefined && value !== '';
    this.summary.rows++;
    if (given(error)) this.summary.withError++;
    else if (given(userId)) {
      this.summary.withHolder++;
      if (given(natKind)) this.summary.throughNat++;
    } else this.summary.withoutHolder++;
  }

  addBatch(rows: readonly AttributedRow[]) {
    for (const { answer } of rows) this.add(answer.userid, answer.nat_kind, answer.error);
    this.onCount();
  }
}

/** OUT, opened when the first answer is ready; removed again if the run fails. */
class Output {
  private file: Writable | null = null;
  /** Why OUT could not be written, if it could not. */
  failure: NodeJS.ErrnoException | null = null;
  constructor(private readonly path: string | undefined) {}

  open(): Writable {
    const stream = writesToStdout(this.path) ? process.stdout : (this.file = createWriteStream(this.path!));
    stream.once('error', (error) => (this.failure ??= error));
    return stream;
  }

  /** Whether the pipeline ends OUT (stdout stays open). */
  get ends() {
    return !writesToStdout(this.path);
  }

  /** The error to report for a failed write: OUT's own, named, or `error` itself. */
  failed(error: unknown): unknown {
    if (this.failure === null) return error;
    const where = writesToStdout(this.path) ? 'stdout' : excerpt(this.path!);
    return new ValidationError('OUT', `${where} cannot be written (${this.failure.code ?? this.failure.message})`);
  }

  async discard() {
    if (this.file === null) return;
    this.file.destroy();
    await unlink(this.path!).catch(() => {});
  }
}

/**
 * Attributes the rows of `options.inPath` to their holders, writing IN's rows with the answer's
 * columns to `options.outPath` (stdout without one), in IN's format, on `target`'s database or by
 * the server at its URL. Throws ValidationError naming what is wrong with the options or IN,
 * NotFoundError for an unknown context (on a database), and AttributionServerError with the
 * server's message when it refuses (then no OUT is written).
 */
export async function attributeFile(
  target: AttributionTarget,
  options: AttributeFileOptions,
): Promise<AttributionSummary> {
  const started = performance.now();
  const reason = checkReason(options.reason);
  const timeZone = options.timeZone === undefined || options.timeZone === '' ? null : options.timeZone;
  if (timeZone !== null && !isKnownTimeZone(timeZone)) {
    throw new ValidationError('timezone', `${excerpt(timeZone)} is not an IANA time zone (e.g. UTC, Asia/Kolkata)`);
  }
  const format = options.format ?? formatOfPath(options.inPath);
  if (format === null) {
    throw new ValidationError(
      'format',
      `the name ${excerpt(options.inPath)} does not say (.csv, .ndjson or .jsonl): give --format csv or --format ndjson`,
    );
  }
  if (!writesToStdout(options.outPath) && resolve(options.outPath!) === resolve(options.inPath)) {
    throw new ValidationError('OUT', 'must not be IN itself: the answers would overwrite the rows being read');
  }
  const server = 'url' in target ? checkServer(target, options.contextName) : null;
  const size = await inputSize(options.inPath);
  const tenant = 'db' in target ? await findTenant(target.db, options.contextName) : null;

  const tally = new Tally();
  const bar =
    (options.progress ?? process.stderr.isTTY)
      ? new SingleBar({ format: 'attributing [{bar}] {percentage}% {value}/{total} bytes, {rows} rows answered' })
      : null;
  bar?.start(size, 0, { rows: 0 });
  if (bar) tally.onCount = () => bar.update({ rows: tally.summary.rows });
  const file = createReadStream(options.inPath);
  let bytesRead = 0;
  async function* input(): AsyncGenerator<Uint8Array> {
    for await (const chunk of file as AsyncIterable<Buffer>) {
      bytesRead += chunk.length;
      bar?.update(bytesRead, { rows: tally.summary.rows });
      yield chunk;
    }
  }
  const output = new Output(options.outPath);
  try {
    if ('db' in target) {
      const actor = cliActor('cli');
      const job: AttributionJob = {
        reads: routeReads(primaryOnly(target.db)),
        tenant: tenant!,
        actor,
        reason,
        timeZone,
      };
      await attributeOnDatabase(job, format, input(), output, tally);
    } else {
      await attributeOverHttp(server!, { ...options, reason, timeZone, format }, input(), output, tally);
    }
  } catch (error) {
    await output.discard();
    throw error;
  } finally {
    file.destroy();
    bar?.update(bytesRead, { rows: tally.summary.rows });
    bar?.stop();
  }
  tally.summary.elapsedSeconds = (performance.now() - started) / 1000;
  return tally.summary;
}

async function attributeOnDatabase(
  job: AttributionJob,
  format: Format,
  input: AsyncIterable<Uint8Array>,
  output: Output,
  tally: Tally,
) {
  // The first rows are read before OUT is opened: a header that cannot be attributed leaves none.
  let opened: Awaited<ReturnType<typeof openRows>>;
  try {
    opened = await openRows(format, input);
  } catch (error) {
    if (error instanceof HeaderError) throw new ValidationError(error.field === 'body' ? 'IN' : 'header', error.reason);
    throw error;
  }
  const { columns } = opened;
  const answers = attributeRows(job, opened.rows);
  async function* text(): AsyncGenerator<string> {
    const header = answerHeader(columns());
    if (header !== '') yield header;
    for await (const batch of answers) {
      tally.addBatch(batch);
      yield* answerChunks(batch, columns());
    }
  }
  // Readable.from pulls the next batch only when OUT has taken the last (backpressure): at most
  // attributeRows' pipeline of batches is held, whatever IN's length.
  try {
    await pipeline(Readable.from(text(), { objectMode: false }), output.open(), { end: output.ends });
  } catch (error) {
    throw output.failed(error);
  }
}

/**
 * The server's POST /attribute under `target.url` (which may carry a path prefix), the token and
 * the context checked: each goes in a header, and what a header cannot carry is refused by name.
 */
function checkServer(target: { url: string; token: string }, contextName: string): { url: string; token: string } {
  checkField('context', () => checkContextName(contextName));
  if (!/^[\x21-\x7e]+$/.test(target.token)) {
    throw new ValidationError('token', 'must be printable ASCII, without spaces');
  }
  return { url: attributeUrl(target.url).toString(), token: target.token };
}

function attributeUrl(base: string): URL {
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw new ValidationError('url', `${excerpt(base)} is not a URL (e.g. http://127.0.0.1:4000)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ValidationError('url', `must be http:// or https://, not ${excerpt(url.protocol)}`);
  }
  if (!url.pathname.endsWith(ATTRIBUTE_PATH)) url.pathname = url.pathname.replace(/\/*$/, '') + ATTRIBUTE_PATH;
  url.search = '';
  url.hash = '';
  return url;
}

/** A refusal's text, as the server's GraphQL-shaped error gives it: the message, naming its field. */
function refusalMessage(status: number, body: string): string {
  try {
    const error = (JSON.parse(body) as { errors?: { message?: unknown; extensions?: { field?: unknown } }[] })
      .errors?.[0];
    if (typeof error?.message === 'string') {
      const field = error.extensions?.field;
      const named =
        typeof field === 'string' && !error.message.startsWith(`${field}:`)
          ? `${field}: ${error.message}`
          : error.message;
      return `${named} (HTTP ${status})`;
    }
  } catch {
    // Not JSON: said as it came.
  }
  return `the server answered HTTP ${status}${body.trim() === '' ? '' : `: ${excerpt(body.trim())}`}`;
}

/** At most `limit` characters of a response's body (a refusal's, which is short). */
async function bodyText(response: IncomingMessage, limit = 64 * 1024): Promise<string> {
  let text = '';
  for await (const chunk of response) {
    text += String(chunk);
    if (text.length >= limit) break;
  }
  return text.slice(0, limit);
}

/** Passes the answer through unchanged, counting its rows as they go by. */
function answerCounter(format: Format, tally: Tally): Transform {
  if (format === 'ndjson') {
    const decoder = new TextDecoder();
    let pending = '';
    const count = (line: string) => {
      if (line.trim() === '') return;
      const answer = JSON.parse(line) as Record<string, unknown>;
      tally.add(answer.userid, answer.nat_kind, answer.error);
    };
    return new Transform({
      transform(chunk: Buffer, _encoding, done) {
        pending += decoder.decode(chunk, { stream: true });
        const lines = pending.split('\n');
        pending = lines.pop()!;
        try {
          lines.forEach(count);
        } catch (error) {
          return done(error as Error);
        }
        tally.onCount();
        done(null, chunk);
      },
      flush(done) {
        try {
          count(pending + decoder.decode());
        } catch (error) {
          return done(error as Error);
        }
        done();
      },
    });
  }
  const parser = parse({ columns: true, relax_column_count: true, bom: true });
  parser.on('data', (answer: Record<string, string>) => tally.add(answer.userid, answer.nat_kind, answer.error));
  let failure: Error | null = null;
  parser.on('error', (error) => (failure = error));
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      parser.write(chunk);
      tally.onCount();
      done(failure, chunk);
    },
    flush(done) {
      if (failure) return done(failure);
      parser.once('end', () => done(failure));
      parser.once('error', (error) => done(error));
      parser.end();
    },
  });
}

async function attributeOverHttp(
  target: { url: string; token: string },
  options: AttributeFileOptions & { reason: string; timeZone: string | null; format: Format },
  input: AsyncIterable<Uint8Array>,
  output: Output,
  tally: Tally,
) {
  const url = new URL(target.url);
  url.searchParams.set('reason', options.reason);
  if (options.timeZone !== null) url.searchParams.set('timezone', options.timeZone);
  const request = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${target.token}`,
      'x-context': options.contextName,
      'content-type': CONTENT_TYPES[options.format],
    },
  });
  const responded = new Promise<IncomingMessage>((resolve, reject) => {
    request.once('response', resolve);
    request.once('error', reject);
  });
  // IN is sent as the answer comes back. Sending fails when the server answers before reading it
  // all (a refusal) or goes away; what it answered says which.
  const sent = pipeline(input, request).then(
    () => null,
    (error: Error) => error,
  );
  let response: IncomingMessage;
  try {
    response = await responded;
  } catch (error) {
    request.destroy();
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new AttributionServerError(`cannot reach ${url.origin}: ${code}`);
  }
  if (response.statusCode !== 200) {
    const body = await bodyText(response).catch(() => '');
    request.destroy();
    throw new AttributionServerError(refusalMessage(response.statusCode ?? 0, body));
  }
  try {
    await pipeline(response, answerCounter(options.format, tally), output.open(), { end: output.ends });
  } catch (error) {
    request.destroy();
    if (output.failure) throw output.failed(error);
    throw new AttributionServerError(
      `the answer stopped after ${tally.summary.rows} rows (${(error as Error).message}): see the server's log`,
    );
  }
  const failed = await sent;
  if (failed) throw new AttributionServerError(`sending IN failed: ${failed.message}`);
}

export function printAttributionSummary(summary: AttributionSummary, out: (line: string) => void) {
  out(`${summary.rows} rows answered`);
  out(`with a holder: ${summary.withHolder}`);
  out(`  through carrier-grade NAT: ${summary.throughNat}`);
  out(`without a holder: ${summary.withoutHolder}`);
  out(`with an error: ${summary.withError}`);
  out(`elapsed: ${summary.elapsedSeconds.toFixed(1)} s`);
}
