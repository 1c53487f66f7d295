#!/usr/bin/env node
// `npm run pack`: builds what changed, then packs every publishable package into dist-packs/ (or --out DIR)
// with `pnpm pack`, which rewrites the `workspace:^` ranges between the packages into real versions
// (`npm pack` would leave them, and npm refuses to install such a tarball).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ensureBuilt } from './ensure-built.mjs';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const { values: args } = parseArgs({ options: { out: { type: 'string', default: join(ROOT, 'dist-packs') }, 'no-build': { type: 'boolean' } } });
const out = resolve(args.out);

if (!args['no-build']) ensureBuilt();
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const result = spawnSync(process.execPath, [join(ROOT, 'scripts', 'pnpm.mjs'), '-r', '--filter', './packages/**', 'pack', '--pack-destination', out], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
if (result.status !== 0) {
  console.error(`pnpm pack failed (exit ${result.status})`);
  process.exit(1);
}
for (const file of readdirSync(out).sort()) console.log(`${join(out, file)}  ${(statSync(join(out, file)).size / 1024).toFixed(1)} kB`);
