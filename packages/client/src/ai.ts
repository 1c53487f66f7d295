import type { ClientMetrics, ClientOperation } from '@inferwatch/sdk';

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
const usageOf = (usage: UsageV3 | undefined) => ({ inputTokens: tokens(usage?.inputTokens), outputTokens: tokens(usage?.outputTokens) });

function start(metrics: ClientMetrics, model: ModelLike): ClientOperation {
  // Provider ids look like `openai.chat`; the part before the dot is the provider.
  return metrics.startOperation({ model: model.modelId, operation: 'chat', provider: String(model.provider).split('.')[0] });
}

/**
 * A language-model middleware for the Vercel AI SDK (`wrapLanguageModel({ model, middleware })`)
 * recording each generate and stream call on `metrics` as gen_ai.client.* metrics.
 */
export function aiSdkMiddleware(metrics: ClientMetrics) {
  return {
    specificationVersion: 'v3' as const,

    async wrapGenerate<R extends { usage?: UsageV3 }>({ doGenerate, model }: { doGenerate: () => PromiseLike<R>; model: ModelLike }): Promise<R> {
      const operation = start(metrics, model);
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
    }: {
      doStream: () => PromiseLike<R>;
      model: ModelLike;
    }): Promise<R> {
      const operation = start(metrics, model);
      let result: R;
      try {
        result = await doStream();
      } catch (error) {
        operation.fail(error);
        throw error;
      }
      let usage: UsageV3 | undefined;
      let failed = false;
      const observed = result.stream.pipeThrough(
        new TransformStream({
          transform(part, controller) {
            // Chunks that carry output (text, reasoning, tool input), not the bookkeeping parts.
            if (part.type.endsWith('-delta')) operation.chunk();
            if (part.type === 'finish') usage = part.usage;
            if (part.type === 'error') {
              failed = true;
              operation.fail(part.error);
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
