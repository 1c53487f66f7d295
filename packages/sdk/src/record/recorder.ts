import { SpanKind, type Attributes, type Context, type HrTime, type TracerProvider } from '@opentelemetry/api';
import { hrTime } from '@opentelemetry/core';
import type { MetricProducer } from '@opentelemetry/sdk-metrics';
import { SpanSource, tracerProviderOption } from '../trace/spans.js';
import { ATTR_MODEL, ATTR_OPERATION, ATTR_PROVIDER, HISTOGRAMS } from './catalog.js';
import { guardedClock, processClock } from './clock.js';
import { EngineStates, type EngineState, type EngineStateCallback } from './engine-state.js';
import { lengthPrefixed } from './keys.js';
import { Request, type HandleContext, type RequestHandle } from './lifecycle.js';
import { OVERFLOW_VALUE, ValueLimiter } from './limiter.js';
import { describe, MisuseLog, Notices } from './notices.js';
import { RequestAttributes, type RequestAttributeDeclarations, type RequestAttributeValues } from './request-attributes.js';
import { resolveLayouts, Series, type BucketOptions, type HistogramModes, type LayoutTable, type NativeHistogramOptions } from './series.js';

export interface LlmMetricsOptions {
  /** Milliseconds on a monotonic clock; explicit timestamps passed to handles use the same clock. Default `performance.now`. */
  clock?: () => number;
  /** Default `gen_ai.provider.name` (your engine or upstream, e.g. `vllm`, `openai`). Default `unknown`. */
  provider?: string;
  /** Default `gen_ai.operation.name`. Default `chat`. */
  operation?: string;
  /** Distinct model names kept as attribute values; later ones become `_OTHER`. Default 100. */
  maxModels?: number;
  /**
   * The models you serve: a list, or a test read at each new name. Only declared models get their
   * own series; any other name shares `_OTHER` and never takes one of the `maxModels` slots. Default: every name.
   */
  models?: readonly string[] | ((model: string) => boolean);
  /** Longest attribute value kept; longer ones are truncated. Default 128. */
  maxAttributeLength?: number;
  /**
   * Your own per-request attributes (tenant, route, priority...), each with its cardinality limit:
   * `{ tenant: { maxValues: 50 }, priority: {} }` (default 16 values; later ones become `_OTHER`). Requests
   * give values through `startRequest({ attributes })`, and every metric and the span of that request carry them.
   * Keys become valid label names (`user.tier` → `user_tier`); the SDK's own keys (`gen_ai.*`, `error.type`,
   * `finish_reason`...) are refused with a warning. At most 8. Default: none.
   */
  attributes?: RequestAttributeDeclarations;
  /**
   * How histograms are kept: `'native'` (exponential buckets: Prometheus native histograms, OTLP exponential
   * histograms; text scrapers get classic buckets at powers of two), `'classic'` (explicit buckets) or `'both'`;
   * one mode for all, or per metric name. Default `'native'`, or `'classic'` when
   * `OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION=explicit_bucket_histogram`.
   */
  histograms?: HistogramModes;
  /** Classic bucket boundaries per histogram, keyed by OTel metric name (e.g. `gen_ai.server.time_to_first_token`); a histogram given some keeps classic buckets unless `histograms` names its mode. */
  buckets?: BucketOptions;
  /** Native (exponential) histograms' resolution. */
  nativeHistograms?: NativeHistogramOptions;
  /** vLLM's periodic summary line: `true` (every 10 s to stdout) or `{ intervalMs, sink }`. Default: off. */
  log?: boolean | LogLineOptions;
  /**
   * Where request spans go: a TracerProvider, or `false` for none. Default: the global provider at the time
   * each request starts (NodeSDK's, or the one `startMetrics` creates from `OTEL_TRACES_EXPORTER`); no spans while none is registered.
   */
  tracerProvider?: TracerProvider | false;
}

/** `log`'s object form. */
export interface LogLineOptions {
  /** Milliseconds between lines. Default 10 000, as vLLM. */
  intervalMs?: number;
  /** Where lines go. Default: stdout, with a vLLM-like `INFO MM-DD HH:MM:SS` prefix. */
  sink?: (line: string) => void;
}

