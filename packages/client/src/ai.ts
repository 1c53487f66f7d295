import { injectTraceContext, type ClientMetrics, type ClientOperation } from '@inferwatch/sdk';
import { attempt, startOperation } from './operation.js';

interface UsageV3 {
  inputTokens?: { total?: number } | number;
  outputTokens?: { total?: number } | number;
}

interface ModelLike {
  modelId: string;
  provider: string;
}

// Usage is `{ total }` in the v3 model specification and a plain number in v2.
const tokens = (value: { total?: number } | number | undefined) => (typeof value === 'number' ? value : value?.total);
const usageOf = (usage: UsageV3 | undefined) =>
  attempt(() => ({ inputTokens: tokens(usage?.inputTokens), outputTokens: tokens(usage?.outputTokens) }), { inputTokens: undefined, outputTokens: undefined });

interface ParamsLike {
  headers?: Record<string, string | undefined>;
}

/**
 * Starts the operation and adds its `traceparent` to the call's headers. `params` is the object the
 * wrapped `doGenerate`/`doStream` pass to the model, so the provider sends what is set here; headers the caller set win.
 */
function start(metrics: ClientMetrics, model: ModelLike, params: ParamsLike | undefined): ClientOperation {
  const { modelId, provider } = attempt<{ modelId?: unknown; provider?: unknown }>(() => ({ modelId: model?.modelId, provider: model?.provider }), {});
  // Provider ids look like `openai.chat`; the part before the dot is the provider.
  const operation = startOperation(metrics, { model: modelId as string, operation: 'chat', provider: typeof provider === 'string' ? provider.split('.')[0] : 'unknown' });
  attempt(() => {
    if (typeof params !== 'object' || params === null) return;
    const trace: Record<string, string> = {};
    injectTraceContext(operation.traceContext(), trace);
    if (Object.keys(trace).length > 0) params.headers = { ...trace, ...params.headers };
  }, undefined);
  return operation;
}

/**
 * A language-model middleware for the Vercel AI SDK (`wrapLanguageModel({ model, middleware })`)
 * recording each generate and stream call on `metrics` as gen_ai.client.* metrics.
 */
export function instrumentAiSdk(metrics: ClientMetrics) {
  return {
    specificationVersion: 'v3' as const,

    async wrapGenerate<R extends { usage?: UsageV3 }>({
      doGenerate,
      model,
      params,
    }: {
      doGenerate: () => PromiseLike<R>;
      model: ModelLike;
      params?: ParamsLike;
    }): Promise<R> {
      const operation = start(metrics, model, params);
      try {
        const result = await doGenerate();
        operation.end(usageOf(result.usage));
        return result;
      } catch (error) {
        operation.fail(error);
        throw error;
      }
    },

    async wrapStream<R extends { stream: ReadableStream<{ type: string; usage?: UsageV3; error?: unknown }> }>({
      doStream,
      model,
      params,
    }: {
      doStream: () => PromiseLike<R>;
      model: ModelLike;
      params?: ParamsLike;
    }): Promise<R> {
      const operation = start(metrics, model, params);
      let result: R;
      try {
        result = await doStream();
      } catch (error) {
        operation.fail(error);
        throw error;
      }
      let usage: UsageV3 | undefined;
      let failed = false;
      const source = attempt(() => result?.stream, undefined);
      // No stream to watch: the call is over as far as the metrics can tell.
      if (!(source instanceof ReadableStream)) {
        operation.end({});
        return result;
      }
      const observed = source.pipeThrough(
        new TransformStream({
          transform(part, controller) {
            const { type, partUsage, error } = attempt<{ type?: unknown; partUsage?: UsageV3; error?: unknown }>(
              () => ({ type: part?.type, partUsage: part?.usage, error: part?.error }),
              {},
            );
            // Chunks that carry output (text, reasoning, tool input), not the bookkeeping parts.
            if (typeof type === 'string' && type.endsWith('-delta')) operation.chunk();
            if (type === 'finish') usage = partUsage;
            if (type === 'error') {
              failed = true;
              operation.fail(error);
            }
            controller.enqueue(part);
          },
          flush() {
            if (!failed) operation.end(usageOf(usage));
          },
        }),
      );
      return { ...result, stream: observed };
    },
  };
}
