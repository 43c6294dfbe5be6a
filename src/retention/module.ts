import type { App, AppModule } from '../app.js';
import { applyRetention } from './store.js';

// The retention schedule: on when RETENTION_APPLY_INTERVAL is set. Every instance may run it; the
// purge's advisory lock lets one purge a context at a time, the others skip it ('busy').

export const retentionScheduleModule: AppModule = {
  name: 'retention-schedule',
  async start(app: App) {
    const { env, db, logger } = app;
    const interval = env.RETENTION_APPLY_INTERVAL;
    if (interval === undefined) return { stop: async () => {} };
    let running: Promise<void> | undefined;
    const apply = () => {
      // A purge still running when the next is due is not doubled.
      if (running) return;
      running = applyRetention(db, { name: 'retention-schedule', channel: 'schedule' })
        .then((outcomes) => {
          for (const outcome of outcomes)
            logger.info({ retention: outcome }, `retention applied to ${outcome.context}`);
        })
        .catch((error: unknown) => logger.error({ err: error }, 'retention purge failed'))
        .finally(() => {
          running = undefined;
        });
    };
    apply();
    const timer = setInterval(apply, interval * 1000);
    return {
      async stop() {
        clearInterval(timer);
        await running;
      },
    };
  },
};
