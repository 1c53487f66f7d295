/**
 * Writes recorders' aggregates straight from their typed storage: the same families, samples and
 * labels as `LlmMetricProducer` followed by the OTel serializer, without building metric data.
 */
import type { Attributes } from '@opentelemetry/api';
import {
  ATTR_ERROR_TYPE,
  ATTR_FINISH_REASON,
  ATTR_MISUSE_REASON,
  ATTR_TOKEN_TYPE,
  COUNTERS,
  FINISH_REASONS,
  GAUGES,
  HISTOGRAMS,
  type GaugeKey,
  type HistogramSpec,
  type ScalarSpec,
} from './catalog.js';
import { ExpositionWriter, escapeLabelValue, labelString, metricName, sanitizeName, type MetricKind } from './exposition.js';
import { currentGauges, type GaugeView } from './gauges.js';
import type { Histogram } from './histogram.js';
import { MISUSE_REASONS } from './misuse.js';
import type { ProducerSource } from './producer.js';
import type { Series } from './series.js';

/** Every label string a series needs, escaped once. */
interface SeriesLabels {
  readonly base: string;
  readonly input: string;
  readonly output: string;
  readonly finished: readonly string[];
  readonly errors: Map<string, string>;
}

const seriesLabels = new WeakMap<Series, SeriesLabels>();
const gaugeLabels = new WeakMap<Attributes, string>();

const label = (key: string, value: string) => `${sanitizeName(key)}="${escapeLabelValue(value)}"`;
const join = (base: string, extra: string) => (base === '' ? extra : `${base},${extra}`);

function labelsOf(s: Series): SeriesLabels {
  let labels = seriesLabels.get(s);
  if (labels === undefined) {
    const base = labelString(s.attributes);
    labels = {
      base,
      input: join(base, label(ATTR_TOKEN_TYPE, 'input')),
      output: join(base, label(ATTR_TOKEN_TYPE, 'output')),
      finished: FINISH_REASONS.map((reason) => join(base, label(ATTR_FINISH_REASON, reason))),
      errors: new Map(),
    };
    seriesLabels.set(s, labels);
  }
  return labels;
}

function errorLabels(labels: SeriesLabels, errorType: string): string {
  let text = labels.errors.get(errorType);
  if (text === undefined) {
    text = join(labels.base, label(ATTR_ERROR_TYPE, errorType));
    labels.errors.set(errorType, text);
  }
  return text;
}

function gaugeLabelsOf(attributes: Attributes): string {
  let text = gaugeLabels.get(attributes);
  if (text === undefined) {
    text = labelString(attributes);
    gaugeLabels.set(attributes, text);
  }
  return text;
}

interface Family {
  readonly spec: HistogramSpec | ScalarSpec;
  readonly kind: MetricKind;
  readonly name: string;
}

const family = (spec: HistogramSpec | ScalarSpec, kind: MetricKind): Family => ({ spec, kind, name: metricName(spec.name, kind)! });

type SeriesHistogram = 'timeToFirstToken' | 'timePerOutputToken' | 'interTokenLatency' | 'queueDuration' | 'inferenceDuration' | 'prefillDuration' | 'decodeDuration';

const REQUEST_DURATION = family(HISTOGRAMS.requestDuration, 'histogram');
const SIMPLE_HISTOGRAMS: ReadonlyArray<[Family, SeriesHistogram]> = (
  ['timeToFirstToken', 'timePerOutputToken', 'interTokenLatency', 'queueDuration', 'inferenceDuration', 'prefillDuration', 'decodeDuration'] as const
).map((key) => [family(HISTOGRAMS[key], 'histogram'), key]);
const TOKEN_USAGE = family(HISTOGRAMS.tokenUsage, 'histogram');
const TOKENS = family(COUNTERS.tokens, 'counter');
const FINISHED = family(COUNTERS.finished, 'counter');
const PREEMPTIONS = family(COUNTERS.preemptions, 'counter');
const MISUSE = family(COUNTERS.misuse, 'counter');
const MISUSE_LABELS = MISUSE_REASONS.map((reason) => label(ATTR_MISUSE_REASON, reason));
const GAUGE_FAMILIES = (Object.keys(GAUGES) as GaugeKey[]).map((key) => [family(GAUGES[key], 'gauge'), key] as const);

interface Snapshot {
  readonly series: Series[];
  readonly gauges: GaugeView;
  readonly misuse: Float64Array;
}

const header = (w: ExpositionWriter, f: Family) => w.family(f.name, f.kind, f.spec.description, f.spec.unit);

function histograms(w: ExpositionWriter, f: Family, snapshots: readonly Snapshot[], pick: (s: Series) => Histogram): void {
  header(w, f);
  for (const { series } of snapshots) for (const s of series) w.histogram(f.name, labelsOf(s).base, pick(s));
}

/** Writes every family of the given recorders, one family at a time across all of them. */
export function writeRecorders(w: ExpositionWriter, sources: readonly ProducerSource[]): void {
  // Gauges first: reading engine callbacks can itself record misuse, which must show in this scrape.
  const snapshots: Snapshot[] = sources.map((source) => {
    const series = [...source.series.values()];
    return { series, gauges: currentGauges(series, source.engine), misuse: source.misuse.counts };
  });

  header(w, REQUEST_DURATION);
  for (const { series } of snapshots) {
    for (const s of series) {
      const labels = labelsOf(s);
      w.histogram(REQUEST_DURATION.name, labels.base, s.requestDuration);
      for (const [errorType, h] of s.errorDurations) w.histogram(REQUEST_DURATION.name, errorLabels(labels, errorType), h);
    }
  }
  for (const [f, key] of SIMPLE_HISTOGRAMS) histograms(w, f, snapshots, (s) => s[key]);

  header(w, TOKEN_USAGE);
  for (const { series } of snapshots) {
    for (const s of series) {
      const labels = labelsOf(s);
      w.histogram(TOKEN_USAGE.name, labels.input, s.inputTokenUsage);
      w.histogram(TOKEN_USAGE.name, labels.output, s.outputTokenUsage);
    }
  }
  header(w, TOKENS);
  for (const { series } of snapshots) {
    for (const s of series) {
      const labels = labelsOf(s);
      w.sample(TOKENS.name, labels.input, s.promptTokens);
      w.sample(TOKENS.name, labels.output, s.outputTokens);
    }
  }
  header(w, FINISHED);
  for (const { series } of snapshots) {
    for (const s of series) {
      const labels = labelsOf(s).finished;
      for (let i = 0; i < labels.length; i++) w.sample(FINISHED.name, labels[i], s.finished[i]);
    }
  }
  header(w, PREEMPTIONS);
  for (const { series } of snapshots) for (const s of series) w.sample(PREEMPTIONS.name, labelsOf(s).base, s.preemptions);

  header(w, MISUSE);
  for (const { misuse } of snapshots) for (let i = 0; i < MISUSE_LABELS.length; i++) w.sample(MISUSE.name, MISUSE_LABELS[i], misuse[i]);

  for (const [f, key] of GAUGE_FAMILIES) {
    if (snapshots.every((s) => s.gauges[key].length === 0)) continue;
    header(w, f);
    for (const { gauges } of snapshots) for (const point of gauges[key]) w.sample(f.name, gaugeLabelsOf(point.attributes), point.value);
  }
}
