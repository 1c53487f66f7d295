import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain JavaScript example
import { startGateway } from '../../examples/gateway/gateway.mjs';
// @ts-expect-error: a plain JavaScript example
import { engineStateFrom } from '../../examples/gateway/bridge.mjs';
import { byLabel, total } from '../faults/harness.js';
import { freePort, serve } from '../helpers/net.js';
import { sample, startEngine, startProcess, type Started } from '../helpers/processes.js';
import { sleep, waitUntil } from '../helpers/wait.js';

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

const FINISHED = 'inferwatch_requests_finished_total';
const E2E_COUNT = 'gen_ai_server_request_duration_count';
const finishedByReason = (text: string) => byLabel(text, FINISHED, 'finish_reason');
const durationCountsByError = (text: string) => byLabel(text, E2E_COUNT, 'error_type', 'ok');
const metricsOf = async (url: string) => (await fetch(`${url}/metrics`)).text();
const engineRunning = async (engine: Started) => ((await (await fetch(`${engine.url}/health`)).json()) as { running: number }).running;

/** How many times each value occurs. */
const tally = (values: string[]) => values.reduce<Record<string, number>>((out, v) => ({ ...out, [v]: (out[v] ?? 0) + 1 }), {});

/** The finish reason an answer ended with, as its client read it: the JSON's, or a stream's last event's. */
function finishReasonIn(body: string, stream: boolean): string | undefined {
  if (!stream) return (JSON.parse(body) as { choices: { finish_reason: string }[] }).choices[0].finish_reason;
  const events = body.split('\n').filter((l) => l.startsWith('data: {')).map((l) => JSON.parse(l.slice(6)) as { choices: { finish_reason: string | null }[] });
  return body.trim().endsWith('data: [DONE]') ? (events.findLast((e) => e.choices[0]?.finish_reason)?.choices[0].finish_reason ?? undefined) : undefined;
}

describe('the gateway under overload and failure', () => {
  it('under overload: the engine’s KV cache fills and it swaps, the gateway queue fills, the overflow gets 429', async () => {
    const engine = await engineWith(['--max-num-seqs', '16', '--num-gpu-blocks', '64', '--num-cpu-blocks', '16', '--decode-base-ms', '10']);
    const gateway = await gatewayWith({ upstreams: [engine.url], maxConcurrency: 8, maxQueue: 4, bridgeIntervalMs: 100 });
    const peak = { kv: 0, queue: 0, bridgedKv: 0 };
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const health = (await (await fetch(`${engine.url}/health`)).json()) as { gpuKvCacheUsage: number };
        const text = await metricsOf(gateway.url);
        peak.kv = Math.max(peak.kv, health.gpuKvCacheUsage);
        peak.queue = Math.max(peak.queue, sample(text, 'inferwatch_gateway_queue_size') ?? 0);
        peak.bridgedKv = Math.max(peak.bridgedKv, sample(text, `inferwatch_kv_cache_gpu_usage{upstream="${engine.url}"}`) ?? 0);
        await sleep(50);
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
    // That it swapped is what the engine recorded, which a sample between two swaps could miss.
    expect(total(await metricsOf(engine.url), 'inferwatch_request_preemptions_total')).toBeGreaterThan(0);
    expect(peak.bridgedKv).toBeGreaterThanOrEqual(0.5);
    const text = await metricsOf(gateway.url);
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
    // No deadline in front of the abort: it is the client's, whenever a busy machine gets to it.
    const gateway = await gatewayWith({ upstreams: [engine.url], bridgeIntervalMs: 0 });
    const controller = new AbortController();
    const res = await post(gateway, { model: MODEL, prompt: 'a', max_tokens: 500, stream: true }, controller.signal);
    await res.body!.getReader().read();
    // Streaming its first token of 500, at 20 ms or more each: the engine holds the sequence for 10 s at the least.
    expect(await engineRunning(engine)).toBe(1);
    controller.abort();
    await waitUntil(async () => (await engineRunning(engine)) === 0, { what: 'the engine to drop the aborted sequence' });
    expect(finishedByReason(await metricsOf(engine.url))).toEqual({ abort: 1 });
    const text = await waitUntil(async () => {
      const page = await metricsOf(gateway.url);
      return total(page, FINISHED) > 0 && page;
    }, { what: 'the gateway to record the abort' });
    expect(finishedByReason(text)).toEqual({ abort: 1 });
    expect(durationCountsByError(text)).toEqual({ cancelled: 1 });

    // 200 tokens at 20 ms or more each take 4 s at the least, well past a deadline of 1.5 s from arrival.
    const strict = await gatewayWith({ upstreams: [engine.url], bridgeIntervalMs: 0, timeoutMs: 1500 });
    const slow = await post(strict, { model: MODEL, prompt: 'a', max_tokens: 200 });
    expect(slow.status).toBe(504);
    const strictText = await metricsOf(strict.url);
    expect(finishedByReason(strictText)).toEqual({ error: 1 });
    expect(durationCountsByError(strictText)).toEqual({ '504': 1 });
  });

  it('counts every request exactly once, whatever its fate', async () => {
    const engine = await engineWith(['--decode-base-ms', '5']);
    // No deadline: every fate below is one the clients choose, not one a busy machine's pace decides.
    const gateway = await gatewayWith({ upstreams: [engine.url], maxConcurrency: 2, maxQueue: 1, bridgeIntervalMs: 0 });
    // Ground truth, as each client saw it: the finish reason its answer ended with, and its error type.
    const seen: { finish: string; errorType: string }[] = [];
    const answered = async (r: Response, stream: boolean) => {
      const body = await r.text();
      seen.push(r.status === 200 ? { finish: finishReasonIn(body, stream) ?? 'an unfinished answer', errorType: 'ok' } : { finish: 'error', errorType: String(r.status) });
    };
    // First a long stream (2000 tokens at 5 ms or more each: 10 s at the least), holding one of the two slots.
    const controller = new AbortController();
    const long = await post(gateway, { model: MODEL, prompt: 'a', max_tokens: 2000, stream: true }, controller.signal);
    expect(long.status).toBe(200);
    await long.body!.getReader().read();
    // Then six more, three broken ones, and the long stream's client leaving while they queue or are refused.
    const sent: Promise<void>[] = [];
    for (let i = 0; i < 6; i++) {
      const stream = i % 2 === 0;
      sent.push(post(gateway, { model: MODEL, prompt: 'a b c', max_tokens: 40, stream }).then((r) => answered(r, stream)));
    }
    for (let i = 0; i < 3; i++) sent.push(fetch(`${gateway.url}/v1/chat/completions`, { method: 'POST', body: '{oops' }).then((r) => answered(r, false)));
    controller.abort();
    seen.push({ finish: 'abort', errorType: 'cancelled' });
    await Promise.all(sent);
    expect(seen).toHaveLength(10);
    expect(seen.filter((s) => s.errorType === '400')).toHaveLength(3);
    // The server side settles a moment after the clients: wait until it holds nothing and shows ten, then check the ten.
    const text = await waitUntil(async () => {
      const health = (await (await fetch(`${gateway.url}/health`)).json()) as { inFlight: number };
      const page = await metricsOf(gateway.url);
      return health.inFlight === 0 && total(page, FINISHED) >= 10 && page;
    }, { what: 'ten finished requests and none in flight' });
    expect(finishedByReason(text)).toEqual(tally(seen.map((s) => s.finish)));
    expect(durationCountsByError(text)).toEqual(tally(seen.map((s) => s.errorType)));
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
