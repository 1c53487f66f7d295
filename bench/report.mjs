// Renders docs/benchmarks.md from the figures of one run. `node bench/report.mjs` re-renders it from
// docs/benchmarks.json (e.g. after editing the text), without measuring again.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { GATEWAY_ROUNDS, GPU_ROUNDS, ROUNDS, SCRAPES, WARM_UP } from './constants.mjs';
import { notes } from './notes.mjs';
import { round } from './measure.mjs';
import { GATEWAY_REQUESTS, REQUESTS_PER_SERIES, TENANT_MODELS, TENANTS } from './scrape-data.mjs';

/** Each row: key, what it is, its goal (a predicate over the value and all results, and its text), if any. */
const ROWS = [
  ['sdk_ns_per_request', 'inferwatch, native histograms (the default): one lifecycle (start → scheduled → first token → end), realistic timestamps, ns', (v, r) => v <= 400 && v <= Math.min(r.promclient_bound_ns_per_request, r.prometheusio_bound_ns_per_request) / 5, '≤ 400 and ≤ ⅕ of the faster bound Prometheus client'],
  ['sdk_classic_ns_per_request', 'the same with classic (explicit-bucket) histograms, `histograms: \'classic\'`, ns'],
  ['otel_ns_per_request', 'same metrics through OTel API instruments, ns'],
  ['promclient_ns_per_request', 'same metrics through prom-client, label objects on every call, ns'],
  ['promclient_bound_ns_per_request', 'same metrics through prom-client, `.labels()` children bound once per model, ns'],
  ['prometheusio_bound_ns_per_request', 'same metrics through `@prometheus-io/client` (prom-client\'s successor), `.labels()` children bound once per model, ns'],
  ['sdk_ns_per_token', 'inferwatch, native: one `tokens()` call reading the clock, ns', (v) => v <= 60, '≤ 60'],
  ['sdk_classic_ns_per_token', 'the same, classic, ns'],
  ['sdk_ns_per_token_batched', 'inferwatch, native: `tokens(1, at)` for 64 requests sharing a decode step\'s timestamp, ns', (v) => v <= 40, '≤ 40'],
  ['sdk_classic_ns_per_token_batched', 'the same, classic, ns'],
  ['otel_ns_per_token', 'same batched tokens through OTel API instruments, ns'],
  ['promclient_ns_per_token', 'same batched tokens through prom-client, label objects, ns'],
  ['promclient_bound_ns_per_token', 'same batched tokens through prom-client, bound children, ns'],
  ['prometheusio_bound_ns_per_token', 'same batched tokens through `@prometheus-io/client`, bound children, ns'],
  ['clock_ns_per_read', 'one `performance.now()` on this machine, ns'],
  ['sse_tap_ns_per_chunk', 'OpenAI-style SSE tap: one vLLM-shaped chat chunk (bytes) read and its token recorded, ns', (v) => v <= 300, '≤ 300'],
  ['scrape_bytes_50_models', 'what Prometheus with native histograms receives (the protobuf format) from `GET /metrics`: 50 models × 2 operations × the full catalog, native histograms (the default), bytes', (v) => v <= 350_000, '≤ 350 000'],
  ['scrape_bytes_50_models_gzip', 'the same, gzipped (Prometheus sends `Accept-Encoding: gzip`), bytes'],
  ['scrape_ms_50_models', 'that scrape over HTTP to the last byte, ms', (v) => v <= 5, '≤ 5'],
  ['scrape_ms_50_models_gzip', 'the same scrape gzipped, ms'],
  ['scrape_eventloop_block_ms_50_models', 'longest event-loop block in the scraped process during one such scrape (median over scrapes), ms', (v) => v <= 15, '≤ 15'],
  ['scrape_eventloop_block_ms_50_models_max', 'the same, the worst scrape, ms'],
  ['scrape_series_50_models', 'series in that protobuf exposition (a native histogram is one)'],
  ['scrape_label_bytes_50_models', 'bytes of it that are label pairs, which every series repeats in full'],
  ['scrape_text_bytes_50_models', 'the same data and mode in the text format (`Accept: text/plain`; classic buckets at powers of two, derived from the native ones), bytes'],
  ['scrape_text_bytes_50_models_gzip', 'that text gzipped, bytes'],
  ['scrape_text_lines_50_models', 'lines of that text'],
  ['scrape_text_ms_50_models', 'that text scrape to the last byte, ms'],
  ['scrape_text_ms_50_models_gzip', 'the same gzipped, ms'],
  ['scrape_text_eventloop_block_ms_50_models', 'the scraped process\'s longest block per text scrape (median), ms'],
  ['scrape_classic_text_bytes_50_models', 'old baseline: the same data recorded with `histograms: \'classic\'` (default explicit buckets), text format, bytes'],
  ['scrape_classic_text_bytes_50_models_gzip', 'that text gzipped, bytes'],
  ['scrape_classic_text_lines_50_models', 'lines of that text'],
  ['scrape_classic_text_ms_50_models', 'that scrape to the last byte, ms'],
  ['scrape_classic_text_ms_50_models_gzip', 'the same gzipped, ms'],
  ['scrape_classic_text_eventloop_block_ms_50_models', 'the scraped process\'s longest block per classic text scrape (median), ms'],
  ['scrape_bytes_gateway_300_requests', 'the example gateway\'s recorder and `startMetrics` after 300 requests for one model: what Prometheus with native histograms receives (protobuf), bytes', (v) => v <= 15_000, '≤ 15 000'],
  ['scrape_series_gateway_300_requests', 'series in that protobuf exposition'],
  ['scrape_text_bytes_gateway_300_requests', 'the same exposition in the text format, bytes'],
  ['scrape_bytes_100_models_16_tenants', '100 models × 16 tenants (a `tenant` attribute, `maxValues: 16`), default options, successful requests in every combination: protobuf, bytes', (v) => v <= 5_000_000, '≤ 5 000 000'],
  ['scrape_bytes_100_models_16_tenants_gzip', 'the same, gzipped, bytes'],
  ['scrape_series_100_models_16_tenants', 'series in that protobuf exposition'],
  ['scrape_label_bytes_100_models_16_tenants', 'bytes of it that are label pairs'],
  ['scrape_ms_100_models_16_tenants', 'that protobuf scrape to the last byte, ms', (v) => v <= 150, '≤ 150'],
  ['scrape_ms_100_models_16_tenants_gzip', 'the same gzipped, ms'],
  ['scrape_eventloop_block_ms_100_models_16_tenants', 'the scraped process\'s longest block per protobuf scrape (median), ms'],
  ['scrape_eventloop_block_ms_100_models_16_tenants_max', 'the same, the worst scrape, ms'],
  ['scrape_text_bytes_100_models_16_tenants', 'the same data in the text format, bytes'],
  ['cluster_scrape_ms_single', 'cluster bench: one process holding the 50-model data, gzipped protobuf scrape to the last byte (median), ms'],
  ['cluster_scrape_ms_4_workers', 'the same data in each of 4 node:cluster workers, a gzipped scrape answered for the group, ms'],
  ['cluster_added_scrape_ms_4_workers', 'what the group adds to a scrape: 4 workers minus one process, ms', (v) => v <= 5, '≤ 5'],
  ['cluster_added_scrape_ms_4_workers_plain', 'the same without gzip (the exposition crosses the IPC channel uncompressed), ms'],
  ['cluster_eventloop_block_ms_single', 'the one process\'s longest event-loop block per scrape (median over the scrapes), ms'],
  ['cluster_eventloop_block_ms_4_workers', 'the answering worker\'s longest block per scrape (median over the scrapes), ms', (v, r) => v <= r.cluster_eventloop_block_ms_single * 1.1 + 1, '≤ one process\'s'],
  ['otlp_export_ms_50_models', 'one OTLP/protobuf export of the 50-model data (native: exponential histograms) to a local receiver (collect, encode, POST, response), ms'],
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
  const ratio = (a, b, digits = 1) => `${round(results[a] / results[b], digits)}×`;
  const machine = results.machine;
  const table = ROWS.map(([key, what, goal, goalText]) => {
    const value = results[key];
    // A figure this run did not produce (an older docs/benchmarks.json re-rendered) is said so, never judged.
    if (value === undefined) return `| \`${key}\` | ${what} | — | ${goal ? `${goalText}: not measured in this run` : ''} |`;
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
  histogram bucket searches cost what they cost in production. inferwatch runs in both modes, named
  explicitly so the OTel environment variable cannot swap them: \`sdk_*\` with native (base-2 exponential)
  histograms, the default, and \`sdk_classic_*\` with \`histograms: 'classic'\` (explicit buckets). Per token it is
  shown twice: \`tokens()\` reading the clock itself, and \`tokens(1, at)\` for a batch of 64 requests sharing a
  decode step's timestamp, which is the workload the other contenders get. prom-client is shown with label
  objects on every call (its README) and with \`.labels()\` children bound once per model (its fastest use);
  \`@prometheus-io/client\` 0.16, its successor with the same API, with bound children. Both Prometheus clients
  keep their default buckets.
- **SSE tap** (\`sse_tap_ns_per_chunk\`): in one process, ${ROUNDS} rounds of 200 000 chunks after a warm-up of
  40 000, median. Streams of 1000 chunks, each ending with a \`finish_reason\` chunk and \`[DONE]\`; the run
  fails unless every stream was recorded as finished with \`stop\` (${results.sse_streams_finished_stop} streams).
- **Scrape** (\`scrape_*\`): each data set is recorded, and its \`/metrics\` served, in a child process
  (\`bench/scrape-server.mjs\`); the benchmark scrapes it ${SCRAPES} times per variant over HTTP (Node's default agent),
  drops the first ${WARM_UP}, and reports the median time to the last byte and the last answer's size; the run fails if
  an answer is not in the format (or encoding) asked for. Histograms hold realistic values, not one each, since a
  native histogram's size is its populated buckets: every label set gets ${REQUESTS_PER_SERIES} successful requests with the
  workload's queue, prefill and output lengths, one \`tokens(1, at)\` per output token at the workload's gaps, and
  log-normal prompt lengths around 500 (\`bench/scrape-data.mjs\`). The data sets:
  - *50 models*: 50 models × 2 operations, those requests plus one each that is preempted and resumed, fails,
    is aborted and waits, and engine state: the full catalog. Scraped in the default (native) mode as Prometheus
    with native histograms scrapes (its \`Accept\`, which puts the protobuf format first: \`scrape_*_50_models\`) and
    as a text scraper does (\`Accept: text/plain\`: \`scrape_text_*\`), each plain and with \`Accept-Encoding: gzip\`;
    then recorded again with \`histograms: 'classic'\` and scraped as text (\`scrape_classic_text_*\`), the exposition
    before native histograms.
  - *gateway*: the example gateway's recorder, \`startMetrics\` call and two gauges, after ${GATEWAY_REQUESTS} such requests for one
    model; protobuf and text sizes.
  - *${TENANT_MODELS} models × ${TENANTS} tenants*: default options plus a \`tenant\` attribute (\`maxValues: ${TENANTS}\`), every combination
    served; protobuf plain and gzipped (${SCRAPES} scrapes each), and the text's size from one scrape after one dropped.

  The child measures its own event loop (\`monitorEventLoopDelay\`, 1 ms resolution) from each request to 20 ms
  after its response; a block figure is the median over a variant's scrapes of each scrape's longest delay, and
  the worst scrape beside it. Gzip is compressed on the libuv thread pool, so it adds to the scrape's latency,
  not to the block. OTLP: ${SCRAPES} forced exports of the 50-model data (native, so exponential histograms) to a local
  receiver, first ${WARM_UP} dropped, median.
- **Cluster** (\`cluster_*\`, \`bench/cluster.mjs\`): the 50-model data recorded in one process serving its metrics port,
  then in each of 4 \`node:cluster\` workers sharing the port, their primary running \`startMetrics()\`, so any scrape
  answers for the group (the primary gathers the workers' fresh state over IPC, sums it, renders and gzips it). ${SCRAPES}
  protobuf scrapes each, gzipped as Prometheus asks and then plain, the first ${WARM_UP} dropped, median time to the last byte.
  Each process measures its own event loop (\`monitorEventLoopDelay\`, 1 ms resolution) from each request it answers to
  20 ms after its response; the block is the median over the scrapes of that longest delay. Five processes share two
  cores here, so a worker's delay includes time it waited for a core.
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

Ratios from this run, against inferwatch with native histograms: per request, OTel instruments cost
${ratio('otel_ns_per_request', 'sdk_ns_per_request')} inferwatch, prom-client ${ratio('promclient_ns_per_request', 'sdk_ns_per_request')} with label objects and ${ratio('promclient_bound_ns_per_request', 'sdk_ns_per_request')} with bound children,
\`@prometheus-io/client\` ${ratio('prometheusio_bound_ns_per_request', 'sdk_ns_per_request')} with bound children; per batched token, ${ratio('otel_ns_per_token', 'sdk_ns_per_token_batched')}, ${ratio('promclient_ns_per_token', 'sdk_ns_per_token_batched')},
${ratio('promclient_bound_ns_per_token', 'sdk_ns_per_token_batched')} and ${ratio('prometheusio_bound_ns_per_token', 'sdk_ns_per_token_batched')}. Native histograms cost ${ratio('sdk_ns_per_request', 'sdk_classic_ns_per_request', 2)} classic ones per
request and ${ratio('sdk_ns_per_token_batched', 'sdk_classic_ns_per_token_batched', 2)} per batched token. At 50 models, the classic text exposition is ${ratio('scrape_classic_text_bytes_50_models', 'scrape_bytes_50_models')}
the bytes Prometheus with native histograms now receives, and takes ${ratio('scrape_classic_text_ms_50_models', 'scrape_ms_50_models')} as long to scrape.

${notes(results)}
The machine-readable figures are in \`docs/benchmarks.json\`.
`;
    return md;
  }

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const results = JSON.parse(readFileSync(new URL('../docs/benchmarks.json', import.meta.url), 'utf8'));
  writeFileSync(new URL('../docs/benchmarks.md', import.meta.url), render(results));
}
