import { ValueType } from '@opentelemetry/api';
import { emptyResource } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  DataPointType,
  type CollectionResult,
  type DataPoint,
  type Histogram as OtelHistogram,
  type MetricData,
} from '@opentelemetry/sdk-metrics';

/** What names a metric: the catalog's specs and the runtime gauges both have these. */
export interface MetricName {
  readonly name: string;
  readonly description: string;
  readonly unit: string;
}

/** The OTel metric data every producer of the SDK hands out: cumulative, one scope, no resource of its own. */
export function histogramData(spec: MetricName, valueType: ValueType, dataPoints: DataPoint<OtelHistogram>[]): MetricData {
  return {
    descriptor: { name: spec.name, description: spec.description, unit: spec.unit, valueType },
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.HISTOGRAM,
    dataPoints,
  };
}

export function counterData(spec: MetricName, dataPoints: DataPoint<number>[]): MetricData {
  return {
    descriptor: { name: spec.name, description: spec.description, unit: spec.unit, valueType: ValueType.INT },
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.SUM,
    isMonotonic: true,
    dataPoints,
  };
}

export function gaugeData(spec: MetricName, dataPoints: DataPoint<number>[]): MetricData {
  return {
    descriptor: { name: spec.name, description: spec.description, unit: spec.unit, valueType: ValueType.DOUBLE },
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.GAUGE,
    dataPoints,
  };
}

/** One producer's collection; the reader adds the resource. */
export function collection(scope: { name: string; version: string }, metrics: MetricData[]): CollectionResult {
  return { resourceMetrics: { resource: emptyResource(), scopeMetrics: [{ scope, metrics }] }, errors: [] };
}
