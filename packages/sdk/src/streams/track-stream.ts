import { Readable, Transform, pipeline } from 'node:stream';
import { usableHandle, type RequestHandle } from '../record/lifecycle.js';
import { describe, processNotices } from '../record/notices.js';
import { tapResponse } from './sse-tap.js';

export interface TrackOptions<T> {
  /** Read the chunks as an OpenAI-style body: `sse` (token per content delta, usage at the end) or `json`. */
  format?: 'sse' | 'json';
  /** Without a format: output tokens in a chunk. Default: one per chunk. */
  tokens?: (chunk: T) => number;
}

/** What a tracked stream reports, whatever its kind. */
interface Observer<T> {
  chunk(chunk: T): void;
  end(): void;
  error(error: unknown): void;
  cancel(): void;
}

/** The options as plain values; options whose getters throw give the defaults. */
function readOptions<T>(options: unknown): TrackOptions<T> {
  if (typeof options !== 'object' || options === null) return {};
  try {
    const { format, tokens } = options as TrackOptions<T>;
    return { format, tokens };
  } catch {
    return {};
  }
}

function observer<T>(handle: RequestHandle, options: TrackOptions<T>): Observer<T> {
  if (options.format === 'sse' || options.format === 'json') {
    const tap = tapResponse(handle, { format: options.format });
    return {
      chunk: (chunk) => tap.write(chunk as Uint8Array | string),
      end: () => tap.finish(),
      error: (error) => tap.fail(error),
      cancel: () => tap.abort(),
    };
  }
  const tokens = typeof options.tokens === 'function' ? options.tokens : () => 1;
  return {
    chunk: (chunk) => {
      let n: number;
      try {
        n = tokens(chunk);
      } catch {
        return;
      }
      // A callback that returns nothing reported no count: invalid, not the handle's default of one.
      handle.tokens(n === undefined ? NaN : n);
    },
    // The handle ignores (and counts) a second terminal call, but each stream kind settles once anyway.
    end: () => handle.end(),
    error: (error) => handle.fail(error),
    cancel: () => handle.abort(),
  };
}

function trackIterable<T>(source: AsyncIterable<T>, seen: Observer<T>): AsyncIterable<T> {
  return (async function* tracked() {
    let settled = false;
    try {
      for await (const chunk of source) {
        seen.chunk(chunk);
        yield chunk;
      }
      settled = true;
      seen.end();
    } catch (error) {
      settled = true;
      seen.error(error);
      throw error;
    } finally {
      // The consumer stopped early (break, return or its own error).
      if (!settled) seen.cancel();
    }
  })();
}

function trackWebStream<T>(source: ReadableStream<T>, seen: Observer<T>): ReadableStream<T> {
  const reader = source.getReader();
  // highWaterMark 0: nothing is read from the source until the consumer asks, so backpressure holds.
  return new ReadableStream<T>(
    {
      async pull(controller) {
        let result: Awaited<ReturnType<typeof reader.read>>;
        try {
          result = await reader.read();
        } catch (error) {
          seen.error(error);
          controller.error(error);
          return;
        }
        if (result.done) {
          seen.end();
          controller.close();
        } else {
          seen.chunk(result.value);
          controller.enqueue(result.value);
        }
      },
      cancel(reason) {
        seen.cancel();
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}

function trackNodeStream<T>(source: Readable, seen: Observer<T>): Readable {
  // Chunks leave exactly as they came: strings stay strings, objects stay objects.
  const objectMode = source.readableObjectMode || source.readableEncoding !== null;
  let sourceFailed = false;
  source.once('error', () => (sourceFailed = true));
  const out = new Transform({
    objectMode,
    transform(chunk, _encoding, callback) {
      seen.chunk(chunk);
      callback(null, chunk);
    },
    flush(callback) {
      seen.end();
      callback();
    },
  });
  pipeline(source, out, (error) => {
    if (!error) return;
    if (sourceFailed) seen.error(error);
    else seen.cancel();
  });
  return out;
}

/** What kind of stream `value` is; checked inside a try, since `instanceof` and property reads run a proxy's traps. */
function kindOf(value: unknown): 'node' | 'web' | 'iterable' | undefined {
  try {
    if (value instanceof Readable) return 'node';
    if (typeof ReadableStream !== 'undefined' && value instanceof ReadableStream) return 'web';
    const v = value as Record<symbol, unknown>;
    if (typeof v === 'object' && v !== null && (typeof v[Symbol.asyncIterator] === 'function' || typeof v[Symbol.iterator] === 'function')) return 'iterable';
  } catch {
    // Not a stream we can read.
  }
  return undefined;
}

/**
 * Passes a stream's chunks through unchanged while it records them on `handle`: the first token,
 * tokens as they pass, the end on completion, a failure on error, an abort when the consumer
 * cancels. Returns a stream of the same kind (async iterable, web ReadableStream or Node Readable).
 */
export function trackStream<T>(handle: RequestHandle, stream: ReadableStream<T>, options?: TrackOptions<T>): ReadableStream<T>;
export function trackStream<T extends Readable>(handle: RequestHandle, stream: T, options?: TrackOptions<unknown>): Readable;
export function trackStream<T>(handle: RequestHandle, stream: AsyncIterable<T>, options?: TrackOptions<T>): AsyncIterable<T>;
export function trackStream<T>(
  handle: RequestHandle,
  stream: ReadableStream<T> | Readable | AsyncIterable<T>,
  options?: TrackOptions<T>,
): ReadableStream<T> | Readable | AsyncIterable<T> {
  const seen = observer<T>(usableHandle(handle, 'trackStream()'), readOptions<T>(options));
  const kind = kindOf(stream);
  if (kind === 'node') return trackNodeStream(stream as Readable, seen);
  if (kind === 'web') return trackWebStream(stream as ReadableStream<T>, seen);
  if (kind === 'iterable') return trackIterable(stream as AsyncIterable<T>, seen);
  // Nothing to track: the caller gets back what it passed, to fail (or not) as it would have without us.
  processNotices.warn('not_a_stream', `trackStream() needs a stream or an iterable, not ${describe(stream)}; it is returned untracked`);
  return stream;
}
