import { defineConfig } from 'tsup';

export default defineConfig([
  { entry: ['src/index.ts'], format: ['esm', 'cjs'], dts: true, sourcemap: true, shims: true, target: 'node20' },
  // The poller runs in a worker thread; one CommonJS file serves both builds.
  { entry: { 'poll-worker': 'src/poll-worker.ts' }, format: ['cjs'], sourcemap: true, target: 'node20' },
]);
