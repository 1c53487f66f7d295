import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { createLlmMetrics, startMetrics, type RunningMetrics } from '@inferwatch/sdk';
import { requireBinary } from '../helpers/binaries.js';
import { freePort, serve } from '../helpers/net.js';

const LABELS = 'gen_ai_request_model="qwen",gen_ai_operation_name="text_completion",gen_ai_provider_name="vllm"';

function recordOne() {
  const llm = createLlmMetrics({ log: false, clock: () => 0 });
  const r = llm.startRequest({ model: 'qwen', operation: 'text_completion', provider: 'vllm', promptTokens: 12, at: 0 });
  r.scheduled(30);
  r.firstToken(90);
  r.tokens(4, 130);
  r.end({ finishReason: 'length', at: 150 });
  llm.reportEngineState({ gpuKvCacheUsage: 0.25, cpuKvCacheUsage: 0 });
  return llm;
}

let running: RunningMetrics | undefined;
afterEach(async () => {
  await running?.shutdown();
  running = undefined;
});

describe('Prometheus export', () => {
  it('serves the exposition from the host server, line by line', async () => {
    running = startMetrics({ serviceName: 'prom-test', llm: recordOne(), meterProvider: 'private' });
    const app = await serve((req, res) => (req.url === '/metrics' ? running!.metricsHandler(req, res) : res.writeHead(404).end()));
    try {
      const res = await fetch(`${app.url}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/plain');
      const lines = (await res.text()).split('\n');
      const expected = [
        '# TYPE gen_ai_server_time_to_first_token histogram',
        `gen_ai_server_time_to_first_token_count{${LABELS}} 1`,
        `gen_ai_server_time_to_first_token_sum{${LABELS}} 0.09`,
        // Native histograms, shown to a text scraper as classic buckets at powers of two: 90 ms is in (2^-4, 2^-3].
        `gen_ai_server_time_to_first_token_bucket{${LABELS},le="0.0625"} 0`,
        `gen_ai_server_time_to_first_token_bucket{${LABELS},le="0.125"} 1`,
        `gen_ai_server_time_to_first_token_bucket{${LABELS},le="+Inf"} 1`,
        `gen_ai_server_request_duration_sum{${LABELS}} 0.15`,
        `gen_ai_server_request_duration_bucket{${LABELS},le="0.125"} 0`,
        `gen_ai_server_request_duration_bucket{${LABELS},le="0.25"} 1`,
        `gen_ai_server_time_per_output_token_sum{${LABELS}} 0.015`,
        `inferwatch_request_inter_token_latency_count{${LABELS}} 4`,
        `inferwatch_request_inter_token_latency_sum{${LABELS}} 0.04`,
        `inferwatch_request_queue_duration_sum{${LABELS}} 0.03`,
        `inferwatch_request_prefill_duration_sum{${LABELS}} 0.06`,
        '# TYPE inferwatch_tokens_total counter',
        `inferwatch_tokens_total{${LABELS},gen_ai_token_type="input"} 12`,
        `inferwatch_tokens_total{${LABELS},gen_ai_token_type="output"} 5`,
        `inferwatch_requests_finished_total{${LABELS},finish_reason="length"} 1`,
        `inferwatch_requests_finished_total{${LABELS},finish_reason="stop"} 0`,
        `inferwatch_scheduler_running{${LABELS}} 0`,
        'inferwatch_kv_cache_gpu_usage 0.25',
        'inferwatch_kv_cache_cpu_usage 0',
        'inferwatch_sdk_misuse_total{reason="after_end"} 0',
      ];
      for (const line of expected) expect(lines).toContain(line);
      expect(lines.find((l) => l.startsWith('target_info'))).toContain('service_name="prom-test"');
    } finally {
      await app.close();
    }
  });

  it('serves its own port when asked', async () => {
    const port = await freePort();
    running = startMetrics({ llm: recordOne(), meterProvider: 'private', prometheus: { port, host: '127.0.0.1', endpoint: '/prom' } });
    await running.ready;
    const text = await (await fetch(`http://127.0.0.1:${port}/prom`)).text();
    expect(text).toContain(`inferwatch_tokens_total{${LABELS},gen_ai_token_type="output"} 5`);
  });

  it('answers 404 from metricsHandler when Prometheus is off', async () => {
    running = startMetrics({ llm: recordOne(), meterProvider: 'private', prometheus: false });
    const app = await serve((req, res) => running!.metricsHandler(req, res));
    try {
      expect((await fetch(`${app.url}/metrics`)).status).toBe(404);
    } finally {
      await app.close();
    }
  });

  it('passes promtool check metrics', async (ctx) => {
    const promtool = requireBinary(ctx, 'promtool', 'promtool check metrics on the exposition');
    const llm = recordOne();
    for (let i = 0; i < 20; i++) llm.startRequest({ model: `model-${i % 4}`, operation: i % 2 ? 'chat' : 'text_completion' }).fail(new RangeError('x'));
    running = startMetrics({ serviceName: 'lint', llm, meterProvider: 'private' });
    const app = await serve((req, res) => running!.metricsHandler(req, res));
    try {
      const text = await (await fetch(`${app.url}/metrics`)).text();
      const lint = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8' });
      expect(lint.stdout + lint.stderr).toBe('');
      expect(lint.status).toBe(0);
    } finally {
      await app.close();
    }
  });
});
