import type { Attributes } from '@opentelemetry/api';
import {
  MeterProvider,
  MetricReader,
  type DataPoint,
  type Histogram,
  type MetricData,
  type MetricProducer,
} from '@opentelemetry/sdk-metrics';

/** A real MetricReader that keeps what it collects in memory. */
class InMemoryReader extends MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

export interface Collected {
  metric(name: string): MetricData | undefined;
  point(name: string, attributes: Attributes): DataPoint<number> | undefined;
  histogram(name: string, attributes: Attributes): DataPoint<Histogram> | undefined;
}

export async function collect(producer: MetricProducer): Promise<Collected> {
  const reader = new InMemoryReader({ metricProducers: [producer] });
  const provider = new MeterProvider({ readers: [reader] });
  const { resourceMetrics, errors } = await reader.collect();
  await provider.shutdown();
  if (errors.length > 0) throw new Error(`collection errors: ${errors.join(', ')}`);
  const all = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
  const metric = (name: string) => all.find((m) => m.descriptor.name === name);
  const find = (name: string, attributes: Attributes) =>
    (metric(name)?.dataPoints as DataPoint<unknown>[] | undefined)?.find((p) => sameAttributes(p.attributes, attributes));
  return {
    metric,
    point: (name, attributes) => find(name, attributes) as DataPoint<number> | undefined,
    histogram: (name, attributes) => find(name, attributes) as DataPoint<Histogram> | undefined,
  };
}

function sameAttributes(a: Attributes, b: Attributes): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

/** Non-cumulative bucket counts as { upperBound: count }, only the non-zero ones ('+Inf' for the overflow bucket). */
export function nonZeroBuckets(point: DataPoint<Histogram> | undefined): Record<string, number> {
  if (point === undefined) throw new Error('no such histogram point');
  const { boundaries, counts } = point.value.buckets;
  const out: Record<string, number> = {};
  counts.forEach((count, i) => {
    if (count !== 0) out[i < boundaries.length ? String(boundaries[i]) : '+Inf'] = count;
  });
  return out;
}

/**
 * One series' outcome as the tests compare it: the finish reasons seen (those above 0), the tokens each
 * way and how many first tokens were timed.
 */
export function requestSummary(m: Collected, attributes: Attributes) {
  const finished: Record<string, number> = {};
  for (const p of m.metric('inferwatch.requests.finished')!.dataPoints) if ((p.value as number) > 0) finished[String(p.attributes.finish_reason)] = p.value as number;
  return {
    finished,
    output: m.point('inferwatch.tokens', { ...attributes, 'gen_ai.token.type': 'output' })!.value,
    input: m.point('inferwatch.tokens', { ...attributes, 'gen_ai.token.type': 'input' })!.value,
    ttftCount: m.histogram('gen_ai.server.time_to_first_token', attributes)!.value.count,
  };
}
