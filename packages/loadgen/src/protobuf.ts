/**
 * Reads the Prometheus protobuf exposition (varint-delimited `io.prometheus.client.MetricFamily`), the
 * format that carries native histograms: enough of metrics.proto for the comparison to read counters,
 * gauges and histograms, classic and native. No protobuf library: the schema is small and stable.
 */

export interface DecodedFamily {
  name: string;
  /** metrics.proto's MetricType: 0 counter, 1 gauge, 4 histogram. */
  type: number;
  metrics: DecodedMetric[];
}

export interface DecodedHistogram {
  count: number;
  sum: number;
  /** Classic buckets: cumulative count per upper bound. */
  buckets: { upperBound: number; cumulativeCount: number }[];
  /** Native buckets, when the histogram has them (schema set, or a zero bucket). */
  native?: { schema: number; zeroThreshold: number; zeroCount: number; spans: { offset: number; length: number }[]; deltas: number[] };
}

export interface DecodedMetric {
  labels: Record<string, string>;
  value?: number;
  histogram?: DecodedHistogram;
}

type Field = { field: number; value: number | bigint | Buffer };

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
  for (let at = 0; at < buf.length; ) {
    const [tag, next] = varint(buf, at);
    at = next;
    const field = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    if (wire === 0) {
      const [value, after] = varint(buf, at);
      out.push({ field, value });
      at = after;
    } else if (wire === 1) {
      out.push({ field, value: buf.readDoubleLE(at) });
      at += 8;
    } else if (wire === 2) {
      const [length, start] = varint(buf, at);
      at = start + Number(length);
      out.push({ field, value: buf.subarray(start, at) });
    } else if (wire === 5) {
      out.push({ field, value: buf.readFloatLE(at) });
      at += 4;
    } else throw new Error(`wire type ${wire} is not used by metrics.proto`);
  }
  return out;
}

const zigzag = (n: bigint) => Number((n >> 1n) ^ -(n & 1n));
const all = (fs: Field[], n: number) => fs.filter((f) => f.field === n);
const one = (fs: Field[], n: number) => fs.find((f) => f.field === n)?.value;
const text = (v: unknown) => (Buffer.isBuffer(v) ? v.toString('utf8') : '');
const number = (v: unknown) => (typeof v === 'bigint' ? Number(v) : typeof v === 'number' ? v : 0);

function histogram(buf: Buffer): DecodedHistogram {
  const fs = fields(buf);
  const buckets = all(fs, 3).map((b) => {
    const bf = fields(b.value as Buffer);
    return { cumulativeCount: number(one(bf, 1)), upperBound: number(one(bf, 2)) };
  });
  const out: DecodedHistogram = { count: number(one(fs, 1)) || number(one(fs, 4)), sum: number(one(fs, 2)), buckets };
  const schema = one(fs, 5);
  if (schema !== undefined || number(one(fs, 6)) > 0) {
    out.native = {
      schema: typeof schema === 'bigint' ? zigzag(schema) : 0,
      zeroThreshold: number(one(fs, 6)),
      zeroCount: number(one(fs, 7)) || number(one(fs, 8)),
      spans: all(fs, 12).map((s) => {
        const sf = fields(s.value as Buffer);
        const offset = one(sf, 1);
        return { offset: typeof offset === 'bigint' ? zigzag(offset) : 0, length: number(one(sf, 2)) };
      }),
      // sint64 deltas, unpacked (proto2's default) or packed.
      deltas: all(fs, 13).flatMap((d) => (Buffer.isBuffer(d.value) ? packed(d.value).map(zigzag) : [zigzag(d.value as bigint)])),
    };
  }
  return out;
}

function packed(buf: Buffer): bigint[] {
  const out: bigint[] = [];
  for (let at = 0; at < buf.length; ) {
    const [value, next] = varint(buf, at);
    out.push(value);
    at = next;
  }
  return out;
}

function metric(buf: Buffer): DecodedMetric {
  const fs = fields(buf);
  const labels: Record<string, string> = {};
  for (const l of all(fs, 1)) {
    const lf = fields(l.value as Buffer);
    labels[text(one(lf, 1))] = text(one(lf, 2));
  }
  const m: DecodedMetric = { labels };
  for (const field of [2, 3, 5]) {
    const body = one(fs, field);
    if (Buffer.isBuffer(body)) m.value = number(one(fields(body), 1));
  }
  const h = one(fs, 7);
  if (Buffer.isBuffer(h)) m.histogram = histogram(h);
  return m;
}

/** Every MetricFamily of a delimited exposition. */
export function decodeExposition(body: Buffer): DecodedFamily[] {
  const families: DecodedFamily[] = [];
  for (let at = 0; at < body.length; ) {
    const [length, start] = varint(body, at);
    at = start + Number(length);
    const fs = fields(body.subarray(start, at));
    families.push({ name: text(one(fs, 1)), type: number(one(fs, 3)), metrics: all(fs, 4).map((m) => metric(m.value as Buffer)) });
  }
  return families;
}

/** A native histogram's buckets as the SDK's query functions take them: OTel indexes (Prometheus' less one), dense from the lowest. */
export function nativeBuckets(n: NonNullable<DecodedHistogram['native']>): { scale: number; zeroCount: number; offset: number; counts: number[] } {
  const counts: number[] = [];
  let offset = 0;
  let index = 0;
  let count = 0;
  let d = 0;
  for (const [s, span] of n.spans.entries()) {
    index += span.offset;
    if (s === 0) offset = index - 1;
    for (let k = 0; k < span.length; k++, index++) {
      count += n.deltas[d++];
      counts[index - 1 - offset] = count;
    }
  }
  for (let i = 0; i < counts.length; i++) counts[i] ??= 0;
  return { scale: n.schema, zeroCount: n.zeroCount, offset, counts };
}
