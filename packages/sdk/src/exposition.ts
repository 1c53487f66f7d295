/**
 * The Prometheus text format and OpenMetrics, written by hand. Names, label sets, `# HELP`,
 * `# TYPE` and `# UNIT` follow the OTel `PrometheusSerializer` exactly (dashboards depend on them);
 * what differs is the cost: label strings are escaped once and reused, so a scrape only formats
 * numbers and concatenates strings.
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

export const formatValue = (value: number) => (value === Infinity ? '+Inf' : value === -Infinity ? '-Inf' : `${value}`);

/** Per bucket `le="…"` strings, built once per boundary list. */
const leCache = new WeakMap<object, string[]>();

function leLabels(boundaries: ArrayLike<number>): string[] {
  let labels = leCache.get(boundaries);
  if (labels === undefined) {
    labels = [];
    for (let i = 0; i < boundaries.length; i++) labels.push(`le="${formatValue(boundaries[i])}"}`);
    labels.push('le="+Inf"}');
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
 * Accumulates one exposition. Families are written whole (header, then every sample), so the
 * caller iterates families outside and sources inside.
 */
export class ExpositionWriter {
  private out = '';
  private readonly openMetrics: boolean;

  constructor(readonly format: ExpositionFormat) {
    this.openMetrics = format === 'openmetrics';
  }

  /**
   * `# HELP`, `# UNIT` and `# TYPE` for a family whose samples are named `name` (counters: with `_total`).
   * In OpenMetrics the family drops `_total`, and a unit is only declared when the name ends with it,
   * as the format requires.
   */
  family(name: string, kind: MetricKind, description: string, unit: string): void {
    if (!this.openMetrics) {
      const help = `# HELP ${name} ${escapeText(description || 'description missing')}\n`;
      this.out += `${help}${unit ? `# UNIT ${name} ${escapeText(unit)}\n` : ''}# TYPE ${name} ${kind}\n`;
      return;
    }
    const family = kind === 'counter' && name.endsWith('_total') ? name.slice(0, -6) : name;
    const help = escapeText(description || 'description missing').replace(/"/g, '\\"');
    const declaredUnit = unit && family.endsWith(`_${unit}`) ? `# UNIT ${family} ${unit}\n` : '';
    this.out += `# HELP ${family} ${help}\n${declaredUnit}# TYPE ${family} ${kind}\n`;
  }

  /** One sample; `labels` as from `labelString` (may be empty). */
  sample(name: string, labels: string, value: number): void {
    this.out += labels === '' ? `${name} ${formatValue(value)}\n` : `${name}{${labels}} ${formatValue(value)}\n`;
  }

  /** `_count`, `_sum`, then the cumulative buckets, each bucket followed by its exemplar in OpenMetrics. */
  histogram(name: string, labels: string, h: HistogramView): void {
    const braced = labels === '' ? '' : `{${labels}}`;
    let out = `${name}_count${braced} ${formatValue(h.count)}\n`;
    if (h.sum !== undefined) out += `${name}_sum${braced} ${formatValue(h.sum)}\n`;
    const head = labels === '' ? `${name}_bucket{` : `${name}_bucket{${labels},`;
    const le = leLabels(h.boundaries);
    const counts = h.counts;
    const exemplars = this.openMetrics ? h.exemplars : undefined;
    let cumulative = 0;
    for (let i = 0; i < counts.length; i++) {
      cumulative += counts[i];
      out += `${head}${le[i]} ${formatValue(cumulative)}`;
      const exemplar = exemplars?.[i];
      out += exemplar === undefined ? '\n' : `${exemplarSuffix(exemplar)}\n`;
    }
    this.out += out;
  }

  /** An OTel metric (user instruments, other producers), as the OTel serializer would write it. */
  metricData(metric: MetricData): void {
    const kind = kindOf(metric);
    if (kind === undefined) return void diag.error(`inferwatch: metric "${metric.descriptor.name}" has a type Prometheus cannot show`);
    const name = metricName(metric.descriptor.name, kind);
    if (name === undefined) return;
    this.family(name, kind, metric.descriptor.description, metric.descriptor.unit);
    if (kind === 'histogram') {
      for (const point of metric.dataPoints as DataPoint<OtelHistogram>[]) {
        const { buckets, sum, count } = point.value;
        this.histogram(name, labelString(point.attributes), { boundaries: buckets.boundaries, counts: buckets.counts, sum, count });
      }
    } else {
      for (const point of metric.dataPoints as DataPoint<number>[]) this.sample(name, labelString(point.attributes), point.value);
    }
  }

  /** The resource as `target_info`, as OTel writes it. */
  targetInfo(attributes: Attributes): void {
    this.family('target_info', 'gauge', 'Target metadata', '');
    this.sample('target_info', labelString(attributes), 1);
  }

  /** The whole exposition; OpenMetrics ends with `# EOF`. */
  finish(): string {
    const text = this.openMetrics ? `${this.out}# EOF\n` : this.out;
    this.out = '';
    return text;
  }
}

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
