// Event-loop delay with the GPU poller polling every 100 ms (the fake nvidia-smi printing the
// largest real output) against the poller off, alternating, same process. As a control, the same
// fake run every 100 ms by an unrelated shell: the floor that running a process per poll sets.
import { spawn } from 'node:child_process';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { createGpuCollector } from '@inferwatch/gpu';
import { GPU_ROUNDS } from './constants.mjs';
import { round } from './measure.mjs';

const FAKE_BIN = fileURLToPath(new URL('../test/fixtures/nvidia-smi/bin', import.meta.url));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function sampleP99(ms) {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  await sleep(ms);
  histogram.disable();
  return histogram.percentile(99);
}

export async function gpuBench() {
  const saved = { PATH: process.env.PATH, INFERWATCH_FAKE_NVIDIA_SMI: process.env.INFERWATCH_FAKE_NVIDIA_SMI };
  process.env.PATH = `${FAKE_BIN}:${process.env.PATH}`;
  process.env.INFERWATCH_FAKE_NVIDIA_SMI = 'rtx-4090-driver535.xml';
  try {
    return await pollRatios();
  } finally {
    // Later benchmarks (the gateway's children inherit the environment) must not see the fake.
    process.env.PATH = saved.PATH;
    if (saved.INFERWATCH_FAKE_NVIDIA_SMI === undefined) delete process.env.INFERWATCH_FAKE_NVIDIA_SMI;
    else process.env.INFERWATCH_FAKE_NVIDIA_SMI = saved.INFERWATCH_FAKE_NVIDIA_SMI;
  }
}

async function pollRatios() {
  const off = [];
  const on = [];
  const external = [];
  let polls = 0;
  for (let round = 0; round < GPU_ROUNDS; round++) {
    off.push(await sampleP99(3000));
    const loop = spawn('/bin/sh', ['-c', 'while :; do nvidia-smi -q -x >/dev/null; sleep 0.1; done'], { detached: true, stdio: 'ignore' });
    await sleep(200);
    external.push(await sampleP99(3000));
    process.kill(-loop.pid, 'SIGKILL');
    const gpu = createGpuCollector({ intervalMs: 100 });
    await gpu.poll();
    const before = performance.now();
    on.push(await sampleP99(3000));
    polls += Math.round((performance.now() - before) / 100);
    if (gpu.gpus.length !== 1) throw new Error('the GPU poller read no GPU from the fixture');
    await gpu.shutdown();
  }
  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return {
    gpu_poll_eventloop_p99_ratio: round(mean(on) / mean(off), 3),
    gpu_poll_eventloop_p99_off_ms: round(mean(off) / 1e6, 3),
    gpu_poll_eventloop_p99_on_ms: round(mean(on) / 1e6, 3),
    gpu_external_poll_eventloop_p99_ratio: round(mean(external) / mean(off), 3),
    gpu_polls_measured: polls,
  };
}
