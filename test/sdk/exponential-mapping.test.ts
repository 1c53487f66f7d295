import { describe, expect, it } from 'vitest';
import { OCTAVE_BOUNDS } from '../../packages/sdk/src/aggregator/bounds.js';
import { ExponentialBuckets, mapToIndex } from '../../packages/sdk/src/aggregator/exponential.js';

// An exact reference: a double is M·2^E with integer M, and at scale s > 0 it lies above the boundary
// 2^(k/2^s) exactly when (M·2^E)^(2^s) > 2^k, which BigInt decides without rounding.
function decompose(value: number): { m: bigint; e: number } {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, value);
  const bits = view.getBigUint64(0);
  const biased = Number((bits >> 52n) & 0x7ffn);
  const fraction = bits & ((1n << 52n) - 1n);
  return biased === 0 ? { m: fraction, e: -1074 } : { m: fraction | (1n << 52n), e: biased - 1075 };
}

/** value > 2^(k / 2^scale), exactly. */
function above(value: number, k: number, scale: number): boolean {
  const { m, e } = decompose(value);
  if (scale <= 0) {
    // 2^(k·2^-scale) is a power of two.
    const p = k * 2 ** -scale;
    return p - e >= 0 ? m > 1n << BigInt(p - e) : m << BigInt(e - p) > 1n;
  }
  const n = 2 ** scale;
  // (m·2^e)^n > 2^k  ⇔  m^n > 2^(k - e·n)
  const shift = k - e * n;
  const power = m ** BigInt(n);
  return shift >= 0 ? power > 1n << BigInt(shift) : power << BigInt(-shift) > 1n;
}

/** The index i with 2^(i/2^s) < value ≤ 2^((i+1)/2^s), from an estimate corrected by exact comparisons. */
function referenceIndex(value: number, scale: number): number {
  let i = Math.floor(Math.log2(value) * 2 ** scale);
  while (!above(value, i, scale)) i--;
  while (above(value, i + 1, scale)) i++;
  return i;
}

function nextUp(x: number): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  view.setBigUint64(0, view.getBigUint64(0) + 1n);
  return view.getFloat64(0);
}

function nextDown(x: number): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  view.setBigUint64(0, view.getBigUint64(0) - 1n);
  return view.getFloat64(0);
}

// A seeded generator, so a failure names a value that can be replayed.
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const SCALES = [-4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7, 8];

