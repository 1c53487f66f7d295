/** Percentile by linear interpolation between closest ranks (numpy's default), on a sorted copy. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p / 100) * (sorted.length - 1);
  const low = Math.floor(rank);
  const high = Math.ceil(rank);
  return sorted[low] + (sorted[high] - sorted[low]) * (rank - low);
}

export const mean = (values: readonly number[]) => (values.length === 0 ? NaN : values.reduce((a, b) => a + b, 0) / values.length);

export interface Distribution {
  mean: number;
  median: number;
  p99: number;
}

export function distribution(values: readonly number[]): Distribution {
  return { mean: mean(values), median: percentile(values, 50), p99: percentile(values, 99) };
}
