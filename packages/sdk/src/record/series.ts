import type { Attributes } from '@opentelemetry/api';
import { toBoundaries } from '../aggregator/explicit.js';
import { MAX_SCALE, MIN_SCALE } from '../aggregator/exponential.js';
import { Histogram, type HistogramLayout } from '../aggregator/histogram.js';
import { FINISH_REASONS, type HistogramKey, type HistogramName, type HistogramSpec } from './catalog.js';

export type LayoutTable = Readonly<Record<HistogramKey, HistogramLayout>>;

/** Bucket boundaries per histogram, keyed by OTel metric name: a misspelt name is a type error. */
export type BucketOptions = Readonly<Partial<Record<HistogramName, readonly number[]>>>;

/**
 * How a histogram is kept. `native`: exponential buckets (Prometheus native histograms over the protobuf
 * format, OTLP exponential histograms), with classic buckets at powers of two derived for text scrapers.
 * `classic`: explicit buckets everywhere. `both`: both kept, for a migration from one to the other.
 */
export type HistogramMode = 'native' | 'classic' | 'both';

/** One mode for every histogram, or a mode per metric (the rest get the default). */
export type HistogramModes = HistogramMode | Readonly<Partial<Record<HistogramName, HistogramMode>>>;

export interface NativeHistogramOptions {
  /** The finest scale (Prometheus schema), -4..8: buckets 2^(2^-scale) wide. Default 8 (0.27 %); the scale drops as the range of values grows. */
  maxScale?: number;
  /** Most buckets between the lowest and the highest value before the scale drops. Default 320 (OTel's is 160): values spanning three decades keep scale 5, buckets 2.2 % wide. */
  maxSize?: number;
}

/**
 * Everything recorded for one (model, operation, provider, attributes) combination. A request resolves
 * its series once, at start, so every later event writes straight into these fields.
 */
export class Series {
  readonly requestDuration: Histogram;
  readonly timeToFirstToken: Histogram;
  readonly timePerOutputToken: Histogram;
  readonly interTokenLatency: Histogram;
  readonly queueDuration: Histogram;
  readonly inferenceDuration: Histogram;
  readonly prefillDuration: Histogram;
  readonly decodeDuration: Histogram;
  readonly inputTokenUsage: Histogram;
  readonly outputTokenUsage: Histogram;
  /** request.duration of requests that failed or were aborted, by error.type. */
  readonly errorDurations = new Map<string, Histogram>();

  promptTokens = 0;
  outputTokens = 0;
  preemptions = 0;
  readonly finished = new Float64Array(FINISH_REASONS.length);

  waiting = 0;
  running = 0;
  swapped = 0;
  /** Changed since a cluster worker last sent its state; only those series are sent again. */
  dirty = true;

  constructor(
    readonly attributes: Attributes,
    readonly layouts: LayoutTable,
  ) {
    this.requestDuration = new Histogram(layouts.requestDuration);
    this.timeToFirstToken = new Histogram(layouts.timeToFirstToken);
    this.timePerOutputToken = new Histogram(layouts.timePerOutputToken);
    this.interTokenLatency = new Histogram(layouts.interTokenLatency);
    this.queueDuration = new Histogram(layouts.queueDuration);
    this.inferenceDuration = new Histogram(layouts.inferenceDuration);
    this.prefillDuration = new Histogram(layouts.prefillDuration);
    this.decodeDuration = new Histogram(layouts.decodeDuration);
    this.inputTokenUsage = new Histogram(layouts.tokenUsage);
    this.outputTokenUsage = new Histogram(layouts.tokenUsage);
  }

  errorDuration(errorType: string): Histogram {
    let histogram = this.errorDurations.get(errorType);
    if (histogram === undefined) {
      histogram = new Histogram(this.layouts.requestDuration);
      this.errorDurations.set(errorType, histogram);
    }
    return histogram;
  }
}

const MODES: ReadonlySet<unknown> = new Set(['native', 'classic', 'both']);
const isMode = (value: unknown): value is HistogramMode => MODES.has(value);

/**
 * The mode a histogram gets when the options name none: OTel's own switch, for OTLP users who set it
 * for their whole app, else native.
 */
export function defaultMode(): HistogramMode {
  const aggregation = process.env.OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION?.trim().toLowerCase();
  return aggregation === 'explicit_bucket_histogram' ? 'classic' : 'native';
}

