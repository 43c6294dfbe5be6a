// Generates the Prisma client and Pothos' Prisma types into src/generated/.
// `prisma generate` needs only Prisma's WASM parts, but the CLI still looks for its schema-engine
// binary and downloads it when absent, which fails without internet. Any existing executable
// satisfies that look-up; a real engine, when configured, is used as is.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const prismaCli = require.resolve('prisma/build/index.js');
const result = spawnSync(process.execPath, [prismaCli, 'generate'], {
  stdio: 'inherit',
  env: { PRISMA_SCHEMA_ENGINE_BINARY: process.execPath, ...process.env },
});
process.exit(result.status ?? 1);
