import { defineConfig } from 'tsup';

// INFERWATCH_JS_ONLY=1 (the demo's build, scripts/ensure-built.mjs) skips the declarations, most of the
// build's time: the demo runs JavaScript only.

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: !process.env.INFERWATCH_JS_ONLY,
  sourcemap: true,
  clean: true,
  target: 'node20',
  // import.meta.url in the CJS build: the dashboard handler finds its page next to the module.
  shims: true,
});
