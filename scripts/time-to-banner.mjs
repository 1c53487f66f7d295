#!/usr/bin/env node
// Measures what a newcomer waits for: from `npm run demo` to the demo's banner, then stops the demo.
//   node scripts/time-to-banner.mjs            this checkout as it is (built: goal ≤ 10 s)
//   node scripts/time-to-banner.mjs --fresh    a `git clone` of this checkout's HEAD into a temporary
//                                              folder, removed afterwards (goal ≤ 90 s)
// The demo runs with --rate 0 on free ports, so a demo already running on 8000 does not matter.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort } from './lib/processes.mjs';

const { values: args } = parseArgs({ options: { fresh: { type: 'boolean' }, 'timeout-s': { type: 'string', default: '300' } } });
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const GOAL_S = args.fresh ? 90 : 10;

/** Runs `npm run demo` in `dir`; resolves with the seconds until the banner, after stopping the demo. */
async function timeToBanner(dir) {
  const [port, enginePort] = [await freePort(), await freePort()];
  const started = performance.now();
  // Its own process group, so the whole tree (npm, the demo, the gateway, the engine) stops together.
  const demo = spawn('npm', ['run', '--silent', 'demo', '--', '--rate', '0', '--port', String(port), '--engine-port', String(enginePort)], {
    cwd: dir,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise((resolve) => demo.once('exit', resolve));
  try {
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no banner within ${args['timeout-s']} s`)), Number(args['timeout-s']) * 1000);
      const onData = (chunk) => {
        if (output.includes('inferwatch demo\n')) return; // the banner is out: the rest is the stop
        output += chunk;
        process.stdout.write(chunk);
        if (output.includes('inferwatch demo\n')) {
          clearTimeout(timer);
          resolve((performance.now() - started) / 1000);
        }
      };
      demo.stdout.on('data', onData);
      demo.stderr.on('data', onData);
      demo.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the demo exited (${code}) before its banner`));
      });
    });
  } finally {
    if (demo.exitCode === null && demo.signalCode === null) {
      process.kill(-demo.pid, 'SIGTERM');
      await exited;
    }
  }
}

let dir = ROOT;
if (args.fresh) {
  dir = mkdtempSync(join(tmpdir(), 'inferwatch-fresh-'));
  execFileSync('git', ['clone', '--quiet', ROOT, dir], { stdio: 'inherit' });
}
try {
  const seconds = await timeToBanner(dir);
  console.log(`\ntime to banner (${args.fresh ? 'fresh clone' : 'this checkout'}): ${seconds.toFixed(1)} s (goal ≤ ${GOAL_S} s)`);
} catch (error) {
  console.error(`\ntime to banner: ${error.message}`);
  process.exitCode = 1;
} finally {
  if (args.fresh) rmSync(dir, { recursive: true, force: true });
}
