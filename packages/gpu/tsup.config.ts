import { defineConfig } from 'tsup';

// INFERWATCH_JS_ONLY=1 (the demo's build, scripts/ensure-built.mjs) skips the declarations, most of the
// build's time: the demo runs JavaScript only.

export default defineConfig([
  { entry: ['src/index.ts'], format: ['esm', 'cjs'], dts: !process.env.INFERWATCH_JS_ONLY, sourcemap: true, shims: true, target: 'node20' },
  // The poller runs in a worker thread; one CommonJS file serves both builds.
  { entry: { 'poll-worker': 'src/poll-worker.ts' }, format: ['cjs'], sourcemap: true, target: 'node20' },
]);
