import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { startProcess, type Started } from '../helpers/processes.js';
import { waitUntil } from '../helpers/wait.js';

// The fake nvidia-smi first on PATH: a host with two GPUs, as far as any process here can tell.
const FAKE = fileURLToPath(new URL('../fixtures/nvidia-smi/bin', import.meta.url));
const env = { PATH: `${FAKE}:${process.env.PATH}`, INFERWATCH_FAKE_NVIDIA_SMI: '2gpu-busy-driver384.xml' };

const scrape = async (gateway: Started) => (await fetch(`${gateway.url}/metrics`)).text();

describe('the example gateway and the host’s GPUs', () => {
  let gateway: Started | undefined;
  afterEach(async () => gateway?.stop());
  const start = (args: string[]) =>
    startProcess('examples/gateway/main.mjs', ['--host', '127.0.0.1', '--upstream', 'http://127.0.0.1:9', '--bridge-interval-ms', '0', '--log-interval-ms', '0', ...args], 'gateway on', env);

  // A scrape waits for the GPU package to load where it is asked for, and from then on shows its poll
  // counters: no inferwatch_gpu_ family on a scrape means no collector, so nothing to poll with. Checked
  // on the first scrape, with no time to wait out for a poll that should not come.
  it('does not poll them unless asked', async () => {
    gateway = await start([]);
    const text = await scrape(gateway);
    expect(text).toContain('nodejs_eventloop_utilization');
    expect(text).not.toMatch(/^hw_/m);
    expect(text).not.toContain('inferwatch_gpu_');
  }, 20_000);

  it('polls them with --gpu, each GPU under its hw.id', async () => {
    gateway = await start(['--gpu']);
    expect(await scrape(gateway)).toContain('inferwatch_gpu_');
    const text = await waitUntil(async () => {
      const page = await scrape(gateway!);
      return page.includes('hw_gpu_utilization') && page;
    }, { what: 'a first GPU poll on /metrics' });
    const ids = new Set([...text.matchAll(/^hw_gpu_utilization\{.*hw_id="([^"]+)"/gm)].map((m) => m[1]));
    expect([...ids].sort()).toEqual(['GPU-28daffaf-8abe-aaf8-c298-4bd13aecb5e6', 'GPU-e511a7b2-f9d5-ba47-9b98-853732ca6c1b']);
  }, 20_000);
});
