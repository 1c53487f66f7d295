/**
 * Base-2 exponential buckets: OpenTelemetry's exponential histogram and Prometheus' native histogram,
 * which share one bucket layout. At scale `s`, bucket `i` holds the values in (2^(i/2^s), 2^((i+1)/2^s)]
 * (Prometheus numbers the same bucket `i + 1`). Zero lands in the zero bucket. When a value would need
 * more than `maxSize` buckets between the lowest and the highest, the scale drops until they fit, each
 * step merging neighbouring pairs, as the OTel specification prescribes.
 */
import { OCTAVE_BOUNDS } from './bounds.js';

/** Prometheus' finest schema, and the coarsest it accepts: the scales this SDK writes. */
export const MAX_SCALE = 8;
export const MIN_SCALE = -4;
const FINEST = 256;

const scratch = new Float64Array(1);
// The high word of a little-endian double: sign, exponent and the top 20 bits of the significand.
const words = new Uint32Array(scratch.buffer);
const HIGH = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;
const LOW = 1 - HIGH;

/**
 * For each of the 1024 slices of the octave the significand's top 10 bits select, how many of its scale-8
 * boundaries lie below the slice: a significand's index in the octave is that, or one more (at scale 8 a
 * bucket, 1/370 of the octave, is wider than a slice, so no slice holds two boundaries).
 */
const SLICE_START = (() => {
  const table = new Uint8Array(1024);
  let j = 0;
  for (let slice = 0; slice < 1024; slice++) {
    const low = 1 + slice / 1024;
    while (j < OCTAVE_BOUNDS.length && low > OCTAVE_BOUNDS[j]) j++;
    table[slice] = j;
  }
  return table;
})();

/**
 * The bucket index of a positive, finite `value` at `scale` (-4..8), exact at every boundary: read from
 * the value's exponent and significand bits, the significand placed among the octave's boundaries by a
 * table of its top bits and one comparison with the exact boundary table.
 */
export function mapToIndex(value: number, scale: number): number {
  scratch[0] = value;
  let high = words[HIGH];
  let exponent = (high >>> 20) & 0x7ff;
  if (exponent === 0) {
    // Subnormal: scaled into the normal range, where its bits can be read the same way.
    scratch[0] = value * 2 ** 64;
    high = words[HIGH];
    exponent = ((high >>> 20) & 0x7ff) - 64;
  }
  const e = exponent - 1023;
  const powerOfTwo = (high & 0xfffff) === 0 && words[LOW] === 0;
  // (2^(e-1), 2^e] holds 2^e itself: an exact power of two closes the bucket below it.
  if (scale <= 0) return (powerOfTwo ? e - 1 : e) >> -scale;
  if (powerOfTwo) return (e << scale) - 1;
  let j = SLICE_START[(high >>> 10) & 0x3ff];
  if (j < FINEST - 1) {
    // The significand as a double in (1, 2), against the boundary just above the slice's start.
    words[HIGH] = (high & 0xfffff) | 0x3ff00000;
    if (scratch[0] > OCTAVE_BOUNDS[j]) j++;
  }
  // The scale-8 index in the octave; a coarser scale's buckets are runs of 2^(8-scale) of them.
  return (e << scale) + (j >> (MAX_SCALE - scale));
}

export interface ExponentialOptions {
  /** The scale a histogram starts at (and never exceeds): -4..8. */
  readonly maxScale: number;
  /** Most buckets between the lowest and the highest populated one before the scale drops. */
  readonly maxSize: number;
}

/** Positive buckets in a dense array from the lowest populated index, grown (and halved in scale) as values arrive. */
export class ExponentialBuckets {
  scale: number;
  zeroCount = 0;
  /** Index of `counts[0]`; meaningless while `size` is 0. */
  offset = 0;
  /** Buckets in use, from `offset`. */
  size = 0;
  counts: Float64Array;

  constructor(readonly options: ExponentialOptions) {
    this.scale = options.maxScale;
    this.counts = new Float64Array(Math.min(16, options.maxSize));
  }

