import type { Attributes, HrTime } from '@opentelemetry/api';
import { hrTime } from '@opentelemetry/core';
import type { CollectionResult, DataPoint, MetricData, MetricProducer } from '@opentelemetry/sdk-metrics';
import { collection, counterData, gaugeData } from '@inferwatch/sdk/internal';
import {
  ATTR_GPU_INDEX,
  ATTR_GPU_TASK,
  ATTR_HW_ID,
  ATTR_HW_NAME,
  ATTR_HW_TYPE,
  ATTR_MIG_INDEX,
  ATTR_PROCESS_PID,
  GPU_GAUGES,
  POLL_ERRORS,
} from './catalog.js';
import type { GpuSample } from './nvidia-smi.js';
import type { PollError } from './protocol.js';

export interface GpuSource {
  readonly gpus: readonly GpuSample[];
  readonly errors: ReadonlyMap<PollError, number>;
  readonly pids: readonly number[];
}

type GaugeKey = keyof typeof GPU_GAUGES;
const POLL_ERROR_TYPES: readonly PollError[] = ['not_found', 'timeout', 'exit_status', 'stderr', 'invalid_output', 'output_too_large'];
const SCOPE = { name: '@inferwatch/gpu', version: '0.1.0' };

/** Turns the collector's latest samples into OTel gauges (and its error counts into a counter) at each collection. */
export class GpuMetricProducer implements MetricProducer {
  private readonly startTime: HrTime = hrTime();

  constructor(private readonly source: GpuSource) {}

  async collect(): Promise<CollectionResult> {
    return collection(SCOPE, this.metrics());
  }

  private metrics(): MetricData[] {
    const now = hrTime();
    const points = Object.fromEntries(Object.keys(GPU_GAUGES).map((k) => [k, [] as DataPoint<number>[]])) as Record<GaugeKey, DataPoint<number>[]>;
    const add = (key: GaugeKey, value: number | undefined, attributes: Attributes) => {
      if (value !== undefined) points[key].push({ startTime: now, endTime: now, attributes, value });
    };
    for (const gpu of this.source.gpus) {
      const attributes: Attributes = { [ATTR_HW_ID]: gpu.uuid, [ATTR_HW_TYPE]: 'gpu', [ATTR_HW_NAME]: gpu.name, [ATTR_GPU_INDEX]: String(gpu.index) };
      add('utilization', gpu.utilization, { ...attributes, [ATTR_GPU_TASK]: 'general' });
      add('memoryControllerUtilization', gpu.memoryControllerUtilization, attributes);
      add('memoryUsage', gpu.memoryUsedBytes, attributes);
      add('memoryLimit', gpu.memoryTotalBytes, attributes);
      if (gpu.memoryUsedBytes !== undefined && gpu.memoryTotalBytes) add('memoryUtilization', gpu.memoryUsedBytes / gpu.memoryTotalBytes, attributes);
      add('power', gpu.powerDrawWatts, attributes);
      add('powerLimit', gpu.powerLimitWatts, attributes);
      add('temperature', gpu.temperatureCelsius, attributes);
      add('smClock', gpu.smClockHz, attributes);
      if (gpu.processes !== undefined) {
        for (const pid of this.source.pids) {
          const entries = gpu.processes.filter((p) => p.pid === pid);
          // Not listed means it holds nothing there; listed without a figure (Windows WDDM) means unknown.
          const bytes = entries.some((p) => p.usedMemoryBytes === undefined)
            ? undefined
            : entries.reduce((sum, p) => sum + (p.usedMemoryBytes ?? 0), 0);
          add('processMemory', bytes, { ...attributes, [ATTR_PROCESS_PID]: String(pid) });
        }
      }
      for (const mig of gpu.migDevices) {
        const migAttributes = { ...attributes, [ATTR_MIG_INDEX]: mig.index };
        add('migMemoryUsage', mig.memoryUsedBytes, migAttributes);
        add('migMemoryLimit', mig.memoryTotalBytes, migAttributes);
      }
    }
    const metrics: MetricData[] = [];
    for (const key of Object.keys(GPU_GAUGES) as GaugeKey[]) {
      if (points[key].length > 0) metrics.push(gaugeData(GPU_GAUGES[key], points[key]));
    }
    const errors = POLL_ERROR_TYPES.map((type) => ({ startTime: this.startTime, endTime: now, attributes: { 'error.type': type }, value: this.source.errors.get(type) ?? 0 }));
    metrics.push(counterData(POLL_ERRORS, errors));
    return metrics;
  }
}
