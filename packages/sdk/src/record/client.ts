import { context as otelContext, SpanKind, type Attributes, type Context, type HrTime, type SpanContext, type TracerProvider } from '@opentelemetry/api';
import { hrTime } from '@opentelemetry/core';
import type { MetricProducer } from '@opentelemetry/sdk-metrics';
import { Histogram, type HistogramLayout } from '../aggregator/histogram.js';
import { SPAN_ATTRIBUTES, SPAN_EVENTS, SpanSource, tracerProviderOption, type RequestSpan } from '../trace/spans.js';
import { ATTR_MODEL, ATTR_OPERATION, ATTR_PROVIDER, CLIENT_HISTOGRAMS } from './catalog.js';
import { guardedClock, processClock } from './clock.js';
import { lengthPrefixed } from './keys.js';
import { ValueLimiter } from './limiter.js';
import { Notices } from './notices.js';
import { errorType, isCount } from './read-values.js';
import { resolveLayouts, type HistogramModes, type NativeHistogramOptions } from './series.js';

export interface ClientMetricsOptions {
  /** Default `gen_ai.provider.name` (e.g. `openai`). Default `unknown`. */
  provider?: string;
  /** Distinct model names kept; later ones become `_OTHER`. Default 100. */
  maxModels?: number;
  /** Milliseconds on a monotonic clock. Default `performance.now`. */
  clock?: () => number;
  /** Where CLIENT spans go: a TracerProvider, or `false` for none. Default: the global provider, when one is registered. */
  tracerProvider?: TracerProvider | false;
  /** How histograms are kept, as in `createLlmMetrics({ histograms })`. */
  histograms?: HistogramModes;
  /** Native (exponential) histograms' resolution, as in `createLlmMetrics`. */
  nativeHistograms?: NativeHistogramOptions;
}

export interface StartOperationInfo {
  model: string;
  operation?: string;
  provider?: string;
  /** The caller's trace context; the CLIENT span is its child. Default: the active context. */
  context?: Context;
}

export interface ClientUsage {
  inputTokens?: number;
  outputTokens?: number;
}

/** One call to an LLM API, from the caller's side. Calls after the end are ignored. */
export interface ClientOperation {
  /** A streamed chunk arrived. */
  chunk(): void;
  /** The call completed; usage from the response when it has one. */
  end(usage?: ClientUsage): void;
  /** The call failed; `error.type` comes from the error's `code`, `type`, `status`, `statusCode` or `name`, first found. */
  fail(error?: unknown): void;
  /** The CLIENT span's context; undefined when no TracerProvider is registered. */
  spanContext(): SpanContext | undefined;
  /** Inject this into the outgoing request's headers (`propagation.inject(op.traceContext(), headers)`). */
  traceContext(): Context;
}

export interface ClientMetrics {
  startOperation(info: StartOperationInfo): ClientOperation;
  /** Give it to `startMetrics({ metricProducers: [...] })` or any OTel reader. */
  readonly producer: MetricProducer;
}

type ClientLayouts = Readonly<Record<keyof typeof CLIENT_HISTOGRAMS, HistogramLayout>>;

/** Everything recorded for one (model, operation, provider) of calls. */
export class ClientSeries {
  readonly duration: Histogram;
  /** operation.duration of calls that failed, by error.type. */
  readonly errors = new Map<string, Histogram>();
  readonly inputTokens: Histogram;
  readonly outputTokens: Histogram;
  readonly firstChunk: Histogram;
  readonly perChunk: Histogram;

  constructor(
    readonly attributes: Attributes,
    readonly layouts: ClientLayouts,
  ) {
    this.duration = new Histogram(layouts.operationDuration);
    this.inputTokens = new Histogram(layouts.tokenUsage);
    this.outputTokens = new Histogram(layouts.tokenUsage);
    this.firstChunk = new Histogram(layouts.timeToFirstChunk);
    this.perChunk = new Histogram(layouts.timePerOutputChunk);
  }
}

/** Reads `keys` of an argument once, as plain values; not an object, or a getter that throws, gives none. */
function fields<K extends string>(value: unknown, keys: readonly K[]): Partial<Record<K, unknown>> {
  const out: Partial<Record<K, unknown>> = {};
  if (typeof value !== 'object' || value === null) return out;
  try {
    for (const key of keys) out[key] = (value as Record<K, unknown>)[key];
  } catch {
    return {};
  }
  return out;
}

class Operation implements ClientOperation {
  private readonly startedAt: number;
  private lastChunkAt = NaN;
  private ended = false;

  private readonly span: RequestSpan | undefined;

  constructor(
    private readonly recorder: ClientRecorder,
    private readonly series: ClientSeries,
    private readonly parent: Context | undefined,
  ) {
    this.startedAt = recorder.clock();
    this.span = recorder.spans.start(series.attributes, this.startedAt, parent);
  }

