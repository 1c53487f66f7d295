import { defineConfig } from 'tsup';
import { library } from '../../tsup.shared.js';

// import.meta.url in the CJS build: the dashboard handler finds its page next to the module.
export default defineConfig(library({ shims: true }));
