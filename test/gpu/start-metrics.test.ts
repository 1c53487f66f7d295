import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMetrics } from '@inferwatch/sdk';
import { requireBinary } from '../helpers/binaries.js';
import { fakeNvidiaSmi } from '../helpers/fake-nvidia-smi.js';
import { serve } from '../helpers/net.js';
import { waitUntil } from '../helpers/wait.js';

const fake = fakeNvidiaSmi();
const savedPath = process.env.PATH;
beforeAll(() => {
  process.env.PATH = `${fake.dir}:${savedPath}`;
  fake.fixture('2gpu-busy-driver384.xml');
});
afterAll(() => {
  process.env.PATH = savedPath;
  fake.remove();
});

describe('startMetrics({ gpu: true })', () => {
  let exposition = '';
  it('loads @inferwatch/gpu and exposes the GPUs on /metrics', async () => {
    const telemetry = startMetrics({ gpu: true, meterProvider: 'private' });
    const app = await serve((req, res) => telemetry.metricsHandler(req, res));
    try {
      const text = await waitUntil(async () => {
        const page = await (await fetch(app.url)).text();
        return page.includes('hw_power') && page;
      }, { what: 'GPU series on /metrics' });
      const gpu0 = 'hw_id="GPU-e511a7b2-f9d5-ba47-9b98-853732ca6c1b",hw_type="gpu",hw_name="GeForce GTX 1070",gpu_index="0"';
      const lines = text.split('\n');
      expect(lines).toContain(`hw_gpu_utilization{${gpu0},hw_gpu_task="general"} 1`);
      expect(lines).toContain(`hw_gpu_memory_usage{${gpu0}} ${2028 * 1024 * 1024}`);
      expect(lines).toContain(`hw_power{${gpu0}} 119.47`);
      expect(lines).toContain(`hw_temperature{${gpu0}} 60`);
      expect(lines).toContain(`inferwatch_gpu_process_memory_usage{${gpu0},process_pid="${process.pid}"} 0`);
      expect(lines).toContain('inferwatch_gpu_poll_errors_total{error_type="timeout"} 0');
      exposition = text;
    } finally {
      await app.close();
      await telemetry.shutdown();
    }
  });

  it('exposes GPU metrics that pass promtool check metrics', (ctx) => {
    const promtool = requireBinary(ctx, 'promtool', 'promtool check metrics on the GPU exposition');
    expect(exposition, 'the test above produced no exposition').toContain('hw_power');
    const lint = spawnSync(promtool, ['check', 'metrics'], { input: exposition, encoding: 'utf8' });
    expect(lint.stdout + lint.stderr).toBe('');
  });
});