  chunk(): void {
    if (this.ended) return;
    const t = this.recorder.clock();
    // A clock that gave no time dates nothing: the chunk is not timed.
    if (t !== t) return;
    if (this.lastChunkAt !== this.lastChunkAt) {
      this.series.firstChunk.record((t - this.startedAt) / 1000);
      this.span?.event(SPAN_EVENTS.firstChunk, t);
    } else this.series.perChunk.record((t - this.lastChunkAt) / 1000);
    this.lastChunkAt = t;
  }

  end(usage?: ClientUsage): void {
    if (this.ended) return;
    this.ended = true;
    const t = this.recorder.clock();
    const duration = (t - this.startedAt) / 1000;
    if (duration === duration) this.series.duration.record(duration);
    const { inputTokens, outputTokens } = fields(usage, ['inputTokens', 'outputTokens']);
    const attributes: Attributes = {};
    if (isCount(inputTokens)) {
      this.series.inputTokens.record(inputTokens);
      attributes[SPAN_ATTRIBUTES.inputTokens] = inputTokens;
    }
    if (isCount(outputTokens)) {
      this.series.outputTokens.record(outputTokens);
      attributes[SPAN_ATTRIBUTES.outputTokens] = outputTokens;
    }
    this.span?.close(t === t ? t : this.startedAt, attributes, undefined, false);
  }

  fail(error?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    const type = this.recorder.errorTypes.admit(errorType(error), '_OTHER');
    let histogram = this.series.errors.get(type);
    if (histogram === undefined) {
      histogram = new Histogram(this.series.layouts.operationDuration);
      this.series.errors.set(type, histogram);
    }
    const t = this.recorder.clock();
    const duration = (t - this.startedAt) / 1000;
    if (duration === duration) histogram.record(duration);
    this.span?.close(t === t ? t : this.startedAt, {}, type, true);
  }

  spanContext(): SpanContext | undefined {
    return this.span?.spanContext();
  }

  traceContext(): Context {
    return this.span?.context() ?? this.parent ?? otelContext.active();
  }
}

export class ClientRecorder implements ClientMetrics {
  /** When counting began: the start of every cumulative series this recorder exports. */
  readonly startTime: HrTime = hrTime();
  readonly clock: () => number;
  readonly errorTypes = new ValueLimiter(32, 128);
  private readonly models: ValueLimiter;
  private readonly small = new ValueLimiter(32, 128);
  private readonly provider: string;
  readonly series = new Map<string, ClientSeries>();
  readonly spans: SpanSource;
  readonly producer: MetricProducer;
  private readonly layouts: ClientLayouts;

  constructor(options: ClientMetricsOptions, producer: (recorder: ClientRecorder) => MetricProducer, notices = new Notices()) {
    const { clock, maxModels, provider, tracerProvider, histograms, nativeHistograms } = fields(options, ['clock', 'maxModels', 'provider', 'tracerProvider', 'histograms', 'nativeHistograms']);
    this.clock = typeof clock === 'function' ? guardedClock(clock as () => number) : processClock;
    this.layouts = resolveLayouts(CLIENT_HISTOGRAMS, { histograms, nativeHistograms }, (kind, problem) => notices.warn(kind, `createClientMetrics(): ${problem}`));
    this.producer = producer(this);
    this.spans = new SpanSource(tracerProviderOption(tracerProvider as TracerProvider | false | undefined), SpanKind.CLIENT, '@inferwatch/sdk/client', typeof clock === 'function' ? this.clock : undefined);
    this.models = new ValueLimiter(isCount(maxModels) && maxModels > 0 ? maxModels : 100, 128);
    this.provider = typeof provider === 'string' && provider ? provider : 'unknown';
  }

  startOperation(info: StartOperationInfo): ClientOperation {
    const given = fields(info, ['model', 'operation', 'provider', 'context']);
    const model = this.models.admit(given.model, 'unknown');
    const operation = this.small.admit(given.operation, 'chat');
    const provider = this.small.admit(given.provider, this.provider);
    const key = lengthPrefixed(model) + lengthPrefixed(operation) + lengthPrefixed(provider);
    let series = this.series.get(key);
    if (series === undefined) {
      series = new ClientSeries(Object.freeze({ [ATTR_MODEL]: model, [ATTR_OPERATION]: operation, [ATTR_PROVIDER]: provider }), this.layouts);
      this.series.set(key, series);
    }
    const context = given.context as Context | undefined;
    const parent = typeof context === 'object' && context !== null && typeof context.getValue === 'function' ? context : undefined;
    return new Operation(this, series, parent);
  }
}
