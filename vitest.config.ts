import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // Tests exercise the sources (the GPU poller's worker excepted: it runs built);
    // test/packaging.test.ts loads the built ESM and CJS files.
    alias: {
      '@inferwatch/sdk': fileURLToPath(new URL('./packages/sdk/src/index.ts', import.meta.url)),
      '@inferwatch/http': fileURLToPath(new URL('./packages/http/src/index.ts', import.meta.url)),
      '@inferwatch/client': fileURLToPath(new URL('./packages/client/src/index.ts', import.meta.url)),
      '@inferwatch/loadgen': fileURLToPath(new URL('./packages/loadgen/src/index.ts', import.meta.url)),
      '@inferwatch/llama-cpp': fileURLToPath(new URL('./packages/llama-cpp/src/index.ts', import.meta.url)),
    },
  },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // One file at a time: many tests time real streams and run servers, and two cores shared by
    // parallel files would make those timings (and so the tests) depend on the neighbours.
    fileParallelism: false,
    reporters: ['default', './test/summary-reporter.ts'],
  },
});
