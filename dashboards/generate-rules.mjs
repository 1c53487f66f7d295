#!/usr/bin/env node
// @ts-check
// Writes the Prometheus recording and alerting rules (dashboards/prometheus/rules/) from the SLOs and
// thresholds in dashboards/prometheus/slo.yaml: `node dashboards/generate-rules.mjs`. test/alerts checks
// that the committed files are what this writes, runs promtool on them, and runs a shortened copy (see
// `timeScale`) against a live gateway and engine.
//
// Written here rather than with Sloth or Pyrra: both are Go programs (a binary or a Kubernetes
// operator) that this Node toolchain cannot install from npm, and the rules are few. The SRE workbook's
// multi-window, multi-burn-rate alerts are laid out as kube-prometheus lays out its API-server SLO:
// one alert name per SLO, one rule per window pair, labelled `long`, `short` and `severity`.
//
// Every expression that reads a histogram works on both kinds Prometheus may hold: native histograms
// (a Prometheus started with --enable-feature=native-histograms scraping the SDK's protobuf exposition)
// and classic `_bucket`/`_count` series (any other). Each is written `native or classic`: the side whose
// series do not exist is empty.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';

/**
 * @typedef {{ long: string, short: string, factor: number, for: string, severity: string }} BurnRate
 * @typedef {{
 *   by: string[], jobs: string[], runbook_url: string, period: string, min_requests: number,
 *   slos: { ttft: { objective: number, threshold_seconds: number }, availability: { objective: number } },
 *   burn_rates: BurnRate[],
 *   thresholds: { queue_p90_seconds: number, kv_cache_usage: number, event_loop_p99_seconds: number, gpu_temperature_celsius: number, gpu_power_ratio: number },
 * }} Slo
 * @typedef {{ record: string, expr: string, labels?: Record<string, string> }} RecordingRule
 * @typedef {{ alert: string, expr: string, for?: string, labels: Record<string, string>, annotations: { summary: string, description: string, runbook_url: string } }} AlertingRule
 * @typedef {{ name: string, interval: string, rules: (RecordingRule | AlertingRule)[] }} RuleGroup
 */

const here = (/** @type {string} */ path) => fileURLToPath(new URL(path, import.meta.url));
export const SLO_FILE = here('./prometheus/slo.yaml');
export const RULES_DIR = here('./prometheus/rules/');

// The SDK's classic TTFT buckets (the GenAI advice) and the bounds of the classic view it derives from a
// native histogram for text scrapers (2^-10 … 2^4 s). test/alerts holds both to packages/sdk's catalog.
export const TTFT_CLASSIC_BOUNDS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
export const TTFT_POWER_BOUNDS = Array.from({ length: 15 }, (_, i) => 2 ** (i - 10));

const TTFT = 'gen_ai_server_time_to_first_token';
const E2E = 'gen_ai_server_request_duration';
const TPOT = 'gen_ai_server_time_per_output_token';
const ITL = 'inferwatch_request_inter_token_latency';
const QUEUE = 'inferwatch_request_queue_duration';
const QUANTILES = ['0.5', '0.9', '0.99'];
/** Client errors (4xx but 429, which is the server out of capacity) and client cancellations: not the server's failures. */
const NOT_THE_SERVERS = 'cancelled|4(?:[0-1][0-9]|2[0-8]|[3-9][0-9])';
/** The engine-state gauges: counts add up over one process's series, usage averages. */
const ENGINE_GAUGES = { inferwatch_scheduler_running: 'sum', inferwatch_scheduler_waiting: 'sum', inferwatch_scheduler_swapped: 'sum', inferwatch_kv_cache_gpu_usage: 'avg', inferwatch_kv_cache_cpu_usage: 'avg' };
const ENGINE_KEY = 'job, instance, upstream';

/** Recorded series names, for the dashboards and the tests. */
export const RECORDED = {
  requests: 'job_model:inferwatch_requests:rate5m',
  tokens: 'job_model:inferwatch_tokens:rate5m',
  failures: 'job_model:inferwatch_request_failures:rate5m',
  quantile: (/** @type {string} */ metric) => `job_model:${metric}:quantile5m`,
  sloErrors: (/** @type {string} */ window) => `job_model:inferwatch_slo_errors:ratio_rate${window}`,
  sloRequests: (/** @type {string} */ window) => `job_model:inferwatch_slo_requests:rate${window}`,
  engine: (/** @type {string} */ gauge) => `engine:${gauge}:current`,
  preemptions: 'engine:inferwatch_request_preemptions:rate5m',
};

