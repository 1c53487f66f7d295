import type { Attributes, HrTime } from '@opentelemetry/api';
import { hrTime } from '@opentelemetry/core';
import { FINISH_REASONS, HISTOGRAMS, type HistogramKey, type HistogramName } from './catalog.js';
import { Histogram, toBoundaries } from './histogram.js';

export type BucketTable = Readonly<Record<HistogramKey, Float64Array>>;

/** Bucket boundaries per histogram, keyed by OTel metric name: a misspelt name is a type error. */
export type BucketOptions = Readonly<Partial<Record<HistogramName, readonly number[]>>>;

/**
 * Everything recorded for one (model, operation, provider) combination. A request resolves its
 * series once, at start, so every later event writes straight into these fields.
 */
export class Series {
  readonly startTime: HrTime = hrTime();

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

  constructor(
    readonly attributes: Attributes,
    private readonly buckets: BucketTable,
  ) {
    this.requestDuration = new Histogram(buckets.requestDuration);
    this.timeToFirstToken = new Histogram(buckets.timeToFirstToken);
    this.timePerOutputToken = new Histogram(buckets.timePerOutputToken);
    this.interTokenLatency = new Histogram(buckets.interTokenLatency);
    this.queueDuration = new Histogram(buckets.queueDuration);
    this.inferenceDuration = new Histogram(buckets.inferenceDuration);
    this.prefillDuration = new Histogram(buckets.prefillDuration);
    this.decodeDuration = new Histogram(buckets.decodeDuration);
    this.inputTokenUsage = new Histogram(buckets.tokenUsage);
    this.outputTokenUsage = new Histogram(buckets.tokenUsage);
  }

  errorDuration(errorType: string): Histogram {
    let histogram = this.errorDurations.get(errorType);
    if (histogram === undefined) {
      histogram = new Histogram(this.buckets.requestDuration);
      this.errorDurations.set(errorType, histogram);
    }
    return histogram;
  }
}

const HISTOGRAM_NAMES: ReadonlySet<string> = new Set(Object.values(HISTOGRAMS).map((spec) => spec.name));

/**
 * The default buckets with the caller's overrides (keyed by OTel metric name) applied. Each problem
 * is reported under a kind from a closed set (`unknown` or a metric name), so a hostile option
 * cannot grow what the reporter remembers.
 */
export function resolveBuckets(overrides: unknown, report: (kind: string, problem: string) => void): BucketTable {
  const given = typeof overrides === 'object' && overrides !== null ? (overrides as Record<string, unknown>) : {};
  if (overrides !== undefined && given !== overrides) report('invalid', 'buckets must be an object keyed by metric name; using the defaults');
  const unknown = Object.keys(given).filter((name) => !HISTOGRAM_NAMES.has(name));
  if (unknown.length > 0) {
    const shown = unknown.slice(0, 3).map((name) => JSON.stringify(name.slice(0, 64))).join(', ');
    report('unknown', `no histogram is named ${shown}${unknown.length > 3 ? ' (and others)' : ''}; known: ${[...HISTOGRAM_NAMES].join(', ')}`);
  }
  const table = {} as Record<HistogramKey, Float64Array>;
  for (const key of Object.keys(HISTOGRAMS) as HistogramKey[]) {
    const spec = HISTOGRAMS[key];
    const override = given[spec.name];
    let boundaries: Float64Array | undefined;
    if (override !== undefined) {
      boundaries = toBoundaries(override as readonly number[]);
      if (boundaries === undefined) report(spec.name, `buckets for ${spec.name} must be an array of finite, strictly increasing numbers; using the defaults`);
    }
    table[key] = boundaries ?? Float64Array.from(spec.buckets);
  }
  return table;
}
