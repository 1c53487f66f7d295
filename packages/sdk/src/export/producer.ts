/**
 * The recorders' aggregates as OTel metric data (cumulative), collected on demand by any MetricReader:
 * the OTLP reader, the live page's, or an app's own. The families come from families.ts.
 */
import type { Attributes, HrTime } from '@opentelemetry/api';
import { hrTime } from '@opentelemetry/core';
import type { CollectionResult, DataPoint, MetricData, MetricProducer } from '@opentelemetry/sdk-metrics';
import type { Histogram } from '../aggregator/histogram.js';
import { VERSION } from '../version.js';
import { CLIENT_FAMILIES, RECORDER_FAMILIES, viewOf, type ClientView, type Family, type RecorderSource } from './families.js';
import { collection, counterData, gaugeData, histogramData } from './metric-data.js';

const withExtra = (attributes: Attributes, extra: { key: string; value: string } | undefined): Attributes =>
  extra === undefined ? attributes : { ...attributes, [extra.key]: extra.value };

/** Every family of `view` as metric data; a gauge family without points is left out. */
export function metricData<View>(families: ReadonlyArray<Family<View>>, view: View, startTime: HrTime): MetricData[] {
  const now = hrTime();
  const metrics: MetricData[] = [];
  for (const family of families) {
    if (family.kind === 'histogram') {
      const histograms: Array<[Attributes, Histogram]> = [];
      family.points(view, (attributes, extra, h) => histograms.push([withExtra(attributes, extra), h]));
      metrics.push(histogramData(family.spec, family.valueType, histograms, startTime, now));
      continue;
    }
    // Gauges are values at the collection; counters count from the recorder's start.
    const start = family.kind === 'gauge' ? now : startTime;
    const points: DataPoint<number>[] = [];
    family.points(view, (attributes, extra, value) => points.push({ startTime: start, endTime: now, attributes: withExtra(attributes, extra), value }));
    if (family.kind === 'counter') metrics.push(counterData(family.spec, points));
    else if (points.length > 0) metrics.push(gaugeData(family.spec, points));
  }
  return metrics;
}

const SCOPE = { name: '@inferwatch/sdk', version: VERSION };
const CLIENT_SCOPE = { name: '@inferwatch/sdk/client', version: VERSION };

/** A server recorder as a MetricProducer: `llm.producer`. */
export class LlmMetricProducer implements MetricProducer {
  constructor(readonly source: RecorderSource & { readonly startTime: HrTime }) {}

  async collect(): Promise<CollectionResult> {
    return collection(SCOPE, metricData(RECORDER_FAMILIES, viewOf(this.source), this.source.startTime));
  }
}

/** A client recorder as a MetricProducer. */
export class ClientMetricProducer implements MetricProducer {
  constructor(private readonly source: { readonly series: ReadonlyMap<string, ClientView['series'][number]>; readonly startTime: HrTime }) {}

  async collect(): Promise<CollectionResult> {
    return collection(CLIENT_SCOPE, metricData(CLIENT_FAMILIES, { series: [...this.source.series.values()] }, this.source.startTime));
  }
}
