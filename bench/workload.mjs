// Realistic timestamps for the recording and scrape benchmarks: queue, prefill and inter-token times
// drawn from TTFT/ITL-like distributions (log-normal, exponential queueing), so every histogram's bucket
// search costs what it costs in production rather than stopping at the first bucket, and a native
// histogram populates the buckets it would in production. Seeded: every contender and every run records
// the same values.

/** mulberry32 */
function random(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const rand = random(42);
const normal = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
const logNormal = (median, sigma) => median * Math.exp(sigma * normal());
const exponential = (mean) => -mean * Math.log(1 - rand());

export const SCRIPTS = 4096;

/** Per request, in milliseconds: arrival, scheduled, first token, end; and its output tokens. */
export const requests = (() => {
  const out = [];
  let arrival = 0;
  for (let i = 0; i < SCRIPTS; i++) {
    arrival += exponential(10);
    const scheduled = arrival + exponential(20);
    const first = scheduled + logNormal(80, 0.8);
    const outputTokens = Math.max(1, Math.round(logNormal(150, 0.8)));
    const end = first + (outputTokens - 1) * logNormal(25, 0.4);
    out.push({ arrival, scheduled, first, end, outputTokens });
  }
  return out;
})();

/** Inter-token gaps in milliseconds (a decode step of a batched engine). */
export const tokenGaps = Float64Array.from({ length: SCRIPTS }, () => logNormal(25, 0.5));

/**
 * Prompt lengths in tokens (log-normal around 500), for the scrape benchmarks' token-usage histograms.
 * Drawn after everything above, so the recording benchmarks' timestamps are the ones they always were.
 */
export const promptTokens = Uint32Array.from({ length: SCRIPTS }, () => Math.max(1, Math.round(logNormal(500, 1))));
