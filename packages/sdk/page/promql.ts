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
  const sampled = last.t - first.t;
  const average = sampled / (n - 1);
  const threshold = average * 1.1;
  let toStart = first.t - (end - range);
  let toEnd = end - last.t;
  if (toStart >= threshold) toStart = average / 2;
  if (increase > 0 && first.v >= 0) {
    const toZero = sampled * (first.v / increase);
    if (toZero < toStart) toStart = toZero;
  }
  if (toEnd >= threshold) toEnd = average / 2;
  return (increase * ((sampled + toStart + toEnd) / sampled)) / (range / 1000);
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
