import { diag } from '@opentelemetry/api';
import type { CollectionResult, MetricProducer } from '@opentelemetry/sdk-metrics';
import type { GpuCollector } from '@inferwatch/gpu';
import { emptyResource } from '@opentelemetry/resources';

/**
 * `@inferwatch/gpu`'s `GpuCollectorOptions`, written out so that the SDK's type declarations do not import
 * a package most users never install (test/sdk/gpu-options.test.ts keeps the two the same).
 */
export interface GpuOptions {
  intervalMs?: number;
  timeoutMs?: number;
  pids?: readonly number[];
  maxBackoffMs?: number;
  maxOutputBytes?: number;
  log?: (line: string) => void;
}

export type GpuOption = boolean | GpuOptions;

export interface LazyGpu {
  readonly producer: MetricProducer;
  shutdown(): Promise<void>;
}

const EMPTY: CollectionResult = { resourceMetrics: { resource: emptyResource(), scopeMetrics: [] }, errors: [] };

/**
 * Loads @inferwatch/gpu on demand, so the SDK itself never depends on it (nor on node-nvidia-smi):
 * apps that ask for GPU metrics install it, everyone else never loads it.
 */
export function loadGpu(options: GpuOptions): LazyGpu {
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
