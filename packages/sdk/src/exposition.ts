/**
 * The Prometheus text format and OpenMetrics, written by hand. Names, label sets, `# HELP`,
 * `# TYPE` and `# UNIT` follow the OTel `PrometheusSerializer` exactly (dashboards depend on them);
 * what differs is the cost: names and label sets are escaped and encoded once and reused, so a
 * scrape only copies those bytes and writes digits. OpenMetrics adds what exemplars need.
 */
import { diag, type Attributes } from '@opentelemetry/api';
import { DataPointType, type DataPoint, type Histogram as OtelHistogram, type MetricData } from '@opentelemetry/sdk-metrics';

export type ExpositionFormat = 'prometheus' | 'openmetrics';

export const CONTENT_TYPES: Readonly<Record<ExpositionFormat, string>> = {
  prometheus: 'text/plain; version=0.0.4; charset=utf-8',
  openmetrics: 'application/openmetrics-text; version=1.0.0; charset=utf-8',
};

/** An exemplar attached to one bucket (OpenMetrics only): the trace that landed there. */
export interface BucketExemplar {
  readonly traceId: string;
  readonly spanId: string;
  readonly value: number;
  /** Milliseconds since the epoch. */
  readonly timeMs: number;
}

/** What the writer reads of a histogram: per-bucket counts (not cumulative), optionally one exemplar per bucket. */
export interface HistogramView {
  readonly boundaries: ArrayLike<number>;
  readonly counts: ArrayLike<number>;
  /** Undefined when the instrument cannot know it (OTel leaves it out, and so does the writer). */
  readonly sum: number | undefined;
  readonly count: number;
  readonly exemplars?: ArrayLike<BucketExemplar | undefined>;
}

export type MetricKind = 'counter' | 'gauge' | 'histogram';

const INVALID_NAME_CHARS = /[^a-z0-9_]/gi;
const REPEATED_UNDERSCORES = /_{2,}/g;

/** OTel's sanitisation of metric and label names. */
export const sanitizeName = (name: string) => name.replace(INVALID_NAME_CHARS, '_').replace(REPEATED_UNDERSCORES, '_');

const escapeText = (text: string) => text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

