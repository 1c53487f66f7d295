import type { ClientMetrics, ClientOperation } from '@inferwatch/sdk';
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

function start(metrics: ClientMetrics, model: ModelLike): ClientOperation {
  const { modelId, provider } = attempt<{ modelId?: unknown; provider?: unknown }>(() => ({ modelId: model?.modelId, provider: model?.provider }), {});
  // Provider ids look like `openai.chat`; the part before the dot is the provider.
  return startOperation(metrics, { model: modelId as string, operation: 'chat', provider: typeof provider === 'string' ? provider.split('.')[0] : 'unknown' });
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
