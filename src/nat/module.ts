import type { App, AppModule } from '../app.js';
import { type NatSyslogSource, startNatSyslogListener } from './listener.js';
import { applyPortBlocks } from './store.js';

// CGNAT port-block logs over syslog as a source of bindings beside HTTP: on when NAT_SYSLOG_PORT is set.

/** A NAT_SYSLOG_SOURCES entry naming a context that does not exist: the operator's to fix. */
export class NatSyslogSourceContextError extends Error {
  constructor(names: readonly string[]) {
    super(
      `NAT_SYSLOG_SOURCES: context ${names.map((name) => `"${name}"`).join(', ')} does not exist (create it first, e.g. in IPDR_CONTEXTS at first start, or with ipdr-admin)`,
    );
    this.name = 'NatSyslogSourceContextError';
  }
}

export const natSyslogModule: AppModule = {
  name: 'nat-syslog',
  async start(app: App) {
    const { env, db, logger } = app;
    if (env.NAT_SYSLOG_PORT === undefined || env.NAT_SYSLOG_SOURCES === undefined) return { stop: async () => {} };
    const names = [...new Set(env.NAT_SYSLOG_SOURCES.flatMap((source) => [source.context, source.insideContext]))];
    const contexts = await db.prisma.context.findMany({ where: { name: { in: names } } });
    const missing = names.filter((name) => !contexts.some((context) => context.name === name));
    if (missing.length > 0) throw new NatSyslogSourceContextError(missing);
    const tenantNamed = (name: string) => {
      const context = contexts.find((candidate) => candidate.name === name)!;
      return { id: context.id, name: context.name };
    };
    const sources: NatSyslogSource[] = env.NAT_SYSLOG_SOURCES.map((source) => ({
      address: source.address,
      tenant: tenantNamed(source.context),
      insideTenant: tenantNamed(source.insideContext),
    }));
    const listener = await startNatSyslogListener({
      host: env.HOST,
      port: env.NAT_SYSLOG_PORT,
      sources,
      timeZone: env.NAT_SYSLOG_TIMEZONE,
      apply: (batches) => applyPortBlocks(db, batches),
      batchSize: env.NAT_SYSLOG_BATCH_SIZE,
      queueLimit: env.NAT_SYSLOG_QUEUE_LIMIT,
      logger,
      registry: app.operations.metrics.registry,
    });
    return { stop: () => listener.stop() };
  },
};
