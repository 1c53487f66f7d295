/**
 * The server's view of the same run: scrape /metrics before and after, take the histogram deltas and
 * estimate the mean and quantiles the way PromQL's histogram_quantile does.
 *
 * Histogram lines are read here rather than with parse-prometheus-text-format (used by the gateway
 * for gauges): that library merges the series of a labelled histogram into one.
 */

export const SERVER_HISTOGRAMS = {
  ttft: 'gen_ai_server_time_to_first_token',
  tpot: 'gen_ai_server_time_per_output_token',
  itl: 'inferwatch_request_inter_token_latency',
  e2e: 'gen_ai_server_request_duration',
} as const;

export interface HistogramTotals {
  /** Cumulative count per upper bound, summed over every series (failed requests excluded). */
  buckets: Map<number, number>;
  sum: number;
  count: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LE = /(?:^|,)le="([^"]*)"/;

/** Totals of one histogram family across its series in an exposition; series with an error_type label are left out. */
export function histogramTotals(text: string, name: string): HistogramTotals {
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

export function delta(after: HistogramTotals, before: HistogramTotals): HistogramTotals {
  const buckets = new Map<number, number>();
  for (const [bound, count] of after.buckets) buckets.set(bound, count - (before.buckets.get(bound) ?? 0));
  return { buckets, sum: after.sum - before.sum, count: after.count - before.count };
}

/** histogram_quantile: linear interpolation inside the bucket that holds the rank; the highest finite bound if it falls in +Inf. */
export function quantile(h: HistogramTotals, q: number): number {
  const bounds = [...h.buckets.keys()].sort((a, b) => a - b);
  const total = h.buckets.get(Infinity) ?? h.count;
  if (total <= 0 || bounds.length === 0) return NaN;
  const rank = q * total;
  let previousBound = 0;
  let previousCount = 0;
  for (const bound of bounds) {
    const count = h.buckets.get(bound)!;
    if (count >= rank) {
      if (bound === Infinity) return previousBound;
      return previousBound + (bound - previousBound) * ((rank - previousCount) / (count - previousCount || 1));
    }
    previousBound = bound;
    previousCount = count;
  }
  return previousBound;
}

export async function scrape(url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`${url} answered ${res.status}`);
  return res.text();
}

export interface ServerEstimate {
  mean: number;
  median: number;
  p99: number;
  count: number;
}

/** Per metric: the server's mean (exact, from _sum/_count), median and p99 (estimated), in ms. */
export function serverEstimates(before: string, after: string): Record<keyof typeof SERVER_HISTOGRAMS, ServerEstimate> {
  const out = {} as Record<keyof typeof SERVER_HISTOGRAMS, ServerEstimate>;
  for (const [key, name] of Object.entries(SERVER_HISTOGRAMS) as [keyof typeof SERVER_HISTOGRAMS, string][]) {
    const h = delta(histogramTotals(after, name), histogramTotals(before, name));
    out[key] = { mean: (h.sum / h.count) * 1000, median: quantile(h, 0.5) * 1000, p99: quantile(h, 0.99) * 1000, count: h.count };
  }
  return out;
}
