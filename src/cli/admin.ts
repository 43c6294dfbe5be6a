// ipdr-admin: contexts, users, grants and tokens, on the embedded database or DATABASE_URL.
// The same store functions serve the admin GraphQL mutations (src/schema/access.ts).
import { ChainMismatchError, verifyChains } from '../chains/verify.js';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { openDatabase } from '../db/connection.js';
import { type Db, createDb } from '../db/handle.js';
import { migrate } from '../db/migrate.js';
import { type Env, InvalidEnvironmentError, readEnv } from '../env.js';
import { exportCsv, importCsv, printSummary } from '../csv/cli.js';
import { importDetailFile, printDetailImportSummary } from '../radius/detail-import.js';
import { importNatLogFile, printNatImportSummary } from '../nat/file-import.js';
import { AttributionServerError, attributeFile, printAttributionSummary, writesToStdout } from '../attribution/cli.js';
import type { Format } from '../attribution/formats.js';
import { CaseMismatchError, exportCase, printCaseSummary } from '../cases/export.js';
import { type RetentionPeriod, parseRetentionPeriod } from '../domain/retention.js';
import {
  NoRetentionPolicy,
  type PurgeActor,
  type PurgeOutcome,
  applyRetention,
  listRetention,
  setRetention,
} from '../retention/store.js';
import { AlreadyExistsError, NotFoundError, ValidationError, checkField } from '../errors.js';
import { checkContextName, checkUsername } from '../domain/names.js';
import { isKnownTimeZone } from '../domain/time.js';
import { checkTokenExpiry, checkTokenFormat } from '../access/tokens.js';
import {
  cliActor,
  createContext,
  createToken,
  createUser,
  grantAccess,
  listContexts,
  listTokens,
  listUsers,
  revokeAccess,
  revokeToken,
} from '../access/store.js';

const expected = [
  ValidationError,
  NotFoundError,
  AlreadyExistsError,
  AttributionServerError,
  CaseMismatchError,
  NoRetentionPolicy,
  ChainMismatchError,
];

function parseDate(value: string): Date {
  const date = new Date(value);
  if (Number.isNaN(date.getTime()))
    throw new InvalidArgumentError('not a date (use ISO 8601, e.g. 2027-01-31T00:00:00Z)');
  return date;
}

function parseId(value: string): number {
  if (!/^[1-9]\d*$/.test(value)) throw new InvalidArgumentError('not a token id');
  return Number(value);
}

// As RADIUS_SESSION_TIMEOUT takes it (env.ts).
function parseSessionTimeout(value: string): number {
  const seconds = /^\d{1,9}$/.test(value) ? Number(value) : NaN;
  if (!(seconds >= 60 && seconds <= 31_536_000))
    throw new InvalidArgumentError('must be whole seconds, 60 to 31536000 (a year)');
  return seconds;
}

function parseTimeZone(value: string): string {
  if (!isKnownTimeZone(value)) throw new InvalidArgumentError('must be an IANA time zone, e.g. UTC or Europe/Paris');
  return value;
}

function parseFormat(value: string): Format {
  if (value !== 'csv' && value !== 'ndjson') throw new InvalidArgumentError('must be csv or ndjson');
  return value;
}

// `none` stays a string: commander reads a parser's null as no value.
function parseKeep(value: string): RetentionPeriod | 'none' {
  if (value === 'none') return 'none';
  const period = parseRetentionPeriod(value);
  if ('problem' in period) throw new InvalidArgumentError(`${period.problem}, or none`);
  return period;
}

const cliPurger = (): PurgeActor => ({ name: cliActor('cli').name, channel: 'cli' });

const purgeLine = (outcome: PurgeOutcome) =>
  outcome.status === 'busy'
    ? `${outcome.context}: skipped, another instance is purging it`
    : `${outcome.context}: keep ${outcome.keep}, horizon ${outcome.horizon} (${new Date(outcome.horizon * 1000).toISOString()}): ` +
      `${outcome.status === 'dry-run' ? 'would delete' : 'deleted'} ${outcome.mappings} mappings (+${outcome.mappingVersions} earlier versions), ` +
      `${outcome.customers} customers (+${outcome.customerVersions}), ${outcome.natBindings} NAT port blocks (+${outcome.natBindingVersions}), ` +
      `${outcome.radiusSessions} RADIUS sessions, ${outcome.auditEvents} audit events, ${outcome.lookupLogEntries} lookup-log entries`;

