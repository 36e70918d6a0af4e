import { defineConfig } from 'vitest/config';

// Only the pure parts of the harness (parsers, statistics, rendering) run in `npm test`;
// the benchmark itself runs only through `npm run bench`.
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts'],
    testTimeout: 10_000,
  },
});
