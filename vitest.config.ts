import { defineConfig } from 'vitest/config';

export default defineConfig({
  // graphql ships ESM and CJS builds; Pothos loads one and Yoga the other unless both resolve to the
  // same file (graphql refuses types from "another realm").
  resolve: { alias: { graphql: 'graphql/index.js' } },
  test: {
    include: ['test/**/*.test.ts'],
    // Each test file that imports test/setup/app.ts gets its own database there, on PGlite loaded
    // from the dump the global setup makes once; a file that needs none (domain rules, the schema
    // file) opens none.
    globalSetup: ['test/setup/global.ts'],
    pool: 'forks',
    // Many files spend their time waiting on processes, sockets and timers of their own, not on
    // a core: more files at once than this machine's 2 cores (vitest's default is one fewer).
    maxWorkers: 3,
    // CI asks for a JSON copy of the results to print a one-line summary (.ci/summary.mjs).
    reporters: process.env.VITEST_JSON ? ['default', ['json', { outputFile: process.env.VITEST_JSON }]] : ['default'],
    // Tests that start real server processes need room on a loaded 2-core machine.
    testTimeout: 180_000,
    hookTimeout: 180_000,
  },
});
