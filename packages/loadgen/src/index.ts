export { runBenchmark } from './run.js';
export type { BenchmarkOptions, BenchmarkResult } from './run.js';
export { formatReport } from './report.js';
export { seeded } from './random.js';