  record(value: number, weight: number): void {
    if (!(value > 0)) {
      this.zeroCount += weight;
      return;
    }
    let index = mapToIndex(value, this.scale);
    if (this.size === 0) {
      this.offset = index;
      this.size = 1;
      this.counts[0] = weight;
      return;
    }
    let i = index - this.offset;
    if (i < 0 || i >= this.size) {
      index = this.widen(index);
      i = index - this.offset;
    }
    this.counts[i] += weight;
  }

  /** Adds `other`'s buckets (e.g. another process's), at the coarser of the two scales. */
  add(other: ExponentialBuckets): void {
    this.addBuckets({ scale: other.scale, zeroCount: other.zeroCount, offset: other.offset, counts: other.counts.subarray(0, other.size) });
  }

  /** Adds buckets given as their scale, zero count, and counts from bucket `offset` on. */
  addBuckets(other: { scale: number; zeroCount: number; offset: number; counts: ArrayLike<number> }): void {
    this.zeroCount += other.zeroCount;
    if (other.counts.length === 0) return;
    if (other.scale < this.scale) this.downscale(this.scale - other.scale);
    for (let k = 0; k < other.counts.length; k++) {
      const count = other.counts[k];
      if (count === 0) continue;
      // At this histogram's scale now: making room for an earlier bucket may have lowered it.
      let index = (other.offset + k) >> (other.scale - this.scale);
      if (this.size === 0) {
        this.offset = index;
        this.size = 1;
        this.counts[0] = count;
        continue;
      }
      if (index < this.offset || index >= this.offset + this.size) index = this.widen(index);
      this.counts[index - this.offset] += count;
    }
  }

  /**
   * Into `out[i]`, the count of values at or below 2^powers[i] (`powers` ascending), in one pass: exact at
   * every scale ≥ 0, where each power of two is a bucket boundary. At a negative scale (a range no latency
   * or token count reaches) the bucket holding the power is counted whole.
   */
  cumulativeAtPowersOfTwo(powers: Int32Array, out: Float64Array): void {
    let total = this.zeroCount;
    let k = 0;
    for (let i = 0; i < powers.length; i++) {
      // The last bucket at or below 2^powers[i].
      const last = this.scale >= 0 ? (powers[i] << this.scale) - 1 : (powers[i] - 1) >> -this.scale;
      const end = Math.min(this.size, last - this.offset + 1);
      for (; k < end; k++) total += this.counts[k];
      out[i] = total;
    }
  }

  /**
   * Makes room for `index`, lowering the scale first if the range would pass `maxSize` (never below the
   * coarsest scale Prometheus reads: past it, the array simply grows); returns the index at the new scale.
   */
  private widen(index: number): number {
    let low = Math.min(this.offset, index);
    let high = Math.max(this.offset + this.size - 1, index);
    let change = 0;
    while (high - low + 1 > this.options.maxSize && this.scale - change > MIN_SCALE) {
      change++;
      low = Math.min(this.offset >> change, index >> change);
      high = Math.max((this.offset + this.size - 1) >> change, index >> change);
    }
    if (change > 0) {
      this.downscale(change);
      index >>= change;
    }
    const size = high - low + 1;
    if (size > this.counts.length) {
      const grown = new Float64Array(Math.max(size, Math.min(this.counts.length * 2, this.options.maxSize)));
      grown.set(this.counts.subarray(0, this.size), this.offset - low);
      this.counts = grown;
    } else if (low < this.offset) {
      this.counts.copyWithin(this.offset - low, 0, this.size);
      this.counts.fill(0, 0, this.offset - low);
    }
    this.offset = low;
    this.size = size;
    return index;
  }

  /** Lowers the scale by `change`: bucket `i` becomes `i >> change`, neighbours merged in place. */
  private downscale(change: number): void {
    if (change <= 0) return;
    this.scale -= change;
    if (this.size === 0) return;
    const offset = this.offset >> change;
    const counts = this.counts;
    for (let k = 0; k < this.size; k++) {
      const j = ((this.offset + k) >> change) - offset;
      if (j === k) continue;
      counts[j] += counts[k];
      counts[k] = 0;
    }
    this.size = ((this.offset + this.size - 1) >> change) - offset + 1;
    this.offset = offset;
  }
}
