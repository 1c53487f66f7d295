// PromQL's rate() and histogram_quantile() arithmetic, so the page and a Grafana panel over the same
// samples show the same numbers. Runs in the browser (bundled into the page) and in node (tested).

/** One sample of a series: unix milliseconds (whole, as Prometheus keeps them: differences stay exact) and value. */
export interface Sample {
  t: number;
  v: number;
}

/**
 * `rate(x[range])` per second, evaluated at `end` (ms) over the samples in the range (ms), as Prometheus does:
 * counter resets add the value before the drop, and the result is extrapolated towards the range's
 * edges (all the way when a sample sits within 1.1 average intervals of an edge, half an interval
 * otherwise, never past the counter's zero). NaN with fewer than two samples.
 */
export function rate(samples: readonly Sample[], end: number, range: number): number {
  const n = samples.length;
  if (n < 2) return NaN;
  const first = samples[0];
  const last = samples[n - 1];
  let increase = last.v - first.v;
  let previous = first.v;
  for (let i = 1; i < n; i++) {
    if (samples[i].v < previous) increase += previous;
    previous = samples[i].v;
  }
  // Never past the counter's zero: the start extrapolates at most to where the slope reaches 0.
  const toZero = increase > 0 && first.v >= 0 ? (last.t - first.t) * (first.v / increase) : Infinity;
  return increase * extrapolation(first.t, last.t, n, end, range, toZero);
}

/**
 * What rate() multiplies an increase by: the sampled interval stretched towards the range's edges (all the
 * way when a sample sits within 1.1 average intervals of an edge, half an interval otherwise; at the start no
 * further than `toZero` ms), over the sampled interval, per second of the range.
 */
function extrapolation(firstT: number, lastT: number, n: number, end: number, range: number, toZero = Infinity): number {
  const sampled = lastT - firstT;
  const average = sampled / (n - 1);
  const threshold = average * 1.1;
  let toStart = firstT - (end - range);
  let toEnd = end - lastT;
  if (toStart >= threshold) toStart = average / 2;
  if (toZero < toStart) toStart = toZero;
  if (toEnd >= threshold) toEnd = average / 2;
  return (sampled + toStart + toEnd) / sampled / (range / 1000);
}

/** A cumulative bucket: upper bound (`le`) and the count (or rate) of observations at or below it. */
export interface Bucket {
  le: number;
  count: number;
}

/**
 * `histogram_quantile(q, buckets)` as Prometheus computes it for classic histograms: buckets sorted
 * and merged by bound, counts forced monotonic, linear interpolation inside the bucket holding the
 * rank (from 0 in the first bucket when its bound is positive), the highest finite bound when the
 * rank falls in the +Inf bucket. NaN without a +Inf bucket or observations.
 */
export function histogramQuantile(q: number, input: readonly Bucket[]): number {
  if (Number.isNaN(q)) return NaN;
  if (q < 0) return -Infinity;
  if (q > 1) return Infinity;
  const sorted = [...input].sort((a, b) => a.le - b.le);
  const buckets: Bucket[] = [];
  for (const b of sorted) {
    const top = buckets[buckets.length - 1];
    if (top !== undefined && top.le === b.le) top.count += b.count;
    else buckets.push({ le: b.le, count: b.count });
  }
  if (buckets.length < 2 || buckets[buckets.length - 1].le !== Infinity) return NaN;
  forceMonotonic(buckets);
  const observations = buckets[buckets.length - 1].count;
  if (!(observations > 0)) return NaN;
  let rank = q * observations;
  let b = 0;
  while (b < buckets.length - 1 && buckets[b].count < rank) b++;
  if (b === buckets.length - 1) return buckets[buckets.length - 2].le;
  if (b === 0 && buckets[0].le <= 0) return buckets[0].le;
  let start = 0;
  let count = buckets[b].count;
  if (b > 0) {
    start = buckets[b - 1].le;
    count -= buckets[b - 1].count;
    rank -= buckets[b - 1].count;
  }
  return start + (buckets[b].le - start) * (rank / count);
}

/**
 * Rates of cumulative buckets, each extrapolated on its own, can dip below a lower bucket by a
 * rounding error; Prometheus flattens those dips (and any real ones) to the running maximum.
 */
function forceMonotonic(buckets: Bucket[]): void {
  let max = -Infinity;
  for (const b of buckets) {
    if (b.count > max) max = b.count;
    else b.count = max;
  }
}

/** A native histogram's buckets (or their rates): bucket `offset + i` holds (2^((offset+i)/2^scale), 2^((offset+i+1)/2^scale)]. */
export interface NativeBuckets {
  scale: number;
  zeroCount: number;
  offset: number;
  counts: ArrayLike<number>;
}

