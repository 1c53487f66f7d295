#!/usr/bin/env node
// @ts-check
// Writes the two Grafana dashboards from the panel lists below, so the JSON stays consistent
// (every query through the datasource variable, aggregated across instances). `node dashboards/generate.mjs`;
// test/dashboards checks that the committed JSON is what this writes, and `npm run typecheck` checks this
// file against Grafana's own types (dashboards/grafana-types.d.ts).
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadSlo, RECORDED } from './generate-rules.mjs';

/**
 * @typedef {import('./grafana-types.js').Dashboard} Dashboard
 * @typedef {import('./grafana-types.js').DataSourceRef} DataSourceRef
 * @typedef {import('./grafana-types.js').FieldConfig} FieldConfig
 * @typedef {import('./grafana-types.js').GridPos} GridPos
 * @typedef {import('./grafana-types.js').PanelOptions} PanelOptions
 * @typedef {import('./grafana-types.js').PanelType} PanelType
 * @typedef {import('./grafana-types.js').PromQuery} PromQuery
 * @typedef {import('./grafana-types.js').RowPanel} RowPanel
 * @typedef {import('./grafana-types.js').VariableModel} VariableModel
 * @typedef {{ expr: string, legendFormat: string, format?: 'heatmap', instant?: boolean }} Target
 */
/**
 * @template {PanelType} T
 * @typedef {import('./grafana-types.js').Panel<T>} Panel
 */

/** @satisfies {DataSourceRef} */
const DS = { type: 'prometheus', uid: '${datasource}' };
const SEL = 'job=~"$job", instance=~"$instance"';
// Request panels also filter by `tenant`, a request attribute a server may declare (docs/metrics.md):
// its All is `.*`, which in PromQL also matches series without the label, so servers that declare
// none show the same numbers as without the variable.
const MSEL = `${SEL}, gen_ai_request_model=~"$model", tenant=~"$tenant"`;
const PERCENTILES = [0.5, 0.9, 0.95, 0.99];

// Latency panels count successful requests (no error.type) unless their title says otherwise;
// failures and aborts have their own panel, by error.type.
// Native histograms first: a Prometheus that scrapes them keeps one series per histogram under the bare
// name (and drops its classic buckets); classic buckets (`_bucket`, by `le`) otherwise: a text scraper, a
// server in classic mode, another exporter. Each query reads whichever the job has.
/** @returns {Target[]} */
const quantiles = (/** @type {string} */ metric, filter = '') =>
  PERCENTILES.map((q) => ({
    expr: `histogram_quantile(${q}, sum(rate(${metric}{${MSEL}${filter}}[$__rate_interval]))) or histogram_quantile(${q}, sum by (le) (rate(${metric}_bucket{${MSEL}${filter}}[$__rate_interval])))`,
    legendFormat: `p${q * 100}`,
  }));
const SUCCESS = ', error_type=""';
// A native histogram has no `_count` series: its count is histogram_count() of the histogram.
/** @type {Target[]} */
const failures = [
  {
    expr: `sum by (error_type) (histogram_count(rate(gen_ai_server_request_duration{${MSEL}, error_type!=""}[$__rate_interval]))) or sum by (error_type) (rate(gen_ai_server_request_duration_count{${MSEL}, error_type!=""}[$__rate_interval]))`,
    legendFormat: '{{error_type}}',
  },
];
const tokenRate = (/** @type {string} */ type, /** @type {string} */ legend) => ({ expr: `sum(rate(inferwatch_tokens_total{${MSEL}, gen_ai_token_type="${type}"}[$__rate_interval]))`, legendFormat: legend });
// One truth per engine: every gateway replica bridges the same upstream's state (label `upstream`), so
// those series count once per upstream, as the replicas' average: each samples the engine at its own
// moments, and their max would read high whenever the state moves. Series an engine or a server reports
// about itself (no `upstream`) add up across instances.
const perEngine = (/** @type {string} */ metric) => `avg by (upstream) (${metric}{${SEL}, upstream!=""}) or ${metric}{${SEL}, upstream=""}`;
const scheduler = ['running', 'swapped', 'waiting'].map((state) => ({ expr: `sum(${perEngine(`inferwatch_scheduler_${state}`)})`, legendFormat: state }));
const range = (/** @type {number} */ from, /** @type {number} */ to) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
/** Exponents of the bounds of each distribution panel: the SDK's text view of the metric (test/dashboards checks they agree). */
export const DISTRIBUTION_POWERS = {
  inferwatch_request_inference_duration: range(-10, 8),
  inferwatch_request_queue_duration: range(-10, 8),
  gen_ai_server_time_to_first_token: range(-10, 4),
  inferwatch_request_inter_token_latency: range(-10, 4),
};
/**
 * Requests at or below each bound over the dashboard's range, as cumulative `le` series a bar gauge in
 * heatmap format draws: from native histograms, counted at the powers of two 2^powers[i] (the bounds the
 * SDK's classic view of the metric uses, so both read alike), or from the classic buckets.
 * @param {keyof typeof DISTRIBUTION_POWERS} metric
 * @returns {Target[]}
 */
