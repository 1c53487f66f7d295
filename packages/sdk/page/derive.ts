// What the page shows, derived from successive snapshots with PromQL's arithmetic (promql.ts):
// rate() per series then summed, histogram_quantile() of the summed bucket rates, gauges as they stand.
import type { SloSettings } from '../src/dashboard/page-config.js';
import type { Snapshot, SnapshotPoint } from '../src/export/snapshot-types.js';
import { addNative, histogramQuantile, nativeQuantile, nativeRate, rate, type Bucket, type NativeBuckets, type NativeSample, type Sample } from '../src/query/promql.js';

type Attributes = SnapshotPoint['attributes'];
export type Match = (attributes: Attributes) => boolean;

/** A snapshot indexed for lookups: time in unix milliseconds, points by metric name and series key. */
export interface Indexed {
  t: number;
  metrics: Map<string, Map<string, SnapshotPoint>>;
}

const keyOf = (attributes: Attributes) =>
  Object.keys(attributes)
    .sort()
    .map((k) => `${k}=${String(attributes[k])}`)
    .join('\u0000');

export function indexSnapshot(snapshot: Snapshot, t = snapshot.t): Indexed {
  const metrics = new Map<string, Map<string, SnapshotPoint>>();
  for (const metric of snapshot.metrics) {
    const points = metrics.get(metric.name) ?? new Map<string, SnapshotPoint>();
    for (const point of metric.points) points.set(keyOf(point.attributes), point);
    metrics.set(metric.name, points);
  }
  return { t, metrics };
}

/** The snapshots in (end - range, end] (milliseconds), oldest first, from a history sorted by time. */
export function windowOf(history: readonly Indexed[], end: number, range: number): Indexed[] {
  let from = history.length;
  while (from > 0 && history[from - 1].t > end - range) from--;
  let to = from;
  while (to < history.length && history[to].t <= end) to++;
  return history.slice(from, to);
}

/** Samples per series key (and per extra key from `split`) across the window. */
function samplesOf(window: readonly Indexed[], name: string, match: Match, values: (p: SnapshotPoint) => [string, number][]) {
  const out = new Map<string, { attributes: Attributes; samples: Sample[] }>();
  for (const snapshot of window) {
    for (const [key, point] of snapshot.metrics.get(name) ?? []) {
      if (!match(point.attributes)) continue;
      for (const [sub, v] of values(point)) {
        const k = `${key}\u0001${sub}`;
        let entry = out.get(k);
        if (entry === undefined) out.set(k, (entry = { attributes: point.attributes, samples: [] }));
        entry.samples.push({ t: snapshot.t, v });
      }
    }
  }
  return out;
}

/** `sum by (label) (rate(name[range]))` at `end`; without `label`, one group `''`. */
export function rateBy(window: readonly Indexed[], end: number, range: number, name: string, match: Match, label?: string): Map<string, number> {
  const sums = new Map<string, number>();
  for (const { attributes, samples } of samplesOf(window, name, match, (p) => [['', p.value ?? NaN]]).values()) {
    const r = rate(samples, end, range);
    if (!Number.isFinite(r)) continue;
    const group = label === undefined ? '' : String(attributes[label] ?? '');
    sums.set(group, (sums.get(group) ?? 0) + r);
  }
  return sums;
}

/** `sum(rate(name[range]))`, or null when no series has two samples in the window. */
export function sumRate(window: readonly Indexed[], end: number, range: number, name: string, match: Match): number | null {
  return rateBy(window, end, range, name, match).get('') ?? null;
}

function cumulative(p: SnapshotPoint): [string, number][] {
  const out: [string, number][] = [];
  let total = 0;
  const bounds = p.bounds ?? [];
  const counts = p.counts ?? [];
  for (let i = 0; i < counts.length; i++) {
    total += counts[i];
    out.push([i < bounds.length ? String(bounds[i]) : '+Inf', total]);
  }
  return out;
}

const isNative = (p: SnapshotPoint) => p.scale !== undefined;
const nativeOf = (p: SnapshotPoint): NativeBuckets => ({ scale: p.scale!, zeroCount: p.zeroCount ?? 0, offset: p.offset ?? 0, counts: p.counts ?? [] });

