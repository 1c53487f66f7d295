import type { Attributes } from '@opentelemetry/api';
import type { GaugeKey } from './catalog.js';
import { ENGINE_FIELDS, type EngineSource } from './engine-state.js';
import type { Series } from './series.js';

export interface GaugePoint {
  readonly attributes: Attributes;
  readonly value: number;
}

export type GaugeView = Record<GaugeKey, GaugePoint[]>;

const DERIVED = ['running', 'waiting', 'swapped'] as const;

/**
 * The gauges as they stand now. A field any engine reported is taken from the reports alone;
 * otherwise the scheduler counts come from the live request handles of each series.
 */
export function currentGauges(series: Iterable<Series>, engine: EngineSource): GaugeView {
  const view: GaugeView = { running: [], waiting: [], swapped: [], gpuKvCacheUsage: [], cpuKvCacheUsage: [] };
  for (const point of engine.snapshot()) {
    for (let i = 0; i < ENGINE_FIELDS.length; i++) {
      const value = point.values[i];
      if (value === value) view[ENGINE_FIELDS[i]].push({ attributes: point.attributes, value });
    }
  }
  const derived = DERIVED.filter((field) => view[field].length === 0);
  if (derived.length > 0) {
    for (const s of series) {
      for (const field of derived) view[field].push({ attributes: s.attributes, value: s[field] });
    }
  }
  return view;
}