const distribution = (metric) => {
  const powers = DISTRIBUTION_POWERS[metric];
  const h = `sum(increase(${metric}{${MSEL}}[$__range]))`;
  const native = [...powers.map((p) => [`histogram_fraction(0, ${2 ** p}, ${h}) * histogram_count(${h})`, String(2 ** p)]), [`histogram_count(${h})`, '+Inf']]
    .map(([expr, le]) => `label_replace(${expr}, "le", "${le}", "", "")`)
    .join(' or ');
  return [{ expr: `${native} or sum by (le) (increase(${metric}_bucket{${MSEL}}[$__range]))`, legendFormat: '{{le}}', format: 'heatmap', instant: true }];
};
// GPUs are the host's: several processes polling the same GPU report the same hw.id, drawn once.
const GPU_KEY = 'hw_id, gpu_index, hw_name';
const perGpu = (/** @type {string} */ expr) => [{ expr, legendFormat: 'GPU {{gpu_index}} {{hw_name}} ({{hw_id}})' }];

const GPU = {
  utilization: perGpu(`max by (${GPU_KEY}) (hw_gpu_utilization{${SEL}})`),
  memory: perGpu(`max by (${GPU_KEY}) (hw_gpu_memory_usage{${SEL}}) / max by (${GPU_KEY}) (hw_gpu_memory_limit{${SEL}})`),
  power: perGpu(`max by (${GPU_KEY}) (hw_power{${SEL}})`),
  temperature: perGpu(`max by (${GPU_KEY}) (hw_temperature{${SEL}})`),
  processMemory: [{ expr: `max by (hw_id, gpu_index, process_pid) (inferwatch_gpu_process_memory_usage{${SEL}})`, legendFormat: 'GPU {{gpu_index}} pid {{process_pid}} ({{hw_id}})' }],
};
// The event loop is each process's own: one line per instance.
const EVENT_LOOP = {
  delay: ['max', 'p99'].map((stat) => ({ expr: `max by (instance) (nodejs_eventloop_delay_${stat}{${SEL}})`, legendFormat: `${stat} {{instance}}` })),
  utilization: [{ expr: `max by (instance) (nodejs_eventloop_utilization{${SEL}})`, legendFormat: '{{instance}}' }],
};

