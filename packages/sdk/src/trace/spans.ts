import {
  context as otelContext,
  diag,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Attributes,
  type Context,
  type HrTime,
  type Span,
  type SpanContext,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';
import { millisToHrTime } from '@opentelemetry/core';
import type { Histogram } from '../aggregator/histogram.js';
import { ATTR_ERROR_TYPE, ATTR_MODEL, ATTR_OPERATION } from '../record/catalog.js';
import { VERSION } from '../version.js';

/** Span attribute and event names; docs/tracing.md lists them and test/docs.test.ts keeps the two in step. */
export const SPAN_ATTRIBUTES = {
  finishReasons: 'gen_ai.response.finish_reasons',
  inputTokens: 'gen_ai.usage.input_tokens',
  outputTokens: 'gen_ai.usage.output_tokens',
  queue: 'gen_ai.latency.time_in_queue',
  ttft: 'gen_ai.latency.time_to_first_token',
  prefill: 'gen_ai.latency.time_in_model_prefill',
  decode: 'gen_ai.latency.time_in_model_decode',
  inference: 'gen_ai.latency.time_in_model_inference',
  e2e: 'gen_ai.latency.e2e',
} as const;

export const SPAN_EVENTS = {
  scheduled: 'gen_ai.request.scheduled',
  firstToken: 'gen_ai.response.first_token',
  preempted: 'gen_ai.request.preempted',
  resumed: 'gen_ai.request.resumed',
  firstChunk: 'gen_ai.response.first_chunk',
} as const;

/** `tracerProvider` option: a provider, `false` for no spans, or undefined for the global one. */
export type TracerProviderOption = TracerProvider | false | undefined;

/** Anything but a provider object or `false` means the global provider. */
export function tracerProviderOption(value: unknown): TracerProviderOption {
  return value === false || (typeof value === 'object' && value !== null) ? (value as TracerProvider | false) : undefined;
}

interface ProxyLike {
  getDelegate(): TracerProvider;
  getDelegateTracer(name: string, version?: string): Tracer | undefined;
}

function isProxy(provider: TracerProvider): provider is TracerProvider & ProxyLike {
  return typeof (provider as Partial<ProxyLike>).getDelegateTracer === 'function' && typeof (provider as Partial<ProxyLike>).getDelegate === 'function';
}

/**
 * Where a recorder's spans come from. The global provider is looked up per request so one registered
 * after the recorder was created (NodeSDK started later) is picked up; with none, no span is started
 * at all (the API's no-op proxy would still allocate one).
 */
export class SpanSource {
  /** Added to the recorder's clock to get `performance.now()` milliseconds, which OTel maps to epoch time. */
  private readonly toPerformance: number;
  private seenDelegate: unknown;
  private tracer: Tracer | undefined;

  constructor(
    private option: TracerProviderOption,
    private readonly kind: SpanKind,
    private readonly scope: string,
    clock: (() => number) | undefined,
  ) {
    // A user clock is anchored once, at creation; the default clock is performance.now itself.
    this.toPerformance = clock === undefined ? 0 : performance.now() - clock();
    if (option !== undefined && option !== false) {
      try {
        this.tracer = option.getTracer(scope, VERSION);
      } catch (error) {
        diag.error('inferwatch: tracerProvider.getTracer() failed; spans are off', error);
      }
    }
  }

  /** Uses `provider` from now on, unless the user chose one (or `false`) explicitly. */
  adopt(provider: TracerProvider): void {
    if (this.option !== undefined) return;
    this.option = provider;
    this.tracer = provider.getTracer(this.scope, VERSION);
  }

  private currentTracer(): Tracer | undefined {
    if (this.option !== undefined) return this.tracer;
    const provider = trace.getTracerProvider();
    const delegate = isProxy(provider) ? provider.getDelegate() : provider;
    if (delegate !== this.seenDelegate) {
      this.seenDelegate = delegate;
      this.tracer = isProxy(provider) ? provider.getDelegateTracer(this.scope, VERSION) : provider.getTracer(this.scope, VERSION);
    }
    return this.tracer;
  }

  /**
   * Starts the span of a request that arrived at `at` (recorder clock). Undefined when no provider is
   * registered, and when the caller's trace is not sampled: the request follows the caller's decision, as
   * OTel's default ParentBased sampler does, without paying for a span the SDK would drop.
   */
  start(attributes: Attributes, at: number, parent: Context | undefined): RequestSpan | undefined {
    const tracer = this.currentTracer();
    if (tracer === undefined) return undefined;
    try {
      const ctx = parent ?? otelContext.active();
      const caller = trace.getSpanContext(ctx);
      if (caller !== undefined && (caller.traceFlags & TraceFlags.SAMPLED) === 0) return undefined;
      // Anchored to the wall clock at each span's start, as the SDK anchors its own spans, so that
      // performance.now()'s drift from Date.now() in a long-lived process does not shift spans.
      const epochOffset = Date.now() - performance.now() + this.toPerformance;
      const name = `${String(attributes[ATTR_OPERATION])} ${String(attributes[ATTR_MODEL])}`;
      // A caller's clock that gave no time (NaN) leaves the span to the SDK's own clock.
      const startTime = at === at ? millisToHrTime(at + epochOffset) : undefined;
      const span = tracer.startSpan(name, { kind: this.kind, startTime, attributes }, ctx);
      return new RequestSpan(span, epochOffset, ctx);
    } catch (error) {
      diag.error('inferwatch: starting a span failed', error);
      return undefined;
    }
  }
}

/** What a span needs from a request when it ends; times on the recorder's clock (NaN when the phase never happened). */
export interface RequestTimes {
  readonly arrivalAt: number;
  readonly scheduledAt: number;
  readonly firstTokenAt: number;
  /** Prompt tokens the counters counted: once prefill is done (a first token or a successful end), 0 before. */
  readonly promptTokensCounted: number;
}

/** The span of one request, plus what the lifecycle needs to write exemplars for it. */
export class RequestSpan {
  /** Only a sampled, recording span gets events, attributes and exemplars. */
  readonly recording: boolean;
  readonly traceId: string;
  readonly spanId: string;

  constructor(
    readonly span: Span,
    /** Added to a recorder timestamp to get epoch milliseconds. */
    private readonly epochOffset: number,
    private readonly parent: Context,
  ) {
    const sc = span.spanContext();
    this.recording = span.isRecording() && (sc.traceFlags & TraceFlags.SAMPLED) !== 0;
    this.traceId = sc.traceId;
    this.spanId = sc.spanId;
  }

  spanContext(): SpanContext {
    return this.span.spanContext();
  }

  /** The parent context with this span in it: inject it into downstream requests. */
  context(): Context {
    return trace.setSpan(this.parent, this.span);
  }

  event(name: string, at: number): void {
    if (!this.recording) return;
    try {
      this.span.addEvent(name, this.time(at));
    } catch (error) {
      diag.error('inferwatch: adding a span event failed', error);
    }
  }

  /** Attaches this request as the exemplar of the bucket `value` fell into. */
  exemplar(histogram: Histogram, value: number, at: number): void {
    if (this.recording && at === at) histogram.offerExemplar(value, this.traceId, this.spanId, at + this.epochOffset);
  }

  private time(at: number): HrTime | undefined {
    return at === at ? millisToHrTime(at + this.epochOffset) : undefined;
  }

  /**
   * Ends the span at `at`. `finishReason` is one of the recorder's finish reasons; `errorType` is set for
   * failures and aborts. `completed` says the request ended normally, which is when the recorder records
   * inference and decode time; the span carries exactly the intervals the metrics recorded.
   */
  end(times: RequestTimes, at: number, finishReason: string, errorType: string | undefined, outputTokens: number, completed: boolean): void {
    if (!this.recording) return this.span.end();
    const attributes: Attributes = {
      [SPAN_ATTRIBUTES.finishReasons]: [finishReason],
      [SPAN_ATTRIBUTES.outputTokens]: outputTokens,
      [SPAN_ATTRIBUTES.e2e]: (at - times.arrivalAt) / 1000,
    };
    // The rule the counters follow: input tokens count once prefill is done, so a request that ended before
    // its first token carries none, and a span never claims tokens `inferwatch.tokens{input}` does not hold.
    if (times.promptTokensCounted > 0) attributes[SPAN_ATTRIBUTES.inputTokens] = times.promptTokensCounted;
    const queue = times.scheduledAt - times.arrivalAt;
    if (queue === queue) attributes[SPAN_ATTRIBUTES.queue] = queue / 1000;
    const ttft = times.firstTokenAt - times.arrivalAt;
    if (ttft === ttft) attributes[SPAN_ATTRIBUTES.ttft] = ttft / 1000;
    const prefill = times.firstTokenAt - times.scheduledAt;
    if (prefill === prefill) attributes[SPAN_ATTRIBUTES.prefill] = prefill / 1000;
    if (completed) {
      const inference = at - times.scheduledAt;
      if (inference === inference) attributes[SPAN_ATTRIBUTES.inference] = inference / 1000;
      const decode = at - times.firstTokenAt;
      if (decode === decode) attributes[SPAN_ATTRIBUTES.decode] = decode / 1000;
    }
    this.close(at, attributes, errorType, finishReason !== 'abort');
  }

  /** Sets the outcome and ends the span; `fault` marks a failure (status ERROR) rather than a cancellation. */
  close(at: number, attributes: Attributes, errorType: string | undefined, fault: boolean): void {
    if (!this.recording) return this.span.end();
    try {
      if (errorType !== undefined) {
        attributes[ATTR_ERROR_TYPE] = errorType;
        // A caller that went away is not a failure of this service, as HTTP server spans leave 4xx unset.
        if (fault) this.span.setStatus({ code: SpanStatusCode.ERROR, message: errorType });
      }
      this.span.setAttributes(attributes);
      this.span.end(this.time(at));
    } catch (error) {
      // A span processor's onEnd runs inside end(); its failure must not reach the request's code.
      diag.error('inferwatch: ending a span failed', error);
    }
  }
}

