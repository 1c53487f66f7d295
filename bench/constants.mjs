// How many rounds each benchmark runs: one place, read by the benchmarks and by the report's text.

/** Rounds of every recording comparison and of the SSE tap; the figure is their median. */
export const ROUNDS = 7;
/** Gateway rounds, each running both modes back to back; the ratio is the median of the rounds' ratios. */
export const GATEWAY_ROUNDS = 9;
/** GPU poller rounds per mode; mean of the p99s. */
export const GPU_ROUNDS = 3;
/** Scrapes (and OTLP exports) per variant, of which the first WARM_UP are dropped; median. */
export const SCRAPES = 40;
export const WARM_UP = 5;