const UNITS = { s: 1, m: 60, h: 3600, d: 86400 };
/** Seconds in a Prometheus duration such as 5m or 30d. */
export function seconds(/** @type {string} */ duration) {
  const match = /^(\d+)([smhd])$/.exec(duration);
  if (!match) throw new Error(`${duration}: not a duration of whole s, m, h or d`);
  return Number(match[1]) * UNITS[/** @type {'s' | 'm' | 'h' | 'd'} */ (match[2])];
}
/** A duration in the largest unit that divides it. */
function duration(/** @type {number} */ s) {
  if (!Number.isInteger(s) || s <= 0) throw new Error(`${s} s cannot be a Prometheus duration`);
  const [unit, size] = Object.entries(UNITS).reverse().find(([, size]) => s % size === 0) ?? ['s', 1];
  return `${s / size}${unit}`;
}

/** The SLO file, checked: a mistake here would otherwise be an alert that can never fire. */
export function loadSlo(path = SLO_FILE) {
  /** @type {Slo} */
  const slo = parse(readFileSync(path, 'utf8'));
  for (const [name, { objective }] of Object.entries(slo.slos)) {
    if (!(objective > 0 && objective < 1)) throw new Error(`slos.${name}.objective must be between 0 and 1, not ${objective}`);
  }
  const t = slo.slos.ttft.threshold_seconds;
  if (!TTFT_CLASSIC_BOUNDS.includes(t) || !TTFT_POWER_BOUNDS.includes(t)) {
    const both = TTFT_CLASSIC_BOUNDS.filter((b) => TTFT_POWER_BOUNDS.includes(b));
    throw new Error(`slos.ttft.threshold_seconds ${t} is not a bucket bound of every classic TTFT histogram the SDK writes; pick one of ${both.join(', ')}`);
  }
  if (!slo.by.includes('job')) throw new Error('by must include job: a gateway and its engines count the same requests');
  for (const b of slo.burn_rates) {
    if (seconds(b.short) >= seconds(b.long)) throw new Error(`burn rate ${b.factor}: the short window ${b.short} must be shorter than the long ${b.long}`);
  }
  return slo;
}

/** 1 - objective without the float residue (1 - 0.99 is 0.010000000000000009). */
const budgetOf = (/** @type {number} */ objective) => Number((1 - objective).toPrecision(12));
const selector = (/** @type {string} */ metric, /** @type {string} */ matchers) => (matchers ? `${metric}{${matchers}}` : metric);
/** An `le` matcher for a bound, as the SDK writes it (`1`) and as Prometheus 3 normalizes it (`1.0`). */
const le = (/** @type {number} */ bound) => `le=~"${String(bound).replaceAll('.', '\\\\.')}${Number.isInteger(bound) ? '(\\\\.0)?' : ''}"`;

/**
 * The rule groups. `timeScale` shortens every window, `for` and group interval by that factor (record
 * names keep the shipped windows): test-only, so a live test sees minutes of alerting in seconds.
 * @param {Slo} slo
 * @returns {{ recording: RuleGroup[], alerting: RuleGroup[] }}
 */
