import { afterEach, describe, expect, it } from 'vitest';
import { SpanKind, SpanStatusCode, trace, type Attributes } from '@opentelemetry/api';
import { hrTimeToMilliseconds } from '@opentelemetry/core';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BasicTracerProvider,
  InMemorySpanExporter,
  ParentBasedSampler,
  SimpleSpanProcessor,
  type ReadableSpan,
  type Sampler,
} from '@opentelemetry/sdk-trace-base';
import { createClientMetrics, createLlmMetrics, extractTraceContext, injectTraceContext } from '@inferwatch/sdk';
import { collect } from '../helpers/collect.js';

function tracing(sampler: Sampler = new AlwaysOnSampler()) {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ sampler, spanProcessors: [new SimpleSpanProcessor(exporter)] });
  return { exporter, provider, spans: () => exporter.getFinishedSpans() };
}

const byModel = (spans: ReadableSpan[], model: string) => spans.filter((s) => s.attributes['gen_ai.request.model'] === model);
const series = (model: string, provider = 'unknown'): Attributes => ({
  'gen_ai.request.model': model,
  'gen_ai.operation.name': 'chat',
  'gen_ai.provider.name': provider,
});
const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const PARENT_ID = 'b7ad6b7169203331';

afterEach(() => trace.disable());

