/**
 * One Prometheus exposition, in any of its formats: what every format shares (names, label escaping,
 * negotiation) and the walk over the recorders' families (families.ts) that each writer (text-writer.ts,
 * protobuf-writer.ts) receives.
 */
import { diag, type Attributes } from '@opentelemetry/api';
import { DataPointType, type MetricData } from '@opentelemetry/sdk-metrics';
import type { Histogram } from '../aggregator/histogram.js';
import { RECORDER_FAMILIES, type ExtraLabel, type Family, type RecorderView } from './families.js';

export type ExpositionFormat = 'prometheus' | 'openmetrics' | 'protobuf';

export const CONTENT_TYPES: Readonly<Record<ExpositionFormat, string>> = {
  prometheus: 'text/plain; version=0.0.4; charset=utf-8',
  openmetrics: 'application/openmetrics-text; version=1.0.0; charset=utf-8',
  protobuf: 'application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited',
};

export type MetricKind = 'counter' | 'gauge' | 'histogram';

/** What each format's writer does with the walk; families are written whole, one after the other. */
export interface ExpositionWriter {
  /** Starts a family whose samples are named `name` (counters: with `_total`). */
  family(name: string, kind: MetricKind, description: string, unit: string): void;
  /** A counter's or gauge's point of the current family. */
  scalar(attributes: Attributes, extra: ExtraLabel | undefined, value: number): void;
  /** A histogram point of the current family. */
  histogram(attributes: Attributes, extra: ExtraLabel | undefined, h: Histogram): void;
  /** An OTel metric (the app's own instruments, other producers), as a family of its own. */
  metricData(metric: MetricData): void;
  /** The resource as `target_info`, as OTel writes it. */
  targetInfo(attributes: Attributes): void;
  /** The whole exposition. */
  finish(): Buffer;
}

const INVALID_NAME_CHARS = /[^a-z0-9_]/gi;
const REPEATED_UNDERSCORES = /_{2,}/g;

/** OTel's sanitisation of metric and label names. */
export const sanitizeName = (name: string) => name.replace(INVALID_NAME_CHARS, '_').replace(REPEATED_UNDERSCORES, '_');

export const escapeText = (text: string) => text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

/** A label value as text: non-strings as JSON (as OTel writes them). */
export const labelText = (value: unknown): string => (typeof value === 'string' ? value : value === undefined ? '' : (JSON.stringify(value) ?? ''));

/** A label value as the text format writes it: `\`, newline and `"` escaped. */
export const escapeLabelValue = (value: unknown): string => escapeText(labelText(value)).replace(/"/g, '\\"');

/** `k="v",…` for an attribute set, in its key order (no braces). */
export function labelString(attributes: Attributes): string {
  let out = '';
  for (const key in attributes) out += `${out === '' ? '' : ','}${sanitizeName(key)}="${escapeLabelValue(attributes[key])}"`;
  return out;
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

/** The exposition kind of an OTel metric; undefined for a type Prometheus cannot show. */
export function kindOf(metric: MetricData): MetricKind | undefined {
  switch (metric.dataPointType) {
    case DataPointType.SUM:
      return metric.isMonotonic ? 'counter' : 'gauge';
    case DataPointType.GAUGE:
      return 'gauge';
    case DataPointType.HISTOGRAM:
    case DataPointType.EXPONENTIAL_HISTOGRAM:
      return 'histogram';
    default:
      return undefined;
  }
}

const familyNames = new Map<Family<RecorderView>, string>(RECORDER_FAMILIES.map((f) => [f, metricName(f.spec.name, f.kind)!]));

/** Every family of the given recorders' views, one family at a time across all of them. */
export function writeRecorders(w: ExpositionWriter, views: readonly RecorderView[]): void {
  for (const family of RECORDER_FAMILIES) {
    if (family.kind === 'gauge' && !views.some((view) => hasPoints(family, view))) continue;
    w.family(familyNames.get(family)!, family.kind, family.spec.description, family.spec.unit);
    for (const view of views) {
      if (family.kind === 'histogram') family.points(view, (attributes, extra, h) => w.histogram(attributes, extra, h));
      else family.points(view, (attributes, extra, value) => w.scalar(attributes, extra, value));
    }
  }
}

function hasPoints(family: Family<RecorderView>, view: RecorderView): boolean {
  let any = false;
  family.points(view, () => (any = true));
  return any;
}

/**
 * The format a scraper asked for in `Accept`, by q-value: the protobuf format (which carries native
 * histograms; Prometheus asks for it first when they are on), OpenMetrics (which carries exemplars), else
 * the classic text format.
 */
export function negotiateFormat(accept: string | undefined): ExpositionFormat {
  if (typeof accept !== 'string') return 'prometheus';
  let protobuf = 0;
  let openMetrics = 0;
  let text = 0;
  for (const range of accept.slice(0, 4096).split(',')) {
    const [type, ...params] = range.split(';').map((s) => s.trim().toLowerCase());
    let q = 1;
    let version: string | undefined;
    let proto: string | undefined;
    let encoding: string | undefined;
    for (const param of params) {
      const [key, value = ''] = param.split('=').map((s) => s.trim());
      if (key === 'q') q = Number(value) || 0;
      else if (key === 'version') version = value;
      else if (key === 'proto') proto = value;
      else if (key === 'encoding') encoding = value;
    }
    if (type === 'application/vnd.google.protobuf' && proto === 'io.prometheus.client.metricfamily' && encoding === 'delimited') protobuf = Math.max(protobuf, q);
    else if (type === 'application/openmetrics-text' && (version === undefined || version === '1.0.0' || version === '0.0.1')) openMetrics = Math.max(openMetrics, q);
    else if (type === 'text/plain' || type === '*/*' || type === 'text/*') text = Math.max(text, q);
  }
  if (protobuf > 0 && protobuf >= openMetrics && protobuf >= text) return 'protobuf';
  return openMetrics > 0 && openMetrics >= text ? 'openmetrics' : 'prometheus';
}
