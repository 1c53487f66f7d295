import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serve } from '../helpers/net.js';
import { sdkAlone } from '../helpers/sdk-alone.js';

/**
 * Start-up failures, each in a host process of its own (the built SDK): the host must keep running
 * (exit code 0, its own last line printed) and say what failed, once, on stderr.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function host(script: string, cwd = ROOT, env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  // Without the NODE_PATH pnpm's bin shims set: a user's app resolves packages from its own node_modules only.
  const { NODE_PATH: _, ...inherited } = process.env;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd, env: { ...inherited, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d));
  child.stderr.on('data', (d: Buffer) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
}

const lines = (text: string, part: string) => text.split('\n').filter((l) => l.includes(part));

let busy: Awaited<ReturnType<typeof serve>>;
beforeAll(async () => {
  busy = await serve((_req, res) => res.end());
});
afterAll(() => busy.close());

describe('startMetrics() when the Prometheus port cannot be opened', () => {
  it('keeps the host running: no unhandled rejection, `ready` reports it, one line on stderr', async () => {
    const port = new URL(busy.url).port;
    const result = await host(`
      import { createLlmMetrics, startMetrics } from '@inferwatch/sdk';
      const llm = createLlmMetrics({ log: false });
      // As the old README did: ready never awaited.
      startMetrics({ llm, prometheus: { port: ${port}, host: '127.0.0.1' }, meterProvider: 'private' });
      const telemetry = startMetrics({ llm, prometheus: { port: ${port}, host: '127.0.0.1' }, meterProvider: 'private' });
      const ready = await telemetry.ready;
      console.log('ready', ready.ok, ready.error?.code);
      const bad = await startMetrics({ llm, prometheus: { port: 70000 }, meterProvider: 'private' }).ready;
      console.log('bad port', bad.ok);
      await new Promise((resolve) => setTimeout(resolve, 200));
      await telemetry.shutdown();
      console.log('host still running');
    `);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('ready false EADDRINUSE');
    expect(result.stdout).toContain('bad port false');
    expect(result.stdout).toContain('host still running');
    // Three failures of one kind: said once.
    expect(lines(result.stderr, 'the Prometheus port could not be opened')).toHaveLength(1);
    expect(result.stderr).toContain('EADDRINUSE');
  });
});

describe('startMetrics({ gpu: true }) without @inferwatch/gpu installed', () => {
  const app = sdkAlone();
  afterAll(() => app.remove());

  it('says so once on stderr and keeps running', async () => {
    const result = await host(
      `
      import { startMetrics } from '@inferwatch/sdk';
      const telemetry = startMetrics({ gpu: true, prometheus: false, meterProvider: 'private' });
      const ready = await telemetry.ready;
      console.log('gpu', ready.ok, ready.gpu.state);
      await telemetry.shutdown();
      console.log('host still running');
    `,
      app.dir,
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('host still running');
    expect(result.stdout).toContain('gpu false failed');
    expect(lines(result.stderr, 'gpu: true needs @inferwatch/gpu, and it is not installed. Run: npm install @inferwatch/gpu')).toHaveLength(1);
  });
});

describe('the README snippet for a port of its own', () => {
  const readme = readFileSync(new URL('../../packages/sdk/README.md', import.meta.url), 'utf8');
  const snippet = /<!-- snippet: port[^>]*-->\n```js\n([\s\S]*?)```/.exec(readme)?.[1];

  it('runs as written on a busy port: the host carries on and says why', async () => {
    expect(snippet).toBeDefined();
    const result = await host(snippet!, `${ROOT}packages/sdk`, { METRICS_PORT: new URL(busy.url).port });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('no metrics port (listen EADDRINUSE');
    expect(result.stdout).toContain('serving on without it');
  });
});
