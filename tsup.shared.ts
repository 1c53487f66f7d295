import type { Options } from 'tsup';

/**
 * One package's library build: ESM and CommonJS from src/index.ts, with declarations, for Node 20.
 * INFERWATCH_JS_ONLY=1 (the demo's build, scripts/ensure-built.mjs) leaves the declarations out, most of
 * the build's time: the demo runs JavaScript only.
 */
export function library(options: Options = {}): Options {
  return { entry: ['src/index.ts'], format: ['esm', 'cjs'], dts: !process.env.INFERWATCH_JS_ONLY, sourcemap: true, clean: true, target: 'node20', ...options };
}
