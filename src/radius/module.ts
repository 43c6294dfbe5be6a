import type { App, AppModule } from '../app.js';
import { type RadiusClient, startRadiusListener } from './listener.js';
import { applyAccounting } from './store.js';

// RADIUS accounting as a source of mappings beside HTTP: on when RADIUS_ACCOUNTING_PORT is set.

/** A RADIUS_CLIENTS entry naming a context that does not exist: the operator's to fix. */
export class RadiusClientContextError extends Error {
  constructor(names: readonly string[]) {
    super(
      `RADIUS_CLIENTS: context ${names.map((name) => `"${name}"`).join(', ')} does not exist (create it first, e.g. in IPDR_CONTEXTS at first start, or with ipdr-admin)`,
    );
    this.name = 'RadiusClientContextError';
  }
}

// How often sessions silent past RADIUS_SESSION_TIMEOUT are ended.
const SWEEP_INTERVAL_MS = 60_000;

export const radiusAccountingModule: AppModule = {
  name: 'radius-accounting',
  async start(app: App) {
    const { env, db, logger } = app;
    if (env.RADIUS_ACCOUNTING_PORT === undefined || env.RADIUS_CLIENTS === undefined) return { stop: async () => {} };
    const names = [...new Set(env.RADIUS_CLIENTS.map((client) => client.context))];
    const contexts = await db.prisma.context.findMany({ where: { name: { in: names } } });
    const missing = names.filter((name) => !contexts.some((context) => context.name === name));
    if (missing.length > 0) throw new RadiusClientContextError(missing);
    const clients: RadiusClient[] = env.RADIUS_CLIENTS.map((client) => {
      const context = contexts.find((candidate) => candidate.name === client.context)!;
      return { address: client.address, secret: client.secret, tenant: { id: context.id, name: context.name } };
    });
    const rules = { sessionTimeout: env.RADIUS_SESSION_TIMEOUT };
    const listener = await startRadiusListener({
      host: env.HOST,
      port: env.RADIUS_ACCOUNTING_PORT,
      clients,
      apply: (batches) => applyAccounting(db, batches, rules),
      batchSize: env.RADIUS_BATCH_SIZE,
      queueLimit: env.RADIUS_QUEUE_LIMIT,
      logger,
      registry: app.operations.metrics.registry,
    });
    listener.sweep();
    const sweeping = setInterval(() => listener.sweep(), SWEEP_INTERVAL_MS);
    return {
      async stop() {
        clearInterval(sweeping);
        await listener.stop();
      },
    };
  },
};
