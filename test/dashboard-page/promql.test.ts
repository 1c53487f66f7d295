import { describe, expect, it } from 'vitest';
import { histogramQuantile, rate } from '../../packages/sdk/src/query/promql.js';

// Expected values are worked by hand from Prometheus' documented rules (extrapolatedRate and
// bucketQuantile); the test against a real Prometheus (prometheus.test.ts) checks the same on live data.
describe('rate(), as PromQL computes it', () => {
  it('is the plain slope when samples sit on the range edges', () => {
    // Times in ms. 10 s range, samples 1 s inside each edge: within 1.1 average intervals, so extrapolated to both edges.
    const samples = [1, 3, 5, 7, 9].map((t, i) => ({ t: (100 + t) * 1000, v: 10 + 4 * i }));
    // increase 16 over 8 s sampled, extrapolated to 10 s: 20 / 10 s.
    expect(rate(samples, 110_000, 10_000)).toBeCloseTo(2, 12);
  });

  it('extrapolates only half an interval where the series starts late', () => {
    // samples at 106..109 (interval 1 s) in a 10 s range ending at 109.5: 6 s gap at the start ≥ 1.1.
    const samples = [6, 7, 8, 9].map((t, i) => ({ t: (100 + t) * 1000, v: 100 + i }));
    // increase 3 over 3 s; start extended by 0.5 s, end by 0.5 s (within threshold): 3 × 4/3 / 10.
    expect(rate(samples, 109_500, 10_000)).toBeCloseTo(0.4, 12);
  });

  it('never extrapolates before the counter was zero', () => {
    // first value 0.2 with slope 1/s: the zero point is 0.2 s before the first sample, nearer than the
    // half interval (0.5 s) the 1.5 s gap to the range start would otherwise allow.
    const samples = [
      { t: 101_500, v: 0.2 },
      { t: 102_500, v: 1.2 },
      { t: 103_500, v: 2.2 },
    ];
    // increase 2 over 2 s; start extended by 0.2 s, end by 0.5 s (6.5 s gap ≥ 1.1): 2 × 2.7/2 / 10.
    expect(rate(samples, 110_000, 10_000)).toBeCloseTo(0.27, 12);
  });

  it('counts a reset as a restart from zero', () => {
    const samples = [
      { t: 1000, v: 50 },
      { t: 2000, v: 60 },
      { t: 3000, v: 5 },
      { t: 4000, v: 15 },
    ];
    // 10 + 5 + 10 = 25 over 3 s sampled, edges within 1 s of (0, 4]: extrapolated to 4 s, then / 4.
    expect(rate(samples, 4000, 4000)).toBeCloseTo(25 / 3, 12);
  });

  it('needs two samples', () => {
    expect(rate([{ t: 1000, v: 1 }], 2000, 10_000)).toBeNaN();
    expect(rate([], 2000, 10_000)).toBeNaN();
  });
});

describe('histogram_quantile(), as PromQL computes it', () => {
  const buckets = [
    { le: 0.1, count: 10 },
    { le: 0.5, count: 30 },
    { le: 1, count: 40 },
    { le: Infinity, count: 40 },
  ];

  it('interpolates linearly inside the bucket holding the rank', () => {
    // rank 20 lies in (0.1, 0.5] holding 20: halfway → 0.3.
    expect(histogramQuantile(0.5, buckets)).toBeCloseTo(0.3, 12);
    // rank 36 in (0.5, 1] holding 10: 6/10 of the way → 0.8.
    expect(histogramQuantile(0.9, buckets)).toBeCloseTo(0.8, 12);
    // rank 4 in the first bucket, from 0: 0.04.
    expect(histogramQuantile(0.1, buckets)).toBeCloseTo(0.04, 12);
  });

  it('answers the highest finite bound when the rank falls in +Inf', () => {
    expect(histogramQuantile(0.99, [...buckets.slice(0, 3), { le: Infinity, count: 100 }])).toBe(1);
  });

  it('sorts, merges equal bounds and flattens dips as Prometheus does', () => {
    const shuffled = [
      { le: Infinity, count: 40 },
      { le: 0.5, count: 20 },
      { le: 0.1, count: 10 },
      { le: 0.5, count: 10 },
      { le: 1, count: 29 }, // below the 0.5 bucket's 30: flattened to 30
    ];
    // cumulative after the fixes: 10, 30, 30, 40 → rank 36 lies in +Inf → highest finite bound 1.
    expect(histogramQuantile(0.9, shuffled)).toBe(1);
    expect(histogramQuantile(0.5, shuffled)).toBeCloseTo(0.3, 12);
  });

  it('gives NaN without observations or without +Inf, and ±Inf outside [0, 1]', () => {
    expect(histogramQuantile(0.5, buckets.map((b) => ({ ...b, count: 0 })))).toBeNaN();
    expect(histogramQuantile(0.5, buckets.slice(0, 3))).toBeNaN();
    expect(histogramQuantile(-0.1, buckets)).toBe(-Infinity);
    expect(histogramQuantile(1.1, buckets)).toBe(Infinity);
  });
});
