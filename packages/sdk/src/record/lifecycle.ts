import { context as otelContext, ROOT_CONTEXT, type Context, type SpanContext } from '@opentelemetry/api';
import { SPAN_EVENTS, type RequestSpan, type RequestTimes } from '../trace/spans.js';
import { FINISH_ABORT, FINISH_ERROR, FINISH_REASONS } from './catalog.js';
import type { ValueLimiter } from './limiter.js';
import { describe, processNotices, type MisuseLog, type MisuseReason } from './notices.js';
import { errorType, isCount } from './read-values.js';
import type { Series } from './series.js';

/** What a request handle needs from the recorder that created it. */
export interface HandleContext {
  readonly clock: () => number;
  readonly misuse: MisuseLog;
  readonly errorTypes: ValueLimiter;
  /** Process-wide token totals, read by the periodic log line. */
  readonly totals: { promptTokens: number; outputTokens: number };
  /** Told when a request ends (a cluster worker sends its state then, so no finished request is lost with it). */
  readonly onEnd: (() => void) | undefined;
}

export interface EndOptions {
  /**
   * Why generation stopped: `stop` (default), `length`, `tool_calls`, `content_filter`; anything else
   * counts as `other`. `abort` and `error` are reserved for `abort()` and `fail()`: given here they are
   * misuse (counted as `invalid_argument`, said once) and the request ends as `other`.
   */
  finishReason?: string;
  /** Prompt tokens, when only known at the end (e.g. from the response's `usage`). */
  promptTokens?: number;
  /** Output tokens as the engine counted them; wins over the tokens counted through `tokens()`. */
  outputTokens?: number;
  /** Explicit timestamp in milliseconds on the recorder's clock. */
  at?: number;
}

/** Options of `fail()` and `abort()`: the outcomes take their timestamp as `end()` does. */
export interface OutcomeOptions {
  /** Explicit timestamp in milliseconds on the recorder's clock. */
  at?: number;
}

/** One request's lifecycle. Every method is safe to call in any order: invalid calls are ignored and counted. */
export interface RequestHandle {
  /** The request left the queue: prefill starts. */
  scheduled(at?: number): void;
  /** The first output token arrived (it counts as one output token). */
  firstToken(at?: number): void;
  /** `n` output tokens arrived; the first call also marks the first token. */
  tokens(n?: number, at?: number): void;
  /** The engine swapped the request out. */
  preempted(at?: number): void;
  /** The engine swapped the request back in. */
  resumed(at?: number): void;
  /** The request completed. */
  end(options?: EndOptions): void;
  /**
   * The request failed; `error.type` comes from the error (docs/metrics.md: its `code`, `type`,
   * `status`, `statusCode` or `name`).
   */
  fail(error?: unknown, options?: OutcomeOptions): void;
  /** The client went away or the request was cancelled. */
  abort(options?: OutcomeOptions): void;
  /** The request span's context; undefined when no TracerProvider is registered. */
  spanContext(): SpanContext | undefined;
  /** The context to propagate downstream (`propagation.inject(handle.traceContext(), headers)`): the request span in its parent. */
  traceContext(): Context;
}

const WAITING = 0;
const RUNNING = 1;
const SWAPPED = 2;
const ENDED = 3;

const CANCELLED = 'cancelled';

export class Request implements RequestHandle, RequestTimes {
  private state = WAITING;
  readonly arrivalAt: number;
  private lastEventAt: number;
  scheduledAt = NaN;
  firstTokenAt = NaN;
  private lastTokenAt = NaN;
  private outputTokens = 0;
  promptTokens: number;
  promptTokensCounted = 0;

  constructor(
    private readonly ctx: HandleContext,
    private readonly series: Series,
    arrivalAt: number,
    promptTokens: number,
    private readonly span?: RequestSpan,
    private readonly parent?: Context,
  ) {
    this.arrivalAt = arrivalAt;
    this.lastEventAt = arrivalAt;
    this.promptTokens = promptTokens;
    series.waiting++;
    series.dirty = true;
  }

  scheduled(at?: number): void {
    if (this.state !== WAITING) return this.reject(this.state === ENDED ? 'after_end' : 'out_of_order', 'scheduled() on a request already scheduled');
    const t = this.time(at);
    if (t !== t) return;
    this.state = RUNNING;
    this.series.waiting--;
    this.series.running++;
    this.series.dirty = true;
    this.scheduledAt = t;
    this.series.queueDuration.record((t - this.arrivalAt) / 1000);
    this.span?.event(SPAN_EVENTS.scheduled, t);
  }

  firstToken(at?: number): void {
    if (this.firstTokenAt === this.firstTokenAt) return this.reject(this.state === ENDED ? 'after_end' : 'out_of_order', 'firstToken() called twice');
    this.tokens(1, at);
  }

