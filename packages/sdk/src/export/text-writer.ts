/**
 * The Prometheus text format and OpenMetrics, written by hand. Names, label sets, `# HELP`, `# TYPE` and
 * `# UNIT` follow the OTel `PrometheusSerializer` exactly (dashboards depend on them); what differs is the
 * cost: names and label sets are escaped and encoded once and reused, so a scrape only copies those bytes
 * and writes digits. OpenMetrics adds what exemplars need. Histograms are written as their classic view.
 */
import { diag, type Attributes } from '@opentelemetry/api';
import { DataPointType, type DataPoint, type ExponentialHistogram as OtelExponentialHistogram, type Histogram as OtelHistogram, type MetricData } from '@opentelemetry/sdk-metrics';
import type { Exemplar, Histogram } from '../aggregator/histogram.js';
import { escapeLabelValue, escapeText, kindOf, labelString, metricName, sanitizeName, type ExpositionWriter, type MetricKind } from './exposition.js';
import type { ExtraLabel } from './families.js';

const formatValue = (value: number) => (value === Infinity ? '+Inf' : value === -Infinity ? '-Inf' : `${value}`);
const encode = (text: string) => Buffer.from(text, 'utf8');

/** A sample name, pre-encoded for both shapes of line: `name{labels} v` and `name v`. */
interface SampleName {
  readonly open: Uint8Array;
  readonly bare: Uint8Array;
}
const sampleName = (name: string): SampleName => ({ open: encode(`${name}{`), bare: encode(`${name} `) });

/** The three sample names of a histogram. */
interface HistogramName {
  readonly count: SampleName;
  readonly sum: SampleName;
  readonly bucket: Uint8Array;
}
const histogramName = (name: string): HistogramName => ({ count: sampleName(`${name}_count`), sum: sampleName(`${name}_sum`), bucket: encode(`${name}_bucket{`) });

/** What the writer reads of a classic histogram: per-bucket counts (not cumulative) and, optionally, one exemplar per bucket. */
interface BucketView {
  readonly boundaries: ArrayLike<number>;
  readonly counts: ArrayLike<number>;
  /** Undefined when the instrument cannot know it (OTel leaves it out, and so does the writer). */
  readonly sum: number | undefined;
  readonly count: number;
  readonly exemplars?: ArrayLike<Exemplar | undefined>;
}

const CLOSE = encode('} ');
const COMMA = 44;
const NEWLINE = 10;
const MIN_CAPACITY = 64 * 1024;

/** Per bucket `le="…"} ` bytes, built once per boundary list. */
const leCache = new WeakMap<object, Uint8Array[]>();
function leLabels(boundaries: ArrayLike<number>): Uint8Array[] {
  let labels = leCache.get(boundaries);
  if (labels === undefined) {
    labels = [];
    for (let i = 0; i < boundaries.length; i++) labels.push(encode(`le="${formatValue(boundaries[i])}"} `));
    labels.push(encode('le="+Inf"} '));
    leCache.set(boundaries, labels);
  }
  return labels;
}

/** A series' encoded label set per extra label, cached by the identity of its attributes (stable while the series lives). */
const labelCache = new WeakMap<Attributes, Map<ExtraLabel | undefined, Uint8Array>>();
function labelsOf(attributes: Attributes, extra: ExtraLabel | undefined): Uint8Array {
  let byExtra = labelCache.get(attributes);
  if (byExtra === undefined) labelCache.set(attributes, (byExtra = new Map()));
  let bytes = byExtra.get(extra);
  if (bytes === undefined) {
    const base = labelString(attributes);
    const added = extra === undefined ? '' : `${sanitizeName(extra.key)}="${escapeLabelValue(extra.value)}"`;
    bytes = encode(base === '' || added === '' ? base + added : `${base},${added}`);
    byExtra.set(extra, bytes);
  }
  return bytes;
}

const labelBytes = (attributes: Attributes) => encode(labelString(attributes));

/**
 * Accumulates one exposition as bytes: cached names and labels are copied in, numbers are written digit
 * by digit, so a scrape builds no strings per line.
 */
