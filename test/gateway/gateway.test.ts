import { monitorEventLoopDelay } from 'node:perf_hooks';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBenchmark } from '@inferwatch/loadgen';
// @ts-expect-error: a plain JavaScript example
import { startGateway } from '../../examples/gateway/gateway.mjs';
import { freePort, serve } from '../helpers/net.js';
import { sample, startEngine, type Started } from '../helpers/processes.js';
import { waitUntil } from '../helpers/wait.js';

type Gateway = { url: string; close: (drainMs?: number) => Promise<void> };
const MODEL = 'sim-llama-8b';
const LABELS = (operation: string, model = MODEL) => `gen_ai_request_model="${model}",gen_ai_operation_name="${operation}",gen_ai_provider_name="inferwatch-gateway"`;

async function metrics(gateway: Gateway): Promise<string> {
  return (await fetch(`${gateway.url}/metrics`)).text();
}

describe('the gateway in front of the simulated engine', () => {
  let engine: Started;
  let gateway: Gateway;
  beforeAll(async () => {
    engine = await startEngine(['--decode-base-ms', '4', '--decode-ms-per-seq', '0.2']);
    gateway = await startGateway({ upstreams: [engine.url], port: await freePort(), logIntervalMs: 0, bridgeIntervalMs: 200, gpu: false });
  });
  afterAll(async () => {
    await gateway.close(1000);
    await engine.stop();
  });

  it('serves the real openai client: chat and completions, streamed and not', async () => {
    const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'none', maxRetries: 0 });
    const chat = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'one two three' }], max_tokens: 4 });
    expect(chat.choices[0].message.content).toBe(' the model says tokens');
    expect(chat.usage).toMatchObject({ prompt_tokens: 3, completion_tokens: 4 });
    const text = await client.completions.create({ model: MODEL, prompt: 'a b', max_tokens: 3 });
    expect(text.choices[0].text).toBe(' the model says');
    let streamed = '';
    const stream = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'x' }], max_tokens: 5, stream: true, stream_options: { include_usage: true } });
    for await (const chunk of stream) streamed += chunk.choices[0]?.delta?.content ?? '';
    expect(streamed).toBe(' the model says tokens flow');
    let streamedText = '';
    for await (const chunk of await client.completions.create({ model: MODEL, prompt: 'x', max_tokens: 2, stream: true })) streamedText += chunk.choices[0]?.text ?? '';
    expect(streamedText).toBe(' the model');
    const text2 = await metrics(gateway);
    expect(sample(text2, `inferwatch_requests_finished_total{${LABELS('chat')},finish_reason="length"}`)).toBe(2);
    expect(sample(text2, `inferwatch_requests_finished_total{${LABELS('text_completion')},finish_reason="length"}`)).toBe(2);
    expect(sample(text2, `inferwatch_tokens_total{${LABELS('chat')},gen_ai_token_type="output"}`)).toBe(9);
    // The streamed completion asked for no usage, so its prompt tokens are unknown and not counted.
    expect(sample(text2, `inferwatch_tokens_total{${LABELS('text_completion')},gen_ai_token_type="input"}`)).toBe(2);
  });

  it('answers malformed requests with OpenAI-style 400s', async () => {
    const post = (path: string, body: string) => fetch(`${gateway.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const cases: [string, string, string | null][] = [
      ['/v1/chat/completions', '{"model": "m", "messages": [', null],
      ['/v1/chat/completions', '{"messages": [{"role": "user", "content": "hi"}]}', 'model'],
      ['/v1/chat/completions', '{"model": 7, "messages": []}', 'model'],
      ['/v1/chat/completions', '{"model": "m", "messages": "hi"}', 'messages'],
      ['/v1/completions', '{"model": "m", "prompt": "hi", "stream": "yes"}', 'stream'],
      ['/v1/completions', '{"model": "m", "prompt": "hi", "max_tokens": -1}', 'max_tokens'],
      ['/v1/completions', '{"model": "m"}', 'prompt'],
    ];
    for (const [path, body, param] of cases) {
      const res = await post(path, body);
      expect(res.status, body).toBe(400);
      const error = ((await res.json()) as { error: { type: string; param: string | null; message: string } }).error;
      expect(error.type).toBe('invalid_request_error');
      expect(error.param).toBe(param);
      expect(error.message.length).toBeGreaterThan(10);
    }
    expect((await fetch(`${gateway.url}/v1/nothing`)).status).toBe(404);
  });

  it('agrees with the load generator: client and server medians of TTFT and E2E within 10 % + 5 ms', async () => {
    // The client and the gateway share this event loop: its delays separate their clocks, so the
    // tolerance grows by the delays this very run saw (next to nothing on a quiet machine).
    const loopDelay = monitorEventLoopDelay({ resolution: 5 });
    loopDelay.enable();
    const result = await runBenchmark({ baseUrl: gateway.url, model: MODEL, numPrompts: 60, requestRate: 15, seed: 7, compareMetrics: `${gateway.url}/metrics` });
    loopDelay.disable();
    const slackMs = (2 * loopDelay.percentile(99)) / 1e6;
    expect(result.failed).toBe(0);
    expect(result.completed).toBe(60);
    const server = result.server!;
    expect(server.ttft.count).toBe(60);
    expect(server.e2e.count).toBe(60);
    for (const key of ['ttft', 'e2e'] as const) {
      const client = result[key].median;
      expect(Math.abs(server[key].median - client), `${key}: client ${client} ms, server ${server[key].median} ms`).toBeLessThanOrEqual(0.1 * client + 5 + slackMs);
    }
    // Means need no interpolation: the server's is exact.
    expect(Math.abs(server.e2e.mean - result.e2e.mean)).toBeLessThanOrEqual(0.05 * result.e2e.mean + 5 + slackMs);
  });

  it('bridges the engine’s scheduler state and KV usage, labelled by upstream', async () => {
    // Idle now: every block is back (no leak in the engine), and the bridge shows it within a scrape or two.
    expect(await (await fetch(`${engine.url}/health`)).json()).toMatchObject({ running: 0, waiting: 0, swapped: 0, gpuKvCacheUsage: 0, cpuKvCacheUsage: 0 });
    const text = await waitUntil(async () => {
      const page = await metrics(gateway);
      return sample(page, `inferwatch_scheduler_running{upstream="${engine.url}"}`) === 0 && page;
    }, { what: 'the bridge to show the idle engine' });
    const upstream = `upstream="${engine.url}"`;
    expect(sample(text, `inferwatch_kv_cache_gpu_usage{${upstream}}`)).toBe(0);
    expect(sample(text, `inferwatch_scheduler_running{${upstream}}`)).toBe(0);
    expect(sample(text, `inferwatch_scheduler_swapped{${upstream}}`)).toBe(0);
  });
});

describe('the gateway in front of an upstream that answers without a body', () => {
  it('passes a 204 on and ends it, instead of reading the missing body as a broken stream', async () => {
    const upstream = await serve((_req, res) => res.writeHead(204).end());
    const gateway: Gateway = await startGateway({ upstreams: [upstream.url], routes: { m: [upstream.url] }, port: await freePort(), logIntervalMs: 0, bridgeIntervalMs: 0, gpu: false });
    try {
      const res = await fetch(`${gateway.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm', prompt: 'hi' }) });
      expect(res.status).toBe(204);
      expect(await res.text()).toBe('');
    } finally {
      await gateway.close(100);
      await upstream.close();
    }
  });
});