// The SLOs, read from the series the inferwatch recording rules keep (docs/alerts.md): a 30-day ratio
// straight from the raw histograms would scan a month of samples at every refresh. Recorded per job and
// model, so these panels follow $job and $model but not $instance or $tenant, and their titles say so.
const SLO = loadSlo();
const SLO_SEL = 'job=~"$job", gen_ai_request_model=~"$model"';
const SLO_NAMES = { ttft: 'TTFT', availability: 'availability' };
const budgetOf = (/** @type {number} */ objective) => Number((1 - objective).toPrecision(12));
const sloShare = (/** @type {'ttft' | 'availability'} */ slo) => [
  { expr: `max by (gen_ai_request_model) (1 - ${RECORDED.sloErrors(SLO.period)}{${SLO_SEL}, slo="${slo}"})`, legendFormat: '{{gen_ai_request_model}}' },
];
const budgets = /** @type {const} */ (['ttft', 'availability']).map((slo) => ({
  slo,
  budget: budgetOf(SLO.slos[slo].objective),
}));
const budgetLeft = budgets.map(({ slo, budget }) => ({
  expr: `max by (gen_ai_request_model) (1 - ${RECORDED.sloErrors(SLO.period)}{${SLO_SEL}, slo="${slo}"} / ${budget})`,
  legendFormat: `{{gen_ai_request_model}} ${SLO_NAMES[slo]}`,
}));
const burnRate = budgets.map(({ slo, budget }) => ({
  expr: `max by (gen_ai_request_model) (${RECORDED.sloErrors('1h')}{${SLO_SEL}, slo="${slo}"} / ${budget})`,
  legendFormat: `{{gen_ai_request_model}} ${SLO_NAMES[slo]}`,
}));
const percent = (/** @type {number} */ x) => `${Number((x * 100).toPrecision(12))} %`;

let nextId = 1;
/**
 * @template {PanelType} T
 * @param {T} type
 * @param {string} title
 * @param {Target[]} targets
 * @param {GridPos} gridPos
 * @param {FieldConfig} fieldConfig
 * @param {PanelOptions[T]} options
 * @returns {Panel<T>}
 */
function panel(type, title, targets, gridPos, fieldConfig, options) {
  return {
    id: nextId++,
    type,
    title,
    datasource: DS,
    gridPos,
    fieldConfig: { defaults: fieldConfig, overrides: [] },
    options,
    targets: targets.map((t, i) => ({ datasource: DS, refId: String.fromCharCode(65 + i), range: !t.instant, ...t })),
  };
}
/** @typedef {(title: string, targets: Target[], gridPos: GridPos, unit: string) => Panel<PanelType>} MakePanel */
/** @type {MakePanel} */
const ts = (title, targets, gridPos, unit) => panel('timeseries', title, targets, gridPos, { unit, min: 0 }, { legend: { displayMode: 'list', placement: 'bottom' }, tooltip: { mode: 'multi' } });
/** @type {MakePanel} */
const stat = (title, targets, gridPos, unit) => panel('stat', title, targets, gridPos, { unit, decimals: 1 }, { reduceOptions: { calcs: ['lastNotNull'] }, graphMode: 'area' });
const heat = (/** @type {string} */ title, /** @type {Target[]} */ targets, /** @type {GridPos} */ gridPos) =>
  panel('bargauge', title, targets, gridPos, { unit: 'short', min: 0 }, { displayMode: 'gradient', orientation: 'vertical', reduceOptions: { calcs: ['lastNotNull'] } });
/**
 * @template {Panel<PanelType>} P
 * @param {P} p
 * @param {string} description
 * @returns {P}
 */
const described = (p, description) => ({ ...p, description });
// A gateway learns a request's prompt tokens from the usage its response ends with; an engine counts them
// once prefill is done. Streams aborted before their end add prompt tokens on the engine and none on a gateway.
const PROMPT_TOKENS =
  'Prompt tokens of requests past prefill, as this job knows them. An engine counts them once prefill is done; a gateway learns them from the usage that ends a response, so a stream its client aborts adds none there, and a gateway reads below its engines when clients abort (docs/metrics.md, What the dashboards show).';
/** @returns {RowPanel} */
const row = (/** @type {string} */ title, /** @type {number} */ y) => ({ id: nextId++, type: 'row', title, collapsed: false, gridPos: { x: 0, y, w: 24, h: 1 }, panels: [] });

