// A node-llama-cpp context's sequences as a pool with a waiting queue, each request's life recorded
// through @inferwatch/sdk: waiting until a sequence is free, scheduled when it gets one, prefill until
// the first token, tokens as they are sampled, and the end with its finish reason and token counts.
import type { Context } from '@opentelemetry/api';
import type { EngineState, LlmMetrics, RequestHandle, StartRequestInfo } from '@inferwatch/sdk';

/**
 * What the pool uses of a recorder: an `LlmMetrics` is one, and so is anything with these methods (a
 * recorder that records nothing, for a baseline without instrumentation).
 */
export interface PoolRecorder extends Pick<LlmMetrics, 'observeEngineState' | 'now'> {
  startRequest(info: StartRequestInfo): Pick<RequestHandle, 'scheduled' | 'tokens' | 'end' | 'fail' | 'abort'>;
}
type PoolHandle = ReturnType<PoolRecorder['startRequest']>;

/** What the pool reads from a `LlamaContextSequence` (node-llama-cpp 3). */
export interface SequenceLike {
  readonly nextTokenIndex: number;
  readonly tokenMeter: { readonly usedInputTokens: number; readonly usedOutputTokens: number };
  clearHistory(): Promise<void>;
  dispose(): void;
}

/** What the pool reads from a `LlamaContext` (node-llama-cpp 3). */
export interface ContextLike<S extends SequenceLike> {
  readonly totalSequences: number;
  getSequence(): S;
  getAllocatedContextSize(): number;
}

export interface InstrumentContextOptions {
  /** `gen_ai.request.model` of every request. */
  model: string;
  /** `gen_ai.provider.name` of every request. Default: `llama.cpp`. */
  provider?: string;
  /** Requests allowed to wait for a sequence; one more is refused with `QueueFullError`. Default: unbounded. */
  maxWaiting?: number;
}

export interface AcquireOptions {
  /** `gen_ai.operation.name`: `chat` or `text_completion`. */
  operation?: string;
  /** Aborts the wait, and marks the request aborted if it fires while it runs. */
  signal?: AbortSignal;
  /** Arrival on the recorder's clock (`llm.now()`), if the request arrived before `acquire` was called. */
  at?: number;
  /** The caller's trace context (e.g. `extractTraceContext(req.headers)`): the request's span continues it. */
  context?: Context;
}

/** Token counts of one request, from the sequence's token meter. */
export interface SequenceUsage {
  promptTokens: number;
  outputTokens: number;
  finishReason: string;
}

export interface LlamaRequest<S extends SequenceLike> {
  /** The sequence to generate on; the pool clears and reuses it once the request ends. */
  readonly sequence: S;
  /** Pass as the `onToken` option of `generateCompletionWithMeta`, `generateResponse` or `prompt`. */
  readonly onToken: (tokens: readonly unknown[]) => void;
  /** Tokens counted so far. */
  usage(): { promptTokens: number; outputTokens: number };
  /** Generation finished with node-llama-cpp's `metadata.stopReason`; frees the sequence. */
  end(stopReason?: string): SequenceUsage;
  /** Generation threw; an abort (the signal, or an `AbortError`) counts as aborted. Frees the sequence. */
  fail(error?: unknown): SequenceUsage;
}

export interface InstrumentedContext<S extends SequenceLike> {
  /** Waits until a sequence is free (FIFO), then hands it over. Rejects with `QueueFullError` or the signal's reason. */
  acquire(options?: AcquireOptions): Promise<LlamaRequest<S>>;
  /** Running and waiting requests and the KV cache in use (0..1), as reported to the SDK. */
  state(): Required<Omit<EngineState, 'attributes'>>;
  /** Stops reporting the context's state, refuses waiting and new requests, and disposes the sequences once free. */
  close(): void;
}

export class QueueFullError extends Error {
  override readonly name = 'QueueFullError';
  readonly code = 'queue_full';
  constructor(readonly maxWaiting: number) {
    super(`all sequences are busy and ${maxWaiting} requests are already waiting`);
  }
}

/** node-llama-cpp's stop reasons as OpenAI finish reasons. */
export function finishReasonOf(stopReason: string | undefined): string {
  switch (stopReason) {
    case 'maxTokens':
      return 'length';
    case 'functionCalls':
      return 'tool_calls';
    case 'abort':
      return 'abort';
    default:
      // eogToken, stopGenerationTrigger, customStopTrigger
      return 'stop';
  }
}

interface Waiter<S extends SequenceLike> {
  grant: (sequence: S, freedAt: number) => void;
  refuse: (error: Error) => void;
}