describe('request spans', () => {
  it('carry the lifecycle intervals, tokens and outcome that the metrics recorded for the same request', async () => {
    const { provider, spans } = tracing();
    const llm = createLlmMetrics({ provider: 'vllm', log: false, clock: () => 0, tracerProvider: provider });
    // Each model gets one request, so each metric series holds exactly that request's values.
    const a = llm.startRequest({ model: 'ok', promptTokens: 100, at: 0 });
    a.scheduled(50);
    a.firstToken(250);
    a.tokens(2, 310);
    a.preempted(320);
    a.resumed(400);
    a.end({ finishReason: 'length', at: 500 });
    const b = llm.startRequest({ model: 'failed', at: 100 });
    b.scheduled(130);
    b.fail(new TypeError('boom'), { at: 260 });
    const c = llm.startRequest({ model: 'aborted', promptTokens: 7, at: 300 });
    c.firstToken(330);
    c.abort({ at: 1000 });

    const [ok] = byModel(spans(), 'ok');
    // Ground truth from the script above, in seconds.
    expect(ok.name).toBe('chat ok');
    expect(ok.kind).toBe(SpanKind.SERVER);
    expect(ok.status.code).toBe(SpanStatusCode.UNSET);
    expect(ok.attributes).toMatchObject({
      ...series('ok', 'vllm'),
      'gen_ai.response.finish_reasons': ['length'],
      'gen_ai.usage.input_tokens': 100,
      'gen_ai.usage.output_tokens': 3,
      'gen_ai.latency.time_in_queue': 0.05,
      'gen_ai.latency.time_to_first_token': 0.25,
      'gen_ai.latency.time_in_model_prefill': 0.2,
      'gen_ai.latency.time_in_model_decode': 0.25,
      'gen_ai.latency.time_in_model_inference': 0.45,
      'gen_ai.latency.e2e': 0.5,
    });
    expect(ok.events.map((e) => [e.name, hrTimeToMilliseconds(e.time) - hrTimeToMilliseconds(ok.startTime)])).toEqual([
      ['gen_ai.request.scheduled', 50],
      ['gen_ai.response.first_token', 250],
      ['gen_ai.request.preempted', 320],
      ['gen_ai.request.resumed', 400],
    ]);
    expect(hrTimeToMilliseconds(ok.duration)).toBeCloseTo(500, 6);

    // The same numbers, read back from the metrics.
    const m = await collect(llm.producer);
    const sum = (name: string, model: string) => m.histogram(name, series(model, 'vllm'))?.value.sum;
    expect(ok.attributes['gen_ai.latency.time_in_queue']).toBe(sum('inferwatch.request.queue.duration', 'ok'));
    expect(ok.attributes['gen_ai.latency.time_to_first_token']).toBe(sum('gen_ai.server.time_to_first_token', 'ok'));
    expect(ok.attributes['gen_ai.latency.time_in_model_prefill']).toBe(sum('inferwatch.request.prefill.duration', 'ok'));
    expect(ok.attributes['gen_ai.latency.time_in_model_decode']).toBe(sum('inferwatch.request.decode.duration', 'ok'));
    expect(ok.attributes['gen_ai.latency.time_in_model_inference']).toBe(sum('inferwatch.request.inference.duration', 'ok'));
    expect(ok.attributes['gen_ai.latency.e2e']).toBe(sum('gen_ai.server.request.duration', 'ok'));
    expect(ok.attributes['gen_ai.usage.output_tokens']).toBe(m.point('inferwatch.tokens', { ...series('ok', 'vllm'), 'gen_ai.token.type': 'output' })?.value);

    const [failed] = byModel(spans(), 'failed');
    expect(failed.status).toEqual({ code: SpanStatusCode.ERROR, message: 'TypeError' });
    expect(failed.attributes).toMatchObject({ 'error.type': 'TypeError', 'gen_ai.response.finish_reasons': ['error'], 'gen_ai.latency.e2e': 0.16 });
    expect(failed.attributes['gen_ai.latency.e2e']).toBe(
      m.histogram('gen_ai.server.request.duration', { ...series('failed', 'vllm'), 'error.type': 'TypeError' })?.value.sum,
    );
    // Inference and decode are recorded only for requests that completed; the span says no more than the metrics.
    expect(failed.attributes['gen_ai.latency.time_in_model_inference']).toBeUndefined();

    const [aborted] = byModel(spans(), 'aborted');
    expect(aborted.status.code).toBe(SpanStatusCode.UNSET);
    expect(aborted.attributes).toMatchObject({ 'error.type': 'cancelled', 'gen_ai.response.finish_reasons': ['abort'], 'gen_ai.latency.e2e': 0.7 });
    expect(aborted.attributes['gen_ai.latency.time_in_queue']).toBeUndefined();
    expect(spans()).toHaveLength(3);
  });

  it('carry the input tokens the counters counted: none for a request that ended before its first token', async () => {
    const { provider, spans } = tracing();
    const llm = createLlmMetrics({ log: false, tracerProvider: provider });
    // Each model gets one request: its series' input counter holds exactly that request's tokens.
    llm.startRequest({ model: 'before-first', promptTokens: 700 }).abort();
    llm.startRequest({ model: 'failed-before-first', promptTokens: 300 }).fail('boom');
    const after = llm.startRequest({ model: 'after-first', promptTokens: 900 });
    after.firstToken();
    after.abort();
    const m = await collect(llm.producer);
    const counted = (model: string) => m.point('inferwatch.tokens', { ...series(model), 'gen_ai.token.type': 'input' })!.value;
    for (const model of ['before-first', 'failed-before-first', 'after-first']) {
      const [span] = byModel(spans(), model);
      expect(span.attributes['gen_ai.usage.input_tokens'] ?? 0, model).toBe(counted(model));
    }
    expect(counted('before-first')).toBe(0);
    expect(counted('after-first')).toBe(900);
  });

  it('never carry text: only the documented attribute keys', () => {
    const { provider, spans } = tracing();
    const llm = createLlmMetrics({ log: false, tracerProvider: provider });
    const h = llm.startRequest({ model: 'm' });
    h.tokens(3);
    h.fail({ code: 'upstream_error', message: 'the prompt was: secret text' });
    const [span] = spans();
    expect(JSON.stringify(span.attributes) + JSON.stringify(span.status) + JSON.stringify(span.events)).not.toContain('secret');
  });

  it('start at arrival and end at the end on the OTel time line, with the default and with a user clock', () => {
    const { provider, spans } = tracing();
    const llm = createLlmMetrics({ log: false, tracerProvider: provider });
    const wallBefore = Date.now();
    const arrival = llm.now();
    const wallAfter = Date.now();
    const h = llm.startRequest({ model: 'm', at: arrival - 40 });
    h.end({ at: arrival + 123.25 });
    const [span] = spans();
    // Epoch time of a performance.now() reading: between the wall clock read just before and just after it
    // (bracketed, so a pause between the reads widens the window instead of failing; Date.now() has 1 ms steps).
    expect(hrTimeToMilliseconds(span.startTime)).toBeGreaterThanOrEqual(wallBefore - 40 - 2);
    expect(hrTimeToMilliseconds(span.startTime)).toBeLessThanOrEqual(wallAfter - 40 + 2);
    expect(hrTimeToMilliseconds(span.duration)).toBeCloseTo(163.25, 6);

    let fake = 5_000_000;
    const user = createLlmMetrics({ log: false, tracerProvider: provider, clock: () => fake });
    const before = Date.now();
    const u = user.startRequest({ model: 'user' });
    fake += 2_000;
    u.end();
    const userSpan = spans()[1];
    expect(hrTimeToMilliseconds(userSpan.startTime)).toBeGreaterThanOrEqual(before - 5);
    expect(hrTimeToMilliseconds(userSpan.startTime)).toBeLessThanOrEqual(Date.now() + 5);
    expect(hrTimeToMilliseconds(userSpan.duration)).toBeCloseTo(2_000, 6);
  });

  it('continue the caller trace and hand their own context to downstream requests', () => {
    const { provider, spans } = tracing();
    const llm = createLlmMetrics({ log: false, tracerProvider: provider });
    const context = extractTraceContext({ traceparent: `00-${TRACE_ID}-${PARENT_ID}-01` });
    const h = llm.startRequest({ model: 'm', context });
    const downstream: Record<string, string> = {};
    injectTraceContext(h.traceContext(), downstream);
    h.end();
    const [span] = spans();
    expect(span.spanContext().traceId).toBe(TRACE_ID);
    expect(span.parentSpanContext?.spanId).toBe(PARENT_ID);
    expect(span.parentSpanContext?.isRemote).toBe(true);
    expect(downstream.traceparent).toBe(`00-${TRACE_ID}-${span.spanContext().spanId}-01`);
    expect(h.spanContext()?.spanId).toBe(span.spanContext().spanId);
  });

  it('record nothing for a caller that did not sample, but still pass its trace on', async () => {
    const { provider, spans } = tracing(new ParentBasedSampler({ root: new AlwaysOnSampler() }));
    const llm = createLlmMetrics({ log: false, tracerProvider: provider });
    const context = extractTraceContext({ traceparent: `00-${TRACE_ID}-${PARENT_ID}-00` });
    const h = llm.startRequest({ model: 'm', context, at: llm.now() });
    h.firstToken();
    h.end();
    const downstream: Record<string, string> = {};
    injectTraceContext(h.traceContext(), downstream);
    expect(spans()).toHaveLength(0);
    expect(downstream.traceparent?.startsWith(`00-${TRACE_ID}-`)).toBe(true);
    expect(downstream.traceparent?.endsWith('-00')).toBe(true);
    const m = await collect(llm.producer);
    expect((m.histogram('gen_ai.server.time_to_first_token', series('m')) as { exemplars?: unknown[] }).exemplars).toBeUndefined();
  });

  it('start nothing without a TracerProvider, and follow one registered later', () => {
    const llm = createLlmMetrics({ log: false });
    const before = llm.startRequest({ model: 'm' });
    expect(before.spanContext()).toBeUndefined();
    before.end();

    const { provider, spans } = tracing();
    trace.setGlobalTracerProvider(provider);
    const after = llm.startRequest({ model: 'm' });
    expect(after.spanContext()?.traceId).toMatch(/^[0-9a-f]{32}$/);
    after.end();
    expect(spans()).toHaveLength(1);

    const off = createLlmMetrics({ log: false, tracerProvider: false });
    const none = off.startRequest({ model: 'm' });
    none.end();
    expect(none.spanContext()).toBeUndefined();
    expect(spans()).toHaveLength(1);
  });

  it('are CLIENT spans for client metrics, children of the caller, with usage and errors', () => {
    const { provider, spans } = tracing();
    const client = createClientMetrics({ provider: 'openai', tracerProvider: provider });
    const context = extractTraceContext({ traceparent: `00-${TRACE_ID}-${PARENT_ID}-01` });
    const op = client.startOperation({ model: 'gpt', context });
    op.chunk();
    op.chunk();
    op.end({ inputTokens: 12, outputTokens: 34 });
    const bad = client.startOperation({ model: 'gpt' });
    bad.fail({ status: 429 });
    const [okSpan, badSpan] = spans();
    expect(okSpan.kind).toBe(SpanKind.CLIENT);
    expect(okSpan.name).toBe('chat gpt');
    expect(okSpan.spanContext().traceId).toBe(TRACE_ID);
    expect(okSpan.attributes).toMatchObject({
      'gen_ai.provider.name': 'openai',
      'gen_ai.usage.input_tokens': 12,
      'gen_ai.usage.output_tokens': 34,
    });
    expect(okSpan.events.map((e) => e.name)).toEqual(['gen_ai.response.first_chunk']);
    expect(badSpan.kind).toBe(SpanKind.CLIENT);
    expect(badSpan.status).toEqual({ code: SpanStatusCode.ERROR, message: '429' });
    expect(badSpan.attributes['error.type']).toBe('429');
  });
});

