import { z } from 'zod';

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  HOST: z.string().min(1).default('0.0.0.0'),
  PORT: z.coerce.number({ error: 'must be a port number' }).int().min(0).max(65535).default(4000),
  /** PostgreSQL connection string; without it the embedded database (PGlite) is used. */
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// connection string')
    .optional(),
  DATABASE_POOL_SIZE: z.coerce.number({ error: 'must be a number of connections' }).int().min(1).max(500).default(10),
  /** Where the embedded database keeps its files; `memory://` keeps nothing. */
  DATA_DIR: z.string().min(1).default('./data'),
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

function loadEnv(): Env {
  try {
    return readEnv(process.env);
  } catch (error) {
    if (!(error instanceof InvalidEnvironmentError)) throw error;
    // A configuration mistake is the operator's to fix: say what is wrong, without a stack trace.
    console.error(error.message);
    process.exit(1);
  }
}

export const env = loadEnv();
