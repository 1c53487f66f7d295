/**
 * The server's view of the same run: scrape /metrics before and after, take the histogram deltas and
 * estimate the mean and quantiles the way PromQL's histogram_quantile does.
 *
 * Text histogram lines are read here rather than with parse-prometheus-text-format (used by the gateway
 * for gauges): that library merges the series of a labelled histogram into one.
 */

import { addNative, histogramQuantile, nativeQuantile, subtractNative, type NativeBuckets } from '@inferwatch/sdk/internal';
import { decodeExposition, nativeBuckets } from './protobuf.js';

export const SERVER_HISTOGRAMS = {
  ttft: 'gen_ai_server_time_to_first_token',
  tpot: 'gen_ai_server_time_per_output_token',
  itl: 'inferwatch_request_inter_token_latency',
  e2e: 'gen_ai_server_request_duration',
} as const;

/** A scraped exposition: the protobuf format when the server speaks it (native histograms come only that way), else text. */
export type Exposition = string | Buffer;

export interface HistogramTotals {
  /** Classic buckets: cumulative count per upper bound, summed over every series (failed requests excluded). */
  buckets: Map<number, number>;
  /** Native buckets summed over every series, when the server sent native histograms. */
  native?: NativeBuckets;
  sum: number;
  count: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LE = /(?:^|,)le="([^"]*)"/;

/** Totals of one histogram family across its series; series with an error_type label (failures, aborts) are left out. */
export function histogramTotals(exposition: Exposition, name: string): HistogramTotals {
  return typeof exposition === 'string' ? textTotals(exposition, name) : protobufTotals(exposition, name);
}

function textTotals(text: string, name: string): HistogramTotals {
  const totals: HistogramTotals = { buckets: new Map(), sum: 0, count: 0 };
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const match = SAMPLE.exec(line);
    if (match === null) continue;
    const [, metric, labels = '', raw] = match;
    if (labels.includes('error_type=')) continue;
    const value = Number(raw);
    if (metric === `${name}_sum`) totals.sum += value;
    else if (metric === `${name}_count`) totals.count += value;
    else if (metric === `${name}_bucket`) {
      const le = LE.exec(labels)?.[1];
      if (le === undefined) continue;
      const bound = le === '+Inf' ? Infinity : Number(le);
      totals.buckets.set(bound, (totals.buckets.get(bound) ?? 0) + value);
    }
  }
  return totals;
}

function protobufTotals(body: Buffer, name: string): HistogramTotals {
  const totals: HistogramTotals = { buckets: new Map(), sum: 0, count: 0 };
  for (const family of decodeExposition(body)) {
    if (family.name !== name) continue;
    for (const { labels, histogram } of family.metrics) {
      if (histogram === undefined || labels.error_type !== undefined) continue;
      totals.sum += histogram.sum;
      totals.count += histogram.count;
      if (histogram.native !== undefined && (histogram.native.spans.length > 0 || histogram.native.zeroThreshold > 0)) {
        const native = nativeBuckets(histogram.native);
        totals.native = totals.native === undefined ? native : addNative(totals.native, native);
        continue;
      }
      for (const b of histogram.buckets) totals.buckets.set(b.upperBound, (totals.buckets.get(b.upperBound) ?? 0) + b.cumulativeCount);
      totals.buckets.set(Infinity, (totals.buckets.get(Infinity) ?? 0) + histogram.count);
    }
  }
  return totals;
}

/** Two servers' totals as one (replicas behind one load balancer). */
export function combine(a: HistogramTotals, b: HistogramTotals): HistogramTotals {
  const buckets = new Map(a.buckets);
  for (const [bound, count] of b.buckets) buckets.set(bound, (buckets.get(bound) ?? 0) + count);
  const native = a.native === undefined ? b.native : b.native === undefined ? a.native : addNative(a.native, b.native);
  return { buckets, native, sum: a.sum + b.sum, count: a.count + b.count };
}

export function delta(after: HistogramTotals, before: HistogramTotals): HistogramTotals {
  const buckets = new Map<number, number>();
  for (const [bound, count] of after.buckets) buckets.set(bound, count - (before.buckets.get(bound) ?? 0));
  const native = after.native === undefined ? undefined : before.native === undefined ? after.native : subtractNative(after.native, before.native);
  return { buckets, native, sum: after.sum - before.sum, count: after.count - before.count };
}

/** `histogram_quantile(q, …)` of these totals, as Prometheus computes it (the SDK's implementations), native or classic. */
export function quantile(h: HistogramTotals, q: number): number {
  if (h.native !== undefined) return nativeQuantile(q, h.native);
  return histogramQuantile(q, [...h.buckets].map(([le, count]) => ({ le, count })));
}

const ACCEPT = 'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,text/plain;version=0.0.4;q=0.5';

/** One scrape, asking for the protobuf format first as Prometheus with native histograms does. */
export async function scrape(url: string): Promise<Exposition> {
  const res = await fetch(url, { headers: { accept: ACCEPT }, signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`${url} answered ${res.status}`);
  if (res.headers.get('content-type')?.startsWith('application/vnd.google.protobuf')) return Buffer.from(await res.arrayBuffer());
  return res.text();
}

export interface ServerEstimate {
  mean: number;
  median: number;
  p99: number;
  count: number;
}

/** Per metric: the server's mean (exact, from _sum/_count), median and p99 (estimated), in ms. */
export function serverEstimates(before: Exposition, after: Exposition): Record<keyof typeof SERVER_HISTOGRAMS, ServerEstimate> {
  const out = {} as Record<keyof typeof SERVER_HISTOGRAMS, ServerEstimate>;
  for (const [key, name] of Object.entries(SERVER_HISTOGRAMS) as [keyof typeof SERVER_HISTOGRAMS, string][]) {
    const h = delta(histogramTotals(after, name), histogramTotals(before, name));
    out[key] = { mean: (h.sum / h.count) * 1000, median: quantile(h, 0.5) * 1000, p99: quantile(h, 0.99) * 1000, count: h.count };
  }
  return out;
}
