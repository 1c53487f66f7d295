import { diag } from '@opentelemetry/api';
import type { CollectionResult, MetricProducer } from '@opentelemetry/sdk-metrics';
import type { GpuCollector, GpuCollectorOptions } from '@inferwatch/gpu';
import { emptyResource } from '@opentelemetry/resources';

export type GpuOption = boolean | GpuCollectorOptions;

export interface LazyGpu {
  readonly producer: MetricProducer;
  shutdown(): Promise<void>;
}

const EMPTY: CollectionResult = { resourceMetrics: { resource: emptyResource(), scopeMetrics: [] }, errors: [] };

/**
 * Loads @inferwatch/gpu on demand, so the SDK itself never depends on it (nor on node-nvidia-smi):
 * apps that ask for GPU metrics install it, everyone else never loads it.
 */
export function loadGpu(options: GpuCollectorOptions): LazyGpu {
  const collector: Promise<GpuCollector | undefined> = import('@inferwatch/gpu').then(
    (gpu) => gpu.createGpuCollector(options),
    (error: unknown) => {
      diag.warn(`inferwatch: GPU metrics need the @inferwatch/gpu package (${String(error)})`);
      return undefined;
    },
  );
  return {
    producer: { collect: async () => ((await collector)?.producer.collect() ?? EMPTY) },
    shutdown: async () => (await collector)?.shutdown(),
  };
}
