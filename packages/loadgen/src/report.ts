import type { BenchmarkResult } from './run.js';

const line = (label: string, value: number | string, digits = 2) =>
  `${label.padEnd(40)}${typeof value === 'number' ? (Number.isInteger(value) ? String(value) : value.toFixed(digits)) : value}`;
const title = (text: string, fill: string) => {
  const pad = 50 - text.length - 2;
  return `${fill.repeat(Math.floor(pad / 2))} ${text} ${fill.repeat(Math.ceil(pad / 2))}`.trim().padEnd(50, fill);
};

/** benchmark_serving's result table; with --compare-metrics, the server's estimates beside the client's. */
export function formatReport(r: BenchmarkResult): string {
  const out = [
    title('Serving Benchmark Result', '='),
    line('Successful requests:', r.completed),
    line('Failed requests:', r.failed),
    line('Benchmark duration (s):', r.durationS),
    line('Total input tokens:', r.totalInputTokens),
    line('Total generated tokens:', r.totalOutputTokens),
    line('Request throughput (req/s):', r.requestThroughput),
    line('Output token throughput (tok/s):', r.outputThroughput),
    line('Total Token throughput (tok/s):', r.totalTokenThroughput),
  ];
  const sections: [string, 'ttft' | 'tpot' | 'itl' | 'e2e', string][] = [
    ['Time to First Token', 'ttft', 'TTFT'],
    ['Time per Output Token (excl. 1st token)', 'tpot', 'TPOT'],
    ['Inter-token Latency', 'itl', 'ITL'],
    ['End-to-end Latency', 'e2e', 'E2EL'],
  ];
  for (const [name, key, short] of sections) {
    out.push(title(name, '-'));
    const d = r[key];
    const s = r.server?.[key];
    const both = (label: string, client: number, server: number | undefined) =>
      s === undefined ? line(label, client) : `${line(label, client).padEnd(52)}server ${server === undefined || Number.isNaN(server) ? 'n/a' : server.toFixed(2)}`;
    out.push(both(`Mean ${short} (ms):`, d.mean, s?.mean));
    out.push(both(`Median ${short} (ms):`, d.median, s?.median));
    out.push(both(`P99 ${short} (ms):`, d.p99, s?.p99));
  }
  out.push('='.repeat(50));
  if (r.server) out.push('server: the /metrics histograms of the run (mean exact; median and p99 interpolated as histogram_quantile does)');
  return out.join('\n');
}
