import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain JavaScript example
import { startGateway } from '../../examples/gateway/gateway.mjs';
// @ts-expect-error: a plain JavaScript example
import { engineStateFrom } from '../../examples/gateway/bridge.mjs';
import { freePort, serve } from '../helpers/net.js';
import { sample, startEngine, startProcess, type Started } from '../helpers/processes.js';
import { waitUntil } from '../helpers/wait.js';

type Gateway = { url: string; close: (drainMs?: number) => Promise<void> };
const MODEL = 'sim-llama-8b';
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function engineWith(args: string[]): Promise<Started> {
  const engine = await startEngine(args);
  cleanup.push(engine.stop);
  return engine;
}

async function gatewayWith(options: Record<string, unknown>): Promise<Gateway> {
  const gateway: Gateway = await startGateway({ port: await freePort(), logIntervalMs: 0, gpu: false, ...options });
  cleanup.push(() => gateway.close(500));
  return gateway;
}

const words = (n: number) => Array.from({ length: n }, () => 'w').join(' ');
const post = (gateway: Gateway, body: object, signal?: AbortSignal) =>
  fetch(`${gateway.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal });

function finishedByReason(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^inferwatch_requests_finished_total\{.*finish_reason="(\w+)"\} (\d+)/.exec(line);
    if (m && Number(m[2]) > 0) out[m[1]] = (out[m[1]] ?? 0) + Number(m[2]);
  }
  return out;
}

function durationCountsByError(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^gen_ai_server_request_duration_count\{(.*)\} (\d+)/.exec(line);
    if (!m || Number(m[2]) === 0) continue;
    const type = /error_type="([^"]+)"/.exec(m[1])?.[1] ?? 'ok';
    out[type] = (out[type] ?? 0) + Number(m[2]);
  }
  return out;
}

describe('the gateway under overload and failure', () => {
  it('under overload: the engine’s KV cache fills and it swaps, the gateway queue fills, the overflow gets 429', async () => {
    const engine = await engineWith(['--max-num-seqs', '16', '--num-gpu-blocks', '64', '--num-cpu-blocks', '16', '--decode-base-ms', '10']);
    const gateway = await gatewayWith({ upstreams: [engine.url], maxConcurrency: 8, maxQueue: 4, bridgeIntervalMs: 100 });
    const peak = { kv: 0, swapped: 0, queue: 0, bridgedKv: 0 };
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const health = (await (await fetch(`${engine.url}/health`)).json()) as { gpuKvCacheUsage: number; swapped: number };
        const text = await (await fetch(`${gateway.url}/metrics`)).text();
        peak.kv = Math.max(peak.kv, health.gpuKvCacheUsage);
        peak.swapped = Math.max(peak.swapped, health.swapped);
        peak.queue = Math.max(peak.queue, sample(text, 'inferwatch_gateway_queue_size') ?? 0);
        peak.bridgedKv = Math.max(peak.bridgedKv, sample(text, `inferwatch_kv_cache_gpu_usage{upstream="${engine.url}"}`) ?? 0);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    const responses = await Promise.all(
      Array.from({ length: 20 }, async () => {
        const r = await post(gateway, { model: MODEL, prompt: words(100), max_tokens: 150 });
        return { status: r.status, retryAfter: r.headers.get('retry-after'), body: await r.text() };
      }),
    );
    sampling = false;
    await sampler;
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 429)).toHaveLength(8);
    expect(statuses.filter((s) => s === 200)).toHaveLength(12);
    const rejected = responses.find((r) => r.status === 429)!;
    expect(rejected.retryAfter).toBe('1');
    expect((JSON.parse(rejected.body) as { error: { type: string } }).error.type).toBe('rate_limit_error');
    expect(peak.queue).toBe(4);
    expect(peak.kv).toBeGreaterThanOrEqual(0.9);
    expect(peak.swapped).toBeGreaterThan(0);
    expect(peak.bridgedKv).toBeGreaterThanOrEqual(0.5);
    const text = await (await fetch(`${gateway.url}/metrics`)).text();
    expect(finishedByReason(text)).toEqual({ length: 12, error: 8 });
    expect(durationCountsByError(text)).toEqual({ ok: 12, '429': 8 });
  });

  it('fails over from a dead upstream, and answers 502 when every upstream is dead', async () => {
    const engine = await engineWith(['--decode-base-ms', '2']);
    const dead = `http://127.0.0.1:${await freePort()}`;
    const gateway = await gatewayWith({ upstreams: [dead, engine.url], bridgeIntervalMs: 0 });
    for (let i = 0; i < 4; i++) expect((await post(gateway, { model: MODEL, prompt: 'a b', max_tokens: 2 })).status).toBe(200);
    // Routed, the model is known although no upstream can list it.
    const allDead = await gatewayWith({ upstreams: [], routes: { [MODEL]: [dead, `http://127.0.0.1:${await freePort()}`] }, bridgeIntervalMs: 0 });
    const res = await post(allDead, { model: MODEL, prompt: 'a', max_tokens: 2 });
    expect(res.status).toBe(502);
    expect(((await res.json()) as { error: { type: string } }).error.type).toBe('upstream_error');
    expect(durationCountsByError(await (await fetch(`${allDead.url}/metrics`)).text())).toEqual({ '502': 1 });
    expect(finishedByReason(await (await fetch(`${gateway.url}/metrics`)).text())).toEqual({ length: 4 });
  });

  it('fails over from an upstream that answers 5xx before streaming', async () => {
    const broken = await serve((_req, res) => res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":{"message":"overloaded"}}'));
    cleanup.push(broken.close);
    const engine = await engineWith(['--decode-base-ms', '2']);
    const gateway = await gatewayWith({ upstreams: [broken.url, engine.url], bridgeIntervalMs: 0 });
    const statuses = await Promise.all(Array.from({ length: 4 }, () => post(gateway, { model: MODEL, prompt: 'a', max_tokens: 2 }).then((r) => r.status)));
    expect(statuses).toEqual([200, 200, 200, 200]);
  });

  it('carries a client abort to the engine, and times a slow upstream out with 504', async () => {
    const engine = await engineWith(['--decode-base-ms', '20']);
    // The deadline runs from arrival, so the aborted stream must be aborted well before it passes, even on a loaded machine.
    const gateway = await gatewayWith({ upstreams: [engine.url], bridgeIntervalMs: 0, timeoutMs: 1500 });
    const controller = new AbortController();
    const res = await post(gateway, { model: MODEL, prompt: 'a', max_tokens: 500, stream: true }, controller.signal);
    const reader = res.body!.getReader();
    await reader.read();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(((await (await fetch(`${engine.url}/health`)).json()) as { running: number }).running).toBe(1);
    controller.abort();
    let running = 1;
    for (let i = 0; i < 50 && running !== 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      running = ((await (await fetch(`${engine.url}/health`)).json()) as { running: number }).running;
    }
    expect(running).toBe(0);
    const engineText = await (await fetch(`${engine.url}/metrics`)).text();
    expect(sample(engineText, 'inferwatch_requests_finished_total{gen_ai_request_model="sim-llama-8b",gen_ai_operation_name="text_completion",gen_ai_provider_name="engine-sim",finish_reason="abort"}')).toBe(1);
    const slow = await post(gateway, { model: MODEL, prompt: 'a', max_tokens: 200 });
    expect(slow.status).toBe(504);
    const text = await (await fetch(`${gateway.url}/metrics`)).text();
    expect(finishedByReason(text)).toEqual({ abort: 1, error: 1 });
    expect(durationCountsByError(text)).toEqual({ cancelled: 1, '504': 1 });
  });

  it('counts every request exactly once, whatever its fate', async () => {
    const engine = await engineWith(['--decode-base-ms', '5']);
    const gateway = await gatewayWith({ upstreams: [engine.url], maxConcurrency: 2, maxQueue: 1, bridgeIntervalMs: 0, timeoutMs: 2000 });
    const sent: Promise<unknown>[] = [];
    const controller = new AbortController();
    for (let i = 0; i < 6; i++) sent.push(post(gateway, { model: MODEL, prompt: 'a b c', max_tokens: 40, stream: i % 2 === 0 }).then((r) => r.text()));
    for (let i = 0; i < 3; i++) sent.push(fetch(`${gateway.url}/v1/chat/completions`, { method: 'POST', body: '{oops' }).then((r) => r.text()));
    sent.push(post(gateway, { model: MODEL, prompt: 'a', max_tokens: 400, stream: true }, controller.signal).then((r) => r.body!.getReader().read()).catch(() => 'aborted'));
    setTimeout(() => controller.abort(), 150);
    await Promise.all(sent);
    // The server side settles a moment after the clients: wait for ten, then check it is exactly ten.
    const finishedTotal = (page: string) => Object.values(finishedByReason(page)).reduce((a, b) => a + b, 0);
    const text = await waitUntil(async () => {
      const page = await (await fetch(`${gateway.url}/metrics`)).text();
      return finishedTotal(page) >= 10 && page;
    }, { what: 'ten finished requests' });
    expect(finishedTotal(text)).toBe(10);
    expect(Object.values(durationCountsByError(text)).reduce((a, b) => a + b, 0)).toBe(10);
    expect(durationCountsByError(text)['400']).toBe(3);
  });

  it('on SIGTERM stops accepting, finishes the streams in flight, flushes and exits 0', async () => {
    const engine = await engineWith(['--decode-base-ms', '10']);
    const gateway = await startProcess('examples/gateway/main.mjs', ['--host', '127.0.0.1', '--upstream', engine.url, '--log-interval-ms', '600000'], 'OpenAI-compatible gateway on');
    cleanup.push(gateway.stop);
    const res = await fetch(`${gateway.url}/v1/completions`, { method: 'POST', body: JSON.stringify({ model: MODEL, prompt: 'a', max_tokens: 40, stream: true }) });
    const exited = new Promise<number | null>((resolve) => gateway.child.once('exit', resolve));
    gateway.child.kill('SIGTERM');
    const body = await res.text();
    expect(body.trim().endsWith('data: [DONE]')).toBe(true);
    expect(body.split('\n').filter((l) => l.includes('"text":" ')).length).toBe(40);
    expect(await exited).toBe(0);
    expect(gateway.output()).toContain('SIGTERM: draining 1 in-flight requests');
  });
});

