import { injectTraceContext, type ClientMetrics, type ClientOperation } from '@inferwatch/sdk';

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

const usageOf = (usage: Usage | null | undefined) => ({ inputTokens: usage?.prompt_tokens, outputTokens: usage?.completion_tokens });

/** Re-points the stream's own iterator so every consumer (for await, tee, toReadableStream) is seen. */
function observeStream(stream: AsyncIterable<{ usage?: Usage | null }>, operation: ClientOperation): void {
  const iterate = stream[Symbol.asyncIterator].bind(stream);
  const observed = async function* () {
    let usage: Usage | null | undefined;
    let settled = false;
    try {
      for await (const chunk of { [Symbol.asyncIterator]: iterate }) {
        operation.chunk();
        if (chunk?.usage) usage = chunk.usage;
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

function wrap(resource: CreateResource, metrics: ClientMetrics, operationName: string, provider: string): void {
  const create = resource.create;
  resource.create = function instrumentedCreate(this: unknown, body: { model?: unknown; stream?: unknown }, options?: unknown) {
    const operation = metrics.startOperation({ model: typeof body?.model === 'string' ? body.model : 'unknown', operation: operationName, provider });
    let pending: PromiseLike<unknown>;
    try {
      pending = create.call(this, body, withTraceHeaders(options, operation));
    } catch (error) {
      operation.fail(error);
      throw error;
    }
    // The SDK's own promise goes back untouched (it has extra methods such as withResponse()).
    pending.then(
      (result) => {
        if (body?.stream === true && result !== null && typeof result === 'object' && Symbol.asyncIterator in result) {
          observeStream(result as AsyncIterable<{ usage?: Usage | null }>, operation);
        } else {
          operation.end(usageOf((result as { usage?: Usage } | null)?.usage));
        }
      },
      (error: unknown) => operation.fail(error),
    );
    return pending;
  };
}

/**
 * Records every `chat.completions.create` and `completions.create` of an `openai` client (streamed
 * or not) on `metrics`: duration, time to first chunk, time per chunk, token usage, errors by type.
 * Instruments the client in place and returns it.
 */
export function instrumentOpenAI<T extends OpenAILike>(client: T, metrics: ClientMetrics, options: { provider?: string } = {}): T {
  const provider = options.provider ?? 'openai';
  wrap(client.chat.completions, metrics, 'chat', provider);
  wrap(client.completions, metrics, 'text_completion', provider);
  return client;
}
