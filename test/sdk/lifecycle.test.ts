import { describe, expect, it } from 'vitest';
import { DataPointType } from '@opentelemetry/sdk-metrics';
import { createLlmMetrics } from '@inferwatch/sdk';
import { collect, nonZeroBuckets } from '../helpers/collect.js';

const llama = { 'gen_ai.request.model': 'llama', 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'vllm' };
const mistral = { ...llama, 'gen_ai.request.model': 'mistral' };

/** Seven requests with scripted timestamps (ms) covering every event, collected through a real reader. */
async function scripted() {
  const llm = createLlmMetrics({ provider: 'vllm', log: false, clock: () => 0, histograms: 'classic' });
  const a = llm.startRequest({ model: 'llama', promptTokens: 100, at: 0 });
  a.scheduled(50);
  a.firstToken(250);
  a.tokens(1, 270);
  a.tokens(2, 310);
  a.preempted(320);
  a.resumed(400);
  a.tokens(1, 450);
  a.end({ finishReason: 'stop', at: 500 });

  const b = llm.startRequest({ model: 'llama', at: 100 });
  b.scheduled(300);
  b.firstToken(400);
  b.end({ finishReason: 'length', promptTokens: 20, outputTokens: 3, at: 600 });

  const c = llm.startRequest({ model: 'llama', at: 200 });
  c.fail(new TypeError('boom'), { at: 260 });

  const d = llm.startRequest({ model: 'mistral', promptTokens: 7, at: 300 });
  d.scheduled(310);
  d.firstToken(330);
  d.abort({ at: 1000 });

  llm.startRequest({ model: 'llama', at: 700 });
  llm.startRequest({ model: 'llama', at: 710 }).scheduled(720);
  const g = llm.startRequest({ model: 'llama', at: 720 });
  g.scheduled(730);
  g.preempted(740);
  return collect(llm.producer);
}

