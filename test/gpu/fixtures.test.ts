import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGpuCollector } from '@inferwatch/gpu';
import { collect, type Collected } from '../helpers/collect.js';
import { fakeNvidiaSmi } from '../helpers/fake-nvidia-smi.js';

const MiB = 1024 * 1024;
const fake = fakeNvidiaSmi();
const savedPath = process.env.PATH;
beforeAll(() => {
  process.env.PATH = `${fake.dir}:${savedPath}`;
});
afterAll(() => {
  process.env.PATH = savedPath;
  fake.remove();
});

async function scrape(fixture: string, pids?: number[]): Promise<Collected> {
  fake.fixture(fixture);
  const gpu = createGpuCollector({ intervalMs: 60_000, pids });
  await gpu.poll();
  const m = await collect(gpu.producer);
  await gpu.shutdown();
  return m;
}

/** The values of one GPU, keyed by metric name, as exported. */
function gpuValues(m: Collected, uuid: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of [
    'hw.gpu.utilization',
    'hw.gpu.memory.utilization',
    'inferwatch.gpu.memory_controller.utilization',
    'hw.gpu.memory.usage',
    'hw.gpu.memory.limit',
    'hw.power',
    'inferwatch.gpu.power.limit',
    'hw.temperature',
    'inferwatch.gpu.clock.sm',
  ]) {
    const point = m.metric(name)?.dataPoints.find((p) => p.attributes['hw.id'] === uuid);
    if (point !== undefined) out[name] = point.value as number;
  }
  return out;
}