const iso = (date: Date | null) => (date ? date.toISOString() : '-');

/** Where a command writes: lines of its output, and error text (the console, for the real CLI). */
export interface AdminOutput {
  out: (line: string) => void;
  err: (text: string) => void;
}

const consoleOutput: AdminOutput = {
  out: (line) => console.log(line),
  err: (text) => process.stderr.write(text),
};

function table(out: AdminOutput['out'], rows: Record<string, unknown>[]) {
  if (rows.length === 0) return out('(none)');
  const columns = Object.keys(rows[0]!);
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)));
  const line = (cells: string[]) =>
    out(
      cells
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    );
  line(columns);
  for (const row of rows) line(columns.map((c) => String(row[c])));
}

/** What commands take from the environment. */
export type AdminSettings = Pick<Env, 'RADIUS_SESSION_TIMEOUT' | 'NAT_SYSLOG_TIMEZONE'> & {
  /** The token `attribute --url` sends without --token. */
  IPDR_TOKEN?: string | undefined;
};

/** Whether a command works without the database: `attribute --url` asks a running server. */
const needsNoDatabase = (command: Command) => command.name() === 'attribute' && command.opts().url !== undefined;

/**
 * The CLI's commands, run against the database `openDb` gives (asked for before each command
 * that needs one), writing to `output`; commander's own exits become thrown CommanderErrors.
 */