describe('a scripted lifecycle', () => {
  it('gives exact end-to-end durations, split by error.type for failures and aborts', async () => {
    const m = await scripted();
    const ok = m.histogram('gen_ai.server.request.duration', llama)!;
    expect(ok.value.count).toBe(2);
    expect(ok.value.sum).toBeCloseTo(1.0, 12);
    expect(ok.value.min).toBe(0.5);
    expect(ok.value.max).toBe(0.5);
    expect(nonZeroBuckets(ok)).toEqual({ '0.64': 2 });
    const failed = m.histogram('gen_ai.server.request.duration', { ...llama, 'error.type': 'TypeError' })!;
    expect(failed.value.count).toBe(1);
    expect(failed.value.sum).toBeCloseTo(0.06, 12);
    expect(nonZeroBuckets(failed)).toEqual({ '0.08': 1 });
    const aborted = m.histogram('gen_ai.server.request.duration', { ...mistral, 'error.type': 'cancelled' })!;
    expect(aborted.value.sum).toBeCloseTo(0.7, 12);
    expect(nonZeroBuckets(aborted)).toEqual({ '1.28': 1 });
  });

  it('gives exact time to first token and prefill', async () => {
    const m = await scripted();
    const ttft = m.histogram('gen_ai.server.time_to_first_token', llama)!;
    expect(ttft.value.count).toBe(2);
    expect(ttft.value.sum).toBeCloseTo(0.55, 12);
    expect(nonZeroBuckets(ttft)).toEqual({ '0.25': 1, '0.5': 1 });
    expect(nonZeroBuckets(m.histogram('gen_ai.server.time_to_first_token', mistral))).toEqual({ '0.04': 1 });
    const prefill = m.histogram('inferwatch.request.prefill.duration', llama)!;
    expect(prefill.value.sum).toBeCloseTo(0.3, 12);
    expect(nonZeroBuckets(prefill)).toEqual({ '0.16': 1, '0.32': 1 });
  });

  it('gives exact queue, inference and decode durations', async () => {
    const m = await scripted();
    const queue = m.histogram('inferwatch.request.queue.duration', llama)!;
    // a: 50 ms, b: 200 ms, f: 10 ms, g: 10 ms
    expect(queue.value.count).toBe(4);
    expect(queue.value.sum).toBeCloseTo(0.27, 12);
    expect(nonZeroBuckets(queue)).toEqual({ '0.01': 2, '0.08': 1, '0.32': 1 });
    const inference = m.histogram('inferwatch.request.inference.duration', llama)!;
    expect(inference.value.sum).toBeCloseTo(0.75, 12);
    expect(nonZeroBuckets(inference)).toEqual({ '0.32': 1, '0.64': 1 });
    const decode = m.histogram('inferwatch.request.decode.duration', llama)!;
    expect(decode.value.sum).toBeCloseTo(0.45, 12);
    expect(nonZeroBuckets(decode)).toEqual({ '0.32': 2 });
    // The aborted request records no inference or decode time.
    expect(m.histogram('inferwatch.request.inference.duration', mistral)!.value.count).toBe(0);
  });

  it('gives exact time per output token and inter-token latency', async () => {
    const m = await scripted();
    const tpot = m.histogram('gen_ai.server.time_per_output_token', llama)!;
    // a: 250 ms over 4 tokens after the first; b: 200 ms over the 2 reported after the first.
    expect(tpot.value.count).toBe(2);
    expect(tpot.value.sum).toBeCloseTo(0.0625 + 0.1, 12);
    expect(nonZeroBuckets(tpot)).toEqual({ '0.075': 1, '0.1': 1 });
    const itl = m.histogram('inferwatch.request.inter_token_latency', llama)!;
    // a: 20 ms, then 2 tokens over 40 ms (20 ms each), then 140 ms across the preemption.
    expect(itl.value.count).toBe(4);
    expect(itl.value.sum).toBeCloseTo(0.2, 12);
    expect(nonZeroBuckets(itl)).toEqual({ '0.025': 3, '0.15': 1 });
  });

  it('counts tokens, per request and in total', async () => {
    const m = await scripted();
    const input = { ...llama, 'gen_ai.token.type': 'input' };
    const output = { ...llama, 'gen_ai.token.type': 'output' };
    expect(m.point('inferwatch.tokens', input)!.value).toBe(120);
    expect(m.point('inferwatch.tokens', output)!.value).toBe(8);
    // d was aborted after its first token: its prompt was processed, one token came out.
    expect(m.point('inferwatch.tokens', { ...mistral, 'gen_ai.token.type': 'input' })!.value).toBe(7);
    expect(m.point('inferwatch.tokens', { ...mistral, 'gen_ai.token.type': 'output' })!.value).toBe(1);
    const usageIn = m.histogram('inferwatch.request.token.usage', input)!;
    expect(usageIn.value.sum).toBe(120);
    expect(nonZeroBuckets(usageIn)).toEqual({ '64': 1, '256': 1 });
    const usageOut = m.histogram('inferwatch.request.token.usage', output)!;
    expect(usageOut.value.sum).toBe(8);
    expect(nonZeroBuckets(usageOut)).toEqual({ '4': 1, '16': 1 });
  });

  it('counts finished requests by reason and preemptions', async () => {
    const m = await scripted();
    const finished = (attrs: object, reason: string) =>
      m.point('inferwatch.requests.finished', { ...attrs, finish_reason: reason })!.value;
    expect(finished(llama, 'stop')).toBe(1);
    expect(finished(llama, 'length')).toBe(1);
    expect(finished(llama, 'error')).toBe(1);
    expect(finished(llama, 'abort')).toBe(0);
    expect(finished(mistral, 'abort')).toBe(1);
    expect(m.point('inferwatch.request.preemptions', llama)!.value).toBe(2);
  });

  it('derives running, waiting and swapped from the live handles', async () => {
    const m = await scripted();
    expect(m.point('inferwatch.scheduler.waiting', llama)!.value).toBe(1);
    expect(m.point('inferwatch.scheduler.running', llama)!.value).toBe(1);
    expect(m.point('inferwatch.scheduler.swapped', llama)!.value).toBe(1);
    expect(m.point('inferwatch.scheduler.running', mistral)!.value).toBe(0);
    expect(m.metric('inferwatch.kv_cache.gpu.usage')).toBeUndefined();
    expect(m.point('inferwatch.sdk.misuse', { reason: 'out_of_order' })!.value).toBe(0);
  });
});

