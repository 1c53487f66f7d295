export { createGpuCollector } from './collector.js';
export type { GpuCollector, GpuCollectorOptions } from './collector.js';
export type { GpuSample, GpuProcess, MigDevice } from './nvidia-smi.js';