describe('exemplars', () => {
  type Exemplars = { exemplars?: Array<{ traceId: string; spanId: string; value: number; timestamp: [number, number] }> };

  it('hold, per bucket, the trace of a sampled request that fell into it', async () => {
    const { provider, spans } = tracing();
    const llm = createLlmMetrics({ log: false, tracerProvider: provider, histograms: 'classic' });
    const ttfts = [0.004, 0.03, 0.03, 0.7, 12]; // seconds; the two 0.03 share a bucket, the later one wins
    const handles = ttfts.map((ttft) => {
      const at = llm.now();
      const h = llm.startRequest({ model: 'm', at });
      h.firstToken(at + ttft * 1000);
      h.tokens(1, at + ttft * 1000 + 20);
      h.end({ at: at + ttft * 1000 + 20 });
      return { h, ttft };
    });
    const m = await collect(llm.producer);
    const point = m.histogram('gen_ai.server.time_to_first_token', series('m')) as ReturnType<typeof m.histogram> & Exemplars;
    const bounds = point!.value.buckets.boundaries;
    const bucketOf = (v: number) => {
      const i = bounds.findIndex((b) => v <= b);
      return i === -1 ? bounds.length : i;
    };
    const traceIdOf = new Map(spans().map((s) => [s.spanContext().spanId, s.spanContext().traceId]));
    // Expected: the last request of each distinct bucket.
    const expected = new Map<number, string>();
    for (const { h, ttft } of handles) expected.set(bucketOf(ttft), h.spanContext()!.spanId);
    expect(point!.exemplars).toHaveLength(expected.size);
    for (const e of point!.exemplars!) {
      expect(expected.get(bucketOf(e.value))).toBe(e.spanId);
      expect(traceIdOf.get(e.spanId)).toBe(e.traceId);
    }
    expect(point!.exemplars!.map((e) => e.value).sort((a, b) => a - b)).toEqual([0.004, 0.03, 0.7, 12].map((v) => expect.closeTo(v, 9)));

    const e2e = m.histogram('gen_ai.server.request.duration', series('m')) as Exemplars;
    expect(e2e.exemplars!.every((e) => traceIdOf.get(e.spanId) === e.traceId)).toBe(true);
    const itl = m.histogram('gen_ai.server.time_per_output_token', series('m')) as Exemplars;
    const inter = m.histogram('inferwatch.request.inter_token_latency', series('m')) as Exemplars;
    expect(itl.exemplars).toBeUndefined();
    expect(inter.exemplars!.map((e) => e.value)).toEqual([expect.closeTo(0.02, 9)]);
  });

  it('are not kept when no request is sampled', async () => {
    const { provider } = tracing(new AlwaysOffSampler());
    const llm = createLlmMetrics({ log: false, tracerProvider: provider });
    const h = llm.startRequest({ model: 'm' });
    h.firstToken();
    h.end();
    const m = await collect(llm.producer);
    expect((m.histogram('gen_ai.server.time_to_first_token', series('m')) as Exemplars).exemplars).toBeUndefined();
    expect((m.histogram('gen_ai.server.request.duration', series('m')) as Exemplars).exemplars).toBeUndefined();
  });
});