// One job at a time: a gateway and the engines behind it count the same requests, and their
// histograms need not share buckets, so summing across jobs would double-count and mix buckets.
// Instances and models of that job are summed (All by default).
/** @returns {VariableModel} */
const variable = (/** @type {string} */ name, /** @type {string} */ query, /** @type {boolean} */ all) => ({
  name,
  label: name[0].toUpperCase() + name.slice(1),
  type: 'query',
  datasource: DS,
  query: { query, refId: `${name}-values` },
  refresh: 2,
  includeAll: all,
  multi: all,
  ...(all ? { allValue: '.*', current: { selected: true, text: ['All'], value: ['$__all'] } } : {}),
  hide: 0,
  sort: 1,
});
/** @type {VariableModel[]} */
const variables = [
  { name: 'datasource', label: 'Data source', type: 'datasource', query: 'prometheus', hide: 0 },
  variable('job', 'label_values(inferwatch_requests_finished_total, job)', false),
  variable('instance', 'label_values(inferwatch_requests_finished_total{job=~"$job"}, instance)', true),
  variable('model', 'label_values(inferwatch_requests_finished_total{job=~"$job", instance=~"$instance"}, gen_ai_request_model)', true),
  variable('tenant', 'label_values(inferwatch_requests_finished_total{job=~"$job", instance=~"$instance"}, tenant)', true),
];

/**
 * @param {string} uid
 * @param {string} title
 * @param {(Panel<PanelType> | RowPanel)[]} panels
 * @param {string} time
 * @param {string} refresh
 * @param {string} description
 * @returns {Dashboard}
 */
function dashboard(uid, title, panels, time, refresh, description) {
  return {
    uid,
    title,
    description,
    tags: ['inferwatch', 'llm'],
    timezone: 'browser',
    schemaVersion: 39,
    version: 1,
    editable: true,
    graphTooltip: 1,
    time: { from: time, to: 'now' },
    refresh,
    templating: { list: variables },
    annotations: { list: [] },
    panels,
  };
}

nextId = 1;
const overview = dashboard(
  'inferwatch-overview',
  'inferwatch / LLM serving overview',
  [
    ts('E2E request latency', quantiles('gen_ai_server_request_duration', SUCCESS), { x: 0, y: 0, w: 12, h: 8 }, 's'),
    described(ts('Token throughput', [tokenRate('input', 'prompt tokens/s'), tokenRate('output', 'generation tokens/s')], { x: 12, y: 0, w: 12, h: 8 }, 'short'), PROMPT_TOKENS),
    ts('Time per output token latency', quantiles('gen_ai_server_time_per_output_token'), { x: 0, y: 8, w: 12, h: 8 }, 's'),
    ts('Scheduler state', scheduler, { x: 12, y: 8, w: 12, h: 8 }, 'short'),
    ts('Time to first token latency (every request that got a first token)', quantiles('gen_ai_server_time_to_first_token'), { x: 0, y: 16, w: 12, h: 8 }, 's'),
    ts(
      'Cache utilization',
      [
        { expr: `avg(${perEngine('inferwatch_kv_cache_gpu_usage')})`, legendFormat: 'GPU KV cache' },
        { expr: `avg(${perEngine('inferwatch_kv_cache_cpu_usage')})`, legendFormat: 'CPU KV cache' },
      ],
      { x: 12, y: 16, w: 12, h: 8 },
      'percentunit',
    ),
    ts('Failed and aborted requests by error.type', failures, { x: 0, y: 24, w: 24, h: 8 }, 'reqps'),
    ts('GPU utilization', GPU.utilization, { x: 0, y: 32, w: 12, h: 8 }, 'percentunit'),
    ts('GPU memory used', GPU.memory, { x: 12, y: 32, w: 12, h: 8 }, 'percentunit'),
    ts('GPU power', GPU.power, { x: 0, y: 40, w: 12, h: 8 }, 'watt'),
    ts('GPU temperature', GPU.temperature, { x: 12, y: 40, w: 12, h: 8 }, 'celsius'),
    row(`SLOs over ${SLO.period}, per model (recorded rules: every instance and tenant)`, 48),
    stat(`TTFT: share of first tokens within ${SLO.slos.ttft.threshold_seconds} s (objective ${percent(SLO.slos.ttft.objective)})`, sloShare('ttft'), { x: 0, y: 49, w: 8, h: 6 }, 'percentunit'),
    stat(`Availability: share of requests the server did not fail (objective ${percent(SLO.slos.availability.objective)})`, sloShare('availability'), { x: 8, y: 49, w: 8, h: 6 }, 'percentunit'),
    stat('Error budget left', budgetLeft, { x: 16, y: 49, w: 8, h: 6 }, 'percentunit'),
    ts('Burn rate over 1 h (1: the budget lasts the period; 14.4 pages)', burnRate, { x: 0, y: 55, w: 24, h: 8 }, 'short'),
  ],
  'now-24h',
  '30s',
  'Request latency, throughput, scheduler state, KV cache, failures and GPUs of LLM servers and gateways instrumented with inferwatch.',
);