/**
 * For each q, `histogram_quantile(q, sum(rate(name[range])))` over native histograms, or
 * `histogram_quantile(q, sum by (le) (rate(name_bucket[range])))` over classic ones; null where PromQL gives NaN.
 */
export function quantiles(window: readonly Indexed[], end: number, range: number, name: string, match: Match, qs: readonly number[]): (number | null)[] {
  const native = window.some((snapshot) => [...(snapshot.metrics.get(name)?.values() ?? [])].some(isNative));
  const finite = (v: number) => (Number.isFinite(v) ? v : null);
  if (native) {
    const summed = nativeRateSum(window, end, range, name, match);
    return qs.map((q) => (summed === undefined ? null : finite(nativeQuantile(q, summed))));
  }
  const byLe = new Map<string, number>();
  for (const [key, { samples }] of samplesOf(window, name, match, cumulative)) {
    const r = rate(samples, end, range);
    if (!Number.isFinite(r)) continue;
    const le = key.slice(key.lastIndexOf('\u0001') + 1);
    byLe.set(le, (byLe.get(le) ?? 0) + r);
  }
  const buckets: Bucket[] = [...byLe].map(([le, count]) => ({ le: le === '+Inf' ? Infinity : Number(le), count }));
  return qs.map((q) => finite(histogramQuantile(q, buckets)));
}

/** `sum(rate(name[range]))` of the matching native series, at their coarsest scale; undefined when none has two samples. */
function nativeRateSum(window: readonly Indexed[], end: number, range: number, name: string, match: Match): NativeBuckets | undefined {
  const series = new Map<string, NativeSample[]>();
  for (const snapshot of window) {
    for (const [key, point] of snapshot.metrics.get(name) ?? []) {
      if (!match(point.attributes) || !isNative(point)) continue;
      let samples = series.get(key);
      if (samples === undefined) series.set(key, (samples = []));
      samples.push({ t: snapshot.t, h: nativeOf(point) });
    }
  }
  let sum: NativeBuckets | undefined;
  for (const samples of series.values()) {
    const r = nativeRate(samples, end, range);
    if (r !== undefined) sum = sum === undefined ? r : addNative(sum, r);
  }
  return sum;
}

/** Gauge points matching, aggregated (`sum`, `avg`, `max`), grouped by the label values `group` returns. */
export function gaugeBy(snapshot: Indexed | undefined, name: string, match: Match, agg: 'sum' | 'avg' | 'max', group: (a: Attributes) => string = () => ''): Map<string, number> {
  const acc = new Map<string, { total: number; n: number; max: number }>();
  for (const point of snapshot?.metrics.get(name)?.values() ?? []) {
    if (!match(point.attributes) || typeof point.value !== 'number') continue;
    const g = group(point.attributes);
    const a = acc.get(g) ?? { total: 0, n: 0, max: -Infinity };
    a.total += point.value;
    a.n++;
    a.max = Math.max(a.max, point.value);
    acc.set(g, a);
  }
  return new Map([...acc].map(([g, a]) => [g, agg === 'sum' ? a.total : agg === 'avg' ? a.total / a.n : a.max]));
}

/** Observations per bucket between two snapshots, summed over matching series: one heatmap column, keyed by upper bound. */
export function bucketIncrease(previous: Indexed | undefined, current: Indexed, name: string, match: Match): Map<string, number> {
  const out = new Map<string, number>();
  const add = (le: string, d: number) => out.set(le, (out.get(le) ?? 0) + Math.max(0, d));
  for (const [key, point] of current.metrics.get(name) ?? []) {
    if (!match(point.attributes)) continue;
    const before = previous?.metrics.get(name)?.get(key);
    // A count that went down is a restart: the whole current count is new, as rate() treats resets.
    const reset = before === undefined || (before.count ?? 0) > (point.count ?? 0);
    if (isNative(point)) {
      // Native buckets, gathered by octave (powers of two) so the column has the rows of a readable heatmap.
      const now = octaves(nativeOf(point));
      const then = reset || before === undefined || !isNative(before) ? new Map<string, number>() : octaves(nativeOf(before));
      for (const [le, c] of now) add(le, before === undefined ? 0 : c - (then.get(le) ?? 0));
      continue;
    }
    const bounds = point.bounds ?? [];
    (point.counts ?? []).forEach((c, i) => {
      const le = i < bounds.length ? String(bounds[i]) : '+Inf';
      add(le, reset ? (before === undefined ? 0 : c) : c - (before.counts?.[i] ?? 0));
    });
  }
  return out;
}

