import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { startProcess, type Started } from '../helpers/processes.js';

// The fake nvidia-smi first on PATH: a host with two GPUs, as far as any process here can tell.
const FAKE = fileURLToPath(new URL('../fixtures/nvidia-smi/bin', import.meta.url));
const env = { PATH: `${FAKE}:${process.env.PATH}`, INFERWATCH_FAKE_NVIDIA_SMI: '2gpu-busy-driver384.xml' };

/** The gateway's exposition once it has had time for a first GPU poll. */
async function exposition(gateway: Started): Promise<string> {
  let text = '';
  const deadline = Date.now() + 5000;
  do {
    await new Promise((resolve) => setTimeout(resolve, 500));
    text = await (await fetch(`${gateway.url}/metrics`)).text();
  } while (!text.includes('hw_gpu_utilization') && Date.now() < deadline);
  return text;
}

describe('the example gateway and the host’s GPUs', () => {
  let gateway: Started | undefined;
  afterEach(async () => gateway?.stop());
  const start = (args: string[]) =>
    startProcess('examples/gateway/main.mjs', ['--host', '127.0.0.1', '--upstream', 'http://127.0.0.1:9', '--bridge-interval-ms', '0', '--log-interval-ms', '0', ...args], 'gateway on', env);

  it('does not poll them unless asked', async () => {
    gateway = await start([]);
    const text = await exposition(gateway);
    expect(text).toContain('nodejs_eventloop_utilization');
    expect(text).not.toMatch(/^hw_/m);
    expect(text).not.toContain('inferwatch_gpu_');
  }, 20_000);

  it('polls them with --gpu, each GPU under its hw.id', async () => {
    gateway = await start(['--gpu']);
    const text = await exposition(gateway);
    const ids = new Set([...text.matchAll(/^hw_gpu_utilization\{.*hw_id="([^"]+)"/gm)].map((m) => m[1]));
    expect([...ids].sort()).toEqual(['GPU-28daffaf-8abe-aaf8-c298-4bd13aecb5e6', 'GPU-e511a7b2-f9d5-ba47-9b98-853732ca6c1b']);
  }, 20_000);
});
