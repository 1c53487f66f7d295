import type { EngineStates } from './engine-state.js';
import { currentGauges, type GaugePoint } from './gauges.js';
import type { Series } from './series.js';

export interface LogLineOptions {
  /** Milliseconds between lines. Default 10 000, as vLLM. */
  intervalMs?: number;
  /** Where lines go. Default: the console, with a vLLM-like `INFO MM-DD HH:MM:SS` prefix. */
  sink?: (line: string) => void;
}

export interface LogLineSource {
  readonly clock: () => number;
  readonly totals: { readonly promptTokens: number; readonly outputTokens: number };
  readonly series: ReadonlyMap<string, Series>;
  readonly engine: EngineStates;
}

export interface IntervalStats {
  promptTokens: number;
  outputTokens: number;
  seconds: number;
  running: number;
  swapped: number;
  pending: number;
  /** NaN when no engine reported it. */
  gpuKvCacheUsage: number;
  cpuKvCacheUsage: number;
}

/** vLLM's summary line. A KV-cache usage nobody reported prints as `n/a` rather than a made-up 0. */
export function formatLogLine(stats: IntervalStats): string {
  const rate = (tokens: number) => (stats.seconds > 0 ? tokens / stats.seconds : 0).toFixed(1);
  const percent = (ratio: number) => (ratio === ratio ? `${(ratio * 100).toFixed(1)}%` : 'n/a');
  return (
    `Avg prompt throughput: ${rate(stats.promptTokens)} tokens/s, ` +
    `Avg generation throughput: ${rate(stats.outputTokens)} tokens/s, ` +
    `Running: ${stats.running} reqs, Swapped: ${stats.swapped} reqs, Pending: ${stats.pending} reqs, ` +
    `GPU KV cache usage: ${percent(stats.gpuKvCacheUsage)}, CPU KV cache usage: ${percent(stats.cpuKvCacheUsage)}`
  );
}

function consoleSink(line: string): void {
  const d = new Date();
  const two = (n: number) => String(n).padStart(2, '0');
  const stamp = `${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
  console.log(`INFO ${stamp} inferwatch] ${line}`);
}

const sum = (points: GaugePoint[]) => points.reduce((total, p) => total + p.value, 0);
// Several engines (a gateway's upstreams) report one usage each: the line shows their mean.
const mean = (points: GaugePoint[]) => (points.length === 0 ? NaN : sum(points) / points.length);

/** Emits the summary line on a timer that never keeps the process alive. */
export class PeriodicLogLine {
  private readonly sink: (line: string) => void;
  private readonly timer: NodeJS.Timeout;
  private lastAt: number;
  private lastPrompt: number;
  private lastOutput: number;

  constructor(
    private readonly source: LogLineSource,
    options: LogLineOptions,
  ) {
    const intervalMs = typeof options.intervalMs === 'number' && options.intervalMs > 0 ? options.intervalMs : 10_000;
    this.sink = typeof options.sink === 'function' ? options.sink : consoleSink;
    this.lastAt = source.clock();
    this.lastPrompt = source.totals.promptTokens;
    this.lastOutput = source.totals.outputTokens;
    this.timer = setInterval(() => this.emit(), intervalMs).unref();
  }

  /** Writes one line covering the time since the previous one, measured, not assumed. */
  emit(): void {
    const { clock, totals, series, engine } = this.source;
    const now = clock();
    const gauges = currentGauges(series.values(), engine);
    const line = formatLogLine({
      promptTokens: totals.promptTokens - this.lastPrompt,
      outputTokens: totals.outputTokens - this.lastOutput,
      seconds: (now - this.lastAt) / 1000,
      running: sum(gauges.running),
      swapped: sum(gauges.swapped),
      pending: sum(gauges.waiting),
      gpuKvCacheUsage: mean(gauges.gpuKvCacheUsage),
      cpuKvCacheUsage: mean(gauges.cpuKvCacheUsage),
    });
    this.lastAt = now;
    this.lastPrompt = totals.promptTokens;
    this.lastOutput = totals.outputTokens;
    try {
      this.sink(line);
    } catch {
      // A broken sink must not take the timer (or the host) down with it.
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
