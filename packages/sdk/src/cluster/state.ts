/**
 * A worker's recorders as plain JSON, for the cluster's IPC channel: the layouts once, then the cumulative
 * state of each series that changed. Cumulative, not deltas: a message that is lost or repeated cannot
 * skew the group, since the primary keeps each worker's latest state of each series and adds them up.
 */
import type { Attributes } from '@opentelemetry/api';
import type { Exemplar, Histogram, HistogramLayout } from '../aggregator/histogram.js';
import type { HistogramKey } from '../record/catalog.js';
import type { EnginePoint } from '../record/engine-state.js';
import { Series, type LayoutTable } from '../record/series.js';

export interface LayoutState {
  boundaries?: number[];
  exponential?: { maxScale: number; maxSize: number };
  view: number[];
  powers?: number[];
}

export interface HistogramState {
  sum: number;
  count: number;
  /** Absent with no observation (JSON has no Infinity). */
  min?: number;
  max?: number;
  explicit?: number[];
  exponential?: { scale: number; zeroCount: number; offset: number; counts: number[] };
  exemplars?: (Exemplar | null)[];
}

/** The histograms of a series, by the Series field that holds each. */
const FIELDS = [
  'requestDuration',
  'timeToFirstToken',
  'timePerOutputToken',
  'interTokenLatency',
  'queueDuration',
  'inferenceDuration',
  'prefillDuration',
  'decodeDuration',
  'inputTokenUsage',
  'outputTokenUsage',
] as const;
type Field = (typeof FIELDS)[number];

export interface SeriesState {
  /** The recorder's own key for the series: the same attributes give the same key in every worker. */
  key: string;
  attributes: Attributes;
  histograms: Record<Field, HistogramState>;
  errors: [string, HistogramState][];
  promptTokens: number;
  outputTokens: number;
  preemptions: number;
  finished: number[];
  waiting: number;
  running: number;
  swapped: number;
}

export interface RecorderState {
  /** The series that changed since the worker's previous message (all of them in its first). */
  series: SeriesState[];
  misuse: number[];
  /** Engine-reported state, as the worker reads it now (null where a field was not reported); absent when not read. */
  engine?: { attributes: Attributes; values: (number | null)[] }[];
}

export const layoutState = (l: HistogramLayout): LayoutState => ({
  boundaries: l.boundaries && Array.from(l.boundaries),
  exponential: l.exponential && { ...l.exponential },
  view: Array.from(l.view),
  powers: l.powers && Array.from(l.powers),
});

export const layoutOf = (s: LayoutState): HistogramLayout => ({
  boundaries: s.boundaries && Float64Array.from(s.boundaries),
  exponential: s.exponential,
  view: Float64Array.from(s.view),
  powers: s.powers && Int32Array.from(s.powers),
});

export function layoutTableOf(states: Record<HistogramKey, LayoutState>): LayoutTable {
  return Object.fromEntries(Object.entries(states).map(([key, state]) => [key, layoutOf(state)])) as unknown as LayoutTable;
}

function histogramState(h: Histogram): HistogramState {
  const e = h.exponential;
  return {
    sum: h.sum,
    count: h.count,
    min: h.count > 0 ? h.min : undefined,
    max: h.count > 0 ? h.max : undefined,
    explicit: h.explicit && Array.from(h.explicit.counts),
    exponential: e && { scale: e.scale, zeroCount: e.zeroCount, offset: e.offset, counts: Array.from(e.counts.subarray(0, e.size)) },
    exemplars: h.exemplars?.map((x) => x ?? null),
  };
}

/** Adds a histogram's state into `h` (same layout): a worker's share of a group's series. */
function addHistogramState(h: Histogram, s: HistogramState): void {
  h.sum += s.sum;
  h.count += s.count;
  if (s.min !== undefined && s.min < h.min) h.min = s.min;
  if (s.max !== undefined && s.max > h.max) h.max = s.max;
  if (s.explicit !== undefined && h.explicit !== undefined) for (let i = 0; i < s.explicit.length; i++) h.explicit.counts[i] += s.explicit[i];
  if (s.exponential !== undefined && h.exponential !== undefined) h.exponential.addBuckets(s.exponential);
  // The group's exemplar of a bucket: the latest any worker holds.
  s.exemplars?.forEach((x, i) => {
    if (x === null) return;
    const slots = (h.exemplars ??= new Array<Exemplar | undefined>(h.layout.view.length + 1).fill(undefined));
    if (slots[i] === undefined || slots[i]!.timeMs < x.timeMs) slots[i] = { ...x };
  });
}

export function seriesState(key: string, s: Series): SeriesState {
  return {
    key,
    attributes: s.attributes,
    histograms: Object.fromEntries(FIELDS.map((f) => [f, histogramState(s[f])])) as Record<Field, HistogramState>,
    errors: [...s.errorDurations].map(([type, h]) => [type, histogramState(h)]),
    promptTokens: s.promptTokens,
    outputTokens: s.outputTokens,
    preemptions: s.preemptions,
    finished: Array.from(s.finished),
    waiting: s.waiting,
    running: s.running,
    swapped: s.swapped,
  };
}

/**
 * Adds a worker's state of a series into the group's `target`. `live`: the worker runs, so its requests in
 * flight count in the scheduler gauges; a worker that exited has none.
 */
export function addSeriesState(target: Series, s: SeriesState, live: boolean): void {
  for (const f of FIELDS) addHistogramState(target[f], s.histograms[f]);
  for (const [type, h] of s.errors) addHistogramState(target.errorDuration(type), h);
  target.promptTokens += s.promptTokens;
  target.outputTokens += s.outputTokens;
  target.preemptions += s.preemptions;
  for (let i = 0; i < s.finished.length; i++) target.finished[i] += s.finished[i];
  if (!live) return;
  target.waiting += s.waiting;
  target.running += s.running;
  target.swapped += s.swapped;
}

/** An empty series of the group, to add workers' states into. */
export const groupSeries = (s: SeriesState, layouts: LayoutTable) => new Series(Object.freeze({ ...s.attributes }), layouts);

export const engineState = (points: EnginePoint[]): RecorderState['engine'] =>
  points.map((p) => ({ attributes: p.attributes, values: Array.from(p.values, (v) => (v === v ? v : null)) }));