export function instrumentContext<S extends SequenceLike>(llm: PoolRecorder, context: ContextLike<S>, options: InstrumentContextOptions): InstrumentedContext<S> {
  const maxWaiting = options.maxWaiting ?? Infinity;
  const idle: S[] = [];
  const busy = new Set<S>();
  const waiting: Waiter<S>[] = [];
  let created = 0;
  let closed = false;

  function state() {
    let used = 0;
    for (const sequence of busy) used += sequence.nextTokenIndex;
    let allocated = 0;
    try {
      allocated = context.getAllocatedContextSize();
    } catch {
      // a disposed context holds nothing
    }
    // llama.cpp has no swap tier: nothing is ever swapped out, and no KV cache waits on the CPU side.
    return { running: busy.size, waiting: waiting.length, swapped: 0, gpuKvCacheUsage: allocated > 0 ? Math.min(1, used / allocated) : 0, cpuKvCacheUsage: 0 };
  }
  const stopObserving = llm.observeEngineState(state);

  function take(): S | undefined {
    const reused = idle.pop();
    if (reused !== undefined) return reused;
    if (created >= context.totalSequences) return undefined;
    const sequence = context.getSequence();
    created++;
    return sequence;
  }

  /** A request is done with `sequence`: clear its KV cache, then hand it to the first waiter. */
  function release(sequence: S, freedAt: number): void {
    if (closed) {
      busy.delete(sequence);
      return sequence.dispose();
    }
    sequence.clearHistory().then(
      () => {
        busy.delete(sequence);
        const next = waiting.shift();
        if (next === undefined) idle.push(sequence);
        else next.grant(sequence, freedAt);
      },
      // A sequence that cannot be cleared (its context was disposed) is not reused.
      () => busy.delete(sequence),
    );
  }

  function start(handle: PoolHandle, sequence: S, signal: AbortSignal | undefined): LlamaRequest<S> {
    busy.add(sequence);
    const baseInput = sequence.tokenMeter.usedInputTokens;
    const baseOutput = sequence.tokenMeter.usedOutputTokens;
    let counted = 0;
    let ended = false;
    let released = false;

    // The meter counts every token evaluated for its logits as output: the prompt's last token and every
    // sampled token but the last. So output equals the tokens sampled, and the prompt is input + 1.
    const usage = () => {
      const input = sequence.tokenMeter.usedInputTokens - baseInput;
      const outputTokens = sequence.tokenMeter.usedOutputTokens - baseOutput;
      return { promptTokens: outputTokens > 0 ? input + 1 : input, outputTokens };
    };
    const onAbort = () => {
      if (ended) return;
      ended = true;
      handle.abort();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const finish = (finishReason: string, error?: unknown): SequenceUsage => {
      const counts = usage();
      if (!ended) {
        ended = true;
        if (finishReason === 'abort') handle.abort();
        else if (finishReason === 'error') handle.fail(error);
        else handle.end({ finishReason, promptTokens: counts.promptTokens, outputTokens: counts.outputTokens });
      }
      signal?.removeEventListener('abort', onAbort);
      if (!released) {
        released = true;
        release(sequence, llm.now());
      }
      return { ...counts, finishReason };
    };
    return {
      sequence,
      usage,
      // Called when node-llama-cpp hands tokens out, which may be after holding some back (a stop
      // trigger or a character spread over byte tokens): the meter says how many were sampled by then.
      onToken: () => {
        if (ended) return;
        const sampled = sequence.tokenMeter.usedOutputTokens - baseOutput;
        if (sampled > counted) {
          handle.tokens(sampled - counted);
          counted = sampled;
        }
      },
      end: (stopReason) => finish(finishReasonOf(stopReason)),
      fail: (error) => finish(signal?.aborted || (error as { name?: unknown } | undefined)?.name === 'AbortError' ? 'abort' : 'error', error),
    };
  }

  function acquire(acquireOptions: AcquireOptions = {}): Promise<LlamaRequest<S>> {
    const { operation, signal, at, context } = acquireOptions;
    const arrival = at ?? llm.now();
    const handle = llm.startRequest({ model: options.model, operation, provider: options.provider ?? 'llama.cpp', at: arrival, context });
    if (closed) {
      const error = new Error('the context is closed');
      handle.fail(error);
      return Promise.reject(error);
    }
    if (signal?.aborted) {
      handle.abort();
      return Promise.reject(signal.reason);
    }
    let sequence: S | undefined;
    try {
      sequence = waiting.length === 0 ? take() : undefined;
    } catch (error) {
      // The context refused a sequence (disposed, or its sequences taken outside the pool).
      handle.fail(error);
      return Promise.reject(error);
    }
    if (sequence !== undefined) {
      handle.scheduled();
      return Promise.resolve(start(handle, sequence, signal));
    }
    if (waiting.length >= maxWaiting) {
      const error = new QueueFullError(maxWaiting);
      handle.fail(error);
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter<S> = {
        refuse: (error) => {
          signal?.removeEventListener('abort', onAbort);
          handle.fail(error);
          reject(error);
        },
        grant: (granted, freedAt) => {
          signal?.removeEventListener('abort', onAbort);
          // Scheduled when the previous request freed the sequence (clearing it is part of this one's
          // work), or on arrival if it came while the sequence was being cleared.
          handle.scheduled(Math.max(freedAt, arrival));
          resolve(start(handle, granted, signal));
        },
      };
      const onAbort = () => {
        const i = waiting.indexOf(waiter);
        if (i !== -1) waiting.splice(i, 1);
        handle.abort();
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      waiting.push(waiter);
    });
  }

  function close(): void {
    if (closed) return;
    closed = true;
    stopObserving();
    for (const waiter of waiting.splice(0)) waiter.refuse(new Error('the context is closed'));
    for (const sequence of idle.splice(0)) sequence.dispose();
  }

  return { acquire, state, close };
}