export interface StartRequestInfo {
  /** The requested model (`gen_ai.request.model`). */
  model: string;
  /** `gen_ai.operation.name`, e.g. `chat` or `text_completion`. */
  operation?: string;
  /** `gen_ai.provider.name`. */
  provider?: string;
  /** Prompt tokens, if known at arrival. */
  promptTokens?: number;
  /** Arrival time in milliseconds on the recorder's clock. Default: now. */
  at?: number;
  /**
   * Values of the attributes declared in `createLlmMetrics({ attributes })`, e.g. `{ tenant: 'acme' }`. A key left
   * out, undefined or empty leaves the attribute off; undeclared keys and values that are not strings are ignored and counted as misuse.
   */
  attributes?: RequestAttributeValues;
  /** The caller's trace context (e.g. `propagation.extract(context.active(), req.headers)`); the request span continues it. Default: the active context. */
  context?: Context;
}

/** Records LLM request lifecycles and hands the aggregates to OpenTelemetry readers through `producer`. */
export interface LlmMetrics {
  /** Call when a request arrives; the handle records the rest of its life. */
  startRequest(info: StartRequestInfo): RequestHandle;
  /** Push engine-reported scheduler state and KV-cache usage; reported fields win over derived ones. */
  reportEngineState(state: EngineState): void;
  /** Register a callback read at every collection; returns a function that removes it. */
  observeEngineState(callback: EngineStateCallback): () => void;
  /** The recorder's clock, for explicit timestamps. */
  now(): number;
  /** An OpenTelemetry `MetricProducer`: give it to any `MetricReader` (`metricProducers: [llm.producer]`). */
  readonly producer: MetricProducer;
  /** Stops the periodic log line. Recorded data stays readable. */
  shutdown(): void;
}

/** What the recorder hands its aggregates to: built by whoever composes it (start/llm-metrics.ts), so recording never depends on exporting. */
export interface RecorderOutputs {
  producer(recorder: Recorder): MetricProducer;
  logLine(recorder: Recorder, options: LogLineOptions): { stop(): void };
}

const MAX_SMALL_ATTRIBUTE_VALUES = 16;
/** The model of a request that names none. */
const UNKNOWN_MODEL = 'unknown';
const MAX_ERROR_TYPES = 32;
const MAX_RAW_KEYS = 4096;
// A key of a hostile length (a huge model name) is not cached: the caches stay bounded in bytes, not just entries.
const MAX_CACHED_KEY_LENGTH = 4096;

export class Recorder implements LlmMetrics, HandleContext {
  /** When counting began: the start of every cumulative series this recorder exports. */
  readonly startTime: HrTime = hrTime();
  readonly clock: () => number;
  readonly misuse: MisuseLog;
  readonly errorTypes: ValueLimiter;
  readonly totals = { promptTokens: 0, outputTokens: 0 };
  onEnd: (() => void) | undefined;
  readonly series = new Map<string, Series>();
  readonly engine: EngineStates;
  readonly producer: MetricProducer;
  readonly spans: SpanSource;
  readonly layouts: LayoutTable;

  private readonly models: ValueLimiter;
  private readonly declared: ((model: string) => boolean) | undefined;
  private readonly operations: ValueLimiter;
  private readonly providers: ValueLimiter;
  /** Raw (model, operation, provider) → series, so a known combination costs one Map lookup. */
  private readonly byRawKey = new Map<string, Series>();
  private readonly byModel = new Map<string, Series>();
  /** Requests that carry attributes: the raw values, length-prefixed so no two value lists share a key. */
  private readonly byAttributes = new Map<string, Series>();
  private readonly attributes: RequestAttributes;
  private readonly maxLength: number;
  private readonly defaultOperation: string;
  private readonly defaultProvider: string;
  private readonly logLine: { stop(): void } | undefined;
  /** The periodic line's interval when it is on: a cluster's primary prints the group's line at it instead. */
  readonly logIntervalMs: number | undefined;

