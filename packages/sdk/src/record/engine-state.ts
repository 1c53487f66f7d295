import type { Attributes } from '@opentelemetry/api';
import type { GaugeKey } from './catalog.js';
import { labelName } from './label-names.js';
import { describe, type MisuseLog } from './notices.js';

/** What an engine knows about itself. Every field is optional: the ones left out stay derived or absent. */
export interface EngineState {
  running?: number;
  waiting?: number;
  swapped?: number;
  /** 0..1 */
  gpuKvCacheUsage?: number;
  /** 0..1 */
  cpuKvCacheUsage?: number;
  /**
   * Labels for these values, e.g. `{ upstream: 'http://10.0.0.7:8000' }` for a gateway with several engines.
   * Keys become valid Prometheus label names (see `labelName`); at most 16 keys, values truncated to 128 characters.
   */
  attributes?: Record<string, string | number | boolean>;
}

export type EngineStateCallback = () => EngineState | readonly EngineState[] | undefined;

export const ENGINE_FIELDS = ['running', 'waiting', 'swapped', 'gpuKvCacheUsage', 'cpuKvCacheUsage'] as const satisfies readonly GaugeKey[];
const RATIO_FIELDS: ReadonlySet<string> = new Set(['gpuKvCacheUsage', 'cpuKvCacheUsage']);

export interface EnginePoint {
  readonly attributes: Attributes;
  /** Indexed like ENGINE_FIELDS; NaN where the engine did not say. */
  readonly values: Float64Array;
}

/** What reads engine state: the current points (a recorder's, or a cluster group's). */
export interface EngineSource {
  snapshot(): EnginePoint[];
}

const MAX_ATTRIBUTE_SETS = 64;
const MAX_VALUE_LENGTH = 128;
const MAX_KEYS = 16;

/** Engine-reported gauges: pushed values kept per attribute set, plus callbacks read at collection time. */
export class EngineStates implements EngineSource {
  private readonly reported = new Map<string, EnginePoint>();
  private readonly callbacks = new Set<EngineStateCallback>();

  constructor(private readonly misuse: MisuseLog) {}

  report(state: EngineState): void {
    const fields = readState(state);
    if (fields === undefined) return this.misuse.report('invalid_argument', 'reportEngineState() needs an object');
    const point = this.pointFor(fields.attributes);
    if (point !== undefined) this.apply(point, fields);
  }

  observe(callback: EngineStateCallback): () => void {
    if (typeof callback !== 'function') {
      this.misuse.report('invalid_argument', 'observeEngineState() needs a function');
      return () => {};
    }
    this.callbacks.add(callback);
    return () => this.callbacks.delete(callback);
  }

  /** Pushed points, then the callbacks' points, each read now. */
  snapshot(): EnginePoint[] {
    const points = [...this.reported.values()];
    for (const callback of this.callbacks) {
      let result: EngineState | readonly EngineState[] | undefined;
      try {
        result = callback();
      } catch (error) {
        this.misuse.report('callback_error', `an engine-state callback threw: ${String(error)}`);
        continue;
      }
      for (const state of statesOf(result)) {
        const fields = readState(state);
        if (fields === undefined) continue;
        const point: EnginePoint = { attributes: cleanAttributes(fields.attributes), values: emptyValues() };
        this.apply(point, fields);
        points.push(point);
      }
    }
    return points;
  }

  private pointFor(raw: EngineState['attributes']): EnginePoint | undefined {
    const attributes = cleanAttributes(raw);
    const key = JSON.stringify(attributes);
    let point = this.reported.get(key);
    if (point === undefined) {
      if (this.reported.size >= MAX_ATTRIBUTE_SETS) {
        this.misuse.report('invalid_argument', `more than ${MAX_ATTRIBUTE_SETS} distinct engine attribute sets`);
        return undefined;
      }
      point = { attributes, values: emptyValues() };
      this.reported.set(key, point);
    }
    return point;
  }

  private apply(point: EnginePoint, state: EngineState): void {
    for (let i = 0; i < ENGINE_FIELDS.length; i++) {
      const field = ENGINE_FIELDS[i];
      const value = state[field];
      if (value === undefined) continue;
      const valid = RATIO_FIELDS.has(field)
        ? typeof value === 'number' && value >= 0 && value <= 1
        : typeof value === 'number' && value >= 0 && Number.isFinite(value);
      if (valid) point.values[i] = value;
      else this.misuse.report('invalid_number', `engine state ${field} = ${describe(value)}`);
    }
  }
}

function emptyValues(): Float64Array {
  return new Float64Array(ENGINE_FIELDS.length).fill(NaN);
}

/** A callback's result as a list, bounded like pushed states: thousands of states add 64 series, not thousands. */
function statesOf(result: unknown): unknown[] {
  try {
    return Array.isArray(result) ? result.slice(0, MAX_ATTRIBUTE_SETS) : result === undefined ? [] : [result];
  } catch {
    // A revoked proxy: nothing readable.
    return [];
  }
}

/** The state's fields as plain values, read once; undefined when it is not an object or its getters throw. */
function readState(state: unknown): EngineState | undefined {
  try {
    if (typeof state !== 'object' || state === null || Array.isArray(state)) return undefined;
    const { running, waiting, swapped, gpuKvCacheUsage, cpuKvCacheUsage, attributes } = state as EngineState;
    return { running, waiting, swapped, gpuKvCacheUsage, cpuKvCacheUsage, attributes };
  } catch {
    return undefined;
  }
}

function cleanAttributes(raw: unknown): Attributes {
  const attributes: Attributes = {};
  if (typeof raw !== 'object' || raw === null) return attributes;
  let kept = 0;
  try {
    for (const key of Object.keys(raw).sort()) {
      if (kept >= MAX_KEYS) break;
      const name = labelName(key);
      // The first key (in sorted order) to claim a name keeps it, so a set never carries a label twice.
      if (name === '' || Object.hasOwn(attributes, name)) continue;
      const value: unknown = (raw as Record<string, unknown>)[key];
      if (typeof value === 'string') attributes[name] = value.slice(0, MAX_VALUE_LENGTH);
      else if (typeof value === 'number' || typeof value === 'boolean') attributes[name] = String(value);
      else continue;
      kept++;
    }
  } catch {
    // A getter that threw: the keys read so far stand.
  }
  return attributes;
}
