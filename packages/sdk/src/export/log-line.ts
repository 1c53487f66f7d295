import type { EngineSource } from '../record/engine-state.js';
import { currentGauges, type GaugePoint, type GaugeView } from '../record/gauges.js';
import type { LogLineOptions } from '../record/recorder.js';
import type { Series } from '../record/series.js';

export interface LogLineSource {
  readonly clock: () => number;
  readonly totals: { readonly promptTokens: number; readonly outputTokens: number };
  readonly series: ReadonlyMap<string, Series>;
  readonly engine: EngineSource;
}

/** Scheduler and KV-cache state; NaN where nobody reported it. */
export interface EngineSummary {
  running: number;
  swapped: number;
  pending: number;
  gpuKvCacheUsage: number;
  cpuKvCacheUsage: number;
}

export interface IntervalStats extends EngineSummary {
  promptTokens: number;
  outputTokens: number;
  seconds: number;
  /**
   * State bridged from upstream engines (points labelled `upstream`), one entry per upstream. When there
   * are any, the line prints this process's throughput and each upstream's state under its name, so no
   * reader takes a whole engine's queue for this process's own (the top-level state is then unused).
   */
  upstreams?: ReadonlyArray<EngineSummary & { name: string }>;
}

const percent = (ratio: number) => (ratio === ratio ? `${(ratio * 100).toFixed(1)}%` : 'n/a');
const count = (n: number) => (n === n ? `${n} reqs` : 'n/a');
const engineText = (s: EngineSummary) =>
  `Running: ${count(s.running)}, Swapped: ${count(s.swapped)}, Pending: ${count(s.pending)}, ` +
  `GPU KV cache usage: ${percent(s.gpuKvCacheUsage)}, CPU KV cache usage: ${percent(s.cpuKvCacheUsage)}`;

/** vLLM's summary line. A value nobody reported prints as `n/a` rather than a made-up 0. */
export function formatLogLine(stats: IntervalStats): string {
  const rate = (tokens: number) => (stats.seconds > 0 ? tokens / stats.seconds : 0).toFixed(1);
  const throughput = `Avg prompt throughput: ${rate(stats.promptTokens)} tokens/s, Avg generation throughput: ${rate(stats.outputTokens)} tokens/s`;
  if (stats.upstreams === undefined || stats.upstreams.length === 0) return `${throughput}, ${engineText(stats)}`;
  return [`${throughput} (this process)`, ...stats.upstreams.map((u) => `upstream ${u.name}: ${engineText(u)}`)].join('; ');
}

function consoleSink(line: string): void {
  const d = new Date();
  const two = (n: number) => String(n).padStart(2, '0');
  const stamp = `${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
  console.log(`INFO ${stamp} inferwatch] ${line}`);
}

const sum = (points: GaugePoint[]) => points.reduce((total, p) => total + p.value, 0);
// Several engines report one usage each: the line shows their mean.
const mean = (points: GaugePoint[]) => (points.length === 0 ? NaN : sum(points) / points.length);

function summary(gauges: GaugeView, keep: (p: GaugePoint) => boolean, missing: number): EngineSummary {
  const total = (points: GaugePoint[]) => {
    const kept = points.filter(keep);
    return kept.length === 0 ? missing : sum(kept);
  };
  return {
    running: total(gauges.running),
    swapped: total(gauges.swapped),
    pending: total(gauges.waiting),
    gpuKvCacheUsage: mean(gauges.gpuKvCacheUsage.filter(keep)),
    cpuKvCacheUsage: mean(gauges.cpuKvCacheUsage.filter(keep)),
  };
}

/** Each upstream's state, from the points a bridge labelled with it; an upstream that left a field out shows n/a. */
function upstreamSummaries(gauges: GaugeView): Array<EngineSummary & { name: string }> {
  const names = new Set<string>();
  for (const points of Object.values(gauges)) for (const p of points) if (typeof p.attributes.upstream === 'string') names.add(p.attributes.upstream);
  return [...names].map((name) => ({ name, ...summary(gauges, (p) => p.attributes.upstream === name, NaN) }));
}

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
      ...summary(gauges, () => true, 0),
      upstreams: upstreamSummaries(gauges),
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
