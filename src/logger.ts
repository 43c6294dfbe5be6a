import pino from 'pino';
import { env } from './env.js';

/** Structured JSON logs. Secrets never go in: see `redact` and yoga.ts's request log. */
export const logger = pino({
  level: env.NODE_ENV === 'test' && !process.env.LOG_LEVEL ? 'silent' : env.LOG_LEVEL,
  base: { service: 'ipdr-gateway' },
  redact: { paths: ['*.authorization', '*.headers.authorization', '*.api_token', '*.token'], censor: '[redacted]' },
});
