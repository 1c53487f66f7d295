// What the scrape benchmarks expose, built the same way in every run. Histograms are filled with the
// workload's realistic values (bench/workload.mjs), not one value each: a native histogram's size is
// its populated buckets, so values that all fall into one bucket would flatter it.
import { createLlmMetrics } from '@inferwatch/sdk';
import { promptTokens, requests, SCRIPTS, tokenGaps } from './workload.mjs';

/** Successful requests per label set in the 50-model and tenant data: enough to spread every histogram over its range. */
export const REQUESTS_PER_SERIES = 100;
/** Requests through the gateway-like recorder, all for one model. */
export const GATEWAY_REQUESTS = 300;
export const TENANT_MODELS = 100;
export const TENANTS = 16;

/** The next workload script `serve` takes; each data set starts again from the first, so its values never depend on what ran before it. */
let next = 0;

/**
 * One successful streamed request: the workload's queue time, prefill and output length, one
 * `tokens(1, at)` per output token at the workload's inter-token gaps, and a log-normal prompt length.
 * Each call takes the next script, so label sets get different values.
 */
function serve(llm, info) {
  const k = next++;
  const s = requests[k % SCRIPTS];
  const r = llm.startRequest({ ...info, promptTokens: promptTokens[k % SCRIPTS], at: s.arrival });
  r.scheduled(s.scheduled);
  r.firstToken(s.first);
  let at = s.first;
  for (let j = 1; j < s.outputTokens; j++) r.tokens(1, (at += tokenGaps[(k * 31 + j) % SCRIPTS]));
  r.end({ at });
}

/**
 * 50 models × 2 operations × the full catalog: every metric and label combination populated, and
 * REQUESTS_PER_SERIES realistic requests per (model, operation). `histograms`: the recorder's mode.
 */
export function fiftyModels(histograms = 'native') {
  next = 0;
  const llm = createLlmMetrics({ log: false, provider: 'vllm', histograms });
  for (let m = 0; m < 50; m++) {
    for (const operation of ['chat', 'text_completion']) {
      const model = `model-${m}`;
      for (let i = 0; i < REQUESTS_PER_SERIES; i++) serve(llm, { model, operation });
      const ok = llm.startRequest({ model, operation, promptTokens: 100 });
      ok.scheduled();
      ok.firstToken();
      ok.tokens(10);
      ok.preempted();
      ok.resumed();
      ok.end({ finishReason: 'length' });
      llm.startRequest({ model, operation }).fail(new Error('x'));
      llm.startRequest({ model, operation }).abort();
      llm.startRequest({ model, operation }).scheduled();
    }
  }
  llm.reportEngineState({ gpuKvCacheUsage: 0.5, cpuKvCacheUsage: 0.1 });
  return llm;
}

/**
 * TENANT_MODELS models (the default `maxModels`) × TENANTS tenants (a `tenant` attribute at its default
 * limit, 16), default options otherwise: REQUESTS_PER_SERIES successful requests for each combination.
 */
export function tenants() {
  next = 0;
  const llm = createLlmMetrics({ log: false, attributes: { tenant: { maxValues: TENANTS } } });
  for (let m = 0; m < TENANT_MODELS; m++) {
    for (let t = 0; t < TENANTS; t++) {
      const info = { model: `model-${m}`, attributes: { tenant: `tenant-${t}` } };
      for (let i = 0; i < REQUESTS_PER_SERIES; i++) serve(llm, info);
    }
  }
  return llm;
}

/**
 * The example gateway's recorder (examples/gateway/gateway.mjs: its provider and options, its two gauges on
 * the MeterProvider, `startMetrics` as it calls it) after GATEWAY_REQUESTS successful requests for one model.
 */
export function gateway(startMetrics) {
  next = 0;
  const llm = createLlmMetrics({ provider: 'inferwatch-gateway', models: (model) => model === 'llama-3.1-8b', log: false });
  const telemetry = startMetrics({ serviceName: 'inferwatch-gateway', llm, gpu: false, meterProvider: 'private', otlp: false });
  const meter = telemetry.meterProvider.getMeter('inferwatch-gateway');
  meter.createObservableGauge('inferwatch.gateway.queue.size', { unit: '{request}', description: 'Requests waiting for a slot in the gateway.' }).addCallback((r) => r.observe(0));
  meter.createObservableGauge('inferwatch.gateway.active', { unit: '{request}', description: 'Requests holding a gateway slot (forwarded upstream).' }).addCallback((r) => r.observe(0));
  for (let i = 0; i < GATEWAY_REQUESTS; i++) serve(llm, { model: 'llama-3.1-8b', operation: 'chat' });
  return telemetry;
}