export class TextWriter implements ExpositionWriter {
  private buf: Buffer;
  private at = 0;
  private readonly openMetrics: boolean;
  private names: { sample: SampleName; histogram: HistogramName } | undefined;

  /** `capacity`: the expected size in bytes (e.g. the last scrape's), to avoid regrowing. */
  constructor(format: 'prometheus' | 'openmetrics', capacity = MIN_CAPACITY) {
    this.openMetrics = format === 'openmetrics';
    this.buf = Buffer.allocUnsafe(Math.max(MIN_CAPACITY, capacity));
  }

  /**
   * `# HELP`, `# UNIT` and `# TYPE`. In OpenMetrics the family drops `_total`, and a unit is only declared
   * when the name ends with it, as the format requires.
   */
  family(name: string, kind: MetricKind, description: string, unit: string): void {
    this.names = { sample: sampleName(name), histogram: histogramName(name) };
    if (!this.openMetrics) {
      const help = `# HELP ${name} ${escapeText(description || 'description missing')}\n`;
      return this.text(`${help}${unit ? `# UNIT ${name} ${escapeText(unit)}\n` : ''}# TYPE ${name} ${kind}\n`);
    }
    const family = kind === 'counter' && name.endsWith('_total') ? name.slice(0, -6) : name;
    const help = escapeText(description || 'description missing').replace(/"/g, '\\"');
    const declaredUnit = unit && family.endsWith(`_${unit}`) ? `# UNIT ${family} ${unit}\n` : '';
    this.text(`# HELP ${family} ${help}\n${declaredUnit}# TYPE ${family} ${kind}\n`);
  }

  scalar(attributes: Attributes, extra: ExtraLabel | undefined, value: number): void {
    this.sample(this.names!.sample, labelsOf(attributes, extra), value);
  }

  histogram(attributes: Attributes, extra: ExtraLabel | undefined, h: Histogram): void {
    this.buckets(this.names!.histogram, labelsOf(attributes, extra), { boundaries: h.layout.view, counts: h.viewCounts(), sum: h.sum, count: h.count, exemplars: h.exemplars });
  }

  metricData(metric: MetricData): void {
    const kind = kindOf(metric);
    if (kind === undefined) return void diag.error(`inferwatch: metric "${metric.descriptor.name}" has a type Prometheus cannot show`);
    const name = metricName(metric.descriptor.name, kind);
    if (name === undefined) return;
    this.family(name, kind, metric.descriptor.description, metric.descriptor.unit);
    const names = this.names!;
    if (metric.dataPointType === DataPointType.HISTOGRAM) {
      for (const point of metric.dataPoints as DataPoint<OtelHistogram>[]) {
        const { buckets, sum, count } = point.value;
        this.buckets(names.histogram, labelBytes(point.attributes), { boundaries: buckets.boundaries, counts: buckets.counts, sum, count });
      }
    } else if (metric.dataPointType === DataPointType.EXPONENTIAL_HISTOGRAM) {
      for (const point of metric.dataPoints as DataPoint<OtelExponentialHistogram>[]) this.buckets(names.histogram, labelBytes(point.attributes), powerOfTwoBuckets(point.value));
    } else {
      for (const point of metric.dataPoints as DataPoint<number>[]) this.sample(names.sample, labelBytes(point.attributes), point.value);
    }
  }

  targetInfo(attributes: Attributes): void {
    this.family('target_info', 'gauge', 'Target metadata', '');
    this.sample(this.names!.sample, labelBytes(attributes), 1);
  }

  /** The whole exposition; OpenMetrics ends with `# EOF`. */
  finish(): Buffer {
    if (this.openMetrics) this.text('# EOF\n');
    return this.buf.subarray(0, this.at);
  }

  /** One sample; `labels` may be empty. */
  private sample(name: SampleName, labels: Uint8Array, value: number): void {
    this.reserve(name.open.length + labels.length + 32);
    if (labels.length === 0) this.put(name.bare);
    else {
      this.put(name.open);
      this.put(labels);
      this.put(CLOSE);
    }
    this.number(value);
    this.buf[this.at++] = NEWLINE;
  }

  /** `_count`, `_sum`, then the cumulative buckets, each followed by its exemplar in OpenMetrics. */
  private buckets(name: HistogramName, labels: Uint8Array, h: BucketView): void {
    this.sample(name.count, labels, h.count);
    if (h.sum !== undefined) this.sample(name.sum, labels, h.sum);
    const le = leLabels(h.boundaries);
    const counts = h.counts;
    const exemplars = this.openMetrics ? h.exemplars : undefined;
    // Every bucket line starts with the same `name_bucket{labels,`: written once, then copied from the
    // output itself (one memmove per line instead of a copy per part).
    this.reserve(name.bucket.length + labels.length + 1);
    const head = this.at;
    this.put(name.bucket);
    if (labels.length > 0) {
      this.put(labels);
      this.buf[this.at++] = COMMA;
    }
    const headLength = this.at - head;
    let cumulative = 0;
    for (let i = 0; i < counts.length; i++) {
      cumulative += counts[i];
      this.reserve(headLength + le[i].length + 32);
      if (i > 0) {
        this.buf.copyWithin(this.at, head, head + headLength);
        this.at += headLength;
      }
      this.put(le[i]);
      this.number(cumulative);
      const exemplar = exemplars?.[i];
      if (exemplar !== undefined) this.text(exemplarSuffix(exemplar));
      this.buf[this.at++] = NEWLINE;
    }
  }

  private reserve(bytes: number): void {
    if (this.at + bytes <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + bytes));
    this.buf.copy(grown, 0, 0, this.at);
    this.buf = grown;
  }

  /** Short runs are copied in a loop: cheaper than a native call for the few bytes of a name or label. */
  private put(bytes: Uint8Array): void {
    const buf = this.buf;
    const n = bytes.length;
    if (n > 64) buf.set(bytes, this.at);
    else for (let k = 0, at = this.at; k < n; k++) buf[at + k] = bytes[k];
    this.at += n;
  }

  private text(text: string): void {
    this.reserve(text.length * 3);
    this.at += this.buf.write(text, this.at, 'utf8');
  }

  /** Non-negative integers digit by digit (most samples are counts); anything else as JavaScript prints it. */
  private number(value: number): void {
    if (!(value >= 0 && value < 1e15 && Math.floor(value) === value)) {
      this.at += this.buf.write(formatValue(value), this.at, 'latin1');
      return;
    }
    let digits = 1;
    for (let limit = 10; value >= limit; limit *= 10) digits++;
    const buf = this.buf;
    let rest = value;
    for (let k = this.at + digits - 1; k >= this.at; k--) {
      const digit = rest % 10;
      buf[k] = 48 + digit;
      rest = (rest - digit) / 10;
    }
    this.at += digits;
  }
}

function exemplarSuffix(e: Exemplar): string {
  return ` # {trace_id="${escapeLabelValue(e.traceId)}",span_id="${escapeLabelValue(e.spanId)}"} ${formatValue(e.value)} ${formatValue(e.timeMs / 1000)}`;
}

/**
 * An OTel exponential histogram (an app's own instrument) as classic buckets for a text scraper: bounds at
 * the powers of two its populated buckets span, each count exact at any scale ≥ 0.
 */
function powerOfTwoBuckets(h: OtelExponentialHistogram): BucketView {
  const { scale, zeroCount, positive } = h;
  const boundaries: number[] = [];
  const counts: number[] = [];
  if (positive.bucketCounts.length > 0 && scale >= 0) {
    const octave = (index: number) => Math.ceil((index + 1) / 2 ** scale);
    let exponent = octave(positive.offset);
    let inOctave = zeroCount;
    for (let k = 0; k < positive.bucketCounts.length; k++) {
      const e = octave(positive.offset + k);
      while (e > exponent) {
        boundaries.push(2 ** exponent);
        counts.push(inOctave);
        inOctave = 0;
        exponent++;
      }
      inOctave += positive.bucketCounts[k];
    }
    boundaries.push(2 ** exponent);
    counts.push(inOctave);
  } else if (zeroCount > 0 || positive.bucketCounts.length > 0) {
    boundaries.push(0);
    counts.push(zeroCount);
  }
  const below = counts.reduce((a, b) => a + b, 0);
  counts.push(h.count - below);
  return { boundaries, counts, sum: h.sum, count: h.count };
}
