import { defineConfig } from 'vitest/config';

// The harness's own parts (parsers, statistics, rendering, the hop bench's proxies) run in
// `npm test`; the benchmark itself runs only through `npm run bench`.
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'hop/**/*.test.ts'],
    testTimeout: 10_000,
  },
});
