import { defineConfig } from 'vitest/config';

// End-to-end suites run real control planes and sidecars as child processes. Two files
// at a time fit this 2-core machine; every wait inside is bounded.
export default defineConfig({
  test: {
    include: ['e2e/**/*.test.ts'],
    // The sidecars and control planes run from the bundle, built fresh for the run.
    globalSetup: ['src/harness/build-weft.ts'],
    testTimeout: 60_000,
    hookTimeout: 30_000,
    pool: 'forks',
    maxWorkers: 2,
    fileParallelism: true,
  },
});