/**
 * `histogram_quantile(q, h)` as Prometheus 2.x computes it for a native histogram with positive buckets:
 * the bucket holding the rank (the zero bucket first, taken from 0), then linear interpolation inside it.
 * NaN without observations.
 */
export function nativeQuantile(q: number, h: NativeBuckets): number {
  if (Number.isNaN(q)) return NaN;
  if (q < 0) return -Infinity;
  if (q > 1) return Infinity;
  let total = h.zeroCount;
  for (let i = 0; i < h.counts.length; i++) total += h.counts[i];
  if (!(total > 0)) return NaN;
  const rank = q * total;
  if (h.zeroCount >= rank) return h.zeroCount > 0 ? (rank / h.zeroCount) * ZERO_WIDTH : 0;
  let below = h.zeroCount;
  const base = 2 ** (2 ** -h.scale);
  for (let i = 0; i < h.counts.length; i++) {
    const count = h.counts[i];
    if (count <= 0) continue;
    if (below + count >= rank) {
      const lower = base ** (h.offset + i);
      return lower + (lower * base - lower) * ((rank - below) / count);
    }
    below += count;
  }
  return base ** (h.offset + h.counts.length);
}

/** The zero bucket's width as the SDK writes it (Prometheus' default), the upper bound interpolation uses there. */
const ZERO_WIDTH = 2 ** -128;

/** `h`'s buckets at a lower `scale` (neighbours merged), so histograms recorded at different scales add up bucket for bucket. */
export function atScale(h: NativeBuckets, scale: number): NativeBuckets {
  const change = h.scale - scale;
  if (change <= 0) return h;
  if (h.counts.length === 0) return { scale, zeroCount: h.zeroCount, offset: 0, counts: [] };
  const offset = h.offset >> change;
  const counts = new Array<number>(((h.offset + h.counts.length - 1) >> change) - offset + 1).fill(0);
  for (let i = 0; i < h.counts.length; i++) counts[((h.offset + i) >> change) - offset] += h.counts[i];
  return { scale, zeroCount: h.zeroCount, offset, counts };
}

/** `h` minus `base`, bucket for bucket, at the coarser of their scales. */
function subtract(h: NativeBuckets, base: NativeBuckets, sign = -1): NativeBuckets {
  const scale = Math.min(h.scale, base.scale);
  const a = atScale(h, scale);
  const b = atScale(base, scale);
  if (a.counts.length === 0 && b.counts.length === 0) return { scale, zeroCount: a.zeroCount + sign * b.zeroCount, offset: 0, counts: [] };
  const low = Math.min(a.counts.length ? a.offset : Infinity, b.counts.length ? b.offset : Infinity);
  const high = Math.max(a.offset + a.counts.length, b.offset + b.counts.length);
  const counts = new Array<number>(high - low).fill(0);
  for (let i = 0; i < a.counts.length; i++) counts[a.offset - low + i] += a.counts[i];
  for (let i = 0; i < b.counts.length; i++) counts[b.offset - low + i] += sign * b.counts[i];
  return { scale, zeroCount: a.zeroCount + sign * b.zeroCount, offset: low, counts };
}

/** `a + b`, bucket for bucket, at the coarser of their scales. */
export const addNative = (a: NativeBuckets, b: NativeBuckets): NativeBuckets => subtract(a, b, 1);

/** `a - b`, bucket for bucket, at the coarser of their scales: what was recorded between two readings. */
export const subtractNative = (a: NativeBuckets, b: NativeBuckets): NativeBuckets => subtract(a, b);

const totalOf = (h: NativeBuckets) => {
  let total = h.zeroCount;
  for (let i = 0; i < h.counts.length; i++) total += h.counts[i];
  return total;
};

/** A native histogram sampled at time `t` (unix ms). */
export interface NativeSample {
  t: number;
  h: NativeBuckets;
}

/**
 * `rate(h[range])` of a native histogram series as Prometheus 2.x computes it: the last histogram less the
 * first (at the coarsest scale seen), plus the histogram before each counter reset, all scaled by one
 * extrapolation factor. Undefined with fewer than two samples.
 */
export function nativeRate(samples: readonly NativeSample[], end: number, range: number): NativeBuckets | undefined {
  const n = samples.length;
  if (n < 2) return undefined;
  let increase = subtract(samples[n - 1].h, samples[0].h);
  for (let i = 1; i < n; i++) {
    const previous = samples[i - 1].h;
    if (totalOf(samples[i].h) < totalOf(previous)) increase = addNative(increase, previous);
  }
  const factor = extrapolation(samples[0].t, samples[n - 1].t, n, end, range);
  return { scale: increase.scale, zeroCount: increase.zeroCount * factor, offset: increase.offset, counts: Array.from(increase.counts, (c) => c * factor) };
}
