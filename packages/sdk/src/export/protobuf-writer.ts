/**
 * The Prometheus protobuf exposition (`io.prometheus.client.MetricFamily`, varint-delimited): the format
 * that carries native histograms. Written by hand, a message at a time, with no protobuf library: the
 * schema is small and stable. Prometheus 2.x quirks it follows: a family is native when its first
 * histogram has native buckets or a zero threshold, so every native histogram sends a zero threshold; and
 * exemplars of native histograms travel in the classic bucket section, so the buckets that hold one are sent.
 */
import { diag, type Attributes } from '@opentelemetry/api';
import { DataPointType, type DataPoint, type ExponentialHistogram as OtelExponentialHistogram, type Histogram as OtelHistogram, type MetricData } from '@opentelemetry/sdk-metrics';
import type { Exemplar, Histogram } from '../aggregator/histogram.js';
import { kindOf, labelText, metricName, sanitizeName, type ExpositionWriter, type MetricKind } from './exposition.js';
import type { ExtraLabel } from './families.js';

const TYPES: Readonly<Record<MetricKind, number>> = { counter: 0, gauge: 1, histogram: 4 };
/** Prometheus' default zero-bucket width: only exact zeros (and nothing any latency or count is) fall in it. */
const ZERO_THRESHOLD = 2 ** -128;
const MIN_CAPACITY = 16 * 1024;
/** Most empty buckets written as zeros inside a span: past that, a new span costs fewer bytes. */
const GAP_FILL = 5;

// Field numbers of metrics.proto.
const FAMILY = { name: 1, help: 2, type: 3, metric: 4 };
const METRIC = { label: 1, gauge: 2, counter: 3, histogram: 7 };
const LABEL = { name: 1, value: 2 };
const HISTOGRAM = { count: 1, sum: 2, bucket: 3, schema: 5, zeroThreshold: 6, zeroCount: 7, positiveSpan: 12, positiveDelta: 13 };
const BUCKET = { count: 1, upperBound: 2, exemplar: 3 };
const SPAN = { offset: 1, length: 2 };
const EXEMPLAR = { label: 1, value: 2, timestamp: 3 };

const VARINT = 0;
const FIXED64 = 1;
const LENGTH = 2;

/** Bytes of protobuf fields, with nested messages whose length is patched in once they are written. */
class Encoder {
  buf: Buffer;
  at = 0;

  constructor(capacity: number) {
    this.buf = Buffer.allocUnsafe(Math.max(MIN_CAPACITY, capacity));
  }

  reserve(bytes: number): void {
    if (this.at + bytes <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + bytes));
    this.buf.copy(grown, 0, 0, this.at);
    this.buf = grown;
  }

  /** An unsigned varint (safe integers: counts and lengths). */
  varint(value: number): void {
    this.reserve(10);
    let v = value;
    while (v >= 0x80) {
      this.buf[this.at++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.at++] = v;
  }

  /** A zigzag-encoded signed varint (sint32, sint64). */
  svarint(value: number): void {
    this.varint(value >= 0 ? value * 2 : -value * 2 - 1);
  }

  tag(field: number, wireType: number): void {
    this.varint(field * 8 + wireType);
  }

  double(field: number, value: number): void {
    this.tag(field, FIXED64);
    this.reserve(8);
    this.at = this.buf.writeDoubleLE(value, this.at);
  }

  uint(field: number, value: number): void {
    this.tag(field, VARINT);
    this.varint(value);
  }

  sint(field: number, value: number): void {
    this.tag(field, VARINT);
    this.svarint(value);
  }

  bytes(field: number, bytes: Uint8Array): void {
    this.tag(field, LENGTH);
    this.varint(bytes.length);
    this.reserve(bytes.length);
    this.buf.set(bytes, this.at);
    this.at += bytes.length;
  }

  string(field: number, text: string): void {
    this.bytes(field, Buffer.from(text, 'utf8'));
  }

  /** Starts a length-delimited message (a field, or a top-level delimited one when `field` is 0); `end` closes it. */
  begin(field: number): number {
    if (field > 0) this.tag(field, LENGTH);
    this.reserve(1);
    // One byte for the length: most messages are shorter than 128 bytes; longer ones shift by the difference.
    return this.at++;
  }

  end(mark: number): void {
    const length = this.at - mark - 1;
    let size = 1;
    for (let v = length; v >= 0x80; v = Math.floor(v / 0x80)) size++;
    if (size > 1) {
      this.reserve(size - 1);
      this.buf.copyWithin(mark + size, mark + 1, this.at);
      this.at += size - 1;
    }
    const end = this.at;
    this.at = mark;
    this.varint(length);
    this.at = end;
  }
}