/**
 * Each histogram's layout from the `histograms`, `buckets` and `nativeHistograms` options. Each problem is
 * reported under a kind from a closed set (`unknown`, `invalid`, `mode` or a metric name), so a hostile
 * option cannot grow what the reporter remembers.
 */
export function resolveLayouts<K extends string>(
  specs: Readonly<Record<K, HistogramSpec>>,
  options: { histograms?: unknown; buckets?: unknown; nativeHistograms?: unknown },
  report: (kind: string, problem: string) => void,
): Readonly<Record<K, HistogramLayout>> {
  const names: ReadonlySet<string> = new Set(Object.values<HistogramSpec>(specs).map((spec) => spec.name));
  const buckets = objectOption(options.buckets, 'buckets', names, report);
  const modes = typeof options.histograms === 'string' ? {} : objectOption(options.histograms, 'histograms', names, report);
  let fallback = defaultMode();
  if (typeof options.histograms === 'string') {
    if (isMode(options.histograms)) fallback = options.histograms;
    else report('histograms', `histograms must be 'native', 'classic' or 'both'; using '${fallback}'`);
  }
  const exponential = nativeOptions(options.nativeHistograms, report);
  const table = {} as Record<K, HistogramLayout>;
  for (const key of Object.keys(specs) as K[]) {
    const spec: HistogramSpec = specs[key];
    // Buckets given for a metric whose mode nobody chose ask for classic buckets: they are kept.
    let mode = buckets[spec.name] !== undefined && typeof options.histograms !== 'string' ? 'classic' : fallback;
    const given = modes[spec.name];
    if (given !== undefined) {
      if (isMode(given)) mode = given;
      else report(`histograms:${spec.name}`, `histograms for ${spec.name} must be 'native', 'classic' or 'both'; using '${mode}'`);
    }
    let boundaries: Float64Array | undefined;
    if (buckets[spec.name] !== undefined) {
      boundaries = toBoundaries(buckets[spec.name]);
      if (boundaries === undefined) report(`buckets:${spec.name}`, `buckets for ${spec.name} must be an array of finite, strictly increasing numbers; using the defaults`);
      else if (mode === 'native') report(`buckets:${spec.name}`, `buckets for ${spec.name} are only kept with classic buckets: set histograms to 'both' or 'classic' for it`);
    }
    table[key] =
      mode === 'native'
        ? { exponential, view: Float64Array.from(spec.powers, (k) => 2 ** k), powers: spec.powers }
        : layoutWithBuckets(boundaries ?? Float64Array.from(spec.buckets), mode === 'both' ? exponential : undefined);
  }
  return table;
}

const layoutWithBuckets = (boundaries: Float64Array, exponential: HistogramLayout['exponential']): HistogramLayout => ({ boundaries, exponential, view: boundaries });

/** An option keyed by metric name, as a plain object; names no histogram has are reported once. */
function objectOption(value: unknown, option: string, names: ReadonlySet<string>, report: (kind: string, problem: string) => void): Record<string, unknown> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    report(`${option}:invalid`, `${option} must be an object keyed by metric name; using the defaults`);
    return {};
  }
  const given = value as Record<string, unknown>;
  const unknown = Object.keys(given).filter((name) => !names.has(name));
  if (unknown.length > 0) {
    const shown = unknown.slice(0, 3).map((name) => JSON.stringify(name.slice(0, 64))).join(', ');
    report(`${option}:unknown`, `${option}: no histogram is named ${shown}${unknown.length > 3 ? ' (and others)' : ''}; known: ${[...names].join(', ')}`);
  }
  return given;
}

function nativeOptions(value: unknown, report: (kind: string, problem: string) => void): { maxScale: number; maxSize: number } {
  const given = typeof value === 'object' && value !== null ? (value as NativeHistogramOptions) : {};
  let maxScale = MAX_SCALE;
  let maxSize = 320;
  if (given.maxScale !== undefined) {
    if (Number.isInteger(given.maxScale) && given.maxScale >= MIN_SCALE && given.maxScale <= MAX_SCALE) maxScale = given.maxScale;
    else report('native:max_scale', `nativeHistograms.maxScale must be an integer from ${MIN_SCALE} to ${MAX_SCALE}; using ${maxScale}`);
  }
  if (given.maxSize !== undefined) {
    if (Number.isInteger(given.maxSize) && given.maxSize >= 20 && given.maxSize <= 10_000) maxSize = given.maxSize;
    else report('native:max_size', `nativeHistograms.maxSize must be an integer from 20 to 10000; using ${maxSize}`);
  }
  return { maxScale, maxSize };
}
