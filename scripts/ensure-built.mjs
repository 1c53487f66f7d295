#!/usr/bin/env node
// Installs and builds only when something changed since the last successful install or build: a
// stamp of the lockfile, the manifests and the packages' sources (their contents, not their mtimes,
// so a fresh checkout of the same commit is still recognised) lives in node_modules, where a clean
// install removes it. Runs before pnpm is fetched: on an unchanged checkout it costs milliseconds
// where `pnpm install && pnpm run build` costs tens of seconds.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { logLine } from './log-line.mjs';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const STAMP = join(ROOT, 'node_modules', '.inferwatch-stamp.json');
const SKIP = new Set(['node_modules', 'dist', '.git']);

function files(dir) {
  if (!existsSync(dir)) return [];
  if (statSync(dir).isFile()) return [dir];
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => !SKIP.has(e.name))
    .flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)]));
}

const children = (dir) => (existsSync(join(ROOT, dir)) ? readdirSync(join(ROOT, dir)).map((name) => join(ROOT, dir, name)) : []);

function hash(paths) {
  const h = createHash('sha256');
  // The major version too: a different Node may need other native builds (esbuild).
  h.update(process.versions.node.split('.')[0]);
  for (const path of [...new Set(paths)].sort()) {
    h.update(relative(ROOT, path));
    h.update('\0');
    h.update(readFileSync(path));
    h.update('\0');
  }
  return h.digest('hex');
}

/** What `pnpm install` depends on, and what `pnpm run build` depends on beyond it. */
export function fingerprints() {
  const manifests = ['package.json', 'pnpm-lock.yaml', 'pnpm-workspace.yaml', '.npmrc'].map((f) => join(ROOT, f)).filter(existsSync);
  for (const dir of [...children('packages'), ...children('examples')]) {
    if (existsSync(join(dir, 'package.json'))) manifests.push(join(dir, 'package.json'));
  }
  const install = hash(manifests);
  // What the builds read: each package's sources (the sdk's live page too) and build configuration, and the docs the sdk ships.
  const sources = [join(ROOT, 'tsconfig.base.json'), join(ROOT, 'tsup.shared.ts'), join(ROOT, 'docs', 'metrics.md')];
  for (const dir of children('packages')) sources.push(...files(join(dir, 'src')), ...files(join(dir, 'page')), join(dir, 'tsup.config.ts'), join(dir, 'tsconfig.json'));
  return { install, build: hash([...manifests, ...sources.filter(existsSync)]) };
}

/** Every package's build output is there (a stamp alone would not notice a deleted dist/), declarations too if asked. */
function outputsPresent(types) {
  const wanted = types ? ['index.js', 'index.d.ts'] : ['index.js'];
  return children('packages').every((dir) => !existsSync(join(dir, 'package.json')) || wanted.every((f) => existsSync(join(dir, 'dist', f))));
}

function readStamp() {
  try {
    return JSON.parse(readFileSync(STAMP, 'utf8'));
  } catch {
    return {};
  }
}

/**
 * Runs a tool with everything it prints kept back: a step that works shows only the caller's own lines,
 * one that fails throws with the tool's whole output (stdout and stderr in the order written). The
 * output goes to a file rather than a pipe, so no buffer limit can cut it short or kill the tool.
 */
export function runQuietly(name, command, args, { cwd, env } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'inferwatch-step-'));
  const file = join(dir, 'output.log');
  const fd = openSync(file, 'w');
  try {
    const result = spawnSync(command, args, { cwd, env, stdio: ['ignore', fd, fd] });
    if (result.status === 0) return;
    const how = result.error ? result.error.message : result.signal ? `killed by ${result.signal}` : `exit ${result.status}`;
    throw new Error(`${name} failed (${how}); its output:\n${readFileSync(file, 'utf8').trimEnd()}`);
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
}

const pnpm = (args, env) => runQuietly(`pnpm ${args.join(' ')}`, process.execPath, [join(ROOT, 'scripts', 'pnpm.mjs'), ...args], { cwd: ROOT, env: { ...process.env, ...env } });

/**
 * Installs and builds what changed; returns what it did, e.g. `['install', 'build']` or `[]`.
 * `types: false` (the demo) accepts, or builds, JavaScript without declarations: a fraction of the time.
 */
export function ensureBuilt({ types = true, log = (message) => logLine('build', message) } = {}) {
  const want = fingerprints();
  const stamp = readStamp();
  const done = [];
  const steps = [
    // With no terminal to ask, pnpm would refuse to replace a node_modules made with other settings.
    ['install', 'installing dependencies (pnpm install --frozen-lockfile; the first run also fetches pnpm)', ['install', '--frozen-lockfile', '--config.confirm-modules-purge=false'], stamp.install === want.install && existsSync(join(ROOT, 'node_modules', '.modules.yaml'))],
    ['build', `building the packages (tsup: ESM and CommonJS${types ? ', type declarations' : ''})`, ['run', 'build'], stamp.build === want.build && outputsPresent(types)],
  ];
  // The build's fingerprint includes the manifests, so whatever needs a new install rebuilds too.
  const todo = steps.filter(([, , , current]) => !current);
  for (const [name, what, args] of todo) {
    const started = performance.now();
    log(`step ${done.length + 1}/${todo.length}: ${what} ...`);
    pnpm(args, types ? {} : { INFERWATCH_JS_ONLY: '1' });
    done.push(name);
    // Read the stamp again: install may have replaced node_modules.
    writeFileSync(STAMP, JSON.stringify({ ...readStamp(), [name]: want[name] }, null, 2));
    log(`${name} done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
  if (done.length === 0) log('dependencies and builds are up to date (nothing changed since the last build)');
  return done;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    ensureBuilt();
  } catch (error) {
    logLine('build', error.message, 'ERROR');
    process.exit(1);
  }
}