function buildProgram(openDb: () => Promise<Db>, output: AdminOutput, settings: AdminSettings): Command {
  const out = output.out;
  let db!: Db;
  const program = new Command('ipdr-admin')
    .description('Manage contexts, API users and tokens of ipdr-gateway')
    .exitOverride()
    .configureOutput({ writeOut: (text) => out(text.replace(/\n$/, '')), writeErr: output.err })
    .hook('preAction', async (_program, command) => {
      if (!needsNoDatabase(command)) db = await openDb();
    });

  const contexts = program.command('contexts').description('contexts (partitions of customers and mappings)');
  contexts.command('list').action(async () =>
    table(
      out,
      (await listContexts(db)).map((c) => ({ name: c.name, id: c.id })),
    ),
  );
  contexts.command('create <name>').action(async (name: string) => {
    const context = await createContext(
      db,
      checkField('name', () => checkContextName(name)),
    );
    out(`created context ${context.name}`);
  });

  const users = program.command('users').description('API users and their access to contexts');
  users.command('list').action(async () =>
    table(
      out,
      (await listUsers(db)).map((u) => ({
        username: u.username,
        admin: u.isAdmin ? 'yes' : 'no',
        contexts: u.grants.map((g) => `${g.context.name}(${g.canWrite ? 'rw' : 'r'})`).join(' ') || '-',
      })),
    ),
  );
  users
    .command('create <username>')
    .option('--admin', 'may manage contexts, users and tokens')
    .action(async (username: string, options: { admin?: boolean }) => {
      const user = await createUser(
        db,
        checkField('username', () => checkUsername(username)),
        options.admin ?? false,
      );
      out(`created ${user.isAdmin ? 'admin ' : ''}user ${user.username}`);
    });
  users
    .command('grant <username> <context>')
    .option('--write', 'may also change data (default: read only)')
    .action(async (username: string, context: string, options: { write?: boolean }) => {
      const grant = await grantAccess(db, username, context, options.write ?? false);
      out(`${username} may now ${grant.canWrite ? 'read and write' : 'read'} in ${context}`);
    });
  users.command('revoke <username> <context>').action(async (username: string, context: string) => {
    await revokeAccess(db, username, context);
    out(`${username} no longer has access to ${context}`);
  });

  const tokens = program.command('tokens').description('API tokens (stored only as hashes)');
  tokens.command('list [username]').action(async (username?: string) =>
    table(
      out,
      (await listTokens(db, username)).map((t) => ({
        id: t.id,
        user: t.user.username,
        hint: t.hint,
        label: t.label ?? '-',
        readOnly: t.readOnly ? 'yes' : 'no',
        expires: iso(t.expiresAt),
        revoked: iso(t.revokedAt),
        lastUsed: iso(t.lastUsedAt),
      })),
    ),
  );
  tokens
    .command('create <username>')
    .option('--read-only', 'the token may only read')
    .option('--expires <date>', 'expiry, ISO 8601', parseDate)
    .option('--label <text>', 'what the token is for')
    .option('--token <existing>', "register an existing token (a legacy caller's) instead of generating one")
    .action(
      async (username: string, options: { readOnly?: boolean; expires?: Date; label?: string; token?: string }) => {
        // An empty --token (an unset variable's) is refused, not taken for "generate one".
        const existing =
          options.token === undefined ? null : checkField('token', () => checkTokenFormat(options.token!));
        const expiresAt =
          options.expires === undefined ? null : checkField('expiresAt', () => checkTokenExpiry(options.expires!));
        const { token, record } = await createToken(db, username, {
          readOnly: options.readOnly ?? false,
          expiresAt,
          label: options.label ?? null,
          token: existing,
        });
        out(`created token ${record.id} for ${username}${record.readOnly ? ' (read-only)' : ''}`);
        if (!options.token) out(`token (shown once, store it now): ${token}`);
      },
    );
  tokens
    .command('revoke')
    .argument('<id>', 'the token id (see tokens list)', parseId)
    .action(async (id: number) => {
      const revoked = await revokeToken(db, id);
      out(`revoked token ${revoked.id} of ${revoked.user.username}`);
    });

  program
    .command('import <file>')
    .description("import Trisul's CSV of static IP customers (merging: customers upserted by UserID, mappings added)")
    .requiredOption('--context <name>', 'the context to import into')
    .option('--dry-run', 'check and count everything, write nothing')
    .action(async (file: string, options: { context: string; dryRun?: boolean }) => {
      const summary = await importCsv(db, file, options.context, options.dryRun ?? false);
      printSummary(summary, options.dryRun ?? false, out);
    });
  program
    .command('export [file]')
    .description("export a context as Trisul's CSV (to stdout without a file)")
    .requiredOption('--context <name>', 'the context to export')
    .action((file: string | undefined, options: { context: string }) => exportCsv(db, options.context, file));

  const radius = program.command('radius').description('RADIUS accounting sessions');
  radius
    .command('import <file>')
    .description(
      'backfill sessions from a FreeRADIUS detail file, through the same rules as the live feed ' +
        '(importing a file again writes nothing new), then end sessions silent for longer than the timeout',
    )
    .requiredOption('--context <name>', 'the context the sessions belong to')
    .option(
      '--session-timeout <seconds>',
      'sessions silent for longer end inferred (default: RADIUS_SESSION_TIMEOUT)',
      parseSessionTimeout,
    )
    .action(async (file: string, options: { context: string; sessionTimeout?: number }) => {
      const summary = await importDetailFile(db, file, options.context, {
        sessionTimeout: options.sessionTimeout ?? settings.RADIUS_SESSION_TIMEOUT,
      });
      printDetailImportSummary(summary, out);
    });

  const nat = program.command('nat').description('carrier-grade NAT port-block bindings');
  nat
    .command('import <file>')
    .description(
      'backfill port-block bindings from a file of CGNAT log lines (Juniper RT_SRC_NAT_PBA_*, Cisco CGN Userbased), ' +
        'as received or as a syslog daemon writes them, through the same rules as the syslog listener ' +
        '(importing a file again writes nothing new)',
    )
    .requiredOption('--context <name>', 'the context of the public addresses')
    .option('--inside-context <name>', 'the context the inside addresses are looked up in (default: --context)')
    .option(
      '--timezone <zone>',
      'IANA zone of RFC 3164 times, which carry none (default: NAT_SYSLOG_TIMEZONE)',
      parseTimeZone,
    )
    .action(async (file: string, options: { context: string; insideContext?: string; timezone?: string }) => {
      const summary = await importNatLogFile(db, file, {
        contextName: options.context,
        ...(options.insideContext === undefined ? {} : { insideContextName: options.insideContext }),
        timeZone: options.timezone ?? settings.NAT_SYSLOG_TIMEZONE,
      });
      printNatImportSummary(summary, out);
    });

  program
    .command('attribute <in> [out]')
    .description(
      'answer, for each row of IN (CSV with a header naming ip, time and optionally port, or NDJSON), ' +
        'who held the address then, as POST /attribute does: IN with the answer columns to OUT (stdout without ' +
        'one, or -), in batches logged with the case reference; on the database, or by a running server with --url',
    )
    .requiredOption('--context <name>', 'the context the addresses are looked up in')
    .requiredOption('--reason <case>', 'the case reference every lookup is logged with')
    .option(
      '--timezone <zone>',
      'IANA zone of DD-MM-YYYY HH:MM:SS times, which carry none (default: such rows are refused)',
      parseTimeZone,
    )
    .option('--format <format>', 'csv or ndjson (default: from IN: .csv; .ndjson or .jsonl)', parseFormat)
    .option('--url <url>', "a running server's address (e.g. http://127.0.0.1:4000): it answers, no database is opened")
    .option('--token <token>', 'the API token sent with --url (default: IPDR_TOKEN)')
    .action(
      async (
        input: string,
        outPath: string | undefined,
        options: { context: string; reason: string; timezone?: string; format?: Format; url?: string; token?: string },
      ) => {
        let target: Parameters<typeof attributeFile>[0];
        if (options.url === undefined) {
          if (options.token !== undefined) {
            throw new ValidationError('token', 'is sent with --url only: on the database the CLI acts as cli:<user>');
          }
          target = { db };
        } else {
          const token = options.token ?? settings.IPDR_TOKEN;
          if (token === undefined || token === '') {
            throw new ValidationError('token', 'the server needs an API token: give --token or set IPDR_TOKEN');
          }
          target = { url: options.url, token };
        }
        const summary = await attributeFile(target, {
          inPath: input,
          outPath,
          contextName: options.context,
          reason: options.reason,
          timeZone: options.timezone,
          format: options.format,
        });
        // With the answers on stdout, the summary goes to stderr.
        printAttributionSummary(summary, writesToStdout(outPath) ? (line) => output.err(`${line}\n`) : out);
      },
    );

  const retention = program.command('retention').description('how long each context keeps its records');
  retention
    .command('set')
    .description('set how long a context keeps what ended (none: keeps everything, the default)')
    .requiredOption('--context <name>', 'the context')
    .requiredOption('--keep <period>', 'years, months, weeks or days (2y, 18m, 26w, 90d), or none', parseKeep)
    .action(async (options: { context: string; keep: RetentionPeriod | 'none' }) => {
      const period = options.keep === 'none' ? null : options.keep;
      await setRetention(db, options.context, period, cliPurger());
      out(
        period === null
          ? `context ${options.context} keeps everything`
          : `context ${options.context} keeps ${period.text} (${period.interval})`,
      );
    });
  retention.command('list').action(async () =>
    table(
      out,
      (await listRetention(db)).map((row) => ({
        context: row.context,
        keep: row.keep ?? 'everything',
        setBy: row.setBy ?? '-',
        setAt: iso(row.setAt),
        lastPurge: iso(row.lastPurgeAt),
        lastHorizon: row.lastHorizon ?? '-',
      })),
    ),
  );
  retention
    .command('apply')
    .description(
      'delete, in each context with a policy, the mappings and NAT port blocks that ended before its horizon ' +
        '(now minus its period; ongoing ones never) with their earlier versions and audit events, the customers and ' +
        'RADIUS sessions they leave with nothing, and lookup-log entries made before it; each purge is recorded',
    )
    .option('--context <name>', 'only this context')
    .option('--dry-run', 'count what would be deleted, delete nothing')
    .action(async (options: { context?: string; dryRun?: boolean }) => {
      const outcomes = await applyRetention(db, cliPurger(), {
        contextName: options.context,
        dryRun: options.dryRun ?? false,
      });
      if (outcomes.length === 0) out('no context has a retention policy: nothing to do');
      for (const outcome of outcomes) out(purgeLine(outcome));
    });

  const cases = program.command('case').description('what was looked up under a case reference');
  cases
    .command('export <reason> [file]')
    .description(
      'write every lookup logged under the case reference REASON, with its answer derived again as the records ' +
        'stood when it was made (or as known at its asOf), as CSV to FILE (stdout without one, or -), each log entry ' +
        'checked against the digests logged with it; a summary follows, and any entry that does not match fails the command',
    )
    .option('--context <name>', 'only the lookups made in this context (default: every context)')
    .action(async (reason: string, file: string | undefined, options: { context?: string }) => {
      // With the CSV on stdout, the summary goes to stderr.
      const toStdout = file === undefined || file === '-';
      const print = toStdout ? (line: string) => output.err(`${line}\n`) : out;
      const summary = await exportCase(db, {
        reason,
        contextName: options.context,
        target: toStdout ? { lines: out } : { path: file },
      });
      printCaseSummary(summary, print);
      if (summary.mismatched.length > 0) throw new CaseMismatchError(summary);
    });
  program
    .command('verify')
    .description(
      'walk the hash chains of the audit trail and the lookup log: every entry recomputed, every link followed, ' +
        'every entry looked for on a chain; fails naming the first entry that does not match. Prints each ' +
        "context's heads digest: kept outside the database, it shows later that nothing before it was rewritten",
    )
    .option('--context <name>', 'only this context (default: every context)')
    .action(async (options: { context?: string }) => {
      const reports = await verifyChains(db, options.context);
      for (const report of reports) {
        const state = report.problems.length === 0 ? 'intact' : `${report.problems.length} not matching`;
        out(
          `context ${report.context}: audit trail ${report.links.audit} entries, lookup log ${report.links.lookup} entries: ${state}; heads digest ${report.headsDigest}`,
        );
        for (const problem of report.problems) out(`  ${problem.message}`);
      }
      if (reports.some((report) => report.problems.length > 0)) throw new ChainMismatchError(reports);
    });
  return program;
}