/** A label value as OTel writes it: non-strings as JSON, then `\`, newline and `"` escaped. */
export function escapeLabelValue(value: unknown): string {
  const text = typeof value === 'string' ? value : value === undefined ? '' : (JSON.stringify(value) ?? '');
  return escapeText(text).replace(/"/g, '\\"');
}

/** `k="v",…` for an attribute set, in its key order (no braces). */
export function labelString(attributes: Attributes): string {
  let out = '';
  for (const key in attributes) {
    out += `${out === '' ? '' : ','}${sanitizeName(key)}="${escapeLabelValue(attributes[key])}"`;
  }
  return out;
}

const formatValue = (value: number) => (value === Infinity ? '+Inf' : value === -Infinity ? '-Inf' : `${value}`);

const encode = (text: string) => Buffer.from(text, 'utf8');

/** A sample name, pre-encoded for both shapes of line: `name{labels} v` and `name v`. */
export interface SampleName {
  readonly open: Uint8Array;
  readonly bare: Uint8Array;
}

export const sampleName = (name: string): SampleName => ({ open: encode(`${name}{`), bare: encode(`${name} `) });

/** The three sample names of a histogram. */
export interface HistogramName {
  readonly count: SampleName;
  readonly sum: SampleName;
  readonly bucket: Uint8Array;
}

export const histogramName = (name: string): HistogramName => ({
  count: sampleName(`${name}_count`),
  sum: sampleName(`${name}_sum`),
  bucket: encode(`${name}_bucket{`),
});

/** `labelString`, encoded. */
export const labelBytes = (attributes: Attributes) => encode(labelString(attributes));

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

/** The sample name of an OTel metric, or undefined when it cannot be one (OTel logs and drops those). */
export function metricName(descriptorName: string, kind: MetricKind): string | undefined {
  let name = sanitizeName(escapeText(descriptorName));
  if (name === '' || name === '_') {
    diag.error(`inferwatch: metric "${descriptorName}" has no valid Prometheus name`);
    return undefined;
  }
  if (name[0] >= '0' && name[0] <= '9') name = `_${name}`;
  if (kind === 'counter' && !name.endsWith('_total')) name += '_total';
  return name;
}

/**
 * Accumulates one exposition as bytes: cached names and labels are copied in, numbers are written
 * digit by digit, so a scrape builds no strings per line. Families are written whole (header, then
 * every sample), so the caller iterates families outside and sources inside.
 */
export class ExpositionWriter {
  private buf: Buffer;
  private at = 0;
  private readonly openMetrics: boolean;

  /** `capacity`: the expected size in bytes (e.g. the last scrape's), to avoid regrowing. */
  constructor(
    readonly format: ExpositionFormat,
    capacity = MIN_CAPACITY,
  ) {
    this.openMetrics = format === 'openmetrics';
    this.buf = Buffer.allocUnsafe(Math.max(MIN_CAPACITY, capacity));
  }

  /**
   * `# HELP`, `# UNIT` and `# TYPE` for a family whose samples are named `name` (counters: with `_total`).
   * In OpenMetrics the family drops `_total`, and a unit is only declared when the name ends with it,
   * as the format requires.
   */
  family(name: string, kind: MetricKind, description: string, unit: string): void {
    if (!this.openMetrics) {
      const help = `# HELP ${name} ${escapeText(description || 'description missing')}\n`;
      return this.text(`${help}${unit ? `# UNIT ${name} ${escapeText(unit)}\n` : ''}# TYPE ${name} ${kind}\n`);
    }
    const family = kind === 'counter' && name.endsWith('_total') ? name.slice(0, -6) : name;
    const help = escapeText(description || 'description missing').replace(/"/g, '\\"');
    const declaredUnit = unit && family.endsWith(`_${unit}`) ? `# UNIT ${family} ${unit}\n` : '';
    this.text(`# HELP ${family} ${help}\n${declaredUnit}# TYPE ${family} ${kind}\n`);
  }

  /** One sample; `labels` as from `labelBytes` (may be empty). */
  sample(name: SampleName, labels: Uint8Array, value: number): void {
    this.reserve(name.open.length + labels.length + 32);
    if (labels.length === 0) {
      this.put(name.bare);
    } else {
      this.put(name.open);
      this.put(labels);
      this.put(CLOSE);
    }
    this.number(value);
    this.buf[this.at++] = NEWLINE;
  }

  /** `_count`, `_sum`, then the cumulative buckets, each bucket followed by its exemplar in OpenMetrics. */
  histogram(name: HistogramName, labels: Uint8Array, h: HistogramView): void {
    this.sample(name.count, labels, h.count);
    if (h.sum !== undefined) this.sample(name.sum, labels, h.sum);
    const le = leLabels(h.boundaries);
    const counts = h.counts;
    const exemplars = this.openMetrics ? h.exemplars : undefined;
    // Every bucket line starts with the same `name_bucket{labels,`: written once, then copied from
    // the output itself (one memmove per line instead of a copy per part).
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

  /** An OTel metric (user instruments, other producers), as the OTel serializer would write it. */
  metricData(metric: MetricData): void {
    const kind = kindOf(metric);
    if (kind === undefined) return void diag.error(`inferwatch: metric "${metric.descriptor.name}" has a type Prometheus cannot show`);
    const name = metricName(metric.descriptor.name, kind);
    if (name === undefined) return;
    this.family(name, kind, metric.descriptor.description, metric.descriptor.unit);
    if (kind === 'histogram') {
      const names = histogramName(name);
      for (const point of metric.dataPoints as DataPoint<OtelHistogram>[]) {
        const { buckets, sum, count } = point.value;
        this.histogram(names, labelBytes(point.attributes), { boundaries: buckets.boundaries, counts: buckets.counts, sum, count });
      }
    } else {
      const names = sampleName(name);
      for (const point of metric.dataPoints as DataPoint<number>[]) this.sample(names, labelBytes(point.attributes), point.value);
    }
  }

  /** The resource as `target_info`, as OTel writes it. */
  targetInfo(attributes: Attributes): void {
    this.family('target_info', 'gauge', 'Target metadata', '');
    this.sample(TARGET_INFO, labelBytes(attributes), 1);
  }

  /** The whole exposition; OpenMetrics ends with `# EOF`. */
  finish(): Buffer {
    if (this.openMetrics) this.text('# EOF\n');
    return this.buf.subarray(0, this.at);
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
    if (n > 64) {
      buf.set(bytes, this.at);
    } else {
      for (let k = 0, at = this.at; k < n; k++) buf[at + k] = bytes[k];
    }
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

const TARGET_INFO = sampleName('target_info');

function exemplarSuffix(e: BucketExemplar): string {
  return ` # {trace_id="${escapeLabelValue(e.traceId)}",span_id="${escapeLabelValue(e.spanId)}"} ${formatValue(e.value)} ${formatValue(e.timeMs / 1000)}`;
}

function kindOf(metric: MetricData): MetricKind | undefined {
  switch (metric.dataPointType) {
    case DataPointType.SUM:
      return metric.isMonotonic ? 'counter' : 'gauge';
    case DataPointType.GAUGE:
      return 'gauge';
    case DataPointType.HISTOGRAM:
      return 'histogram';
    default:
      return undefined;
  }
}
