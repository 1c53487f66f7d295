import type { Attributes } from '@opentelemetry/api';
import { hrTime } from '@opentelemetry/core';
import { DataPointType, type CollectionResult, type ExponentialHistogram, type Histogram, type MetricData } from '@opentelemetry/sdk-metrics';
import { VERSION } from '../version.js';
import { RECORDER_FAMILIES, viewOf } from './families.js';
import { metricData } from './producer.js';
import type { ExpositionParts } from './prometheus.js';
import type { Snapshot, SnapshotMetric, SnapshotPoint } from './snapshot-types.js';

const SCOPE = { name: '@inferwatch/sdk', version: VERSION };

function kindOf(metric: MetricData): SnapshotMetric['kind'] | undefined {
  switch (metric.dataPointType) {
    case DataPointType.HISTOGRAM:
    case DataPointType.EXPONENTIAL_HISTOGRAM:
      return 'histogram';
    case DataPointType.SUM:
      return metric.isMonotonic ? 'counter' : 'gauge';
    case DataPointType.GAUGE:
      return 'gauge';
    default:
      return undefined;
  }
}

/** Serialises a collection into the snapshot the page polls. */
export function toSnapshot(collection: CollectionResult, at: number): Snapshot {
  const { resource, scopeMetrics } = collection.resourceMetrics;
  // Several recorders (or producers) write the same names: one entry per name, their points together.
  const metrics = new Map<string, SnapshotMetric>();
  for (const scope of scopeMetrics) {
    for (const metric of scope.metrics) {
      const kind = kindOf(metric);
      if (kind === undefined) continue;
      const points: SnapshotPoint[] =
        metric.dataPointType === DataPointType.HISTOGRAM
          ? (metric.dataPoints as { attributes: Attributes; value: Histogram }[]).map(({ attributes, value }) => ({
              attributes,
              bounds: value.buckets.boundaries,
              counts: value.buckets.counts,
              sum: value.sum ?? 0,
              count: value.count,
            }))
          : metric.dataPointType === DataPointType.EXPONENTIAL_HISTOGRAM
            ? (metric.dataPoints as { attributes: Attributes; value: ExponentialHistogram }[]).map(({ attributes, value }) => ({
                attributes,
                scale: value.scale,
                offset: value.positive.offset,
                counts: value.positive.bucketCounts,
                zeroCount: value.zeroCount,
                sum: value.sum ?? 0,
                count: value.count,
              }))
            : (metric.dataPoints as { attributes: Attributes; value: number }[]).map(({ attributes, value }) => ({ attributes, value }));
      const known = metrics.get(metric.descriptor.name);
      if (known === undefined) metrics.set(metric.descriptor.name, { name: metric.descriptor.name, unit: metric.descriptor.unit, kind, points });
      else if (known.kind === kind) known.points.push(...points);
    }
  }
  return { t: at, service: String(resource.attributes['service.name'] ?? ''), metrics: [...metrics.values()] };
}

/** The live page's snapshot (JSON) of one exposition's parts: the recorders' families and the OTel metric data. */
export function snapshotOfParts(parts: ExpositionParts): string {
  const startTime = hrTime();
  const scopeMetrics = [...parts.recorders.map((r) => ({ scope: SCOPE, metrics: metricData(RECORDER_FAMILIES, viewOf(r), startTime) })), { scope: SCOPE, metrics: [...parts.metrics] }];
  const result: CollectionResult = { resourceMetrics: { resource: { attributes: parts.resource } as CollectionResult['resourceMetrics']['resource'], scopeMetrics }, errors: [] };
  return JSON.stringify(toSnapshot(result, Date.now()));
}
