// Reads a recorder's finished-request counter through a real OTel reader.
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';

class Reader extends MetricReader {
  async onShutdown() {}
  async onForceFlush() {}
}

/** `{ [finish_reason]: value }` summed over series, for a counter such as inferwatch.requests.finished. */
export async function finishedByReason(llm, name) {
  const reader = new Reader({ metricProducers: [llm.producer] });
  const provider = new MeterProvider({ readers: [reader] });
  const { resourceMetrics } = await reader.collect();
  await provider.shutdown();
  const out = {};
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) {
      if (metric.descriptor.name !== name) continue;
      for (const p of metric.dataPoints) out[p.attributes.finish_reason] = (out[p.attributes.finish_reason] ?? 0) + p.value;
    }
  }
  return out;
}