/** A series' `label` fields, encoded once per extra label and cached by the identity of its attributes. */
const labelCache = new WeakMap<Attributes, Map<ExtraLabel | undefined, Uint8Array>>();
function labelsOf(attributes: Attributes, extra: ExtraLabel | undefined): Uint8Array {
  let byExtra = labelCache.get(attributes);
  if (byExtra === undefined) labelCache.set(attributes, (byExtra = new Map()));
  let bytes = byExtra.get(extra);
  if (bytes === undefined) {
    bytes = encodeLabels(extra === undefined ? attributes : { ...attributes, [extra.key]: extra.value });
    byExtra.set(extra, bytes);
  }
  return bytes;
}

function encodeLabels(attributes: Attributes): Uint8Array {
  const e = new Encoder(256);
  for (const key in attributes) {
    const mark = e.begin(METRIC.label);
    e.string(LABEL.name, sanitizeName(key));
    e.string(LABEL.value, labelText(attributes[key]));
    e.end(mark);
  }
  return Buffer.from(e.buf.subarray(0, e.at));
}

/** Accumulates one exposition of varint-delimited MetricFamily messages. */
export class ProtobufWriter implements ExpositionWriter {
  private readonly e: Encoder;
  /** The open family message and its kind, closed by the next family or `finish`. */
  private open: { mark: number; kind: MetricKind } | undefined;

  constructor(capacity = MIN_CAPACITY) {
    this.e = new Encoder(capacity);
  }

  family(name: string, kind: MetricKind, description: string): void {
    this.close();
    const e = this.e;
    this.open = { mark: e.begin(0), kind };
    e.string(FAMILY.name, name);
    e.string(FAMILY.help, description || 'description missing');
    e.uint(FAMILY.type, TYPES[kind]);
  }

  scalar(attributes: Attributes, extra: ExtraLabel | undefined, value: number): void {
    this.scalarWith(labelsOf(attributes, extra), value);
  }

  histogram(attributes: Attributes, extra: ExtraLabel | undefined, h: Histogram): void {
    const e = this.e;
    const metric = e.begin(FAMILY.metric);
    this.putLabels(labelsOf(attributes, extra));
    const body = e.begin(METRIC.histogram);
    e.uint(HISTOGRAM.count, h.count);
    e.double(HISTOGRAM.sum, h.sum);
    const exponential = h.exponential;
    if (exponential !== undefined) {
      // Classic buckets travel beside native ones when they are kept (mode `both`); otherwise only those
      // carrying an exemplar, which is where Prometheus 2.x reads a native histogram's exemplars.
      this.classicBuckets(h, h.explicit === undefined);
      this.nativeBuckets(exponential.scale, exponential.zeroCount, exponential.offset, exponential.counts, exponential.size);
    } else this.classicBuckets(h, false);
    e.end(body);
    e.end(metric);
  }

  metricData(metric: MetricData): void {
    const kind = kindOf(metric);
    if (kind === undefined) return void diag.error(`inferwatch: metric "${metric.descriptor.name}" has a type Prometheus cannot show`);
    const name = metricName(metric.descriptor.name, kind);
    if (name === undefined) return;
    this.family(name, kind, metric.descriptor.description);
    const e = this.e;
    if (metric.dataPointType === DataPointType.HISTOGRAM) {
      for (const point of metric.dataPoints as DataPoint<OtelHistogram>[]) {
        const m = e.begin(FAMILY.metric);
        this.putLabels(encodeLabels(point.attributes));
        const body = e.begin(METRIC.histogram);
        const { buckets, sum, count } = point.value;
        e.uint(HISTOGRAM.count, count);
        if (sum !== undefined) e.double(HISTOGRAM.sum, sum);
        let cumulative = 0;
        for (let i = 0; i < buckets.boundaries.length; i++) {
          cumulative += buckets.counts[i];
          const b = e.begin(HISTOGRAM.bucket);
          e.uint(BUCKET.count, cumulative);
          e.double(BUCKET.upperBound, buckets.boundaries[i]);
          e.end(b);
        }
        e.end(body);
        e.end(m);
      }
    } else if (metric.dataPointType === DataPointType.EXPONENTIAL_HISTOGRAM) {
      for (const point of metric.dataPoints as DataPoint<OtelExponentialHistogram>[]) {
        const { count, sum, scale, zeroCount, positive } = point.value;
        const m = e.begin(FAMILY.metric);
        this.putLabels(encodeLabels(point.attributes));
        const body = e.begin(METRIC.histogram);
        e.uint(HISTOGRAM.count, count);
        if (sum !== undefined) e.double(HISTOGRAM.sum, sum);
        this.nativeBuckets(scale, zeroCount, positive.offset, positive.bucketCounts, positive.bucketCounts.length);
        e.end(body);
        e.end(m);
      }
    } else {
      for (const point of metric.dataPoints as DataPoint<number>[]) this.scalarWith(encodeLabels(point.attributes), point.value);
    }
  }

