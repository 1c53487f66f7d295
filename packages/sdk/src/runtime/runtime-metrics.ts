/**
 * The event loop's delay and utilization: the wait no request timer sees (a request that arrives while the
 * loop is blocked is timed only once the loop turns).
 *
 * A repeating probe timer records how late each of its ticks is. Every tick goes into a cumulative histogram,
 * `inferwatch.eventloop.delay`, which every reader reads alike (rates and quantiles over its own intervals).
 * The OTel runtime-node gauges (`nodejs.eventloop.delay.max`, `.p99`, …, `nodejs.eventloop.utilization`) are
 * windows: each covers what happened since the previous collection *by the same reader*, so a second reader
 * (the live page, a second Prometheus of an HA pair) never empties the window of the first.
 */
import { ValueType, type HrTime } from '@opentelemetry/api';
import { hrTime } from '@opentelemetry/core';
import type { CollectionResult, MetricData, MetricProducer } from '@opentelemetry/sdk-metrics';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { Histogram } from '../aggregator/histogram.js';
import { collection, gaugeData, histogramData } from '../export/metric-data.js';
import { RUNTIME_HISTOGRAMS } from '../record/catalog.js';
import { resolveLayouts } from '../record/series.js';
import { VERSION } from '../version.js';

export interface RuntimeMetricsOptions {
  /** Milliseconds between event-loop probes. Default 10, as `monitorEventLoopDelay()`. */
  resolutionMs?: number;
}

export interface RuntimeMetrics {
  /** The runtime metrics as one reader sees them: give it to one MetricReader. */
  readonly producer: MetricProducer;
  /** The same metrics for another reader, whose windowed gauges start from its own previous collection. */
  producerFor(reader: string): MetricProducer;
  /** Stops the probe timer. */
  shutdown(): void;
}

const SCOPE = { name: '@inferwatch/sdk', version: VERSION };
const DELAY_STATS = ['min', 'max', 'mean', 'stddev', 'p50', 'p90', 'p99'] as const;
type DelayStats = Record<(typeof DELAY_STATS)[number], number>;
/** Ticks kept for the windows: five minutes at the default resolution. A reader gone longer sees the last five. */
const RING = 30_000;
/** A reader's first window: the last 15 s, a usual scrape interval. */
const FIRST_WINDOW_MS = 15_000;
/** Readers remembered; past it the one read longest ago is forgotten (and starts over as a first window). */
const MAX_READERS = 16;

interface ReaderState {
  /** Ticks recorded up to its previous collection. */
  seen: number;
  utilization: EventLoopUtilization;
  windowStart: HrTime;
  /** Its last window's figures, repeated when a window holds no tick (a collection right after another). */
  last?: DelayStats;
}

/** Nearest-rank percentile of ascending `sorted`. */
const percentile = (sorted: Float64Array, p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];

function stats(window: Float64Array): DelayStats {
  window.sort();
  let sum = 0;
  for (const v of window) sum += v;
  const mean = sum / window.length;
  let squares = 0;
  for (const v of window) squares += (v - mean) ** 2;
  // Milliseconds in, seconds out.
  return {
    min: window[0] / 1000,
    max: window[window.length - 1] / 1000,
    mean: mean / 1000,
    stddev: Math.sqrt(squares / window.length) / 1000,
    p50: percentile(window, 50) / 1000,
    p90: percentile(window, 90) / 1000,
    p99: percentile(window, 99) / 1000,
  };
}

/** Event-loop delay and utilization under the OpenTelemetry runtime conventions for Node, per reader. */
export function createRuntimeMetrics(options: RuntimeMetricsOptions = {}): RuntimeMetrics {
  const resolutionMs = typeof options.resolutionMs === 'number' && options.resolutionMs >= 1 ? options.resolutionMs : 10;
  const startTime = hrTime();
  const histogram = new Histogram(resolveLayouts(RUNTIME_HISTOGRAMS, {}, () => {}).eventLoopDelay);
  const lateness = new Float64Array(RING);
  let ticks = 0;
  const record = (lateMs: number) => {
    const late = Math.max(0, lateMs);
    lateness[ticks % RING] = late;
    ticks++;
    histogram.record(late / 1000);
  };
  let lastProbe = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    record(now - lastProbe - resolutionMs);
    lastProbe = now;
  }, resolutionMs).unref();
  const readers = new Map<string, ReaderState>();

  /** A collection that finds the probe overdue records the lateness so far, so a block just before it is not missed. */
  function catchUp(): void {
    const now = performance.now();
    if (now - lastProbe <= resolutionMs) return;
    record(now - lastProbe - resolutionMs);
    // As if the probe had just fired on time, so its late tick adds only what comes after now.
    lastProbe = now - resolutionMs;
  }

  function readerState(key: string): ReaderState {
    let state = readers.get(key);
    if (state === undefined) {
      if (readers.size >= MAX_READERS) readers.delete(readers.keys().next().value!);
      state = { seen: Math.max(0, ticks - Math.ceil(FIRST_WINDOW_MS / resolutionMs)), utilization: performance.eventLoopUtilization(), windowStart: startTime };
    } else readers.delete(key);
    // Most recently read last, so the first key is the one to forget.
    readers.set(key, state);
    return state;
  }

  function metrics(key: string): MetricData[] {
    catchUp();
    const state = readerState(key);
    const endTime = hrTime();
    const first = Math.max(state.seen, ticks - RING);
    const window = new Float64Array(ticks - first);
    for (let i = first; i < ticks; i++) window[i - first] = lateness[i % RING];
    const current = performance.eventLoopUtilization();
    const utilization = performance.eventLoopUtilization(current, state.utilization).utilization;
    const startOfWindow = state.windowStart;
    state.seen = ticks;
    state.utilization = current;
    state.windowStart = endTime;
    if (window.length > 0) state.last = stats(window);

    const gauge = (name: string, unit: string, description: string, value: number): MetricData =>
      gaugeData({ name, unit, description }, [{ startTime: startOfWindow, endTime, attributes: {}, value }]);
    const out: MetricData[] = [histogramData(RUNTIME_HISTOGRAMS.eventLoopDelay, ValueType.DOUBLE, [[{}, histogram]], startTime, endTime)];
    if (Number.isFinite(utilization)) out.push(gauge('nodejs.eventloop.utilization', '1', 'Event loop utilization since this reader’s previous collection.', utilization));
    if (state.last !== undefined) {
      for (const stat of DELAY_STATS) out.push(gauge(`nodejs.eventloop.delay.${stat}`, 's', `Event loop delay since this reader’s previous collection: ${stat}.`, state.last[stat]));
    }
    return out;
  }

  const producerFor = (reader: string): MetricProducer => ({ collect: async (): Promise<CollectionResult> => collection(SCOPE, metrics(reader)) });
  return { producer: producerFor('default'), producerFor, shutdown: () => clearInterval(timer) };
}
