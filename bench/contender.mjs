// One contender of a recording benchmark, alone in its own process (so no other contender's
// garbage or JIT state lands in its round): `node bench/contender.mjs <suite> <name> <iterations>`.
// Warms up, measures one round, prints the nanoseconds per call as JSON.
import { createLlmMetrics } from '@inferwatch/sdk';
import { otelLifecycle, prometheusIoBoundLifecycle, promClientBoundLifecycle, promClientLifecycle } from './baselines.mjs';
import { nsPerCall } from './measure.mjs';
import { requests, SCRIPTS, tokenGaps } from './workload.mjs';

const MODELS = ['llama-3.1-8b', 'qwen2.5-7b', 'mistral-7b', 'gemma-2-9b'];
const BATCH = 64;
const BASELINES = { otel: otelLifecycle, promclient: promClientLifecycle, promclient_bound: promClientBoundLifecycle, prometheusio_bound: prometheusIoBoundLifecycle };

/** inferwatch's contenders: `sdk…` with the default (native) histograms, `sdk_classic…` with explicit buckets. */
// Named even for the default, so OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION in the environment cannot swap them.
const sdkOptions = (name) => ({ log: false, histograms: name.startsWith('sdk_classic') ? 'classic' : 'native' });

/** A full lifecycle (start → scheduled → first token → end) with the workload's timestamps. */
function perRequest(name) {
  // Requests of the script repeat every SCRIPTS calls; shifting each lap keeps timestamps increasing.
  const span = requests[SCRIPTS - 1].end + 1;
  const at = (i, t) => t + Math.floor(i / SCRIPTS) * span;
  if (name === 'clock') return () => performance.now();
  if (name === 'sdk' || name === 'sdk_classic') {
    const llm = createLlmMetrics({ ...sdkOptions(name), provider: 'vllm' });
    return (i) => {
      const s = requests[i % SCRIPTS];
      const r = llm.startRequest({ model: MODELS[i & 3], promptTokens: 16, at: at(i, s.arrival) });
      r.scheduled(at(i, s.scheduled));
      r.firstToken(at(i, s.first));
      r.end({ at: at(i, s.end), outputTokens: s.outputTokens });
    };
  }
  const b = BASELINES[name]();
  return (i) => {
    const s = requests[i % SCRIPTS];
    const r = b.start(MODELS[i & 3], at(i, s.arrival));
    b.scheduled(r, at(i, s.scheduled));
    b.firstToken(r, at(i, s.first));
    b.end(r, at(i, s.end), s.outputTokens);
  };
}

/**
 * One output token. `sdk` (and `sdk_classic`) reads the clock, as `tokens()` does by default; the others get a decode
 * step's timestamp shared by a batch of BATCH requests, steps apart by the workload's gaps.
 */
function perToken(name) {
  if (name === 'sdk' || name === 'sdk_classic') {
    const r = createLlmMetrics(sdkOptions(name)).startRequest({ model: MODELS[0] });
    r.firstToken();
    return () => r.tokens();
  }
  let stepAt = 0;
  const step = (i) => {
    if (i % BATCH === 0) stepAt += tokenGaps[(i / BATCH) % SCRIPTS];
    return stepAt;
  };
  if (name === 'sdk_batched' || name === 'sdk_classic_batched') {
    const llm = createLlmMetrics(sdkOptions(name));
    const batch = Array.from({ length: BATCH }, (_, k) => llm.startRequest({ model: MODELS[k & 3], at: 0 }));
    for (const r of batch) r.firstToken(0);
    return (i) => batch[i % BATCH].tokens(1, step(i));
  }
  const b = BASELINES[name]();
  const batch = Array.from({ length: BATCH }, (_, k) => b.start(MODELS[k & 3], 0));
  for (const r of batch) b.firstToken(r, 0);
  return (i) => b.token(batch[i % BATCH], step(i));
}

const [suite, name, iterations] = process.argv.slice(2);
const fn = suite === 'request' ? perRequest(name) : perToken(name);
const n = Number(iterations);
nsPerCall(fn, Math.ceil(n / 5));
console.log(JSON.stringify({ ns: nsPerCall(fn, n) }));