  targetInfo(attributes: Attributes): void {
    this.family('target_info', 'gauge', 'Target metadata');
    this.scalarWith(encodeLabels(attributes), 1);
  }

  finish(): Buffer {
    this.close();
    return this.e.buf.subarray(0, this.e.at);
  }

  private close(): void {
    if (this.open !== undefined) this.e.end(this.open.mark);
    this.open = undefined;
  }

  private putLabels(labels: Uint8Array): void {
    const e = this.e;
    e.reserve(labels.length);
    e.buf.set(labels, e.at);
    e.at += labels.length;
  }

  private scalarWith(labels: Uint8Array, value: number): void {
    const e = this.e;
    const metric = e.begin(FAMILY.metric);
    this.putLabels(labels);
    const body = e.begin(this.open?.kind === 'counter' ? METRIC.counter : METRIC.gauge);
    e.double(1, value);
    e.end(body);
    e.end(metric);
  }

  /** Cumulative classic buckets of the histogram's view (the +Inf one is implied by the count); `onlyExemplars` keeps those with one. */
  private classicBuckets(h: Histogram, onlyExemplars: boolean): void {
    if (onlyExemplars && h.exemplars === undefined) return;
    const e = this.e;
    const bounds = h.layout.view;
    const counts = h.viewCounts();
    let cumulative = 0;
    for (let i = 0; i < counts.length; i++) {
      cumulative += counts[i];
      const exemplar = h.exemplars?.[i];
      if (onlyExemplars && exemplar === undefined) continue;
      if (i === bounds.length && exemplar === undefined) break;
      const b = e.begin(HISTOGRAM.bucket);
      e.uint(BUCKET.count, cumulative);
      e.double(BUCKET.upperBound, i < bounds.length ? bounds[i] : Infinity);
      if (exemplar !== undefined) this.exemplar(exemplar);
      e.end(b);
    }
  }

  private exemplar(x: Exemplar): void {
    const e = this.e;
    const m = e.begin(BUCKET.exemplar);
    for (const [name, value] of [['trace_id', x.traceId], ['span_id', x.spanId]]) {
      const l = e.begin(EXEMPLAR.label);
      e.string(LABEL.name, name);
      e.string(LABEL.value, value);
      e.end(l);
    }
    e.double(EXEMPLAR.value, x.value);
    const ts = e.begin(EXEMPLAR.timestamp);
    const seconds = Math.floor(x.timeMs / 1000);
    e.uint(1, seconds);
    e.uint(2, Math.round((x.timeMs - seconds * 1000) * 1e6));
    e.end(ts);
    e.end(m);
  }

  /**
   * Schema, zero bucket, spans and deltas from dense counts starting at OTel index `offset`. A Prometheus
   * bucket index is the OTel one plus one. A run of up to GAP_FILL empty buckets stays inside a span as
   * zero deltas (a byte each) rather than open a new span (six or seven bytes); the deltas go packed, as
   * every protobuf parser must accept for a repeated number.
   */
  private nativeBuckets(scale: number, zeroCount: number, offset: number, counts: ArrayLike<number>, size: number): void {
    const e = this.e;
    e.sint(HISTOGRAM.schema, scale);
    e.double(HISTOGRAM.zeroThreshold, ZERO_THRESHOLD);
    e.uint(HISTOGRAM.zeroCount, zeroCount);
    let first = -1;
    let last = -1;
    for (let k = 0; k < size; k++) {
      if (counts[k] === 0) continue;
      if (first < 0) first = k;
      last = k;
    }
    if (first < 0) return;
    let previousEnd = 0;
    for (let k = first; k <= last; ) {
      const start = k;
      let end = k + 1;
      for (;;) {
        while (end <= last && counts[end] !== 0) end++;
        let next = end;
        while (next <= last && counts[next] === 0) next++;
        if (next > last || next - end > GAP_FILL) break;
        end = next;
      }
      const span = e.begin(HISTOGRAM.positiveSpan);
      const index = offset + start + 1;
      e.sint(SPAN.offset, start === first ? index : index - previousEnd);
      e.uint(SPAN.length, end - start);
      e.end(span);
      previousEnd = offset + end + 1;
      k = end;
      while (k <= last && counts[k] === 0) k++;
    }
    const deltas = e.begin(HISTOGRAM.positiveDelta);
    let previous = 0;
    for (let k = first; k <= last; ) {
      const count = counts[k];
      e.svarint(count - previous);
      previous = count;
      k++;
      // Past a gap that opened a new span, the next delta follows the last bucket sent.
      let next = k;
      while (next <= last && counts[next] === 0) next++;
      if (next - k > GAP_FILL) k = next;
    }
    e.end(deltas);
  }
}