describe('engine state', () => {
  it('lets reported fields win over derived ones and keeps the rest derived', async () => {
    const llm = createLlmMetrics({ log: false });
    llm.startRequest({ model: 'm' });
    llm.startRequest({ model: 'm' }).scheduled();
    llm.reportEngineState({ running: 17, gpuKvCacheUsage: 0.018, cpuKvCacheUsage: 0 });
    llm.observeEngineState(() => ({ running: 3, gpuKvCacheUsage: 0.5, attributes: { engine: 'b' } }));
    const m = await collect(llm.producer);
    expect(m.metric('inferwatch.scheduler.running')!.dataPoints.map((p) => [p.attributes, p.value])).toEqual([
      [{}, 17],
      [{ engine: 'b' }, 3],
    ]);
    expect(m.point('inferwatch.scheduler.waiting', { 'gen_ai.request.model': 'm', 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'unknown' })!.value).toBe(1);
    expect(m.point('inferwatch.kv_cache.gpu.usage', {})!.value).toBe(0.018);
    expect(m.point('inferwatch.kv_cache.gpu.usage', { engine: 'b' })!.value).toBe(0.5);
    expect(m.point('inferwatch.kv_cache.cpu.usage', {})!.value).toBe(0);
  });

  it('ignores invalid values and a throwing callback, counting each', async () => {
    const llm = createLlmMetrics({ log: false });
    llm.reportEngineState({ gpuKvCacheUsage: 1.5, running: -1, waiting: 2 });
    llm.observeEngineState(() => {
      throw new Error('engine gone');
    });
    const m = await collect(llm.producer);
    expect(m.metric('inferwatch.kv_cache.gpu.usage')).toBeUndefined();
    expect(m.point('inferwatch.scheduler.waiting', {})!.value).toBe(2);
    expect(m.point('inferwatch.sdk.misuse', { reason: 'invalid_number' })!.value).toBe(2);
    expect(m.point('inferwatch.sdk.misuse', { reason: 'callback_error' })!.value).toBe(1);
  });
});

describe('attributes', () => {
  it('caps distinct models at maxModels and truncates long values', async () => {
    const llm = createLlmMetrics({ log: false, maxModels: 3, maxAttributeLength: 8 });
    for (let i = 0; i < 10; i++) llm.startRequest({ model: `${i}-model-with-a-long-name` }).end();
    const m = await collect(llm.producer);
    const models = m.metric('gen_ai.server.request.duration')!.dataPoints.map((p) => [p.attributes['gen_ai.request.model'], (p.value as { count: number }).count]);
    expect(models).toEqual([
      ['0-model-', 1],
      ['1-model-', 1],
      ['2-model-', 1],
      ['_OTHER', 7],
    ]);
  });

  it('uses overridden buckets and rejects invalid ones', async () => {
    const llm = createLlmMetrics({
      log: false,
      clock: () => 0,
      buckets: { 'gen_ai.server.time_to_first_token': [0.1, 1], 'gen_ai.server.request.duration': [2, 1] },
    });
    const r = llm.startRequest({ model: 'm', at: 0 });
    r.firstToken(500);
    r.end({ at: 3000 });
    const m = await collect(llm.producer);
    const attrs = { 'gen_ai.request.model': 'm', 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'unknown' };
    const ttft = m.histogram('gen_ai.server.time_to_first_token', attrs)!;
    expect(ttft.value.buckets).toEqual({ boundaries: [0.1, 1], counts: [0, 1, 0] });
    // Invalid buckets fall back to the default classic buckets, and a histogram given none stays native.
    expect(m.histogram('gen_ai.server.request.duration', attrs)!.value.buckets.boundaries[0]).toBe(0.01);
    expect(m.metric('inferwatch.request.queue.duration')!.dataPointType).toBe(DataPointType.EXPONENTIAL_HISTOGRAM);
  });
});