export function ruleGroups(slo, { timeScale = 1, interval = '30s' } = {}) {
  const w = (/** @type {string} */ d) => duration(seconds(d) * timeScale);
  const every = duration(Math.max(1, seconds(interval) * timeScale));
  const by = slo.by.join(', ');
  const on = `on (${by})`;
  const who = slo.by.map((l) => `{{ $labels.${l} }}`).join(' ');

  // Events per second of a histogram, over the window.
  const count = (/** @type {string} */ metric, /** @type {string} */ matchers, /** @type {string} */ win) =>
    `sum by (${by}) (histogram_count(rate(${selector(metric, matchers)}[${win}])))\nor\nsum by (${by}) (rate(${selector(`${metric}_count`, matchers)}[${win}]))`;
  const quantile = (/** @type {string} */ q, /** @type {string} */ metric, /** @type {string} */ matchers, /** @type {string} */ win) =>
    `histogram_quantile(${q}, sum by (${by}) (rate(${selector(metric, matchers)}[${win}])))\nor\nhistogram_quantile(${q}, sum by (${by}, le) (rate(${selector(`${metric}_bucket`, matchers)}[${win}])))`;

  const threshold = slo.slos.ttft.threshold_seconds;
  const valid = `error_type!~"${NOT_THE_SERVERS}"`;
  const bad = `error_type!="", ${valid}`;
  /** Per SLO: the share of its requests that were bad, and its requests per second, over a window. */
  const sli = {
    ttft: {
      errors: (/** @type {string} */ win) =>
        `1 - (\n  histogram_fraction(0, ${threshold}, sum by (${by}) (rate(${TTFT}[${win}])))\n  or\n  sum by (${by}) (rate(${TTFT}_bucket{${le(threshold)}}[${win}]))\n  /\n  sum by (${by}) (rate(${TTFT}_count[${win}]))\n)`,
      requests: (/** @type {string} */ win) => count(TTFT, '', win),
    },
    availability: {
      // A model with no failure at all has no failure series: 0, not absent, so its ratio is recorded too.
      errors: (/** @type {string} */ win) => `(\n${count(E2E, bad, win)}\nor\n0 * (${count(E2E, valid, win).replaceAll('\n', ' ')})\n)\n/\n(${count(E2E, valid, win).replaceAll('\n', ' ')})`,
      requests: (/** @type {string} */ win) => count(E2E, valid, win),
    },
  };
  const windows = [...new Set([...slo.burn_rates.flatMap((b) => [b.short, b.long]), slo.period])].sort((a, b) => seconds(a) - seconds(b));
  const longWindows = [...new Set([...slo.burn_rates.map((b) => b.long), slo.period])];

  /** @type {RuleGroup[]} */
  const recording = [
    {
      name: 'inferwatch-requests',
      interval: every,
      rules: [
        { record: RECORDED.requests, expr: `sum by (${by}) (rate(inferwatch_requests_finished_total[${w('5m')}]))` },
        { record: RECORDED.tokens, expr: `sum by (${by}, gen_ai_token_type) (rate(inferwatch_tokens_total[${w('5m')}]))` },
        // Every request that did not succeed, by error.type: cancellations and client errors included.
        {
          record: RECORDED.failures,
          expr: `sum by (${by}, error_type) (histogram_count(rate(${E2E}{error_type!=""}[${w('5m')}])))\nor\nsum by (${by}, error_type) (rate(${E2E}_count{error_type!=""}[${w('5m')}]))`,
        },
      ],
    },
    {
      name: 'inferwatch-latency',
      interval: every,
      rules: [
        // TTFT and ITL are recorded before a request's fate is known: every request that got that far.
        // E2E: successful requests only (failures and aborts carry error.type). TPOT: successes by construction.
        ...[
          [TTFT, ''],
          [E2E, 'error_type=""'],
          [TPOT, ''],
          [ITL, ''],
          [QUEUE, ''],
        ].flatMap(([metric, matchers]) => QUANTILES.map((q) => ({ record: RECORDED.quantile(metric), expr: quantile(q, metric, matchers, w('5m')), labels: { quantile: q } }))),
      ],
    },
    {
      name: 'inferwatch-slo',
      interval: every,
      rules: Object.entries(sli).flatMap(([name, s]) => [
        ...windows.map((win) => ({ record: RECORDED.sloErrors(win), expr: s.errors(w(win)), labels: { slo: name } })),
        ...longWindows.map((win) => ({ record: RECORDED.sloRequests(win), expr: s.requests(w(win)), labels: { slo: name } })),
      ]),
    },
    {
      // An engine counted once: the replicas of a gateway each bridge the same engine's state (label
      // upstream), so those are averaged per upstream (a sum would count the engine once per replica);
      // a process reporting its own state (no upstream) is summed over its series (models, attributes).
      name: 'inferwatch-engine',
      interval: every,
      rules: [
        ...Object.entries(ENGINE_GAUGES).map(([gauge, own]) => ({
          record: RECORDED.engine(gauge),
          expr: `avg by (job, upstream) (${gauge}{upstream!=""})\nor\n${own} by (job, instance) (${gauge}{upstream=""})`,
        })),
        { record: RECORDED.preemptions, expr: `sum by (job, instance) (rate(inferwatch_request_preemptions_total[${w('5m')}]))` },
      ],
    },
  ];

  const runbook = (/** @type {string} */ alert) => `${slo.runbook_url}#${alert.toLowerCase()}`;
  /** @returns {AlertingRule} */
  const alert = (/** @type {string} */ name, /** @type {string} */ expr, /** @type {string} */ forDuration, /** @type {Record<string, string>} */ labels, /** @type {string} */ summary, /** @type {string} */ description) => ({
    alert: name,
    expr,
    for: w(forDuration),
    labels,
    annotations: { summary, description, runbook_url: runbook(name) },
  });

  const burn = (/** @type {'ttft' | 'availability'} */ name, /** @type {string} */ alertName, /** @type {string} */ what) => {
    const budget = budgetOf(slo.slos[name].objective);
    return slo.burn_rates.map((b) => {
      // Enough requests that one bad request alone stays under the rate, and at least min_requests.
      const least = Math.max(slo.min_requests, Math.floor(1 / (b.factor * budget)) + 1);
      const errors = (/** @type {string} */ win) => `${RECORDED.sloErrors(win)}{slo="${name}"} / ${budget}`;
      return alert(
        alertName,
        `(\n  ${errors(b.long)} > ${b.factor}\n  and ${on}\n  ${errors(b.short)} > ${b.factor}\n)\nand ${on}\n${RECORDED.sloRequests(b.long)}{slo="${name}"} * ${seconds(w(b.long))} >= ${least}`,
        b.for,
        { severity: b.severity, long: b.long, short: b.short },
        `${who}: ${what} burns the error budget ${b.factor}x too fast`,
        `Over the last ${b.long} and ${b.short}, more than ${b.factor} x ${budget * 100} % of requests ${what === 'TTFT' ? `had no first token within ${threshold} s` : 'failed'}: the last ${b.long} spent the ${slo.period} error budget {{ $value | printf "%.1f" }}x as fast as it lasts.`,
      );
    });
  };

  const jobs = `job=~"${slo.jobs.join('|')}"`;
  const t = slo.thresholds;
  const engine = (/** @type {string} */ gauge) => RECORDED.engine(gauge);
  const whichEngine = '{{ with $labels.upstream }}{{ . }}{{ else }}{{ $labels.instance }}{{ end }} ({{ $labels.job }})';
  const gpuKey = 'hw_id, gpu_index, hw_name';
  /** @type {RuleGroup[]} */
  const alerting = [
    {
      name: 'inferwatch-slo-alerts',
      interval: every,
      rules: [
        ...burn('ttft', 'InferwatchTTFTBudgetBurn', 'TTFT'),
        ...burn('availability', 'InferwatchErrorBudgetBurn', 'the error ratio'),
        alert(
          'InferwatchTTFTUnmeasurable',
          `sum by (${by}) (rate(${TTFT}_count[${w('1h')}])) > 0\nunless ${on}\nsum by (${by}) (rate(${TTFT}_bucket{${le(threshold)}}[${w('1h')}]))`,
          '15m',
          { severity: 'ticket' },
          `${who}: the TTFT SLO cannot be measured`,
          `{{ $value | printf "%.3g" }} requests/s get a first token, but their classic histogram has no bucket bound at ${threshold} s, so the TTFT SLO and its burn-rate alerts see nothing.`,
        ),
      ],
    },
    {
      name: 'inferwatch-alerts',
      interval: every,
      rules: [
        alert(
          'InferwatchQueueTimeHigh',
          `${RECORDED.quantile(QUEUE)}{quantile="0.9"} > ${t.queue_p90_seconds}\nand ${on}\n${RECORDED.requests} * ${seconds(w('5m'))} >= ${slo.min_requests}`,
          '10m',
          { severity: 'ticket' },
          `${who}: requests wait long before they are scheduled`,
          `p90 of the time requests waited for a slot over the last 5m is {{ $value | humanizeDuration }} (threshold ${t.queue_p90_seconds} s).`,
        ),
        // Waiting and none running through a whole minute: an engine's scrape can land between a request's
        // arrival and the step that admits it, which is no stall.
        alert(
          'InferwatchEngineStalled',
          `min_over_time(${engine('inferwatch_scheduler_waiting')}[${w('1m')}]) > 0\nand on (${ENGINE_KEY})\nmax_over_time(${engine('inferwatch_scheduler_running')}[${w('1m')}]) == 0`,
          '1m',
          { severity: 'page' },
          `Engine ${whichEngine} is stalled: requests wait and none runs`,
          `{{ $value }} requests have been waiting, and none running, for over a minute: the engine admits nothing.`,
        ),
        alert(
          'InferwatchKVCacheFullPreempting',
          `${engine('inferwatch_kv_cache_gpu_usage')} > ${t.kv_cache_usage}\nand on (${ENGINE_KEY})\n(\n  ${RECORDED.preemptions} > 0\n  or\n  ${engine('inferwatch_scheduler_swapped')} > 0\n)`,
          '10m',
          { severity: 'ticket' },
          `Engine ${whichEngine}: KV cache full and requests preempted`,
          `GPU KV-cache usage is {{ $value | humanizePercentage }} (threshold ${t.kv_cache_usage * 100} %) while requests are being preempted or swapped: each preemption redoes or moves work.`,
        ),
        alert(
          'InferwatchEngineStateStuck',
          `(${engine('inferwatch_scheduler_running')} + ${engine('inferwatch_scheduler_waiting')}) > 0\nand on (job)\nsum by (job) (rate(inferwatch_requests_finished_total[${w('15m')}])) == 0\nand on (job)\nsum by (job) (rate(inferwatch_tokens_total[${w('15m')}])) == 0`,
          '15m',
          { severity: 'ticket' },
          `Engine ${whichEngine} reports requests in flight but serves none`,
          `The engine reports {{ $value }} requests running or waiting, yet no request finished and no token was generated in ${w('15m')}: its gauges are stale (vLLM #29928) or it is hung.`,
        ),
        alert('InferwatchTargetDown', `up{${jobs}} == 0`, '5m', { severity: 'ticket' }, `{{ $labels.instance }} ({{ $labels.job }}) cannot be scraped`, 'Prometheus has failed to scrape this target for 5 minutes (up = {{ $value }}): its metrics and alerts are blind.'),
        alert(
          'InferwatchTargetAbsent',
          [`sum by (job) (up{${jobs}}) == 0`, ...slo.jobs.map((j) => `absent(up{job="${j}"}) * 0`)].join('\nor\n'),
          '5m',
          { severity: 'page' },
          'No target of {{ $labels.job }} is up',
          'Prometheus has {{ $value }} targets up for {{ $labels.job }}: every alert on it is blind.',
        ),
        alert(
          'InferwatchEventLoopDelayHigh',
          `avg_over_time(nodejs_eventloop_delay_p99{${jobs}}[${w('5m')}]) > ${t.event_loop_p99_seconds}`,
          '10m',
          { severity: 'ticket' },
          `{{ $labels.instance }} ({{ $labels.job }}): the event loop runs late`,
          `The event loop's p99 delay averaged {{ $value | humanizeDuration }} over 5m (threshold ${t.event_loop_p99_seconds * 1000} ms): every request waits that long before any timer of its own starts.`,
        ),
        alert(
          'InferwatchGPUHot',
          `max by (${gpuKey}) (hw_temperature{hw_type="gpu"}) > ${t.gpu_temperature_celsius}`,
          '10m',
          { severity: 'ticket' },
          'GPU {{ $labels.gpu_index }} {{ $labels.hw_name }} ({{ $labels.hw_id }}) runs hot',
          `The GPU is at {{ $value }} °C (threshold ${t.gpu_temperature_celsius} °C); near its slowdown temperature it lowers its clocks.`,
        ),
        alert(
          'InferwatchGPUPowerCapped',
          `max by (${gpuKey}) (hw_power{hw_type="gpu"})\n/\nmax by (${gpuKey}) (inferwatch_gpu_power_limit{hw_type="gpu"})\n>= ${t.gpu_power_ratio}`,
          '15m',
          { severity: 'ticket' },
          'GPU {{ $labels.gpu_index }} {{ $labels.hw_name }} ({{ $labels.hw_id }}) is held at its power limit',
          `The GPU draws {{ $value | humanizePercentage }} of its power limit (threshold ${t.gpu_power_ratio * 100} %): it is throttling its clocks to stay under it.`,
        ),
      ],
    },
  ];
  return { recording, alerting };
}

const HEADER = (/** @type {string} */ what) =>
  `# ${what} for servers instrumented with inferwatch. Generated by dashboards/generate-rules.mjs from\n# dashboards/prometheus/slo.yaml: edit those, not this file. Runbooks: docs/alerts.md.\n`;

/** The two rule files, as written to dashboards/prometheus/rules/. */
export function renderRules(slo = loadSlo(), options = {}) {
  const { recording, alerting } = ruleGroups(slo, options);
  const yaml = (/** @type {RuleGroup[]} */ groups) => stringify({ groups }, { lineWidth: 0 });
  return {
    'inferwatch-recording.yaml': HEADER('Recording rules') + yaml(recording),
    'inferwatch-alerts.yaml': HEADER('Alerting rules') + yaml(alerting),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const [file, text] of Object.entries(renderRules())) writeFileSync(`${RULES_DIR}${file}`, text);
}
