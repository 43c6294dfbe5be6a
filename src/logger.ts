import pino, { type Logger } from 'pino';
import type { Env } from './env.js';

export type { Logger };

/** Structured JSON logs. Secrets never go in: see `redact` and http/operations.ts's request log. */
export function createLogger(env: Pick<Env, 'NODE_ENV' | 'LOG_LEVEL'>): Logger {
  return pino({
    // Tests are quiet unless they ask for a level.
    level: env.LOG_LEVEL ?? (env.NODE_ENV === 'test' ? 'silent' : 'info'),
    base: { service: 'ipdr-gateway' },
    redact: { paths: ['*.authorization', '*.headers.authorization', '*.api_token', '*.token'], censor: '[redacted]' },
  });
}