/** A native histogram's counts per power of two holding each bucket's upper bound (`0` for the zero bucket). */
function octaves(h: NativeBuckets): Map<string, number> {
  const out = new Map<string, number>();
  if (h.zeroCount > 0) out.set('0', h.zeroCount);
  for (let i = 0; i < h.counts.length; i++) {
    if (h.counts[i] === 0) continue;
    const le = String(2 ** Math.ceil((h.offset + i + 1) / 2 ** h.scale));
    out.set(le, (out.get(le) ?? 0) + h.counts[i]);
  }
  return out;
}

export interface SloStatus {
  objective: number;
  /** Good ÷ eligible requests since the process (or the cluster's group) started; null with none. */
  compliance: number | null;
  /** 1 − (1 − compliance) ÷ (1 − objective): the share of the error budget not spent; negative once overspent. */
  budgetLeft: number | null;
  /** Eligible requests. */
  total: number;
}

/** Observations of a histogram point at or below `x`: exact at a bucket bound, interpolated linearly inside a bucket (as histogram_fraction). */
function countAtOrBelow(p: SnapshotPoint, x: number): number {
  const counts = p.counts ?? [];
  let total = 0;
  if (isNative(p)) {
    total = p.zeroCount ?? 0;
    const width = 2 ** -p.scale!;
    for (let k = 0; k < counts.length; k++) {
      const index = (p.offset ?? 0) + k;
      const lower = 2 ** (index * width);
      const upper = 2 ** ((index + 1) * width);
      if (upper <= x) total += counts[k];
      else if (lower < x) total += (counts[k] * (x - lower)) / (upper - lower);
    }
    return total;
  }
  const bounds = p.bounds ?? [];
  for (let i = 0; i < counts.length; i++) {
    const lower = i === 0 ? 0 : bounds[i - 1];
    const upper = i < bounds.length ? bounds[i] : Infinity;
    if (upper <= x) total += counts[i];
    else if (lower < x && upper !== Infinity) total += (counts[i] * (x - lower)) / (upper - lower);
  }
  return total;
}

const countOf = (p: SnapshotPoint) => p.count ?? (p.counts ?? []).reduce((a, b) => a + b, p.zeroCount ?? 0);
/** Outcomes an availability SLO leaves out, as docs/alerts.md defines it: cancellations and client errors (4xx but 429). */
const notEligible = (errorType: unknown) => errorType === 'cancelled' || (typeof errorType === 'string' && /^4\d\d$/.test(errorType) && errorType !== '429');

function status(objective: number, good: number, total: number): SloStatus {
  if (!(total > 0)) return { objective, compliance: null, budgetLeft: null, total: 0 };
  const compliance = good / total;
  return { objective, compliance, budgetLeft: 1 - (1 - compliance) / (1 - objective), total };
}

/**
 * The SLOs over the cumulative counts of `latest` (since start), for the series `match` selects: TTFT, the share
 * of requests that got a first token within the threshold; availability, the share of eligible requests that
 * did not fail.
 */
export function sloStatus(latest: Indexed | undefined, match: Match, slo: SloSettings): { ttft?: SloStatus; availability?: SloStatus } {
  const points = (name: string) => [...(latest?.metrics.get(name)?.values() ?? [])].filter((p) => match(p.attributes));
  const out: { ttft?: SloStatus; availability?: SloStatus } = {};
  if (slo.ttft !== undefined) {
    let good = 0;
    let total = 0;
    for (const p of points('gen_ai.server.time_to_first_token')) {
      good += countAtOrBelow(p, slo.ttft.thresholdSeconds);
      total += countOf(p);
    }
    out.ttft = status(slo.ttft.objective, good, total);
  }
  if (slo.availability !== undefined) {
    let bad = 0;
    let total = 0;
    for (const p of points('gen_ai.server.request.duration')) {
      const errorType = p.attributes['error.type'];
      if (notEligible(errorType)) continue;
      const n = countOf(p);
      total += n;
      if (errorType !== undefined) bad += n;
    }
    out.availability = status(slo.availability.objective, total - bad, total);
  }
  return out;
}
