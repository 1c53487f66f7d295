/**
 * Decodes an OTLP/HTTP protobuf metrics request (opentelemetry-proto's ExportMetricsServiceRequest) far
 * enough for tests to read names, units, attributes and data points: a plain wire-format reader and the
 * field numbers of metrics.proto, common.proto and resource.proto. No dependency on the exporter under test.
 */

interface Field {
  field: number;
  /** Varints. */
  int?: bigint;
  /** Length-delimited payloads (strings, messages, packed repeats) and 64-bit fixed values. */
  bytes?: Buffer;
}

function varint(buf: Buffer, at: number): [bigint, number] {
  let value = 0n;
  for (let shift = 0n; ; shift += 7n) {
    if (at >= buf.length) throw new Error('truncated varint');
    const byte = buf[at++];
    value |= BigInt(byte & 0x7f) << shift;
    if (byte < 0x80) return [value, at];
  }
}

function fields(buf: Buffer): Field[] {
  const out: Field[] = [];
  let at = 0;
  while (at < buf.length) {
    const [tag, next] = varint(buf, at);
    at = next;
    const field = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    if (wire === 0) {
      const [int, after] = varint(buf, at);
      out.push({ field, int });
      at = after;
    } else if (wire === 1 || wire === 5) {
      const size = wire === 1 ? 8 : 4;
      out.push({ field, bytes: buf.subarray(at, at + size) });
      at += size;
    } else if (wire === 2) {
      const [length, start] = varint(buf, at);
      at = start + Number(length);
      if (at > buf.length) throw new Error('truncated field');
      out.push({ field, bytes: buf.subarray(start, at) });
    } else {
      throw new Error(`wire type ${wire} is not used by OTLP`);
    }
  }
  return out;
}

const all = (fs: Field[], n: number) => fs.filter((f) => f.field === n);
const one = (fs: Field[], n: number) => fs.find((f) => f.field === n);
const text = (f: Field | undefined) => f?.bytes?.toString('utf8');
const double = (f: Field | undefined) => f?.bytes?.readDoubleLE(0);
const fixed64 = (f: Field | undefined) => (f?.bytes ? Number(f.bytes.readBigUInt64LE(0)) : undefined);
/** A repeated 64-bit field, packed (one length-delimited run) or not. */
const repeated64 = (fs: Field[], n: number, read: (b: Buffer, at: number) => number) =>
  all(fs, n).flatMap((f) => Array.from({ length: f.bytes!.length / 8 }, (_, i) => read(f.bytes!, i * 8)));

export type AttributeValue = string | number | boolean;

/** KeyValue { 1 key; 2 value: AnyValue { 1 string, 2 bool, 3 int, 4 double } }. */
function attributes(fs: Field[], n: number): Record<string, AttributeValue> {
  return Object.fromEntries(
    all(fs, n).map((kv) => {
      const parts = fields(kv.bytes!);
      const value = fields(one(parts, 2)?.bytes ?? Buffer.alloc(0));
      const v = one(value, 1) ? text(one(value, 1))! : one(value, 2) ? one(value, 2)!.int === 1n : one(value, 3) ? Number(one(value, 3)!.int) : double(one(value, 4))!;
      return [text(one(parts, 1))!, v];
    }),
  );
}

export interface DecodedNumberPoint {
  attributes: Record<string, AttributeValue>;
  asInt?: number;
  asDouble?: number;
}

export interface DecodedHistogramPoint {
  attributes: Record<string, AttributeValue>;
  count: number;
  sum?: number;
  bucketCounts: number[];
  explicitBounds: number[];
}

export interface DecodedExponentialPoint {
  attributes: Record<string, AttributeValue>;
  count: number;
  sum?: number;
  scale: number;
  zeroCount: number;
  positive: { offset: number; bucketCounts: number[] };
}

export interface DecodedMetric {
  name: string;
  unit: string;
  sum?: { isMonotonic: boolean; dataPoints: DecodedNumberPoint[] };
  histogram?: { dataPoints: DecodedHistogramPoint[] };
  exponentialHistogram?: { dataPoints: DecodedExponentialPoint[] };
}

const zigzag = (n: bigint) => Number((n >> 1n) ^ -(n & 1n));

