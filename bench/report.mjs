// Renders docs/benchmarks.md from the figures of one run. `node bench/report.mjs` re-renders it from
// docs/benchmarks.json (e.g. after editing the text), without measuring again.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { GATEWAY_ROUNDS, GPU_ROUNDS, ROUNDS, SCRAPES, WARM_UP } from './constants.mjs';
import { notes } from './notes.mjs';
import { round } from './measure.mjs';

/** Each row: key, what it is, its goal (a predicate over the value and all results, and its text), if any. */
const ROWS = [
  ['sdk_ns_per_request', 'inferwatch: one lifecycle (start → scheduled → first token → end), realistic timestamps, ns', (v, r) => v <= 1000 && v <= r.promclient_bound_ns_per_request / 5, '≤ 1000 and ≤ ⅕ of prom-client bound'],
  ['otel_ns_per_request', 'same metrics through OTel API instruments, ns'],
  ['promclient_ns_per_request', 'same metrics through prom-client, label objects on every call, ns'],
  ['promclient_bound_ns_per_request', 'same metrics through prom-client, `.labels()` children bound once per model, ns'],
  ['sdk_ns_per_token', 'inferwatch: one `tokens()` call reading the clock, ns', (v) => v <= 60, '≤ 60'],
  ['sdk_ns_per_token_batched', 'inferwatch: `tokens(1, at)` for 64 requests sharing a decode step\'s timestamp, ns', (v) => v <= 40, '≤ 40'],
  ['otel_ns_per_token', 'same batched tokens through OTel API instruments, ns'],
  ['promclient_ns_per_token', 'same batched tokens through prom-client, label objects, ns'],
  ['promclient_bound_ns_per_token', 'same batched tokens through prom-client, bound children, ns'],
  ['clock_ns_per_read', 'one `performance.now()` on this machine, ns'],
  ['sse_tap_ns_per_chunk', 'OpenAI-style SSE tap: one vLLM-shaped chat chunk (bytes) read and its token recorded, ns', (v) => v <= 300, '≤ 300'],
  ['scrape_ms_50_models', '`GET /metrics` (text format) over HTTP to the last byte, 50 models × 2 operations × the full catalog, ms', (v) => v <= 10, '≤ 10'],
  ['scrape_ms_50_models_gzip', 'the same scrape with `Accept-Encoding: gzip`, ms'],
  ['scrape_eventloop_block_ms_50_models', 'longest event-loop block in the scraped process during one scrape (median over scrapes), ms', (v) => v <= 15, '≤ 15'],
  ['scrape_eventloop_block_ms_50_models_max', 'the same, the worst scrape, ms'],
  ['scrape_lines_50_models', 'lines in that exposition'],
  ['scrape_bytes_50_models', 'bytes of it, plain'],
  ['scrape_bytes_50_models_gzip', 'bytes of it, gzipped'],
  ['otlp_export_ms_50_models', 'one OTLP/protobuf export of the same data to a local receiver (collect, encode, POST, response), ms'],
  ['heap_ratio_1m_vs_10k', 'heap after 1 M requests ÷ after 10 k (after GC)', (v) => v <= 1.05, '≤ 1.05'],
  ['gpu_poll_eventloop_p99_ratio', 'event-loop delay p99, GPU poller every 100 ms ÷ poller off', (v) => v <= 1.05, '≤ 1.05'],
  ['gpu_external_poll_eventloop_p99_ratio', 'control: the same fake nvidia-smi run every 100 ms by an unrelated shell ÷ off'],
  ['gpu_poll_eventloop_p99_off_ms', 'event-loop delay p99 with the poller off, ms'],
  ['gateway_tokens_per_s_ratio_sdk_on_off', 'streamed tokens/s through the gateway at saturation (fast upstream, 32 streams), SDK on ÷ off, GPU poller off in both', (v) => v >= 0.98, '≥ 0.98'],
  ['gateway_tokens_per_s_sdk_on', 'those tokens/s with the SDK on'],
  ['gateway_tokens_per_s_sdk_off', 'those tokens/s with the SDK off (the same proxy, no SDK and no tap)'],
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

/** The Markdown report of `results`. */
export function render(results) {
  const ratio = (a, b) => `${round(results[a] / results[b], 1)}×`;
  const machine = results.machine;
  const table = ROWS.map(([key, what, goal, goalText]) => {
    const value = results[key];
    const verdict = goal ? (goal(value, results) ? `${goalText}: met` : `${goalText}: **not met**`) : '';
    return `| \`${key}\` | ${what} | ${value} | ${verdict} |`;
  });
  const md = `# Benchmarks

Produced by \`npm run bench\` (install, build, then \`node bench/run.mjs\`) on ${results.date}: ${machine};
1-minute load average at the start: ${results.load_average_at_start}. Every figure comes from this one run. On a machine
shared with other work the figures are inflated and noisy: compare them only with figures from the same run.

## How each figure is measured

- **Recording** (\`*_ns_per_request\`, \`*_ns_per_token\`, \`clock_ns_per_read\`): every contender runs in a
  fresh process for each of ${ROUNDS} rounds, round-robin (\`bench/contender.mjs\`), so no contender's garbage or JIT
  state lands in another's round; each process warms up on a fifth of its iterations, then times one round;
  the figure is the median of the ${ROUNDS} rounds. All contenders record the same metrics with the same
  timestamps, drawn from TTFT/ITL-like distributions (\`bench/workload.mjs\`: exponential queueing, log-normal
  prefill around 80 ms, log-normal inter-token gaps around 25 ms, log-normal output lengths around 150), so
  histogram bucket searches cost what they cost in production. Per token, inferwatch is shown twice:
  \`tokens()\` reading the clock itself, and \`tokens(1, at)\` for a batch of 64 requests sharing a decode step's
  timestamp, which is the workload the other contenders get. prom-client is shown with label objects on every
  call (its README) and with \`.labels()\` children bound once per model (its fastest use).
- **SSE tap** (\`sse_tap_ns_per_chunk\`): in one process, ${ROUNDS} rounds of 200 000 chunks after a warm-up of
  40 000, median. Streams of 1000 chunks, each ending with a \`finish_reason\` chunk and \`[DONE]\`; the run
  fails unless every stream was recorded as finished with \`stop\` (${results.sse_streams_finished_stop} streams).
- **Scrape** (\`scrape_*\`): the recorder and its \`/metrics\` live in a child process; the benchmark scrapes it
  ${SCRAPES} times over HTTP (Node's default agent), drops the first ${WARM_UP}, and reports the median time to the last
  byte. The child measures its own event loop (\`monitorEventLoopDelay\`, 1 ms resolution) from each request
  to 20 ms after its response; the block figure is the median over scrapes of each scrape's longest delay, and
  the worst scrape beside it. Gzip is compressed on the libuv thread pool, so it adds to the scrape's latency,
  not to the block. OTLP: ${SCRAPES} forced exports of the same data to a local receiver, first ${WARM_UP} dropped, median.
- **GPU poller**: ${GPU_ROUNDS} rounds of 3 s per mode, mean of the p99s.
- **Gateway**: ${GATEWAY_ROUNDS} rounds, each running both modes back to back (1 s warm-up then 4 s measured), the order
  alternating between rounds; the ratio is the median of the rounds' own ratios (each round's pair shares its
  neighbours' load), the tokens/s the median per mode, and every round is in \`docs/benchmarks.json\`. The baseline is the same gateway with \`--metrics off\`: no SDK, no
  tap, no \`/metrics\`; the SDK run has \`--gpu off\`, so neither polls nvidia-smi.
- **Heap** and **load generator**: one pass each.

## Figures

| key | what | figure | goal |
|---|---|---|---|
${table.join('\n')}

Ratios from this run: per request, OTel instruments cost ${ratio('otel_ns_per_request', 'sdk_ns_per_request')} inferwatch, prom-client
${ratio('promclient_ns_per_request', 'sdk_ns_per_request')} with label objects and ${ratio('promclient_bound_ns_per_request', 'sdk_ns_per_request')} with bound children; per batched
token, ${ratio('otel_ns_per_token', 'sdk_ns_per_token_batched')}, ${ratio('promclient_ns_per_token', 'sdk_ns_per_token_batched')} and ${ratio('promclient_bound_ns_per_token', 'sdk_ns_per_token_batched')}.

${notes(results)}
The machine-readable figures are in \`docs/benchmarks.json\`.
`;
    return md;
  }

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const results = JSON.parse(readFileSync(new URL('../docs/benchmarks.json', import.meta.url), 'utf8'));
  writeFileSync(new URL('../docs/benchmarks.md', import.meta.url), render(results));
}