  constructor(options: LlmMetricsOptions, outputs: RecorderOutputs, notices = new Notices()) {
    this.misuse = new MisuseLog(notices);
    this.engine = new EngineStates(this.misuse);
    this.clock = typeof options.clock === 'function' ? guardedClock(options.clock) : processClock;
    const maxLength = positiveInt(options.maxAttributeLength, 128);
    this.maxLength = maxLength;
    this.attributes = new RequestAttributes(options.attributes, maxLength, this.misuse.notices);
    this.models = new ValueLimiter(positiveInt(options.maxModels, 100), maxLength);
    this.declared = declaredModels(options.models);
    this.operations = new ValueLimiter(MAX_SMALL_ATTRIBUTE_VALUES, maxLength);
    this.providers = new ValueLimiter(MAX_SMALL_ATTRIBUTE_VALUES, maxLength);
    this.errorTypes = new ValueLimiter(MAX_ERROR_TYPES, maxLength);
    this.defaultOperation = typeof options.operation === 'string' && options.operation ? options.operation : 'chat';
    this.defaultProvider = typeof options.provider === 'string' && options.provider ? options.provider : 'unknown';
    this.layouts = resolveLayouts(HISTOGRAMS, options, (kind, problem) => this.misuse.notices.warn(kind, `createLlmMetrics(): ${problem}`));
    this.producer = outputs.producer(this);
    this.spans = new SpanSource(tracerProviderOption(options.tracerProvider), SpanKind.SERVER, '@inferwatch/sdk', typeof options.clock === 'function' ? this.clock : undefined);
    const log = options.log;
    const on = log === true || (typeof log === 'object' && log !== null);
    this.logLine = on ? outputs.logLine(this, log === true ? {} : log) : undefined;
    const interval = typeof log === 'object' && log !== null ? log.intervalMs : undefined;
    this.logIntervalMs = on ? (typeof interval === 'number' && interval > 0 ? interval : 10_000) : undefined;
  }

  /** Stops this process's own log line: in a cluster, the primary prints the line of the whole group. */
  stopLogLine(): void {
    this.logLine?.stop();
  }

  startRequest(info: StartRequestInfo): RequestHandle {
    const { model, operation, provider, promptTokens, at, context, attributes } = readInfo(info);
    if (typeof model !== 'string') this.misuse.report('invalid_argument', 'startRequest() needs { model: string }');
    const given = at === undefined ? this.clock() : at;
    let arrival = typeof given === 'number' ? given : NaN;
    if (!Number.isFinite(arrival)) {
      this.misuse.report('invalid_timestamp', `startRequest({ at: ${describe(at)} })`);
      arrival = this.clock();
      // A clock that itself gives no number leaves the request at 0 rather than NaN, so it still closes.
      if (!Number.isFinite(arrival)) arrival = 0;
    }
    let prompt = NaN;
    if (promptTokens !== undefined) {
      if (typeof promptTokens === 'number' && promptTokens >= 0 && Number.isSafeInteger(promptTokens)) prompt = promptTokens;
      else this.misuse.report('invalid_number', `startRequest({ promptTokens: ${describe(promptTokens)} })`);
    }
    let parent: Context | undefined;
    if (context !== undefined) {
      if (typeof context === 'object' && context !== null && typeof (context as Context).getValue === 'function') parent = context as Context;
      else this.misuse.report('invalid_argument', 'startRequest({ context }) needs an OpenTelemetry Context');
    }
    // No attributes (the common call) costs nothing more than before; with some, one key build.
    const values = attributes === undefined ? undefined : this.attributes.read(attributes, this.maxLength, this.misuse);
    const series = values === undefined ? this.seriesFor(model, operation, provider) : this.seriesWith(model, operation, provider, values);
    return new Request(this, series, arrival, prompt, this.spans.start(series.attributes, arrival, parent), parent);
  }

  reportEngineState(state: EngineState): void {
    this.engine.report(state);
  }

  observeEngineState(callback: EngineStateCallback): () => void {
    return this.engine.observe(callback);
  }

  now(): number {
    return this.clock();
  }

  shutdown(): void {
    this.logLine?.stop();
  }