/** A packed run of varints. */
function packedVarints(buf: Buffer | undefined): bigint[] {
  const out: bigint[] = [];
  for (let at = 0; buf !== undefined && at < buf.length; ) {
    const [value, next] = varint(buf, at);
    out.push(value);
    at = next;
  }
  return out;
}

/**
 * ExponentialHistogramDataPoint { 1 attributes; 4 count (fixed64); 5 sum; 6 scale (sint32); 7 zero_count (fixed64);
 * 8 positive: Buckets { 1 offset (sint32); 2 bucket_counts (packed uint64) } }.
 */
function exponentialPoint(buf: Buffer): DecodedExponentialPoint {
  const fs = fields(buf);
  const positive = fields(one(fs, 8)?.bytes ?? Buffer.alloc(0));
  return {
    attributes: attributes(fs, 1),
    count: fixed64(one(fs, 4)) ?? 0,
    sum: double(one(fs, 5)),
    scale: zigzag(one(fs, 6)?.int ?? 0n),
    zeroCount: fixed64(one(fs, 7)) ?? 0,
    positive: { offset: zigzag(one(positive, 1)?.int ?? 0n), bucketCounts: all(positive, 2).flatMap((f) => (f.bytes ? packedVarints(f.bytes) : [f.int!])).map(Number) },
  };
}

/** NumberDataPoint { 4 as_double; 6 as_int (sfixed64); 7 attributes }. */
function numberPoint(buf: Buffer): DecodedNumberPoint {
  const fs = fields(buf);
  return { attributes: attributes(fs, 7), asInt: one(fs, 6) ? Number(one(fs, 6)!.bytes!.readBigInt64LE(0)) : undefined, asDouble: double(one(fs, 4)) };
}

/** HistogramDataPoint { 4 count (fixed64); 5 sum; 6 bucket_counts (fixed64); 7 explicit_bounds; 9 attributes }. */
function histogramPoint(buf: Buffer): DecodedHistogramPoint {
  const fs = fields(buf);
  return {
    attributes: attributes(fs, 9),
    count: fixed64(one(fs, 4)) ?? 0,
    sum: double(one(fs, 5)),
    bucketCounts: repeated64(fs, 6, (b, at) => Number(b.readBigUInt64LE(at))),
    explicitBounds: repeated64(fs, 7, (b, at) => b.readDoubleLE(at)),
  };
}

/** Metric { 1 name; 3 unit; 7 sum { 1 data_points; 3 is_monotonic }; 9 histogram and 10 exponential_histogram { 1 data_points } }. */
function metric(buf: Buffer): DecodedMetric {
  const fs = fields(buf);
  const decoded: DecodedMetric = { name: text(one(fs, 1)) ?? '', unit: text(one(fs, 3)) ?? '' };
  const sum = one(fs, 7);
  if (sum) {
    const s = fields(sum.bytes!);
    decoded.sum = { isMonotonic: one(s, 3)?.int === 1n, dataPoints: all(s, 1).map((p) => numberPoint(p.bytes!)) };
  }
  const histogram = one(fs, 9);
  if (histogram) decoded.histogram = { dataPoints: all(fields(histogram.bytes!), 1).map((p) => histogramPoint(p.bytes!)) };
  const exponential = one(fs, 10);
  if (exponential) decoded.exponentialHistogram = { dataPoints: all(fields(exponential.bytes!), 1).map((p) => exponentialPoint(p.bytes!)) };
  return decoded;
}

/**
 * ExportMetricsServiceRequest { 1 resource_metrics: ResourceMetrics { 1 resource { 1 attributes };
 * 2 scope_metrics: ScopeMetrics { 2 metrics } } }, flattened to the resource attributes and every metric.
 */
export function decodeMetricsRequest(body: Buffer): { resource: Record<string, AttributeValue>; metrics: DecodedMetric[] } {
  const resourceMetrics = all(fields(body), 1).map((rm) => fields(rm.bytes!));
  const resource = resourceMetrics[0] && one(resourceMetrics[0], 1) ? attributes(fields(one(resourceMetrics[0], 1)!.bytes!), 1) : {};
  const metrics = resourceMetrics.flatMap((rm) => all(rm, 2).flatMap((sm) => all(fields(sm.bytes!), 2).map((m) => metric(m.bytes!))));
  return { resource, metrics };
}
