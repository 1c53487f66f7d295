/** A sampled request that fell into a bucket: its span's ids, the value it recorded and when (epoch ms). */
export interface Exemplar {
  traceId: string;
  spanId: string;
  value: number;
  timeMs: number;
}

/**
 * An explicit-bucket histogram in plain typed storage. Recording is a linear scan over a short
 * boundary list and four additions: no attribute hashing, no allocation.
 */
export class Histogram {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  min = Infinity;
  max = -Infinity;
  /** Per bucket, the latest sampled request that fell into it; absent until a sampled span records here. */
  exemplars?: Array<Exemplar | undefined>;

  constructor(readonly boundaries: Float64Array) {
    this.counts = new Float64Array(boundaries.length + 1);
  }

  /** Records `value` `weight` times; bucket upper bounds are inclusive, as in OTel and Prometheus. */
  record(value: number, weight = 1): void {
    const bounds = this.boundaries;
    let i = 0;
    while (i < bounds.length && value > bounds[i]) i++;
    this.counts[i] += weight;
    this.sum += value * weight;
    this.count += weight;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
  }

  /** Makes this request the bucket's exemplar, replacing the previous one in place: one slot per bucket, never more. */
  offerExemplar(value: number, traceId: string, spanId: string, timeMs: number): void {
    const bounds = this.boundaries;
    let i = 0;
    while (i < bounds.length && value > bounds[i]) i++;
    const slots = (this.exemplars ??= new Array<Exemplar | undefined>(this.counts.length).fill(undefined));
    const slot = slots[i];
    if (slot === undefined) {
      slots[i] = { traceId, spanId, value, timeMs };
    } else {
      slot.traceId = traceId;
      slot.spanId = spanId;
      slot.value = value;
      slot.timeMs = timeMs;
    }
  }
}

/** Returns the boundaries as a typed array, or undefined when they are not finite and strictly increasing. */
export function toBoundaries(values: readonly number[]): Float64Array | undefined {
  if (!Array.isArray(values)) return undefined;
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i]) || (i > 0 && values[i] <= values[i - 1])) return undefined;
  }
  return Float64Array.from(values);
}
