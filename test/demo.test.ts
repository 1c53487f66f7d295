import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script without declarations
import { ensureBuilt } from '../scripts/ensure-built.mjs';
import { freePort } from './helpers/net.js';
import { waitUntil } from './helpers/wait.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const DEMO = `${ROOT}scripts/demo.mjs`;
/** A log line's prefix with its digits blanked: `INFO NN-NN NN:NN:NN name] `. */
const shape = (line: string) => /^[A-Z]+ [\d-]+ [\d:]+ \S+\] /.exec(line)?.[0].replace(/\d/g, 'N').replace(/ \S+\] $/, ' name] ');

describe('npm run demo', () => {
  it('documents every flag it takes, in --help and in the README', () => {
    const help = execFileSync(process.execPath, [DEMO, '--help'], { encoding: 'utf8' });
    const flags = [...help.matchAll(/ (--[a-z-]+)/g)].map((m) => m[1]);
    expect(flags).toEqual(expect.arrayContaining(['--rate', '--port', '--engine-port', '--help']));
    const readme = readFileSync(`${ROOT}README.md`, 'utf8');
    for (const flag of flags) expect(readme, `README.md documents ${flag}`).toMatch(new RegExp(`\\| \`${flag}[ \`]`));
  });

  it('rejects an unknown flag or a bad value before building anything', () => {
    for (const args of [['--bogus'], ['--port', '70000'], ['--rate', '-1']]) {
      let status = 0;
      try {
        execFileSync(process.execPath, [DEMO, ...args], { encoding: 'utf8', stdio: 'pipe' });
      } catch (error) {
        status = (error as { status: number }).status;
      }
      expect(status, args.join(' ')).toBe(2);
    }
  });

  it('keeps a build step’s tool output back, and shows all of it, in order, when the step fails', () => {
    // In a child, so that whatever the runner let through would be in what the child printed.
    const script = `
      import { runQuietly } from ${JSON.stringify(pathToFileURL(`${ROOT}scripts/ensure-built.mjs`).href)};
      runQuietly('a quiet tool', process.execPath, ['-e', 'console.log("Progress: resolved 410"); console.error("WARN Failed to create bin")']);
      try {
        runQuietly('a failing tool', process.execPath, ['-e', 'console.log("step one"); console.error("step two failed"); console.log("step three"); process.exit(3)']);
      } catch (error) {
        process.stdout.write(\`caught: \${error.message}\`);
      }`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(child.stderr).toBe('');
    expect(child.stdout).toBe('caught: a failing tool failed (exit 3); its output:\nstep one\nstep two failed\nstep three');
  });

  describe('on a built checkout', () => {
    let sdkLine = '';
    beforeAll(() => {
      // The demo itself would build JavaScript only; the rest of the suite needs the declarations too.
      ensureBuilt({ log: () => {} });
      // The SDK's default log sink, as an app that sets none prints it.
      const script = `import { createLlmMetrics } from '@inferwatch/sdk'; const llm = createLlmMetrics({ log: { intervalMs: 20 } }); setTimeout(() => llm.shutdown(), 100);`;
      sdkLine = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: `${ROOT}packages/sdk`, encoding: 'utf8' }).split('\n')[0];
    }, 300_000);

    it('starts without building, timestamps every log line like the SDK, and stops everything on SIGTERM', async () => {
      expect(shape(sdkLine), sdkLine).toBe('INFO NN-NN NN:NN:NN name] ');
      const [port, enginePort] = [await freePort(), await freePort()];
      const demo = spawn(process.execPath, [DEMO, '--rate', '0', '--port', String(port), '--engine-port', String(enginePort)], { stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      demo.stdout.on('data', (d: Buffer) => (output += d.toString()));
      demo.stderr.on('data', (d: Buffer) => (output += d.toString()));
      const exited = new Promise<number | null>((resolve) => demo.once('exit', resolve));
      try {
        await waitUntil(() => output.includes('inferwatch demo\n'), { what: 'the banner', timeoutMs: 30_000 });
        expect(output).toContain('dependencies and builds are up to date');
        expect((await fetch(`http://127.0.0.1:${port}/health`)).ok).toBe(true);
        expect((await fetch(`http://127.0.0.1:${enginePort}/metrics`)).ok).toBe(true);
        const logLines = output.split('\n').filter((l) => /^(INFO|WARNING|ERROR) /.test(l));
        // The demo's own lines, the gateway's and the engine's start-up lines at least.
        for (const name of ['demo', 'gateway', 'engine']) expect(logLines.some((l) => l.includes(` ${name}] `)), `${name} lines in:\n${output}`).toBe(true);
        for (const line of logLines) expect(shape(line), line).toBe(shape(sdkLine));
      } finally {
        demo.kill('SIGTERM');
      }
      expect(await exited).toBe(0);
      await waitUntil(async () => fetch(`http://127.0.0.1:${port}/health`).then(() => false, () => true), { what: 'the gateway to be gone' });
      await waitUntil(async () => fetch(`http://127.0.0.1:${enginePort}/health`).then(() => false, () => true), { what: 'the engine to be gone' });
    }, 60_000);
  });
});
