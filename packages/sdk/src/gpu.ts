import type { CollectionResult, MetricProducer } from '@opentelemetry/sdk-metrics';
import { emptyResource } from '@opentelemetry/resources';
import type { Notices } from './misuse.js';

/**
 * The options of `@inferwatch/gpu`'s collector, declared here by shape: the SDK's published types
 * must not import that optional package (an app without it would fail to type-check).
 * test/sdk/types.ts keeps the two in step.
 */
export interface GpuOptions {
  /** Time between polls. Default 5000 ms. */
  intervalMs?: number;
  /** A run of nvidia-smi taking longer is killed (with its process group) and counted as `timeout`. Default 10 000 ms. */
  timeoutMs?: number;
  /** Processes whose GPU memory `inferwatch.gpu.process.memory.usage` reports. Default: this process. */
  pids?: readonly number[];
  /** Longest wait between checks while nvidia-smi is missing. Default 300 000 ms. */
  maxBackoffMs?: number;
  /** Largest nvidia-smi output accepted, in bytes; the read stops there. Default 32 MiB. */
  maxOutputBytes?: number;
  /** GPUs read from one poll; those beyond are left out. Default 64. */
  maxGpus?: number;
  /** Where the collector's few info and warning lines go. Default: stderr (`console.warn`). */
  log?: (line: string) => void;
}

export type GpuOption = boolean | GpuOptions;

interface GpuCollectorLike {
  readonly producer: MetricProducer;
  shutdown(): Promise<void>;
}

export interface LazyGpu {
  readonly producer: MetricProducer;
  shutdown(): Promise<void>;
}

const EMPTY: CollectionResult = { resourceMetrics: { resource: emptyResource(), scopeMetrics: [] }, errors: [] };

/**
 * Loads @inferwatch/gpu on demand, so the SDK itself never depends on it (nor on node-nvidia-smi):
 * apps that ask for GPU metrics install it, everyone else never loads it.
 */
export function loadGpu(options: GpuOptions, notices: Notices): LazyGpu {
  const collector: Promise<GpuCollectorLike | undefined> = import('@inferwatch/gpu').then(
    (gpu) => gpu.createGpuCollector(options),
    (error: unknown) => {
      const reason = error instanceof Error ? error.message.split('\n')[0] : 'it could not be loaded';
      notices.warn('gpu_missing', `gpu: true needs the @inferwatch/gpu package (npm install @inferwatch/gpu); no GPU metrics (${reason})`);
      return undefined;
    },
  );
  return {
    producer: { collect: async () => ((await collector)?.producer.collect() ?? EMPTY) },
    shutdown: async () => (await collector)?.shutdown(),
  };
}
