// Cost of request spans: the recorder with no provider, unsampled and sampled spans, against one span set by hand.
import { SpanKind, ROOT_CONTEXT, trace, TraceFlags } from '@opentelemetry/api';
import { AlwaysOffSampler, AlwaysOnSampler, BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { createLlmMetrics } from '@inferwatch/sdk';
import { median, nsPerCall, round } from './measure.mjs';

const MODELS = ['llama-3.1-8b', 'qwen2.5-7b', 'mistral-7b', 'gemma-2-9b'];
const BATCH = 10_000;
const ROUNDS = 7;

/** Accepts every batch and keeps nothing, so the figure is the SDK's work, not an encoder's or a socket's. */
const discarding = { export: (_spans, done) => done({ code: 0 }), shutdown: async () => {}, forceFlush: async () => {} };

function provider(sampler) {
  // The queue holds a whole timed batch, so no span is dropped before the (timed) flush.
  const processor = new BatchSpanProcessor(discarding, { maxQueueSize: BATCH * 2, maxExportBatchSize: 512, scheduledDelayMillis: 60_000 });
  return new BasicTracerProvider({ sampler, spanProcessors: [processor] });
}

/** A caller that did not sample its trace (`traceparent` flags 00), as the HTTP wrappers extract it. */
const UNSAMPLED_CALLER = trace.setSpanContext(ROOT_CONTEXT, {
  traceId: '0af7651916cd43dd8448eb211c80319c',
  spanId: 'b7ad6b7169203331',
  traceFlags: TraceFlags.NONE,
  isRemote: true,
});

function lifecycle(llm, context) {
  return (i) => {
    const r = llm.startRequest({ model: MODELS[i & 3], promptTokens: 16, context });
    r.scheduled();
    r.firstToken();
    r.end();
  };
}

/** What a user would write by hand: one span, the same attributes and events, timestamps read at each event. */
function naive(tracer) {
  return (i) => {
    const model = MODELS[i & 3];
    const arrival = performance.now();
    const span = tracer.startSpan(`chat ${model}`, {
      kind: SpanKind.SERVER,
      attributes: { 'gen_ai.request.model': model, 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'vllm' },
    });
    const scheduled = performance.now();
    span.addEvent('gen_ai.request.scheduled');
    const first = performance.now();
    span.addEvent('gen_ai.response.first_token');
    const end = performance.now();
    span.setAttributes({
      'gen_ai.response.finish_reasons': ['stop'],
      'gen_ai.usage.input_tokens': 16,
      'gen_ai.usage.output_tokens': 1,
      'gen_ai.latency.time_in_queue': (scheduled - arrival) / 1000,
      'gen_ai.latency.time_to_first_token': (first - arrival) / 1000,
      'gen_ai.latency.time_in_model_prefill': (first - scheduled) / 1000,
      'gen_ai.latency.time_in_model_decode': (end - first) / 1000,
      'gen_ai.latency.time_in_model_inference': (end - scheduled) / 1000,
      'gen_ai.latency.e2e': (end - arrival) / 1000,
    });
    span.end();
  };
}

/** ns per request, a batch at a time, the batch processor's flush of that batch included. */
async function batched(fn, flush) {
  let i = 0;
  const once = async () => {
    const start = process.hrtime.bigint();
    for (let n = 0; n < BATCH; n++) fn(i++);
    await flush();
    return Number(process.hrtime.bigint() - start) / BATCH;
  };
  await once(); // warm-up
  const samples = [];
  for (let r = 0; r < ROUNDS; r++) samples.push(await once());
  return median(samples);
}

export async function traceBench() {
  const sampled = provider(new AlwaysOnSampler());
  const unsampled = provider(new AlwaysOffSampler());
  const handmade = provider(new AlwaysOnSampler());
  const metricsOnly = lifecycle(createLlmMetrics({ log: false, provider: 'vllm' }));
  const unsampledFn = lifecycle(createLlmMetrics({ log: false, provider: 'vllm', tracerProvider: sampled }), UNSAMPLED_CALLER);
  const unsampledRootFn = lifecycle(createLlmMetrics({ log: false, provider: 'vllm', tracerProvider: unsampled }));
  const sampledFn = lifecycle(createLlmMetrics({ log: false, provider: 'vllm', tracerProvider: sampled }));
  const naiveFn = naive(handmade.getTracer('naive'));

  // Interleaved rounds, so drift hits every contender alike.
  const samples = { metrics: [], unsampled: [], unsampledRoot: [], sampled: [], naive: [] };
  for (const fn of [metricsOnly, unsampledFn, unsampledRootFn]) nsPerCall(fn, 20_000);
  for (let r = 0; r < 3; r++) {
    samples.metrics.push(nsPerCall(metricsOnly, 100_000));
    samples.unsampled.push(nsPerCall(unsampledFn, 100_000));
    samples.unsampledRoot.push(nsPerCall(unsampledRootFn, 20_000));
    samples.sampled.push(await batched(sampledFn, () => sampled.forceFlush()));
    samples.naive.push(await batched(naiveFn, () => handmade.forceFlush()));
  }
  await Promise.all([sampled.shutdown(), unsampled.shutdown(), handmade.shutdown()]);
  const m = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
  return {
    trace_metrics_only_ns_per_request: round(m.metrics),
    // The caller's traceparent says not sampled: no span is started.
    trace_ns_per_request_unsampled: round(m.unsampled),
    // No caller; the provider's sampler says no: the SDK still builds ids and a non-recording span.
    trace_ns_per_request_unsampled_root: round(m.unsampledRoot),
    trace_ns_per_request_sampled: round(m.sampled),
    trace_naive_span_ns_per_request: round(m.naive),
    trace_unsampled_over_metrics_ns: round(m.unsampled - m.metrics),
    trace_sampled_vs_naive_ratio: round(m.sampled / m.naive, 3),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(await traceBench());
