import { z } from 'zod';
import { checkTokenFormat } from './access/tokens.js';
import { InvalidValueError } from './domain/invalid-value.js';
import { parseIpSubnet } from './domain/ip.js';
import { checkContextName, checkUsername } from './domain/names.js';
import { isKnownTimeZone } from './domain/time.js';

const booleanFlag = z.enum(['true', 'false', '1', '0']).transform((value) => value === 'true' || value === '1');

/**
 * A variable checked by one of the domain's rules (the same the admin API applies), its reason as
 * the message; the value is not echoed (IPDR_ADMIN_TOKEN is a secret).
 */
function domainRule<T>(check: (value: string) => T) {
  return (value: string, ctx: z.RefinementCtx): T => {
    try {
      return check(value);
    } catch (error) {
      if (!(error instanceof InvalidValueError)) throw error;
      ctx.addIssue({ code: 'custom', message: error.reason });
      return z.NEVER;
    }
  };
}

/** One NAS that may send RADIUS accounting: where its packets come from, its secret, its sessions' context. */
const radiusClient = z.strictObject({
  address: z.string({ error: 'must be an IP address or CIDR subnet' }).transform(domainRule(parseIpSubnet)),
  // Never echoed: a message about it says only what is wrong.
  secret: z.string({ error: 'must be a text' }).min(1, 'must not be empty'),
  context: z.string({ error: 'must be a context name' }).transform(domainRule(checkContextName)),
});

export type RadiusClientSetting = z.infer<typeof radiusClient>;

const radiusClients = z
  .string()
  .transform((text, ctx): unknown => {
    try {
      return JSON.parse(text);
    } catch {
      // JSON.parse's own message quotes the text around the fault, which may be a secret.
      ctx.addIssue({ code: 'custom', message: 'must be JSON: a list of {"address", "secret", "context"}' });
      return z.NEVER;
    }
  })
  .pipe(
    z
      .array(radiusClient, { error: 'must be a JSON list of {"address", "secret", "context"}' })
      .min(1, 'must list at least one client'),
  )
  .superRefine((clients, ctx) => {
    // Two entries for one network would make the secret a packet is checked with a matter of order.
    const seen = new Set<string>();
    clients.forEach((client, index) => {
      if (seen.has(client.address.network)) {
        ctx.addIssue({
          code: 'custom',
          path: [index, 'address'],
          message: `${client.address.network} is listed twice`,
        });
      }
      seen.add(client.address.network);
    });
  });

/** One device that may send NAT syslog: where it sends from, the contexts of its public and inside addresses. */
const natSyslogSource = z
  .strictObject({
    address: z.string({ error: 'must be an IP address or CIDR subnet' }).transform(domainRule(parseIpSubnet)),
    context: z.string({ error: 'must be a context name' }).transform(domainRule(checkContextName)),
    insideContext: z.string({ error: 'must be a context name' }).transform(domainRule(checkContextName)).optional(),
  })
  .transform((source) => ({ ...source, insideContext: source.insideContext ?? source.context }));

export type NatSyslogSourceSetting = z.infer<typeof natSyslogSource>;

const natSyslogSources = z
  .string()
  .transform((text, ctx): unknown => {
    try {
      return JSON.parse(text);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be JSON: a list of {"address", "context", "insideContext"}' });
      return z.NEVER;
    }
  })
  .pipe(
    z
      .array(natSyslogSource, { error: 'must be a JSON list of {"address", "context", "insideContext"}' })
      .min(1, 'must list at least one source'),
  )
  .superRefine((sources, ctx) => {
    // Two entries for one network would make a line's contexts a matter of order.
    const seen = new Set<string>();
    sources.forEach((source, index) => {
      if (seen.has(source.address.network)) {
        ctx.addIssue({
          code: 'custom',
          path: [index, 'address'],
          message: `${source.address.network} is listed twice`,
        });
      }
      seen.add(source.address.network);
    });
  });

/** An IANA time zone name, as Intl knows it. */
function checkTimeZone(value: string, ctx: z.RefinementCtx): string {
  if (isKnownTimeZone(value)) return value;
  ctx.addIssue({ code: 'custom', message: `${JSON.stringify(value)} is not an IANA time zone` });
  return z.NEVER;
}

const envSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
    HOST: z.string().min(1).default('0.0.0.0'),
    PORT: z.coerce.number({ error: 'must be a port number' }).int().min(0).max(65535).default(4000),
    /** PostgreSQL connection string; without it the embedded database (PGlite) is used. */
    DATABASE_URL: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// connection string')
      .optional(),
    /**
     * Streaming replicas lookups read from (comma-separated postgres:// URLs); writes, and reads of a
     * request that wrote, stay on DATABASE_URL (db/replicas.ts).
     */
    DATABASE_REPLICA_URLS: z
      .string()
      .transform((list) =>
        list
          .split(',')
          .map((url) => url.trim())
          .filter((url) => url !== ''),
      )
      .pipe(
        z
          .array(z.string().regex(/^postgres(ql)?:\/\//, 'must be postgres:// or postgresql:// connection strings'))
          .min(1, 'must name at least one replica'),
      )
      .optional(),
    /** A replica further behind the primary than this is skipped until it catches up. */
    REPLICA_MAX_LAG_SECONDS: z.coerce.number({ error: 'must be seconds' }).int().min(1).max(86_400).default(10),
    DATABASE_POOL_SIZE: z.coerce.number({ error: 'must be a number of connections' }).int().min(1).max(500).default(10),
    /** How long a start waits for PostgreSQL to accept a connection, retrying; 0 tries once. */
    DATABASE_CONNECT_TIMEOUT_MS: z.coerce.number({ error: 'must be milliseconds' }).int().min(0).default(30_000),
    /** Where the embedded database keeps its files; `memory://` keeps nothing. */
    DATA_DIR: z.string().min(1).default('./data'),

    // First start on an empty database (see access/store.ts bootstrapAccess).
    IPDR_CONTEXTS: z
      .string()
      .default('default')
      .transform((list) =>
        list
          .split(',')
          .map((name) => name.trim())
          .filter((name) => name !== ''),
      )
      .refine((names) => names.length > 0, 'must name at least one context')
      .pipe(z.array(z.string().transform(domainRule(checkContextName)))),
    IPDR_ADMIN_USER: z.string().min(1).default('admin').transform(domainRule(checkUsername)),
    IPDR_ADMIN_TOKEN: z.string().transform(domainRule(checkTokenFormat)).optional(),

    // Hardening. GraphiQL and introspection are on outside production unless turned off.
    GRAPHIQL: booleanFlag.optional(),
    INTROSPECTION: booleanFlag.optional(),
    MAX_DEPTH: z.coerce.number().int().min(1).default(6),
    MAX_ALIASES: z.coerce.number().int().min(1).default(100),
    /** What one request may cost, lists weighed by their size (http/cost-limit.ts). */
    MAX_COST: z.coerce.number().int().min(1).default(100_000),
    MAX_TOKENS: z.coerce.number().int().min(1).default(5_000),
    MAX_DIRECTIVES: z.coerce.number().int().min(1).default(20),
    BODY_LIMIT_BYTES: z.coerce
      .number()
      .int()
      .min(1024)
      .default(2 * 1024 * 1024),
    /** How long a connection may take to send a request's headers (Node's headersTimeout). */
    HEADERS_TIMEOUT_MS: z.coerce.number({ error: 'must be milliseconds' }).int().min(1000).default(10_000),
    /** How long a connection may take to send a whole request, body included (Node's requestTimeout). */
    RECEIVE_TIMEOUT_MS: z.coerce.number({ error: 'must be milliseconds' }).int().min(1000).default(30_000),
    /** How long an idle keep-alive connection stays open after a response. */
    KEEP_ALIVE_TIMEOUT_MS: z.coerce.number({ error: 'must be milliseconds' }).int().min(1000).default(5_000),
    /** How long a request may run once received; 0 turns the limit off. */
    REQUEST_TIMEOUT_MS: z.coerce.number({ error: 'must be milliseconds' }).int().min(0).default(30_000),
    /** The largest response body the server sends; a larger one is replaced by an error. */
    MAX_RESPONSE_BYTES: z.coerce
      .number({ error: 'must be a number of bytes' })
      .int()
      .min(1024)
      .default(64 * 1024 * 1024),
    /** Requests per token per minute; 0 turns the limit off. */
    RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(0).default(1200),
    /** Failed authentications per client address per minute, whatever the token; 0 turns the limit off. */
    AUTH_FAILURES_PER_MINUTE: z.coerce.number().int().min(0).default(30),
    /** Behind a reverse proxy: the client address is the last one X-Forwarded-For names. */
    TRUST_PROXY: booleanFlag.default(false),
    /** Shares rate-limit counters between instances. */
    REDIS_URL: z
      .string()
      .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
      .optional(),

    // The live feed (src/feed/): GraphQL subscriptions to mapping and customer events.
    /** Feed streams one API token may hold open on one instance at once. */
    FEED_MAX_STREAMS_PER_TOKEN: z.coerce.number().int().min(1).max(1000).default(10),
    /** Milliseconds between reads of the feed while a stream waits (another instance's writes without Redis). */
    FEED_POLL_MS: z.coerce.number().int().min(50).max(60_000).default(1000),

    // Retention (src/retention/): the server applies each context's policy this often; absent: never.
    /** Seconds between the server's retention purges (ipdr-admin retention apply does one at once). */
    RETENTION_APPLY_INTERVAL: z.coerce.number({ error: 'must be seconds' }).int().min(60).max(31_536_000).optional(),

    // RADIUS accounting (src/radius/): off unless a port is given.
    /** The UDP port of the accounting server (1813 by convention); 0 picks a free one. */
    RADIUS_ACCOUNTING_PORT: z.coerce.number({ error: 'must be a port number' }).int().min(0).max(65535).optional(),
    /** The NASes that may send accounting: JSON `[{"address": "10.0.0.0/24", "secret": "…", "context": "default"}]`. */
    RADIUS_CLIENTS: radiusClients.optional(),
    /** Seconds without a word from a session after which it ends, inferred, when it was last heard of. */
    RADIUS_SESSION_TIMEOUT: z.coerce.number({ error: 'must be seconds' }).int().min(60).max(31_536_000).default(86_400),
    /** The most accounting packets one transaction applies (those that wait for it are applied together). */
    RADIUS_BATCH_SIZE: z.coerce.number({ error: 'must be a number of packets' }).int().min(1).max(10_000).default(1000),
    /** The most packets waiting for a transaction; more are dropped unanswered, and their NAS retransmits. */
    RADIUS_QUEUE_LIMIT: z.coerce
      .number({ error: 'must be a number of packets' })
      .int()
      .min(1)
      .max(1_000_000)
      .default(20_000),

    // NAT syslog, CGNAT port-block logs (src/nat/): off unless a port is given.
    /** The UDP and TCP port of the syslog receiver (514 by convention); 0 picks one free for both. */
    NAT_SYSLOG_PORT: z.coerce.number({ error: 'must be a port number' }).int().min(0).max(65535).optional(),
    /** The devices that may send: JSON `[{"address": "10.0.0.0/24", "context": "default", "insideContext": "default"}]`. */
    NAT_SYSLOG_SOURCES: natSyslogSources.optional(),
    /** The zone RFC 3164 senders' clocks keep (their messages carry none). */
    NAT_SYSLOG_TIMEZONE: z.string().min(1).default('UTC').transform(checkTimeZone),
    /** The most syslog lines one transaction applies (those that wait for it are applied together). */
    NAT_SYSLOG_BATCH_SIZE: z.coerce
      .number({ error: 'must be a number of lines' })
      .int()
      .min(1)
      .max(10_000)
      .default(1000),
    /** The most lines waiting for a transaction; past it UDP lines are dropped and TCP senders paused. */
    NAT_SYSLOG_QUEUE_LIMIT: z.coerce
      .number({ error: 'must be a number of lines' })
      .int()
      .min(1)
      .max(1_000_000)
      .default(50_000),

    /** Unset: info, except silent under NODE_ENV=test (see logger.ts). */
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).optional(),
  })
  .superRefine((env, ctx) => {
    if (env.RADIUS_ACCOUNTING_PORT !== undefined && env.RADIUS_CLIENTS === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['RADIUS_CLIENTS'],
        message: 'must list the NAS clients when RADIUS_ACCOUNTING_PORT is set',
      });
    }
    if (env.DATABASE_REPLICA_URLS !== undefined && env.DATABASE_URL === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['DATABASE_REPLICA_URLS'],
        message: 'needs DATABASE_URL: replicas are of a PostgreSQL primary, not of the embedded database',
      });
    }
    if (env.NAT_SYSLOG_PORT !== undefined && env.NAT_SYSLOG_SOURCES === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['NAT_SYSLOG_SOURCES'],
        message: 'must list the sending devices when NAT_SYSLOG_PORT is set',
      });
    }
  });

export type Env = z.infer<typeof envSchema>;

export class InvalidEnvironmentError extends Error {
  override name = 'InvalidEnvironmentError';
}

export function readEnv(source: NodeJS.ProcessEnv): Env {
  // An empty variable means "not set", as in most shells' `VAR= command`.
  const present = Object.fromEntries(Object.entries(source).filter(([, value]) => value !== ''));
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
    throw new InvalidEnvironmentError(`Invalid environment:\n${problems.join('\n')}`);
  }
  return parsed.data;
}
