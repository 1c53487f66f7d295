import { defineConfig } from 'tsup';
import { library } from '../../tsup.shared.js';

// import.meta.url in the CJS build: the dashboard handler finds its page, and optional packages are
// required, relative to the module. `internal` is the entry the other @inferwatch packages use.
export default defineConfig(library({ entry: ['src/index.ts', 'src/internal.ts'], shims: true, splitting: true }));
