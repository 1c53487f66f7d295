import { ValueType, type Attributes, type HrTime } from '@opentelemetry/api';
import { hrTime, millisToHrTime } from '@opentelemetry/core';
import {
  type CollectionResult,
  type DataPoint,
  type Histogram as OtelHistogram,
  type MetricData,
  type MetricProducer,
} from '@opentelemetry/sdk-metrics';
import {
  ATTR_ERROR_TYPE,
  ATTR_FINISH_REASON,
  ATTR_MISUSE_REASON,
  ATTR_TOKEN_TYPE,
  COUNTERS,
  FINISH_REASONS,
  GAUGES,
  HISTOGRAMS,
  type GaugeKey,
  type HistogramSpec,
} from './catalog.js';
import type { EngineStates } from './engine-state.js';
import { currentGauges } from './gauges.js';
import { collection, counterData, gaugeData, histogramData } from './metric-data.js';
import type { Histogram } from './histogram.js';
import { MISUSE_REASONS, type MisuseLog } from './misuse.js';
import type { Series } from './series.js';
import { VERSION } from './version.js';

/** What the producer reads: the recorder's aggregates, never its handles. */
export interface ProducerSource {
  readonly series: ReadonlyMap<string, Series>;
  readonly engine: EngineStates;
  readonly misuse: MisuseLog;
}

type SeriesHistogram =
  | 'timeToFirstToken'
  | 'timePerOutputToken'
  | 'interTokenLatency'
  | 'queueDuration'
  | 'inferenceDuration'
  | 'prefillDuration'
  | 'decodeDuration';

/** The per-series histograms recorded under the series' own attributes alone (the exposition writer shares the list). */
export const SIMPLE_HISTOGRAMS: ReadonlyArray<[HistogramSpec, SeriesHistogram]> = [
  [HISTOGRAMS.timeToFirstToken, 'timeToFirstToken'],
  [HISTOGRAMS.timePerOutputToken, 'timePerOutputToken'],
  [HISTOGRAMS.interTokenLatency, 'interTokenLatency'],
  [HISTOGRAMS.queueDuration, 'queueDuration'],
  [HISTOGRAMS.inferenceDuration, 'inferenceDuration'],
  [HISTOGRAMS.prefillDuration, 'prefillDuration'],
  [HISTOGRAMS.decodeDuration, 'decodeDuration'],
];

const SCOPE = { name: '@inferwatch/sdk', version: VERSION };
const PROCESS_START: HrTime = hrTime();

/**
 * Turns the recorder's aggregates into OTel metric data (cumulative temporality) at each collection.
 * Histogram buckets are copied, so an exporter that serialises later still sees one consistent snapshot.
 */
export class LlmMetricProducer implements MetricProducer {
  constructor(readonly source: ProducerSource) {}

  async collect(): Promise<CollectionResult> {
    return collection(SCOPE, this.metrics());
  }

  private metrics(): MetricData[] {
    const now = hrTime();
    const series = [...this.source.series.values()];
    const metrics: MetricData[] = [];
    // Gauges first: reading engine callbacks can itself record misuse, which must show in this collection.
    const gauges = currentGauges(series, this.source.engine);

    const durations: DataPoint<OtelHistogram>[] = [];
    for (const s of series) {
      durations.push(histogramPoint(s.requestDuration, s.attributes, s.startTime, now));
      for (const [errorType, histogram] of s.errorDurations) {
        durations.push(histogramPoint(histogram, { ...s.attributes, [ATTR_ERROR_TYPE]: errorType }, s.startTime, now));
      }
    }
    metrics.push(histogramData(HISTOGRAMS.requestDuration, ValueType.DOUBLE, durations));

    for (const [spec, field] of SIMPLE_HISTOGRAMS) {
      const points = series.map((s) => histogramPoint(s[field], s.attributes, s.startTime, now));
      metrics.push(histogramData(spec, ValueType.DOUBLE, points));
    }

    const usage: DataPoint<OtelHistogram>[] = [];
    const tokens: DataPoint<number>[] = [];
    const finished: DataPoint<number>[] = [];
    const preemptions: DataPoint<number>[] = [];
    for (const s of series) {
      const input = { ...s.attributes, [ATTR_TOKEN_TYPE]: 'input' };
      const output = { ...s.attributes, [ATTR_TOKEN_TYPE]: 'output' };
      usage.push(histogramPoint(s.inputTokenUsage, input, s.startTime, now));
      usage.push(histogramPoint(s.outputTokenUsage, output, s.startTime, now));
      tokens.push(point(s.promptTokens, input, s.startTime, now));
      tokens.push(point(s.outputTokens, output, s.startTime, now));
      FINISH_REASONS.forEach((reason, i) => {
        finished.push(point(s.finished[i], { ...s.attributes, [ATTR_FINISH_REASON]: reason }, s.startTime, now));
      });
      preemptions.push(point(s.preemptions, s.attributes, s.startTime, now));
    }
    metrics.push(histogramData(HISTOGRAMS.tokenUsage, ValueType.INT, usage));
    metrics.push(counterData(COUNTERS.tokens, tokens));
    metrics.push(counterData(COUNTERS.finished, finished));
    metrics.push(counterData(COUNTERS.preemptions, preemptions));

    const misuse = MISUSE_REASONS.map((reason, i) =>
      point(this.source.misuse.counts[i], { [ATTR_MISUSE_REASON]: reason }, PROCESS_START, now),
    );
    metrics.push(counterData(COUNTERS.misuse, misuse));

    for (const key of Object.keys(GAUGES) as GaugeKey[]) {
      const points = gauges[key].map((g) => point(g.value, g.attributes, now, now));
      if (points.length > 0) metrics.push(gaugeData(GAUGES[key], points));
    }
    return metrics;
  }
}

/** sdk-metrics' own exemplar shape (not exported by the package); OTLP transformers up to 0.223 do not serialise it. */
export interface OtlpExemplar {
  filteredAttributes: Attributes;
  value: number;
  timestamp: HrTime;
  spanId: string;
  traceId: string;
}

/** Copies the buckets' exemplars (the histogram replaces them in place) in bucket order. */
function exemplarsOf(h: Histogram): OtlpExemplar[] | undefined {
  if (h.exemplars === undefined) return undefined;
  const out: OtlpExemplar[] = [];
  for (const e of h.exemplars) {
    if (e !== undefined) out.push({ filteredAttributes: {}, value: e.value, timestamp: millisToHrTime(e.timeMs), spanId: e.spanId, traceId: e.traceId });
  }
  return out;
}

export function histogramPoint(
  h: Histogram,
  attributes: Attributes,
  startTime: HrTime,
  endTime: HrTime,
): DataPoint<OtelHistogram> & { exemplars?: OtlpExemplar[] } {
  return {
    exemplars: exemplarsOf(h),
    startTime,
    endTime,
    attributes,
    value: {
      buckets: { boundaries: Array.from(h.boundaries), counts: Array.from(h.counts) },
      sum: h.sum,
      count: h.count,
      min: h.count > 0 ? h.min : undefined,
      max: h.count > 0 ? h.max : undefined,
    },
  };
}

function point(value: number, attributes: Attributes, startTime: HrTime, endTime: HrTime): DataPoint<number> {
  return { startTime, endTime, attributes, value };
}
