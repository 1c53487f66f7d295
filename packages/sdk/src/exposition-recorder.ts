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
import {
  ExpositionWriter,
  escapeLabelValue,
  histogramName,
  labelString,
  metricName,
  sampleName,
  sanitizeName,
  type HistogramName,
  type MetricKind,
  type SampleName,
} from './exposition.js';
import { currentGauges, type GaugeView } from './gauges.js';
import type { Histogram } from './histogram.js';
import { MISUSE_REASONS } from './misuse.js';
import { SIMPLE_HISTOGRAMS, type ProducerSource } from './producer.js';
import type { Series } from './series.js';

/** Every label set a series needs, escaped and encoded once. */
interface SeriesLabels {
  readonly text: string;
  readonly base: Uint8Array;
  readonly input: Uint8Array;
  readonly output: Uint8Array;
  readonly finished: readonly Uint8Array[];
  readonly errors: Map<string, Uint8Array>;
}

const seriesLabels = new WeakMap<Series, SeriesLabels>();
const gaugeLabels = new WeakMap<Attributes, Uint8Array>();

const encode = (text: string) => Buffer.from(text, 'utf8');
const label = (key: string, value: string) => `${sanitizeName(key)}="${escapeLabelValue(value)}"`;
const join = (base: string, extra: string) => encode(base === '' ? extra : `${base},${extra}`);

function labelsOf(s: Series): SeriesLabels {
  let labels = seriesLabels.get(s);
  if (labels === undefined) {
    const text = labelString(s.attributes);
    labels = {
      text,
      base: encode(text),
      input: join(text, label(ATTR_TOKEN_TYPE, 'input')),
      output: join(text, label(ATTR_TOKEN_TYPE, 'output')),
      finished: FINISH_REASONS.map((reason) => join(text, label(ATTR_FINISH_REASON, reason))),
      errors: new Map(),
    };
    seriesLabels.set(s, labels);
  }
  return labels;
}

function errorLabels(labels: SeriesLabels, errorType: string): Uint8Array {
  let bytes = labels.errors.get(errorType);
  if (bytes === undefined) {
    bytes = join(labels.text, label(ATTR_ERROR_TYPE, errorType));
    labels.errors.set(errorType, bytes);
  }
  return bytes;
}

function gaugeLabelsOf(attributes: Attributes): Uint8Array {
  let bytes = gaugeLabels.get(attributes);
  if (bytes === undefined) {
    bytes = encode(labelString(attributes));
    gaugeLabels.set(attributes, bytes);
  }
  return bytes;
}

interface Family {
  readonly spec: HistogramSpec | ScalarSpec;
  readonly kind: MetricKind;
  readonly name: string;
}
interface HistogramFamily extends Family {
  readonly samples: HistogramName;
}
interface ScalarFamily extends Family {
  readonly samples: SampleName;
}

function family(spec: HistogramSpec | ScalarSpec, kind: MetricKind): Family {
  return { spec, kind, name: metricName(spec.name, kind)! };
}
const histogramFamily = (spec: HistogramSpec): HistogramFamily => {
  const f = family(spec, 'histogram');
  return { ...f, samples: histogramName(f.name) };
};
const scalarFamily = (spec: ScalarSpec, kind: 'counter' | 'gauge'): ScalarFamily => {
  const f = family(spec, kind);
  return { ...f, samples: sampleName(f.name) };
};

const REQUEST_DURATION = histogramFamily(HISTOGRAMS.requestDuration);
const SERIES_HISTOGRAMS = SIMPLE_HISTOGRAMS.map(([spec, key]) => [histogramFamily(spec), key] as const);
const TOKEN_USAGE = histogramFamily(HISTOGRAMS.tokenUsage);
const TOKENS = scalarFamily(COUNTERS.tokens, 'counter');
const FINISHED = scalarFamily(COUNTERS.finished, 'counter');
const PREEMPTIONS = scalarFamily(COUNTERS.preemptions, 'counter');
const MISUSE = scalarFamily(COUNTERS.misuse, 'counter');
const MISUSE_LABELS = MISUSE_REASONS.map((reason) => encode(label(ATTR_MISUSE_REASON, reason)));
const GAUGE_FAMILIES = (Object.keys(GAUGES) as GaugeKey[]).map((key) => [scalarFamily(GAUGES[key], 'gauge'), key] as const);

interface Snapshot {
  readonly series: Series[];
  readonly gauges: GaugeView;
  readonly misuse: Float64Array;
}

const header = (w: ExpositionWriter, f: Family) => w.family(f.name, f.kind, f.spec.description, f.spec.unit);

function histograms(w: ExpositionWriter, f: HistogramFamily, series: readonly Series[], pick: (s: Series) => Histogram): void {
  header(w, f);
  for (const s of series) w.histogram(f.samples, labelsOf(s).base, pick(s));
}

/** Writes every family of the given recorders, one family at a time across all of them. */
export function writeRecorders(w: ExpositionWriter, sources: readonly ProducerSource[]): void {
  // Gauges first: reading engine callbacks can itself record misuse, which must show in this scrape.
  const snapshots: Snapshot[] = sources.map((source) => {
    const series = [...source.series.values()];
    return { series, gauges: currentGauges(series, source.engine), misuse: source.misuse.counts };
  });
  // Every recorder's series, in recorder order: the families below are written across all of them.
  const series = snapshots.flatMap((snapshot) => snapshot.series);

  header(w, REQUEST_DURATION);
  for (const s of series) {
    const labels = labelsOf(s);
    w.histogram(REQUEST_DURATION.samples, labels.base, s.requestDuration);
    for (const [errorType, h] of s.errorDurations) w.histogram(REQUEST_DURATION.samples, errorLabels(labels, errorType), h);
  }
  for (const [f, key] of SERIES_HISTOGRAMS) histograms(w, f, series, (s) => s[key]);

  header(w, TOKEN_USAGE);
  for (const s of series) {
    const labels = labelsOf(s);
    w.histogram(TOKEN_USAGE.samples, labels.input, s.inputTokenUsage);
    w.histogram(TOKEN_USAGE.samples, labels.output, s.outputTokenUsage);
  }
  header(w, TOKENS);
  for (const s of series) {
    const labels = labelsOf(s);
    w.sample(TOKENS.samples, labels.input, s.promptTokens);
    w.sample(TOKENS.samples, labels.output, s.outputTokens);
  }
  header(w, FINISHED);
  for (const s of series) {
    const labels = labelsOf(s).finished;
    for (let i = 0; i < labels.length; i++) w.sample(FINISHED.samples, labels[i], s.finished[i]);
  }
  header(w, PREEMPTIONS);
  for (const s of series) w.sample(PREEMPTIONS.samples, labelsOf(s).base, s.preemptions);

  header(w, MISUSE);
  for (const { misuse } of snapshots) for (let i = 0; i < MISUSE_LABELS.length; i++) w.sample(MISUSE.samples, MISUSE_LABELS[i], misuse[i]);

  for (const [f, key] of GAUGE_FAMILIES) {
    if (snapshots.every((s) => s.gauges[key].length === 0)) continue;
    header(w, f);
    for (const { gauges } of snapshots) for (const point of gauges[key]) w.sample(f.samples, gaugeLabelsOf(point.attributes), point.value);
  }
}