  tokens(n = 1, at?: number): void {
    if (this.state >= SWAPPED) return this.reject(this.state === ENDED ? 'after_end' : 'out_of_order', 'tokens() on a request that is ended or swapped out');
    if (!isCount(n)) return this.reject('invalid_number', `tokens(${describe(n)})`);
    const t = this.time(at);
    if (t !== t || n === 0) return;
    const series = this.series;
    if (this.firstTokenAt !== this.firstTokenAt) {
      this.markFirstToken(t);
    } else {
      series.interTokenLatency.record((t - this.lastTokenAt) / 1000 / n, n);
      this.span?.exemplar(series.interTokenLatency, (t - this.lastTokenAt) / 1000 / n, t);
    }
    this.lastTokenAt = t;
    this.outputTokens += n;
    series.outputTokens += n;
    series.dirty = true;
    this.ctx.totals.outputTokens += n;
  }

  preempted(at?: number): void {
    if (this.state !== RUNNING) return this.reject(this.state === ENDED ? 'after_end' : 'out_of_order', 'preempted() on a request that is not running');
    const t = this.time(at);
    if (t !== t) return;
    this.state = SWAPPED;
    this.series.running--;
    this.series.swapped++;
    this.series.preemptions++;
    this.series.dirty = true;
    this.span?.event(SPAN_EVENTS.preempted, t);
  }

  resumed(at?: number): void {
    if (this.state !== SWAPPED) return this.reject(this.state === ENDED ? 'after_end' : 'out_of_order', 'resumed() on a request that is not swapped out');
    const t = this.time(at);
    if (t !== t) return;
    this.state = RUNNING;
    this.series.swapped--;
    this.series.running++;
    this.series.dirty = true;
    this.span?.event(SPAN_EVENTS.resumed, t);
  }

  end(options?: EndOptions): void {
    if (this.state === ENDED) return this.reject('after_end', 'end() on a request that already ended');
    const opts = readEndOptions(options);
    const t = this.endTime(opts.at);
    let reason = finishReasonIndex(opts.finishReason);
    if (reason === FINISH_ABORT || reason === FINISH_ERROR) {
      // A success that names a failure is ambiguous: it ends as a success, `other`, and says so.
      this.reject('invalid_argument', `end({ finishReason: '${FINISH_REASONS[reason]}' }) is reserved: call ${reason === FINISH_ABORT ? 'abort()' : 'fail()'}; counted as other`);
      reason = FINISH_OTHER;
    }

    const series = this.series;
    let outputTokens = this.outputTokens;
    if (opts.outputTokens !== undefined) {
      if (isCount(opts.outputTokens)) outputTokens = opts.outputTokens;
      else this.reject('invalid_number', `end({ outputTokens: ${describe(opts.outputTokens)} })`);
    }
    if (opts.promptTokens !== undefined) {
      if (isCount(opts.promptTokens)) this.promptTokens = opts.promptTokens;
      else this.reject('invalid_number', `end({ promptTokens: ${describe(opts.promptTokens)} })`);
    }
    // Counters only grow: tokens reported at the end add what the stream did not already count.
    if (outputTokens > this.outputTokens) {
      const extra = outputTokens - this.outputTokens;
      series.outputTokens += extra;
      this.ctx.totals.outputTokens += extra;
    }
    this.countPromptTokens();

    const sinceScheduled = t - this.scheduledAt;
    if (sinceScheduled === sinceScheduled) series.inferenceDuration.record(sinceScheduled / 1000);
    const decode = t - this.firstTokenAt;
    if (decode === decode) {
      series.decodeDuration.record(decode / 1000);
      if (outputTokens > 1) series.timePerOutputToken.record(decode / 1000 / (outputTokens - 1));
    }
    if (this.promptTokens === this.promptTokens) series.inputTokenUsage.record(this.promptTokens);
    series.outputTokenUsage.record(outputTokens);
    this.close(t, reason, undefined, outputTokens);
  }

  fail(error?: unknown, options?: OutcomeOptions): void {
    if (this.state === ENDED) return this.reject('after_end', 'fail() on a request that already ended');
    const t = this.endTime(this.atOf('fail', options));
    this.close(t, FINISH_ERROR, this.ctx.errorTypes.admit(errorType(error), '_OTHER'));
  }

  abort(options?: OutcomeOptions): void {
    if (this.state === ENDED) return this.reject('after_end', 'abort() on a request that already ended');
    const t = this.endTime(this.atOf('abort', options));
    this.close(t, FINISH_ABORT, CANCELLED);
  }

  private markFirstToken(t: number): void {
    const series = this.series;
    if (this.state === WAITING) {
      // Never scheduled explicitly: it is running now, but its queue time is unknown and not recorded.
      this.state = RUNNING;
      series.waiting--;
      series.running++;
    }
    this.firstTokenAt = t;
    series.timeToFirstToken.record((t - this.arrivalAt) / 1000);
    if (this.span !== undefined) {
      this.span.event(SPAN_EVENTS.firstToken, t);
      this.span.exemplar(series.timeToFirstToken, (t - this.arrivalAt) / 1000, t);
    }
    const prefill = t - this.scheduledAt;
    if (prefill === prefill) series.prefillDuration.record(prefill / 1000);
    this.countPromptTokens();
  }

