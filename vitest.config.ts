import { defineConfig } from 'vitest/config';

export default defineConfig({
  // graphql ships ESM and CJS builds; Pothos loads one and Yoga the other unless both resolve to the
  // same file (graphql refuses types from "another realm").
  resolve: { alias: { graphql: 'graphql/index.js' } },
  test: {
    include: ['test/**/*.test.ts'],
    // Each test file gets its own database (see test/setup/app.ts), on PGlite loaded from the dump
    // the global setup makes once.
    globalSetup: ['test/setup/global.ts'],
    setupFiles: ['test/setup/database.ts'],
    pool: 'forks',
    // CI asks for a JSON copy of the results to print a one-line summary (.ci/summary.mjs).
    reporters: process.env.VITEST_JSON ? ['default', ['json', { outputFile: process.env.VITEST_JSON }]] : ['default'],
    // Tests that start real server processes need room on a loaded 2-core machine.
    testTimeout: 180_000,
    hookTimeout: 180_000,
  },
});
