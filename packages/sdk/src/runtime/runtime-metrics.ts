import type { HrTime } from '@opentelemetry/api';
import { hrTime } from '@opentelemetry/core';
import type { CollectionResult, MetricData, MetricProducer } from '@opentelemetry/sdk-metrics';
import { createHistogram, performance, type EventLoopUtilization } from 'node:perf_hooks';
import { collection, gaugeData } from '../export/metric-data.js';
import { VERSION } from '../version.js';

export interface RuntimeMetricsOptions {
  /** Milliseconds between event-loop probes. Default 10, as `monitorEventLoopDelay()`. */
  resolutionMs?: number;
}

export interface RuntimeMetrics {
  /** `nodejs.eventloop.delay.*` and `nodejs.eventloop.utilization`, each over the time since the previous collection. */
  readonly producer: MetricProducer;
  /** Stops the probe timer. */
  shutdown(): void;
}

const SCOPE = { name: '@inferwatch/sdk', version: VERSION };
const DELAY_STATS = ['min', 'max', 'mean', 'stddev', 'p50', 'p90', 'p99'] as const;

/**
 * Event-loop delay and utilization under the OpenTelemetry runtime conventions for Node.
 *
 * The delay is the lateness of a repeating timer, recorded into a perf_hooks histogram. It is not read
 * from `monitorEventLoopDelay()` because that histogram's `reset()` forgets when it last ticked, so the
 * interval spanning a reset is never recorded: a block just before a scrape would vanish from every
 * window. Here a collection that finds the probe overdue records the lateness so far itself.
 */
export function createRuntimeMetrics(options: RuntimeMetricsOptions = {}): RuntimeMetrics {
  const resolutionMs = typeof options.resolutionMs === 'number' && options.resolutionMs >= 1 ? options.resolutionMs : 10;
  const delays = createHistogram();
  // Nanoseconds, at least 1: the histogram takes positive integers only.
  const record = (lateMs: number) => delays.record(Math.max(1, Math.round(lateMs * 1e6)));
  let lastProbe = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    record(now - lastProbe - resolutionMs);
    lastProbe = now;
  }, resolutionMs).unref();
  let utilizationBase: EventLoopUtilization = performance.eventLoopUtilization();
  let windowStart: HrTime = hrTime();
  // Seconds, per statistic, of the last window that held a tick of the probe.
  let lastDelays: Record<(typeof DELAY_STATS)[number], number> | undefined;

  function metrics(): MetricData[] {
    const now = performance.now();
    if (now - lastProbe > resolutionMs) {
      record(now - lastProbe - resolutionMs);
      // As if the probe had just fired on time, so its late tick adds only what comes after now.
      lastProbe = now - resolutionMs;
    }
    const startTime = windowStart;
    const endTime = hrTime();
    const current = performance.eventLoopUtilization();
    const utilization = performance.eventLoopUtilization(current, utilizationBase).utilization;
    utilizationBase = current;
    windowStart = endTime;

    const gauge = (name: string, unit: string, description: string, value: number): MetricData =>
      gaugeData({ name, unit, description }, [{ startTime, endTime, attributes: {}, value }]);
    const out: MetricData[] = [];
    if (Number.isFinite(utilization)) out.push(gauge('nodejs.eventloop.utilization', '1', 'Event loop utilization since the previous collection.', utilization));
    // A collection that comes right after another (several readers, a bridge scraping this process) can
    // find no tick of the probe in its short window: it repeats the last window's figures rather than
    // leave the series out, which a scraper would read as the series going away.
    if (delays.count > 0) {
      lastDelays = {
        min: delays.min / 1e9,
        max: delays.max / 1e9,
        mean: delays.mean / 1e9,
        stddev: delays.stddev / 1e9,
        p50: delays.percentile(50) / 1e9,
        p90: delays.percentile(90) / 1e9,
        p99: delays.percentile(99) / 1e9,
      };
    }
    if (lastDelays !== undefined) {
      for (const stat of DELAY_STATS) {
        out.push(gauge(`nodejs.eventloop.delay.${stat}`, 's', `Event loop delay since the previous collection: ${stat}.`, lastDelays[stat]));
      }
    }
    delays.reset();
    return out;
  }

  return {
    producer: {
      async collect(): Promise<CollectionResult> {
        return collection(SCOPE, metrics());
      },
    },
    shutdown: () => clearInterval(timer),
  };
}
