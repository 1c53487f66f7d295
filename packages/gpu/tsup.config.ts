import { defineConfig } from 'tsup';
import { library } from '../../tsup.shared.js';

export default defineConfig([
  // Two builds into one dist/: the package's build script empties it first, so neither cleans.
  library({ clean: false, shims: true }),
  // The poller runs in a worker thread; one CommonJS file serves both builds.
  { entry: { 'poll-worker': 'src/poll-worker.ts' }, format: ['cjs'], sourcemap: true, target: 'node20' },
]);
