import type { Attributes, HrTime } from '@opentelemetry/api';
import { hrTime } from '@opentelemetry/core';
import { FINISH_REASONS, HISTOGRAMS, type HistogramKey } from './catalog.js';
import { Histogram, toBoundaries } from './histogram.js';

export type BucketTable = Readonly<Record<HistogramKey, Float64Array>>;

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

/** The default buckets with the caller's overrides (keyed by OTel metric name) applied. */
export function resolveBuckets(
  overrides: Readonly<Record<string, readonly number[]>> | undefined,
  onInvalid: (name: string) => void,
): BucketTable {
  const table = {} as Record<HistogramKey, Float64Array>;
  for (const key of Object.keys(HISTOGRAMS) as HistogramKey[]) {
    const spec = HISTOGRAMS[key];
    const override = overrides?.[spec.name];
    let boundaries: Float64Array | undefined;
    if (override !== undefined) {
      boundaries = toBoundaries(override);
      if (boundaries === undefined) onInvalid(spec.name);
    }
    table[key] = boundaries ?? Float64Array.from(spec.buckets);
  }
  return table;
}
