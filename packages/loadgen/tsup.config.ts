import { defineConfig } from 'tsup';
import { library } from '../../tsup.shared.js';

export default defineConfig([library(), { entry: ['src/cli.ts'], format: ['esm'], sourcemap: true, target: 'node20' }]);
