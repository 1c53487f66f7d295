import { injectTraceContext, type ClientMetrics, type ClientOperation } from '@inferwatch/sdk';
import { attempt, startOperation } from './operation.js';

interface Usage {
  prompt_tokens?: number;
  completion_tokens?: number;
}

interface CreateResource {
  // Method syntax: parameters compare bivariantly, so the SDK's overloaded create() fits.
  create(body: { model?: unknown; stream?: unknown }, options?: unknown): PromiseLike<unknown>;
}

interface OpenAILike {
  chat: { completions: CreateResource };
  completions: CreateResource;
}

const usageOf = (usage: Usage | null | undefined) =>
  attempt(() => ({ inputTokens: usage?.prompt_tokens, outputTokens: usage?.completion_tokens }), { inputTokens: undefined, outputTokens: undefined });

/** Re-points the stream's own iterator so every consumer (for await, tee, toReadableStream) is seen. */
function observeStream(stream: AsyncIterable<{ usage?: Usage | null }>, operation: ClientOperation): void {
  const iterate = stream[Symbol.asyncIterator].bind(stream);
  const observed = async function* () {
    let usage: Usage | null | undefined;
    let settled = false;
    try {
      for await (const chunk of { [Symbol.asyncIterator]: iterate }) {
        operation.chunk();
        const chunkUsage = attempt(() => chunk?.usage, undefined);
        if (chunkUsage) usage = chunkUsage;
        yield chunk;
      }
      settled = true;
      operation.end(usageOf(usage));
    } catch (error) {
      settled = true;
      operation.fail(error);
      throw error;
    } finally {
      if (!settled) operation.fail({ type: 'cancelled' });
    }
  };
  Object.defineProperty(stream, Symbol.asyncIterator, { value: observed, configurable: true, writable: true });
}

type HeaderPairs = ReadonlyArray<readonly [string, string]>;

/**
 * The request options with the operation's `traceparent` added to the headers, in whichever form the caller
 * gave them (object, Headers, pairs); headers the caller set win.
 */
function withTraceHeaders(options: unknown, operation: ClientOperation): unknown {
  return attempt(() => traceHeaders(options, operation), options);
}

function traceHeaders(options: unknown, operation: ClientOperation): unknown {
  const trace: Record<string, string> = {};
  injectTraceContext(operation.traceContext(), trace);
  if (Object.keys(trace).length === 0) return options;
  const base = typeof options === 'object' && options !== null ? (options as { headers?: unknown }) : {};
  const given = base.headers;
  let headers: unknown;
  if (given === undefined || given === null) headers = trace;
  else if (given instanceof Headers) {
    headers = new Headers(trace);
    given.forEach((value, name) => (headers as Headers).set(name, value));
  } else if (Array.isArray(given)) headers = [...Object.entries(trace), ...(given as HeaderPairs)];
  else if (typeof given === 'object') headers = { ...trace, ...given };
  else return options;
  return { ...base, headers };
}

function wrap(resource: CreateResource | undefined, metrics: ClientMetrics, operationName: string, provider: string): void {
  const create = attempt(() => resource?.create, undefined);
  // Not an openai client (or an older one without this resource): nothing to instrument.
  if (resource === undefined || typeof create !== 'function') return;
  resource.create = function instrumentedCreate(this: unknown, body: { model?: unknown; stream?: unknown }, options?: unknown) {
    const { model, stream } = attempt(() => ({ model: body?.model, stream: body?.stream }), { model: undefined, stream: undefined });
    const operation = startOperation(metrics, { model: typeof model === 'string' ? model : 'unknown', operation: operationName, provider });
    let pending: PromiseLike<unknown>;
    try {
      pending = create.call(this, body, withTraceHeaders(options, operation));
    } catch (error) {
      operation.fail(error);
      throw error;
    }
    const settle = (result: unknown) => {
      const iterable = attempt(() => result !== null && typeof result === 'object' && Symbol.asyncIterator in result, false);
      if (stream === true && iterable) observeStream(result as AsyncIterable<{ usage?: Usage | null }>, operation);
      else operation.end(usageOf(attempt(() => (result as { usage?: Usage } | null)?.usage, undefined)));
    };
    // Not a promise (a stub or a mock): what create() gave is the whole result.
    if (typeof attempt(() => pending?.then, undefined) !== 'function') {
      settle(pending);
      return pending;
    }
    // The SDK's own promise goes back untouched (it has extra methods such as withResponse()).
    pending.then(settle, (error: unknown) => operation.fail(error));
    return pending;
  };
}

/**
 * Records every `chat.completions.create` and `completions.create` of an `openai` client (streamed
 * or not) on `metrics`: duration, time to first chunk, time per chunk, token usage, errors by type.
 * Instruments the client in place and returns it. The recorder comes first, as in every wrapper.
 */
export function instrumentOpenAI<T extends OpenAILike>(metrics: ClientMetrics, client: T, options: { provider?: string } = {}): T {
  const provider = attempt(() => options?.provider, undefined);
  const name = typeof provider === 'string' && provider !== '' ? provider : 'openai';
  try {
    wrap(attempt(() => client?.chat?.completions, undefined), metrics, 'chat', name);
    wrap(attempt(() => client?.completions, undefined), metrics, 'text_completion', name);
  } catch {
    // A frozen or proxied client that refuses the wrapper: it keeps working, uninstrumented.
  }
  return client;
}