  /** Prompt tokens count once prefill is done (first token or successful end), topped up if the end reports more. */
  private countPromptTokens(): void {
    const extra = this.promptTokens - this.promptTokensCounted;
    if (extra > 0) {
      this.series.promptTokens += extra;
      this.ctx.totals.promptTokens += extra;
      this.promptTokensCounted = this.promptTokens;
    }
  }

  spanContext(): SpanContext | undefined {
    return this.span?.spanContext();
  }

  traceContext(): Context {
    return this.span?.context() ?? this.parent ?? otelContext.active();
  }

  private close(t: number, reason: number, errorType: string | undefined, outputTokens = this.outputTokens): void {
    const series = this.series;
    if (this.state === WAITING) series.waiting--;
    else if (this.state === RUNNING) series.running--;
    else series.swapped--;
    this.state = ENDED;
    const histogram = errorType === undefined ? series.requestDuration : series.errorDuration(errorType);
    histogram.record((t - this.arrivalAt) / 1000);
    series.finished[reason]++;
    series.dirty = true;
    this.ctx.onEnd?.();
    if (this.span !== undefined) {
      this.span.exemplar(histogram, (t - this.arrivalAt) / 1000, t);
      this.span.end(this, t, FINISH_REASONS[reason], errorType, outputTokens, errorType === undefined);
    }
  }

  /** Reads the clock, or validates an explicit timestamp; NaN means the call must be ignored. */
  private time(at: number | undefined): number {
    const t = at === undefined ? this.ctx.clock() : at;
    if (typeof t !== 'number' || !(t >= this.lastEventAt) || t === Infinity) {
      this.reject('invalid_timestamp', `timestamp ${describe(t)} is not finite or precedes the previous event (${this.lastEventAt})`);
      return NaN;
    }
    this.lastEventAt = t;
    return t;
  }

  /** Terminal events always close the request, so the scheduler gauges never leak; a bad timestamp falls back to the last valid one. */
  private endTime(at: number | undefined): number {
    const t = this.time(at);
    return t === t ? t : this.lastEventAt;
  }

  /** The `at` of an outcome's options; options that are no object are misuse (the outcome still happens, now). */
  private atOf(method: string, options: unknown): number | undefined {
    if (options === undefined) return undefined;
    try {
      // Array.isArray and the `at` getter may throw (a revoked proxy, a hostile getter): inside the try.
      if (typeof options === 'object' && options !== null && !Array.isArray(options)) return (options as OutcomeOptions).at;
    } catch {
      // A getter that throws counts as no options, as in end().
      return undefined;
    }
    this.reject('invalid_argument', `${method}(${describe(options)}) takes its timestamp as { at }`);
    return undefined;
  }

  /** Ignores and counts an invalid call; also used by the tap for invalid input it is given. */
  reject(reason: MisuseReason, detail: string): void {
    this.ctx.misuse.report(reason, detail);
  }
}

/** Reports misuse found outside a handle's own methods: on the handle's recorder, or once to the process. */
export function rejectOn(handle: RequestHandle, reason: MisuseReason, detail: string): void {
  if (handle instanceof Request) handle.reject(reason, detail);
  else processNotices.warn(reason, `ignored a call (${reason}): ${detail}`);
}

const NO_HANDLE: RequestHandle = {
  scheduled() {},
  firstToken() {},
  tokens() {},
  preempted() {},
  resumed() {},
  end() {},
  fail() {},
  abort() {},
  spanContext: () => undefined,
  traceContext: () => ROOT_CONTEXT,
};

/** `handle` when it has a handle's methods; otherwise a handle that records nothing, and the misuse said once. */
export function usableHandle(handle: unknown, where: string): RequestHandle {
  try {
    // Inside the try: `instanceof` on a proxy runs its traps, which may throw.
    if (handle instanceof Request) return handle;
    const h = handle as Record<string, unknown>;
    if (typeof h === 'object' && h !== null && ['tokens', 'end', 'fail', 'abort'].every((m) => typeof h[m] === 'function')) return handle as RequestHandle;
  } catch {
    // A proxy or getter that throws: not a handle.
  }
  processNotices.warn('not_a_handle', `${where} needs a request handle from startRequest(), not ${describe(handle)}; it records nothing`);
  return NO_HANDLE;
}

/** The end() options as plain values; getters that throw count as options not given. */
function readEndOptions(options: unknown): EndOptions {
  try {
    if (typeof options !== 'object' || options === null || Array.isArray(options)) return {};
    const { finishReason, promptTokens, outputTokens, at } = options as EndOptions;
    return { finishReason, promptTokens, outputTokens, at };
  } catch {
    return {};
  }
}

const FINISH_OTHER = FINISH_REASONS.indexOf('other');

function finishReasonIndex(reason: unknown): number {
  if (reason === undefined) return 0;
  const index = FINISH_REASONS.indexOf(reason as (typeof FINISH_REASONS)[number]);
  return index === -1 ? FINISH_OTHER : index;
}