describe('the engine-state bridge', () => {
  const fixture = readFileSync(new URL('../fixtures/vllm-metrics/v0-engine-idle-after-4-requests.prom', import.meta.url), 'utf8');

  it('reads a real vLLM V0 page (an excerpt that ends inside a histogram)', () => {
    expect(engineStateFrom(fixture)).toEqual({ running: 0, waiting: 0, swapped: 0, gpuKvCacheUsage: 0, cpuKvCacheUsage: 0 });
  });

  it('reads vLLM V1 names: kv_cache_usage_perc, one series per engine, summed and averaged', () => {
    const v1 = [
      '# TYPE vllm:num_requests_running gauge',
      'vllm:num_requests_running{engine="0",model_name="m"} 3.0',
      'vllm:num_requests_running{engine="1",model_name="m"} 5.0',
      '# TYPE vllm:num_requests_waiting gauge',
      'vllm:num_requests_waiting{engine="0",model_name="m"} 2.0',
      'vllm:num_requests_waiting{engine="1",model_name="m"} 0.0',
      '# TYPE vllm:kv_cache_usage_perc gauge',
      'vllm:kv_cache_usage_perc{engine="0",model_name="m"} 0.5',
      'vllm:kv_cache_usage_perc{engine="1",model_name="m"} 0.7',
    ].join('\n');
    const state = engineStateFrom(v1);
    expect(state).toMatchObject({ running: 8, waiting: 2 });
    expect(state.gpuKvCacheUsage).toBeCloseTo(0.6, 12);
    expect(state.swapped).toBeUndefined();
  });

  it('exports what a vLLM upstream reports, labelled by upstream', async () => {
    const page = fixture.replace('vllm:num_requests_running{model_name="Qwen/Qwen2.5-Coder-1.5B-Instruct"} 0.0', 'vllm:num_requests_running{model_name="Qwen/Qwen2.5-Coder-1.5B-Instruct"} 17.0').replace('vllm:gpu_cache_usage_perc{model_name="Qwen/Qwen2.5-Coder-1.5B-Instruct"} 0.0', 'vllm:gpu_cache_usage_perc{model_name="Qwen/Qwen2.5-Coder-1.5B-Instruct"} 0.018');
    const vllm = await serve((req, res) => (req.url === '/metrics' ? res.writeHead(200, { 'content-type': 'text/plain' }).end(page) : res.writeHead(404).end()));
    cleanup.push(vllm.close);
    const gateway = await gatewayWith({ upstreams: [vllm.url], bridgeIntervalMs: 100 });
    const text = await waitUntil(async () => {
      const page = await (await fetch(`${gateway.url}/metrics`)).text();
      return sample(page, `inferwatch_scheduler_running{upstream="${vllm.url}"}`) !== undefined && page;
    }, { what: 'the bridged vLLM state' });
    expect(sample(text, `inferwatch_scheduler_running{upstream="${vllm.url}"}`)).toBe(17);
    expect(sample(text, `inferwatch_kv_cache_gpu_usage{upstream="${vllm.url}"}`)).toBe(0.018);
    expect(sample(text, `inferwatch_kv_cache_cpu_usage{upstream="${vllm.url}"}`)).toBe(0);
  });
});
