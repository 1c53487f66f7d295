// `pnpm bench`: every benchmark in one run; figures to docs/benchmarks.json and a table to docs/benchmarks.md.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { lifecycleBench } from './lifecycle.mjs';
import { round } from './measure.mjs';
import { gatewayBench } from './gateway.mjs';
import { gpuBench } from './gpu.mjs';
import { llamaBench } from './llama.mjs';
import { scrapeBench } from './scrape.mjs';
import { sseBench } from './sse.mjs';
import { traceBench } from './trace.mjs';

const here = (path) => fileURLToPath(new URL(path, import.meta.url));

function heapBench() {
  const out = execFileSync(process.execPath, ['--expose-gc', here('./heap.mjs')], { encoding: 'utf8' });
  const { heap_after_10k_bytes, heap_after_1m_bytes } = JSON.parse(out);
  return { heap_ratio_1m_vs_10k: round(heap_after_1m_bytes / heap_after_10k_bytes, 3), heap_after_10k_bytes, heap_after_1m_bytes };
}

/** Each row: key, what it is, its goal (a predicate and its text), if any. */
const ROWS = [
  ['sdk_ns_per_request', 'inferwatch: one lifecycle (start → scheduled → first token → end), ns', (v) => v <= 1000, '≤ 1000'],
  ['otel_ns_per_request', 'same metrics through OTel API instruments, ns'],
  ['promclient_ns_per_request', 'same metrics through prom-client, ns'],
  ['sdk_ns_per_token', 'inferwatch: one `tokens()` call reading the clock, ns', (v) => v <= 60, '≤ 60'],
  ['sdk_ns_per_token_batched', 'inferwatch: `tokens(1, at)` with a timestamp shared by a decode step, ns', (v) => v <= 60, '≤ 60'],
  ['otel_ns_per_token', 'same per token through OTel API instruments, ns'],
  ['promclient_ns_per_token', 'same per token through prom-client, ns'],
  ['clock_ns_per_read', 'one `performance.now()` on this machine, ns'],
  ['sse_tap_ns_per_chunk', 'OpenAI-style SSE tap: one vLLM-shaped chat chunk (bytes) read and its token recorded, ns'],
  ['scrape_ms_50_models', '`GET /metrics` over HTTP, 50 models × 2 operations × the full catalog, ms'],
  ['scrape_lines_50_models', 'lines in that exposition'],
  ['heap_ratio_1m_vs_10k', 'heap after 1 M requests ÷ after 10 k (after GC)', (v) => v <= 1.05, '≤ 1.05'],
  ['gpu_poll_eventloop_p99_ratio', 'event-loop delay p99, GPU poller every 100 ms ÷ poller off', (v) => v <= 1.05, '≤ 1.05'],
  ['gpu_external_poll_eventloop_p99_ratio', 'control: the same fake nvidia-smi run every 100 ms by an unrelated shell ÷ off'],
  ['gpu_poll_eventloop_p99_off_ms', 'event-loop delay p99 with the poller off, ms'],
  ['gateway_tokens_per_s_ratio_sdk_on_off', 'streamed tokens/s through the gateway at saturation (fast upstream, 32 streams), SDK on ÷ off', (v) => v >= 0.99, '≥ 0.99'],
  ['gateway_tokens_per_s_sdk_on', 'those tokens/s with the SDK on'],
  ['gateway_tokens_per_s_sdk_off', 'those tokens/s with the SDK off'],
  ['trace_metrics_only_ns_per_request', 'request spans bench: one lifecycle, no TracerProvider registered, ns'],
  ['trace_ns_per_request_unsampled', 'the same with a provider, the caller\'s traceparent not sampled (no span started), ns'],
  ['trace_unsampled_over_metrics_ns', 'that minus the no-provider figure, ns', (v) => v <= 50, '≤ 50'],
  ['trace_ns_per_request_unsampled_root', 'no caller, the provider\'s sampler says no (the SDK still builds a non-recording span), ns'],
  ['trace_ns_per_request_sampled', 'sampled: metrics + span + exemplars, batched to a discarding exporter (flush timed), ns'],
  ['trace_naive_span_ns_per_request', 'baseline: one OTel span with the same attributes and events set by hand, same processor, ns'],
  ['trace_sampled_vs_naive_ratio', 'sampled ÷ naive', (v) => v <= 0.5, '≤ 0.5'],
  ['llama_tokens_per_s_ratio_sdk_on_off', 'streamed tokens/s from the node-llama-cpp server at saturation (tiny model, 4 sequences, 8 clients), SDK on ÷ off', (v) => v >= 0.99, '≥ 0.99'],
  ['llama_tokens_per_s_sdk_on', 'those tokens/s with the SDK on'],
  ['llama_tokens_per_s_sdk_off', 'those tokens/s with the SDK off'],
  ['llama_cpu_us_per_token_sdk_on', 'the llama server\'s CPU time per streamed token (all threads), SDK on, µs'],
  ['llama_cpu_us_per_token_sdk_off', 'the same with the SDK off, µs'],
  ['loadgen_max_concurrent_streams', 'concurrent streams the load generator keeps up with on one core (20 tokens, 100 ms apart; tried up to 4000)', (v) => v >= 2000, '≥ 2000'],
];

const results = {};
Object.assign(results, await lifecycleBench());
Object.assign(results, await scrapeBench());
Object.assign(results, await sseBench());
Object.assign(results, await traceBench());
Object.assign(results, heapBench());
Object.assign(results, await gpuBench());
Object.assign(results, await gatewayBench());
Object.assign(results, await llamaBench());

const ratio = (a, b) => `${round(results[a] / results[b], 1)}×`;
const machine = `${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} cores, Node ${process.version}`;
const table = ROWS.map(([key, what, goal, goalText]) => {
  const value = results[key];
  const verdict = goal ? (goal(value) ? `${goalText}: met` : `${goalText}: **not met**`) : '';
  return `| \`${key}\` | ${what} | ${value} | ${verdict} |`;
});
const md = `# Benchmarks

Produced by \`pnpm bench\` (or \`npm run bench\`) on ${new Date().toISOString().slice(0, 10)}: ${machine}.
Every figure comes from one run; the contenders of a comparison run interleaved, median of 7 rounds.

| key | what | figure | goal |
|---|---|---|---|
${table.join('\n')}

Ratios from this run: OTel instruments cost ${ratio('otel_ns_per_request', 'sdk_ns_per_request')} inferwatch per request and ${ratio('otel_ns_per_token', 'sdk_ns_per_token')} per token; prom-client ${ratio('promclient_ns_per_request', 'sdk_ns_per_request')} per request and ${ratio('promclient_ns_per_token', 'sdk_ns_per_token')} per token.

The machine-readable figures are in \`docs/benchmarks.json\`.
`;
writeFileSync(here('../docs/benchmarks.json'), `${JSON.stringify(results, null, 2)}\n`);
writeFileSync(here('../docs/benchmarks.md'), md);
console.log(md);
