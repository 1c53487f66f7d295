import type { MetricProducer } from '@opentelemetry/sdk-metrics';
import { optionalPackage } from '../export/optional-package.js';
import type { Notices } from '../record/notices.js';

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

export const GPU_OPTION_KEYS = ['intervalMs', 'timeoutMs', 'pids', 'maxBackoffMs', 'maxOutputBytes', 'maxGpus', 'log'] as const satisfies ReadonlyArray<keyof GpuOptions>;

interface GpuModule {
  createGpuCollector(options: GpuOptions): GpuCollector;
}

export interface GpuCollector {
  readonly producer: MetricProducer;
  shutdown(): Promise<void>;
}

/**
 * @inferwatch/gpu's collector, loaded only when GPU metrics are asked for: the SDK never depends on it (nor on
 * node-nvidia-smi). Undefined, said once with the install line, when the package is missing.
 */
export function loadGpu(options: GpuOptions, notices: Notices): GpuCollector | undefined {
  const gpu = optionalPackage<GpuModule>('@inferwatch/gpu', 'gpu: true', ['@inferwatch/gpu'], notices);
  return gpu?.createGpuCollector(options);
}
