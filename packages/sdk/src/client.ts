import { context as otelContext, SpanKind, ValueType, type Attributes, type Context, type HrTime, type SpanContext, type TracerProvider } from '@opentelemetry/api';
import { hrTime } from '@opentelemetry/core';
import type { CollectionResult, DataPoint, Histogram as OtelHistogram, MetricProducer } from '@opentelemetry/sdk-metrics';
import { ATTR_ERROR_TYPE, ATTR_MODEL, ATTR_OPERATION, ATTR_PROVIDER, ATTR_TOKEN_TYPE, CLIENT_HISTOGRAMS } from './catalog.js';
import { Histogram } from './histogram.js';
import { ValueLimiter } from './limiter.js';
import { errorType, isCount } from './read-values.js';
import { collection, histogramData } from './metric-data.js';
import { histogramPoint } from './producer.js';
import { SPAN_ATTRIBUTES, SPAN_EVENTS, SpanSource, tracerProviderOption, type RequestSpan } from './spans.js';
import { VERSION } from './version.js';

export interface ClientMetricsOptions {
  /** Default `gen_ai.provider.name` (e.g. `openai`). Default `unknown`. */
  provider?: string;
  /** Distinct model names kept; later ones become `_OTHER`. Default 100. */
  maxModels?: number;
  /** Milliseconds on a monotonic clock. Default `performance.now`. */
  clock?: () => number;
  /** Where CLIENT spans go: a TracerProvider, or `false` for none. Default: the global provider, when one is registered. */
  tracerProvider?: TracerProvider | false;
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
  /** The call failed; `error.type` comes from the error's `type`, `code`, `status`, `statusCode` or `name`, first found. */
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

class ClientSeries {
  readonly startTime: HrTime = hrTime();
  readonly duration = new Histogram(Float64Array.from(CLIENT_HISTOGRAMS.operationDuration.buckets));
  readonly errors = new Map<string, Histogram>();
  readonly inputTokens = new Histogram(Float64Array.from(CLIENT_HISTOGRAMS.tokenUsage.buckets));
  readonly outputTokens = new Histogram(Float64Array.from(CLIENT_HISTOGRAMS.tokenUsage.buckets));
  readonly firstChunk = new Histogram(Float64Array.from(CLIENT_HISTOGRAMS.timeToFirstChunk.buckets));
  readonly perChunk = new Histogram(Float64Array.from(CLIENT_HISTOGRAMS.timePerOutputChunk.buckets));

  constructor(readonly attributes: Attributes) {}
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

/** A caller's clock that throws or gives no number reads as the process clock instead. */
function guardedClock(clock: () => number): () => number {
  return () => {
    try {
      const t: unknown = clock();
      if (typeof t === 'number' && Number.isFinite(t)) return t;
    } catch {
      // Fall through.
    }
    return performance.now();
  };
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
    this.series.duration.record((t - this.startedAt) / 1000);
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
    this.span?.close(t, attributes, undefined, false);
  }

  fail(error?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    const type = this.recorder.errorTypes.admit(errorType(error), '_OTHER');
    let histogram = this.series.errors.get(type);
    if (histogram === undefined) {
      histogram = new Histogram(this.series.duration.boundaries);
      this.series.errors.set(type, histogram);
    }
    const t = this.recorder.clock();
    histogram.record((t - this.startedAt) / 1000);
    this.span?.close(t, {}, type, true);
  }

  spanContext(): SpanContext | undefined {
    return this.span?.spanContext();
  }

  traceContext(): Context {
    return this.span?.context() ?? this.parent ?? otelContext.active();
  }
}

class ClientRecorder implements ClientMetrics, MetricProducer {
  readonly clock: () => number;
  readonly errorTypes = new ValueLimiter(32, 128);
  private readonly models: ValueLimiter;
  private readonly small = new ValueLimiter(32, 128);
  private readonly provider: string;
  private readonly series = new Map<string, ClientSeries>();
  readonly spans: SpanSource;

  constructor(options: ClientMetricsOptions) {
    const { clock, maxModels, provider, tracerProvider } = fields(options, ['clock', 'maxModels', 'provider', 'tracerProvider']);
    this.clock = typeof clock === 'function' ? guardedClock(clock as () => number) : performance.now.bind(performance);
    this.spans = new SpanSource(tracerProviderOption(tracerProvider as TracerProvider | false | undefined), SpanKind.CLIENT, '@inferwatch/sdk/client', typeof clock === 'function' ? this.clock : undefined);
    this.models = new ValueLimiter(isCount(maxModels) && maxModels > 0 ? maxModels : 100, 128);
    this.provider = typeof provider === 'string' && provider ? provider : 'unknown';
  }

  get producer(): MetricProducer {
    return this;
  }

  startOperation(info: StartOperationInfo): ClientOperation {
    const given = fields(info, ['model', 'operation', 'provider', 'context']);
    const model = this.models.admit(given.model, 'unknown');
    const operation = this.small.admit(given.operation, 'chat');
    const provider = this.small.admit(given.provider, this.provider);
    const key = `${model}\n${operation}\n${provider}`;
    let series = this.series.get(key);
    if (series === undefined) {
      series = new ClientSeries(Object.freeze({ [ATTR_MODEL]: model, [ATTR_OPERATION]: operation, [ATTR_PROVIDER]: provider }));
      this.series.set(key, series);
    }
    const context = given.context as Context | undefined;
    const parent = typeof context === 'object' && context !== null && typeof context.getValue === 'function' ? context : undefined;
    return new Operation(this, series, parent);
  }

  async collect(): Promise<CollectionResult> {
    const now = hrTime();
    const all = [...this.series.values()];
    const durations: DataPoint<OtelHistogram>[] = [];
    const tokens: DataPoint<OtelHistogram>[] = [];
    for (const s of all) {
      durations.push(histogramPoint(s.duration, s.attributes, s.startTime, now));
      for (const [type, h] of s.errors) durations.push(histogramPoint(h, { ...s.attributes, [ATTR_ERROR_TYPE]: type }, s.startTime, now));
      tokens.push(histogramPoint(s.inputTokens, { ...s.attributes, [ATTR_TOKEN_TYPE]: 'input' }, s.startTime, now));
      tokens.push(histogramPoint(s.outputTokens, { ...s.attributes, [ATTR_TOKEN_TYPE]: 'output' }, s.startTime, now));
    }
    const metrics = [
      histogramData(CLIENT_HISTOGRAMS.operationDuration, ValueType.DOUBLE, durations),
      histogramData(CLIENT_HISTOGRAMS.tokenUsage, ValueType.INT, tokens),
      histogramData(CLIENT_HISTOGRAMS.timeToFirstChunk, ValueType.DOUBLE, all.map((s) => histogramPoint(s.firstChunk, s.attributes, s.startTime, now))),
      histogramData(CLIENT_HISTOGRAMS.timePerOutputChunk, ValueType.DOUBLE, all.map((s) => histogramPoint(s.perChunk, s.attributes, s.startTime, now))),
    ];
    return collection({ name: '@inferwatch/sdk/client', version: VERSION }, metrics);
  }
}

/** Records calls to LLM APIs (gen_ai.client.* metrics); see @inferwatch/client for the OpenAI and AI SDK wrappers. */
export function createClientMetrics(options: ClientMetricsOptions = {}): ClientMetrics {
  return new ClientRecorder(options);
}