describe('exponential bucket mapping', () => {
  it('holds the exact scale-8 boundary table: each entry is the largest double not above 2^(k/256)', () => {
    expect(OCTAVE_BOUNDS.length).toBe(255);
    for (let k = 1; k <= 255; k++) {
      const entry = OCTAVE_BOUNDS[k - 1];
      expect(above(entry, k, 8), `entry ${k} is above 2^(${k}/256)`).toBe(false);
      expect(above(nextUp(entry), k, 8), `the double after entry ${k} is not above 2^(${k}/256)`).toBe(true);
    }
  });

  it('maps the doubles on either side of every boundary, at every scale, as the exact reference does', () => {
    let checked = 0;
    for (const scale of SCALES) {
      const perOctave = scale > 0 ? 2 ** scale : 1;
      for (const octave of [-20, -1, 0, 1, 7, 30]) {
        for (let k = 0; k < perOctave; k++) {
          // The boundary 2^(octave + k/perOctave), as the largest double not above it and its neighbours.
          const base = k === 0 ? 1 : OCTAVE_BOUNDS[k * (256 / perOctave) - 1];
          const at = base * 2 ** octave;
          for (const value of [nextDown(at), at, nextUp(at), nextUp(nextUp(at))]) {
            expect(mapToIndex(value, scale), `${value} at scale ${scale}`).toBe(referenceIndex(value, scale));
            checked++;
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(10_000);
  });

  it('puts an exact power of two in the bucket it closes', () => {
    for (const scale of SCALES) {
      for (const e of [-1074, -1022, -10, -1, 0, 1, 3, 60, 1023]) {
        const value = 2 ** e;
        expect(mapToIndex(value, scale), `2^${e} at scale ${scale}`).toBe(referenceIndex(value, scale));
      }
    }
  });

  it('maps random values across the range, subnormals included, as the exact reference does', () => {
    const next = random(20261205);
    for (let n = 0; n < 3000; n++) {
      const scale = SCALES[Math.floor(next() * SCALES.length)];
      // Latencies and token counts mostly, with the ends of the double range too.
      const exponent = n % 10 === 0 ? Math.floor(next() * 2046) - 1074 : Math.floor(next() * 60) - 30;
      const value = (1 + next()) * 2 ** exponent;
      if (!(value > 0) || !Number.isFinite(value)) continue;
      expect(mapToIndex(value, scale), `${value} at scale ${scale}`).toBe(referenceIndex(value, scale));
    }
  });

  it('maps subnormals, whose significand has no leading one', () => {
    for (const value of [Number.MIN_VALUE, 3 * Number.MIN_VALUE, 2 ** -1060 * 1.7, nextDown(2 ** -1022)]) {
      for (const scale of SCALES) {
        expect(mapToIndex(value, scale), `${value} at scale ${scale}`).toBe(referenceIndex(value, scale));
      }
    }
  });
});

describe('exponential buckets', () => {
  function counts(buckets: ExponentialBuckets): Map<number, number> {
    const out = new Map<number, number>();
    for (let k = 0; k < buckets.size; k++) if (buckets.counts[k] > 0) out.set(buckets.offset + k, buckets.counts[k]);
    return out;
  }

  /** Each value's bucket at `scale` by the reference, counted. */
  function expected(values: number[], scale: number): Map<number, number> {
    const out = new Map<number, number>();
    for (const v of values) {
      const i = referenceIndex(v, scale);
      out.set(i, (out.get(i) ?? 0) + 1);
    }
    return out;
  }

  it('keeps every value in the bucket the reference gives while the range fits maxSize', () => {
    const next = random(7);
    const values = Array.from({ length: 500 }, () => 0.1 + next() * 0.05);
    const buckets = new ExponentialBuckets({ maxScale: 8, maxSize: 320 });
    for (const v of values) buckets.record(v, 1);
    expect(buckets.scale).toBe(8);
    expect(counts(buckets)).toEqual(expected(values, 8));
  });

  it('lowers the scale to fit maxSize, and then holds exactly what recording at that scale would', () => {
    const next = random(11);
    // Three decades, from 1 ms to 1 s: 10 octaves, so 2560 buckets at scale 8; 320 allow scale 5 (320 buckets).
    const values = Array.from({ length: 2000 }, () => 10 ** (-3 + 3 * next()));
    const buckets = new ExponentialBuckets({ maxScale: 8, maxSize: 320 });
    for (const v of values) buckets.record(v, 1);
    const low = Math.min(...values);
    const high = Math.max(...values);
    // The finest scale at which the values' range spans at most 320 buckets.
    let scale = 8;
    while (referenceIndex(high, scale) - referenceIndex(low, scale) + 1 > 320) scale--;
    expect(buckets.scale).toBe(scale);
    expect(buckets.size).toBeLessThanOrEqual(320);
    expect(counts(buckets)).toEqual(expected(values, scale));
    expect(buckets.zeroCount).toBe(0);
  });

  it('counts zero and negative values in the zero bucket', () => {
    const buckets = new ExponentialBuckets({ maxScale: 8, maxSize: 320 });
    buckets.record(0, 2);
    buckets.record(-1, 1);
    buckets.record(1.5, 1);
    expect(buckets.zeroCount).toBe(3);
    expect(counts(buckets)).toEqual(expected([1.5], 8));
  });

  it('adds another histogram at the coarser scale, equal to recording both sets into one', () => {
    const next = random(3);
    const narrow = Array.from({ length: 300 }, () => 0.2 + next() * 0.01);
    const wide = Array.from({ length: 300 }, () => 10 ** (-4 + 5 * next()));
    const a = new ExponentialBuckets({ maxScale: 8, maxSize: 160 });
    const b = new ExponentialBuckets({ maxScale: 8, maxSize: 160 });
    for (const v of narrow) a.record(v, 1);
    for (const v of wide) b.record(v, 1);
    b.record(0, 4);
    expect(a.scale).toBeGreaterThan(b.scale);
    a.add(b);
    // The union at the scale the sum ended at, which is no finer than either part's.
    expect(a.scale).toBeLessThanOrEqual(b.scale);
    expect(counts(a)).toEqual(expected([...narrow, ...wide], a.scale));
    expect(a.zeroCount).toBe(4);
  });

  it('adds buckets that need a lower scale to fit, merging on the way', () => {
    const a = new ExponentialBuckets({ maxScale: 8, maxSize: 20 });
    const b = new ExponentialBuckets({ maxScale: 8, maxSize: 20 });
    const left = [1.01, 1.02, 1.03];
    const right = [100, 101, 120];
    for (const v of left) a.record(v, 1);
    for (const v of right) b.record(v, 1);
    a.add(b);
    expect(a.size).toBeLessThanOrEqual(20);
    expect(counts(a)).toEqual(expected([...left, ...right], a.scale));
    // The finest scale at which 1.01 and 120 lie within 20 buckets.
    let scale = 8;
    while (referenceIndex(120, scale) - referenceIndex(1.01, scale) + 1 > 20) scale--;
    expect(a.scale).toBe(scale);
  });

  it('counts the values at or below each power of two, as a sort of the values does', () => {
    const next = random(5);
    const values = Array.from({ length: 1000 }, () => 10 ** (-3 + 4 * next()));
    values.push(0.5, 1, 2, 0.25, 0);
    for (const maxSize of [320, 40, 8]) {
      const buckets = new ExponentialBuckets({ maxScale: 8, maxSize });
      for (const v of values) buckets.record(v, 1);
      const powers = Int32Array.from([-12, -10, -5, -2, -1, 0, 1, 3, 10, 14]);
      const out = new Float64Array(powers.length);
      buckets.cumulativeAtPowersOfTwo(powers, out);
      const truth = Array.from(powers, (p) => values.filter((v) => v <= 2 ** p).length);
      if (buckets.scale >= 0) expect(Array.from(out), `maxSize ${maxSize}, scale ${buckets.scale}`).toEqual(truth);
      else for (let i = 0; i < out.length; i++) expect(out[i]).toBeGreaterThanOrEqual(truth[i]);
    }
  });
});
