/**
 * Explicit-bucket (classic) histogram counts in plain typed storage: recording is a linear scan over a
 * short boundary list and one addition, with no attribute hashing and no allocation.
 */
export class ExplicitBuckets {
  /** Per bucket, not cumulative; the last is +Inf. */
  readonly counts: Float64Array;

  constructor(readonly boundaries: Float64Array) {
    this.counts = new Float64Array(boundaries.length + 1);
  }

  /** Bucket upper bounds are inclusive, as in OTel and Prometheus. */
  record(value: number, weight: number): void {
    this.counts[bucketOf(this.boundaries, value)] += weight;
  }

  /** Adds `other`'s counts; both must have the same boundaries. */
  add(other: ExplicitBuckets): void {
    for (let i = 0; i < this.counts.length; i++) this.counts[i] += other.counts[i];
  }
}

/** The bucket `value` falls into among upper bounds `bounds` (the last bucket, past them all, is +Inf). */
export function bucketOf(bounds: ArrayLike<number>, value: number): number {
  let i = 0;
  while (i < bounds.length && value > bounds[i]) i++;
  return i;
}

/** Returns the boundaries as a typed array, or undefined when they are not finite and strictly increasing. */
export function toBoundaries(values: unknown): Float64Array | undefined {
  if (!Array.isArray(values)) return undefined;
  for (let i = 0; i < values.length; i++) {
    if (typeof values[i] !== 'number' || !Number.isFinite(values[i]) || (i > 0 && values[i] <= values[i - 1])) return undefined;
  }
  return Float64Array.from(values as number[]);
}