// Every expected value below was read from the fixture's XML.
describe('GPU gauges from real nvidia-smi outputs', () => {
  it('2 × GTX 1070, busy, old power_readings schema', async () => {
    const m = await scrape('2gpu-busy-driver384.xml', [3093, 1357, 424242]);
    expect(gpuValues(m, 'GPU-e511a7b2-f9d5-ba47-9b98-853732ca6c1b')).toEqual({
      'hw.gpu.utilization': 1,
      'hw.gpu.memory.utilization': 2028 / 8112,
      'inferwatch.gpu.memory_controller.utilization': 0.99,
      'hw.gpu.memory.usage': 2028 * MiB,
      'hw.gpu.memory.limit': 8112 * MiB,
      'hw.power': 119.47,
      'inferwatch.gpu.power.limit': 180,
      'hw.temperature': 60,
      'inferwatch.gpu.clock.sm': 1923e6,
    });
    expect(gpuValues(m, 'GPU-28daffaf-8abe-aaf8-c298-4bd13aecb5e6')).toEqual({
      'hw.gpu.utilization': 0.98,
      'hw.gpu.memory.utilization': 4057 / 8114,
      'inferwatch.gpu.memory_controller.utilization': 0.97,
      'hw.gpu.memory.usage': 4057 * MiB,
      'hw.gpu.memory.limit': 8114 * MiB,
      'hw.power': 139.3,
      'inferwatch.gpu.power.limit': 180,
      'hw.temperature': 59,
      'inferwatch.gpu.clock.sm': 1936e6,
    });
    const first = m.metric('hw.gpu.utilization')!.dataPoints[0].attributes;
    expect(first).toEqual({ 'hw.id': 'GPU-e511a7b2-f9d5-ba47-9b98-853732ca6c1b', 'hw.type': 'gpu', 'hw.name': 'GeForce GTX 1070', 'gpu.index': '0', 'hw.gpu.task': 'general' });
    const processMemory = m.metric('inferwatch.gpu.process.memory.usage')!.dataPoints.map((p) => [p.attributes['gpu.index'], p.attributes['process.pid'], p.value]);
    expect(processMemory).toEqual([
      ['0', '3093', 2283 * MiB],
      ['0', '1357', 99 * MiB],
      ['0', '424242', 0],
      ['1', '3093', 2283 * MiB],
      ['1', '1357', 0],
      ['1', '424242', 0],
    ]);
  });

  it('4 × Tesla K80, two busy, two idle, listed in nvidia-smi order', async () => {
    const m = await scrape('4gpu-busy-driver430.xml');
    const indexes = m.metric('hw.gpu.utilization')!.dataPoints.map((p) => [p.attributes['gpu.index'], p.attributes['hw.id'], p.value]);
    expect(indexes).toEqual([
      ['0', 'GPU-c3b26f7a-8dcb-619c-fa1b-8029265a4db0', 0.99],
      ['1', 'GPU-b01b80eb-0f18-1df0-cf88-0725bd90f1e1', 0.99],
      ['2', 'GPU-30bc2701-3bc2-5f35-0ebd-9867a077e138', 0],
      ['3', 'GPU-3341aba2-f01d-2c1f-7dd4-e389779faec2', 0],
    ]);
    expect(gpuValues(m, 'GPU-b01b80eb-0f18-1df0-cf88-0725bd90f1e1')).toMatchObject({
      'inferwatch.gpu.memory_controller.utilization': 0.36,
      'hw.gpu.memory.usage': 587 * MiB,
      'hw.power': 139.71,
      'inferwatch.gpu.power.limit': 149,
      'hw.temperature': 69,
      'inferwatch.gpu.clock.sm': 810e6,
    });
    // This process runs on none of them: 0 bytes on each, since every GPU lists its processes.
    expect(m.metric('inferwatch.gpu.process.memory.usage')!.dataPoints.map((p) => p.value)).toEqual([0, 0, 0, 0]);
  });

  it('2 × RTX 2080 Ti, idle', async () => {
    const m = await scrape('2gpu-idle-driver410.xml');
    expect(gpuValues(m, 'GPU-ef1d0068-5bfd-f1e4-7e79-ff35d71d44b8')).toEqual({
      'hw.gpu.utilization': 0,
      'hw.gpu.memory.utilization': 0,
      'inferwatch.gpu.memory_controller.utilization': 0,
      'hw.gpu.memory.usage': 0,
      'hw.gpu.memory.limit': 10989 * MiB,
      'hw.power': 19.11,
      'inferwatch.gpu.power.limit': 250,
      'hw.temperature': 24,
      'inferwatch.gpu.clock.sm': 300e6,
    });
  });

  it('A100 in MIG mode: no utilisation, memory per MIG device', async () => {
    const m = await scrape('a100-mig-driver510.xml');
    expect(gpuValues(m, 'GPU-27b94a00-ed54-5c24-b1fd-1054085de32a')).toEqual({
      'hw.gpu.memory.utilization': 38 / 40960,
      'hw.gpu.memory.usage': 38 * MiB,
      'hw.gpu.memory.limit': 40960 * MiB,
      'hw.power': 66.92,
      'inferwatch.gpu.power.limit': 400,
      'hw.temperature': 36,
      'inferwatch.gpu.clock.sm': 1410e6,
    });
    expect(m.metric('hw.gpu.utilization')).toBeUndefined();
    const mig = (name: string) => m.metric(name)!.dataPoints.map((p) => [p.attributes['gpu.mig.index'], p.value]);
    expect(mig('inferwatch.gpu.mig.memory.usage')).toEqual([
      ['0', 19 * MiB],
      ['1', 19 * MiB],
    ]);
    expect(mig('inferwatch.gpu.mig.memory.limit')).toEqual([
      ['0', 19968 * MiB],
      ['1', 19968 * MiB],
    ]);
  });

  it('one RTX 3060 (an object, not an array, after parsing), power limit N/A', async () => {
    const m = await scrape('rtx-3060-driver515.xml', [28543]);
    expect(gpuValues(m, 'GPU-473d8d0f-d462-185c-6b36-6fc23e23e571')).toEqual({
      'hw.gpu.utilization': 0,
      'hw.gpu.memory.utilization': 5 / 6144,
      'inferwatch.gpu.memory_controller.utilization': 0,
      'hw.gpu.memory.usage': 5 * MiB,
      'hw.gpu.memory.limit': 6144 * MiB,
      'hw.power': 8.7,
      'hw.temperature': 45,
      'inferwatch.gpu.clock.sm': 210e6,
    });
    expect(m.point('inferwatch.gpu.process.memory.usage', { 'hw.id': 'GPU-473d8d0f-d462-185c-6b36-6fc23e23e571', 'hw.type': 'gpu', 'hw.name': 'NVIDIA GeForce RTX 3060 Laptop GPU', 'gpu.index': '0', 'process.pid': '28543' })!.value).toBe(4 * MiB);
  });

  it('RTX 4090, newer gpu_power_readings schema', async () => {
    const m = await scrape('rtx-4090-driver535.xml');
    expect(gpuValues(m, 'GPU-71d1acc2-662d-2166-bf9f-65272d2fc437')).toEqual({
      'hw.gpu.utilization': 0,
      'hw.gpu.memory.utilization': 2 / 24564,
      'inferwatch.gpu.memory_controller.utilization': 0,
      'hw.gpu.memory.usage': 2 * MiB,
      'hw.gpu.memory.limit': 24564 * MiB,
      'hw.power': 26.84,
      'inferwatch.gpu.power.limit': 450,
      'hw.temperature': 40,
      'inferwatch.gpu.clock.sm': 210e6,
    });
  });

  it('RTX PRO 6000 on driver 580: power only as instant_power_draw, padded values', async () => {
    const m = await scrape('rtx-pro-6000-driver580-excerpt.xml');
    expect(gpuValues(m, 'GPU-11111111-2222-3333-4444-555555555555')).toEqual({ 'hw.power': 66.84, 'hw.temperature': 37 });
    expect(m.metric('inferwatch.gpu.process.memory.usage')).toBeUndefined();
  });

  it('RTX 2080 on Windows: processes listed with memory N/A are unknown, not 0', async () => {
    const m = await scrape('rtx-2080-windows-driver516.xml', [7724, 1]);
    expect(gpuValues(m, 'GPU-fbd55ed4-1eec-4423-0a47-ad594b4333e3')).toEqual({
      'hw.gpu.utilization': 0.02,
      'hw.gpu.memory.utilization': 862 / 8192,
      'inferwatch.gpu.memory_controller.utilization': 0.07,
      'hw.gpu.memory.usage': 862 * MiB,
      'hw.gpu.memory.limit': 8192 * MiB,
      'hw.power': 14.5,
      'inferwatch.gpu.power.limit': 275,
      'hw.temperature': 29,
      'inferwatch.gpu.clock.sm': 193e6,
    });
    expect(m.metric('inferwatch.gpu.process.memory.usage')!.dataPoints.map((p) => [p.attributes['process.pid'], p.value])).toEqual([['1', 0]]);
  });

  it('Tesla P100, idle', async () => {
    const m = await scrape('tesla-p100-driver510.xml');
    expect(gpuValues(m, 'GPU-d3da8716-eaab-75db-efc1-60e88e1cd55e')).toEqual({
      'hw.gpu.utilization': 0,
      'hw.gpu.memory.utilization': 0,
      'inferwatch.gpu.memory_controller.utilization': 0,
      'hw.gpu.memory.usage': 0,
      'hw.gpu.memory.limit': 16384 * MiB,
      'hw.power': 26.16,
      'inferwatch.gpu.power.limit': 250,
      'hw.temperature': 38,
      'inferwatch.gpu.clock.sm': 405e6,
    });
    expect(m.point('inferwatch.gpu.poll.errors', { 'error.type': 'invalid_output' })!.value).toBe(0);
  });
});
