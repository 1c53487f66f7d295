// The command lines: usage on --help, and a start-up failure that stops everything the command
// started and names the port that was taken.
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/net.js';
import { startEngine, startProcess } from '../helpers/processes.js';
import { waitUntil } from '../helpers/wait.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const GATEWAY = `${ROOT}examples/gateway/main.mjs`;
const ENGINE = `${ROOT}examples/engine-sim/server.mjs`;
const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

/** Runs a command to its exit (killed after 20 s): its code and everything it printed. */
function run(script: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Holds a port, as another program would. */
async function occupy(port: number): Promise<Server> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  cleanup.push(() => new Promise((resolve) => server.close(() => resolve())));
  return server;
}

/** Whether something accepts connections on the port, at `host`. */
const listening = (port: number, host = '127.0.0.1') =>
  fetch(`http://${host}:${port}/health`, { signal: AbortSignal.timeout(1000) }).then(
    () => true,
    () => false,
  );

describe('command lines', () => {
  it('--help prints usage, for the gateway and the engine', async () => {
    for (const script of [GATEWAY, ENGINE]) {
      const { code, stdout, stderr } = await run(script, ['--help']);
      expect(code).toBe(0);
      expect(stdout).toMatch(/^Usage: /);
      expect(stdout).toContain('--port');
      expect(stderr).toBe('');
    }
    const { code, stderr } = await run(GATEWAY, ['--no-such-flag']);
    expect(code).toBe(2);
    expect(stderr).toContain('Usage: ');
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  it('a busy --port: the gateway says which, and stops the engine it started', async () => {
    const [port, enginePort] = [await freePort(), await freePort()];
    await occupy(port);
    const { code, stderr } = await run(GATEWAY, ['--host', '127.0.0.1', '--port', String(port), '--engine-port', String(enginePort), '--log-interval-ms', '0']);
    expect(code).toBe(1);
    expect(stderr).toContain(`port ${port} is already in use`);
    await waitUntil(async () => !(await listening(enginePort)), { what: `the engine on port ${enginePort} to stop`, timeoutMs: 15_000 });
  });

  it('a busy engine port: the gateway says which and does not start', async () => {
    const [port, enginePort] = [await freePort(), await freePort()];
    await occupy(enginePort);
    const { code, stdout, stderr } = await run(GATEWAY, ['--host', '127.0.0.1', '--port', String(port), '--engine-port', String(enginePort), '--log-interval-ms', '0']);
    expect(code).toBe(1);
    expect(stderr).toContain(`port ${enginePort} is already in use`);
    expect(stdout).not.toContain('OpenAI-compatible gateway on');
    expect(await listening(port)).toBe(false);
  });

  it('the engine answers a body over its limit with 413', async () => {
    const engine = await startEngine(['--max-body-bytes', '2000']);
    cleanup.push(engine.stop);
    const body = JSON.stringify({ model: 'sim-llama-8b', prompt: 'w '.repeat(5000), max_tokens: 1 });
    const res = await fetch(`${engine.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain('2000');
    const small = await fetch(`${engine.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'sim-llama-8b', prompt: 'a', max_tokens: 1 }) });
    expect(small.status).toBe(200);
  });

  // 127.0.0.2 is this machine too, but only a server on every interface answers there, not one on
  // 127.0.0.1: the check tells the two apart without leaving the loopback range.
  it.each([
    ['--host 127.0.0.1 --api-key K', '127.0.0.1'],
    ['--host 0.0.0.0 --api-key K', '127.0.0.1'],
    ['--host 0.0.0.0 --metrics-token T', '127.0.0.1'],
    ['--host 0.0.0.0', '0.0.0.0'],
    ['--host 0.0.0.0 --api-key K --engine-host 0.0.0.0', '0.0.0.0'],
  ])('the engine the gateway starts with %s listens on %s, and says so', async (command, engineHost) => {
    const flags = command.split(' ');
    const enginePort = await freePort();
    const gateway = await startProcess('examples/gateway/main.mjs', [...flags, '--engine-port', String(enginePort), '--log-interval-ms', '0', '--bridge-interval-ms', '0'], 'OpenAI-compatible gateway on');
    cleanup.push(gateway.stop);
    expect(gateway.output()).toContain(`engine] simulated engine serving sim-llama-8b on http://${engineHost}:${enginePort} `);
    expect(await listening(enginePort)).toBe(true);
    expect(await listening(enginePort, '127.0.0.2')).toBe(engineHost === '0.0.0.0');
    // The gateway reaches it, and still asks for its key.
    const key: Record<string, string> = flags.includes('--api-key') ? { authorization: 'Bearer K' } : {};
    const ask = (headers: Record<string, string>) =>
      fetch(`${gateway.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ model: 'sim-llama-8b', prompt: 'a', max_tokens: 1 }) });
    expect((await ask(key)).status).toBe(200);
    if (flags.includes('--api-key')) expect((await ask({})).status).toBe(401);
  });
});
