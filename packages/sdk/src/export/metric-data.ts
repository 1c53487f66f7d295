/**
 * OTel metric data as every producer of the SDK (and @inferwatch/gpu) hands it out: cumulative, one scope,
 * no resource of its own (the reader adds it). Histograms become explicit-bucket or exponential points,
 * whichever buckets they keep.
 */
import { ValueType, type Attributes, type HrTime } from '@opentelemetry/api';
import { millisToHrTime } from '@opentelemetry/core';
import { emptyResource } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  DataPointType,
  type CollectionResult,
  type DataPoint,
  type ExponentialHistogram as OtelExponentialHistogram,
  type Histogram as OtelHistogram,
  type MetricData,
} from '@opentelemetry/sdk-metrics';
import type { Histogram } from '../aggregator/histogram.js';

/** What names a metric: the catalog's specs and the runtime gauges both have these. */
export interface MetricName {
  readonly name: string;
  readonly description: string;
  readonly unit: string;
}

const descriptor = (spec: MetricName, valueType: ValueType) => ({ name: spec.name, description: spec.description, unit: spec.unit, valueType });

export function counterData(spec: MetricName, dataPoints: DataPoint<number>[]): MetricData {
  return {
    descriptor: descriptor(spec, ValueType.INT),
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.SUM,
    isMonotonic: true,
    dataPoints,
  };
}

export function gaugeData(spec: MetricName, dataPoints: DataPoint<number>[]): MetricData {
  return {
    descriptor: descriptor(spec, ValueType.DOUBLE),
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.GAUGE,
    dataPoints,
  };
}

/** A histogram family: exponential points when its histograms keep exponential buckets (OTLP then carries those), else explicit. */
export function histogramData(spec: MetricName, valueType: ValueType, histograms: ReadonlyArray<[Attributes, Histogram]>, startTime: HrTime, endTime: HrTime): MetricData {
  const exponential = histograms.length > 0 && histograms[0][1].exponential !== undefined;
  if (exponential) {
    return {
      descriptor: descriptor(spec, valueType),
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.EXPONENTIAL_HISTOGRAM,
      dataPoints: histograms.map(([attributes, h]) => exponentialPoint(h, attributes, startTime, endTime)),
    };
  }
  return {
    descriptor: descriptor(spec, valueType),
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.HISTOGRAM,
    dataPoints: histograms.map(([attributes, h]) => explicitPoint(h, attributes, startTime, endTime)),
  };
}

/** sdk-metrics' own exemplar shape (not exported by the package); OTLP transformers up to 0.223 do not serialise it. */
export interface OtlpExemplar {
  filteredAttributes: Attributes;
  value: number;
  timestamp: HrTime;
  spanId: string;
  traceId: string;
}

/** Copies the exemplars (the histogram replaces them in place) in bucket order. */
function exemplarsOf(h: Histogram): OtlpExemplar[] | undefined {
  if (h.exemplars === undefined) return undefined;
  const out: OtlpExemplar[] = [];
  for (const e of h.exemplars) {
    if (e !== undefined) out.push({ filteredAttributes: {}, value: e.value, timestamp: millisToHrTime(e.timeMs), spanId: e.spanId, traceId: e.traceId });
  }
  return out;
}

type WithExemplars<T> = DataPoint<T> & { exemplars?: OtlpExemplar[] };

/** An explicit-bucket point of the histogram's classic view; buckets are copied, so a later export still sees this collection. */
function explicitPoint(h: Histogram, attributes: Attributes, startTime: HrTime, endTime: HrTime): WithExemplars<OtelHistogram> {
  return {
    exemplars: exemplarsOf(h),
    startTime,
    endTime,
    attributes,
    value: {
      buckets: { boundaries: Array.from(h.layout.view), counts: Array.from(h.viewCounts()) },
      sum: h.sum,
      count: h.count,
      min: h.count > 0 ? h.min : undefined,
      max: h.count > 0 ? h.max : undefined,
    },
  };
}

function exponentialPoint(h: Histogram, attributes: Attributes, startTime: HrTime, endTime: HrTime): WithExemplars<OtelExponentialHistogram> {
  const e = h.exponential!;
  return {
    exemplars: exemplarsOf(h),
    startTime,
    endTime,
    attributes,
    value: {
      count: h.count,
      sum: h.sum,
      scale: e.scale,
      zeroCount: e.zeroCount,
      positive: { offset: e.size === 0 ? 0 : e.offset, bucketCounts: Array.from(e.counts.subarray(0, e.size)) },
      negative: { offset: 0, bucketCounts: [] },
      min: h.count > 0 ? h.min : undefined,
      max: h.count > 0 ? h.max : undefined,
    },
  };
}

/** One producer's collection; the reader adds the resource. */
export function collection(scope: { name: string; version: string }, metrics: MetricData[]): CollectionResult {
  return { resourceMetrics: { resource: emptyResource(), scopeMetrics: [{ scope, metrics }] }, errors: [] };
}