nextId = 1;
const realtime = dashboard(
  'inferwatch-realtime',
  'inferwatch / LLM serving real-time',
  [
    row('Inference Request Metrics', 0),
    described(stat('Average prompt throughput', [{ expr: `sum(rate(inferwatch_tokens_total{${MSEL}, gen_ai_token_type="input"}[1m]))`, legendFormat: 'tokens/s' }], { x: 0, y: 1, w: 6, h: 5 }, 'short'), PROMPT_TOKENS),
    stat('Average generation throughput', [{ expr: `sum(rate(inferwatch_tokens_total{${MSEL}, gen_ai_token_type="output"}[1m]))`, legendFormat: 'tokens/s' }], { x: 6, y: 1, w: 6, h: 5 }, 'short'),
    described(ts('Prompt tokens', [tokenRate('input', 'prompt tokens/s')], { x: 12, y: 1, w: 6, h: 5 }, 'short'), PROMPT_TOKENS),
    ts('Generation tokens', [tokenRate('output', 'generation tokens/s')], { x: 18, y: 1, w: 6, h: 5 }, 'short'),
    ts('Scheduler running / swapped / waiting', scheduler, { x: 0, y: 6, w: 24, h: 7 }, 'short'),
    heat('Inference compute duration', distribution('inferwatch_request_inference_duration'), { x: 0, y: 13, w: 12, h: 8 }),
    heat('Inference queue duration (every scheduled request)', distribution('inferwatch_request_queue_duration'), { x: 12, y: 13, w: 12, h: 8 }),
    heat('Time to first token (every request that got a first token)', distribution('gen_ai_server_time_to_first_token'), { x: 0, y: 21, w: 12, h: 8 }),
    // Beside TTFT: the wait before a handler runs at all, which no request timer can see.
    ts('Event-loop delay (before any handler runs)', EVENT_LOOP.delay, { x: 12, y: 21, w: 6, h: 8 }, 's'),
    ts('Event-loop utilization', EVENT_LOOP.utilization, { x: 18, y: 21, w: 6, h: 8 }, 'percentunit'),
    heat('Inter-token latency (every request, failed ones included)', distribution('inferwatch_request_inter_token_latency'), { x: 0, y: 29, w: 12, h: 8 }),
    ts('Failed and aborted requests by error.type', failures, { x: 12, y: 29, w: 12, h: 8 }, 'reqps'),
    row('Hardware Infrastructure Metrics', 37),
    ts('GPU utilization', GPU.utilization, { x: 0, y: 38, w: 12, h: 8 }, 'percentunit'),
    ts('GPU memory used', GPU.memory, { x: 12, y: 38, w: 12, h: 8 }, 'percentunit'),
    ts('GPU power', GPU.power, { x: 0, y: 46, w: 8, h: 8 }, 'watt'),
    ts('GPU temperature', GPU.temperature, { x: 8, y: 46, w: 8, h: 8 }, 'celsius'),
    ts('GPU memory held by the server process', GPU.processMemory, { x: 16, y: 46, w: 8, h: 8 }, 'bytes'),
  ],
  'now-5m',
  '5s',
  'The last five minutes, refreshed every 5 s: throughput, scheduler state, latency distributions, the event loop, failures and GPUs.',
);

const here = (/** @type {string} */ path) => fileURLToPath(new URL(path, import.meta.url));
export const DASHBOARDS = { 'inferwatch-overview.json': overview, 'inferwatch-realtime.json': realtime };

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const [file, json] of Object.entries(DASHBOARDS)) writeFileSync(here(`./grafana/dashboards/${file}`), `${JSON.stringify(json, null, 2)}\n`);
}