  private seriesFor(model: unknown, operation: unknown, provider: unknown): Series {
    // The common call names only the model: a lookup by the model string alone, with no key to build.
    if (operation === undefined && provider === undefined && typeof model === 'string') {
      const known = this.byModel.get(model);
      if (known !== undefined) return known;
      const series = this.resolve(model, operation, provider);
      if (this.byModel.size < MAX_RAW_KEYS && model.length <= MAX_CACHED_KEY_LENGTH && this.cacheable(series)) this.byModel.set(model, series);
      return series;
    }
    const rawKey = lengthPrefixed(model) + lengthPrefixed(operation) + lengthPrefixed(provider);
    const known = this.byRawKey.get(rawKey);
    if (known !== undefined) return known;
    const series = this.resolve(model, operation, provider);
    if (this.byRawKey.size < MAX_RAW_KEYS && rawKey.length <= MAX_CACHED_KEY_LENGTH && this.cacheable(series)) this.byRawKey.set(rawKey, series);
    return series;
  }

  private seriesWith(model: unknown, operation: unknown, provider: unknown, values: readonly (string | undefined)[]): Series {
    let rawKey = lengthPrefixed(model) + lengthPrefixed(operation) + lengthPrefixed(provider);
    for (let i = 0; i < values.length; i++) rawKey += lengthPrefixed(values[i]);
    const known = this.byAttributes.get(rawKey);
    if (known !== undefined) return known;
    const series = this.resolve(model, operation, provider, values);
    if (this.byAttributes.size < MAX_RAW_KEYS && rawKey.length <= MAX_CACHED_KEY_LENGTH && this.cacheable(series)) this.byAttributes.set(rawKey, series);
    return series;
  }

  /** Applies the cardinality limits and finds or creates the series for the resulting attributes. */
  private resolve(model: unknown, operation: unknown, provider: unknown, values?: readonly (string | undefined)[]): Series {
    const attributes: Attributes = {
      [ATTR_MODEL]: this.isDeclared(model) ? this.models.admit(model, UNKNOWN_MODEL) : OVERFLOW_VALUE,
      [ATTR_OPERATION]: this.operations.admit(operation, this.defaultOperation),
      [ATTR_PROVIDER]: this.providers.admit(provider, this.defaultProvider),
    };
    const parts = [attributes[ATTR_MODEL], attributes[ATTR_OPERATION], attributes[ATTR_PROVIDER]];
    if (values !== undefined) {
      const declared = this.attributes.declared;
      for (let i = 0; i < declared.length; i++) {
        const value = values[i];
        if (value === undefined) continue;
        const { name, limiter } = declared[i];
        attributes[name] = limiter.admit(value, OVERFLOW_VALUE);
        parts.push(name, attributes[name]);
      }
    }
    // JSON, since model names and attribute values may hold any character a separator could be.
    const key = JSON.stringify(parts);
    let series = this.series.get(key);
    if (series === undefined) {
      series = new Series(Object.freeze(attributes), this.layouts);
      this.series.set(key, series);
    }
    return series;
  }

  /** A name not (yet) declared is not remembered: a test may declare it later. */
  private cacheable(series: Series): boolean {
    return this.declared === undefined || series.attributes[ATTR_MODEL] !== OVERFLOW_VALUE;
  }

  /** Whether `model` may have its own series; no name (`unknown`, or none at all) always may. */
  private isDeclared(model: unknown): boolean {
    if (this.declared === undefined || typeof model !== 'string' || model === '' || model === UNKNOWN_MODEL) return true;
    try {
      return this.declared(model) === true;
    } catch {
      this.misuse.report('invalid_argument', 'the `models` test threw');
      return false;
    }
  }
}

function declaredModels(models: unknown): ((model: string) => boolean) | undefined {
  if (typeof models === 'function') return models as (model: string) => boolean;
  if (!Array.isArray(models)) return undefined;
  const set = new Set(models.filter((m): m is string => typeof m === 'string'));
  return (model) => set.has(model);
}

/** The startRequest() fields as plain values; an argument that is not an object, or whose getters throw, gives none. */
function readInfo(info: unknown): Partial<Record<keyof StartRequestInfo, unknown>> {
  try {
    // An array is no info object (and its inherited `at` method is no timestamp).
    if (typeof info !== 'object' || info === null || Array.isArray(info)) return {};
    const { model, operation, provider, promptTokens, at, context, attributes } = info as StartRequestInfo;
    return { model, operation, provider, promptTokens, at, context, attributes };
  } catch {
    return {};
  }
}

function positiveInt(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0 ? value : fallback;
}