/**
 * Runs one ipdr-admin command on `db` (or the one `db()` opens, asked for only by a command that
 * needs a database): its exit status, 0 when it did what it was asked. An expected failure (a
 * name refused, a user not found) and a command line commander refuses are written to
 * `output.err`, never thrown. `settings` are the environment's (by default, its defaults).
 */
export async function runAdminCommand(
  db: Db | (() => Promise<Db>),
  argv: readonly string[],
  output: AdminOutput,
  settings: AdminSettings = readEnv({}),
): Promise<number> {
  const openDb = typeof db === 'function' ? db : async () => db;
  try {
    await buildProgram(openDb, output, settings).parseAsync([...argv]);
    return 0;
  } catch (error) {
    // Commander has written its message (or the help it was asked for) already.
    if (error instanceof CommanderError) return error.exitCode;
    if (!expected.some((type) => error instanceof type)) throw error;
    output.err(`error: ${(error as Error).message}\n`);
    return 1;
  }
}

/**
 * Runs one ipdr-admin command (bin/ipdr-admin.mjs is the entry): on the database the environment
 * names, opened and migrated when the command needs it, closed afterwards.
 */
export async function runAdmin(argv: readonly string[], source: NodeJS.ProcessEnv): Promise<void> {
  let env;
  try {
    env = readEnv(source);
  } catch (error) {
    if (!(error instanceof InvalidEnvironmentError)) throw error;
    console.error(error.message);
    process.exitCode = 1;
    return;
  }
  let db: Db | undefined;
  const openDb = async () => {
    if (db) return db;
    db = createDb(
      openDatabase({ databaseUrl: env.DATABASE_URL, poolSize: env.DATABASE_POOL_SIZE, dataDir: env.DATA_DIR }),
    );
    await migrate(db.database);
    return db;
  };
  try {
    process.exitCode = await runAdminCommand(openDb, argv, consoleOutput, { ...env, IPDR_TOKEN: source.IPDR_TOKEN });
  } finally {
    await db?.close();
  }
}
