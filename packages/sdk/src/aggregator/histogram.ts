/**
 * One histogram of one series: count, sum, min and max, and the bucket aggregations its metric keeps
 * (explicit, exponential or both), recorded together. Every writer reads buckets through here.
 */
import { bucketOf, ExplicitBuckets } from './explicit.js';
import { ExponentialBuckets, type ExponentialOptions } from './exponential.js';

/** What a recorder keeps for one histogram metric, decided once per recorder. */
export interface HistogramLayout {
  /** Classic buckets' upper bounds, when classic buckets are kept. */
  readonly boundaries?: Float64Array;
  /** Exponential (native) buckets' settings, when they are kept. */
  readonly exponential?: ExponentialOptions;
  /**
   * The classic buckets a text scraper sees: `boundaries` when kept; otherwise powers of two (2^k for
   * each k of `powers`), read exactly off the exponential buckets, whose boundaries they all are.
   */
  readonly view: Float64Array;
  readonly powers?: Int32Array;
}

/** A sampled request that fell into a bucket: its span's ids, the value it recorded and when (epoch ms). */
export interface Exemplar {
  traceId: string;
  spanId: string;
  value: number;
  timeMs: number;
}

export class Histogram {
  sum = 0;
  count = 0;
  min = Infinity;
  max = -Infinity;
  readonly explicit: ExplicitBuckets | undefined;
  readonly exponential: ExponentialBuckets | undefined;
  /** Per bucket of the classic view, the latest sampled request that fell into it; absent until a sampled span records here. */
  exemplars?: Array<Exemplar | undefined>;

  constructor(readonly layout: HistogramLayout) {
    this.explicit = layout.boundaries === undefined ? undefined : new ExplicitBuckets(layout.boundaries);
    this.exponential = layout.exponential === undefined ? undefined : new ExponentialBuckets(layout.exponential);
  }

  /** Records `value` `weight` times. */
  record(value: number, weight = 1): void {
    this.sum += value * weight;
    this.count += weight;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
    this.explicit?.record(value, weight);
    this.exponential?.record(value, weight);
  }

  /** Makes this request the exemplar of its classic-view bucket, replacing the previous one in place: one slot per bucket. */
  offerExemplar(value: number, traceId: string, spanId: string, timeMs: number): void {
    const view = this.layout.view;
    const slots = (this.exemplars ??= new Array<Exemplar | undefined>(view.length + 1).fill(undefined));
    const i = bucketOf(view, value);
    const slot = slots[i];
    if (slot === undefined) slots[i] = { traceId, spanId, value, timeMs };
    else {
      slot.traceId = traceId;
      slot.spanId = spanId;
      slot.value = value;
      slot.timeMs = timeMs;
    }
  }

  /** Per-bucket (not cumulative) counts of the classic view; the last is +Inf. */
  viewCounts(): Float64Array {
    if (this.explicit !== undefined) return this.explicit.counts;
    const powers = this.layout.powers!;
    const counts = new Float64Array(powers.length + 1);
    this.exponential!.cumulativeAtPowersOfTwo(powers, counts);
    counts[powers.length] = this.count;
    for (let i = powers.length; i > 0; i--) counts[i] -= counts[i - 1];
    return counts;
  }

  /** Adds `other` (same layout) into this one: another process's share of the same series. */
  add(other: Histogram): void {
    this.sum += other.sum;
    this.count += other.count;
    if (other.min < this.min) this.min = other.min;
    if (other.max > this.max) this.max = other.max;
    if (other.explicit !== undefined) this.explicit?.add(other.explicit);
    if (other.exponential !== undefined) this.exponential?.add(other.exponential);
  }
}
