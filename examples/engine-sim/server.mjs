#!/usr/bin/env node
// The simulated engine behind an OpenAI-compatible API, with its own /metrics and vLLM's log line.
import { parseArgs } from 'node:util';
import { createLlmMetrics, startMetrics } from '@inferwatch/sdk';
import { DEFAULTS, Engine } from './engine.mjs';
import { createOpenAIServer } from '@inferwatch/openai-server';
import { promptTokensOf, word } from './tokens.mjs';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.PORT ?? '8001' },
    host: { type: 'string', default: '127.0.0.1' },
    model: { type: 'string', default: 'sim-llama-8b' },
    'max-num-seqs': { type: 'string' },
    'num-gpu-blocks': { type: 'string' },
    'num-cpu-blocks': { type: 'string' },
    'block-size': { type: 'string' },
    'prefill-ms-per-token': { type: 'string' },
    'decode-base-ms': { type: 'string' },
    'decode-ms-per-seq': { type: 'string' },
    'log-interval-ms': { type: 'string', default: '10000' },
  },
});
const num = (v) => (v === undefined ? undefined : Number(v));
const options = {
  maxNumSeqs: num(args['max-num-seqs']),
  numGpuBlocks: num(args['num-gpu-blocks']),
  numCpuBlocks: num(args['num-cpu-blocks']),
  blockSize: num(args['block-size']),
  prefillMsPerToken: num(args['prefill-ms-per-token']),
  decodeBaseMs: num(args['decode-base-ms']),
  decodeMsPerSeq: num(args['decode-ms-per-seq']),
};

const llm = createLlmMetrics({ provider: 'engine-sim', log: { intervalMs: Number(args['log-interval-ms']), sink: (line) => console.log(`INFO engine] ${line}`) } });
const telemetry = startMetrics({ serviceName: 'inferwatch-engine-sim', llm, gpu: true });
const engine = new Engine(llm, options);
const maxContext = (options.numGpuBlocks ?? DEFAULTS.numGpuBlocks) * (options.blockSize ?? DEFAULTS.blockSize);

const server = createOpenAIServer({
  model: args.model,
  ownedBy: 'inferwatch-engine-sim',
  maxModelLen: maxContext,
  idPrefix: 'sim',
  now: () => llm.now(),
  metricsHandler: telemetry.metricsHandler,
  health: () => engine.state(),
  generate: ({ body, chat, ctx, arrival, signal }, reply) => {
    const promptTokens = promptTokensOf(body, chat);
    const maxTokens = body.max_tokens ?? undefined;
    // With max_tokens the sequence runs to it (as benchmark_serving's ignore_eos); without, it stops on its own.
    const outputTokens = maxTokens ?? 16 + Math.floor(Math.random() * 240);
    if (promptTokens + outputTokens > maxContext) {
      return reply.error(400, `prompt plus output (${promptTokens + outputTokens} tokens) exceed the context of ${maxContext}`, 'max_tokens');
    }
    const handle = llm.startRequest({ model: ctx.model, operation: chat ? 'chat' : 'text_completion', promptTokens, at: arrival });
    const usage = { prompt_tokens: promptTokens, completion_tokens: 0, total_tokens: promptTokens };
    reply.open();
    return new Promise((resolve) => {
      const seq = engine.submit({
        handle,
        promptTokens,
        outputTokens,
        maxTokens,
        onToken: (i) => {
          usage.completion_tokens = i + 1;
          reply.token(word(i));
        },
        onEnd: (finishReason) => {
          usage.total_tokens = promptTokens + usage.completion_tokens;
          reply.end(finishReason, usage);
          resolve();
        },
      });
      signal.addEventListener('abort', () => {
        engine.cancel(seq);
        resolve();
      }, { once: true });
    });
  },
});

server.listen(Number(args.port), args.host, () => {
  console.log(`INFO engine] simulated engine serving ${args.model} on http://${args.host}:${server.address().port} (metrics: /metrics)`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, async () => {
    server.close();
    await telemetry.shutdown();
    process.exit(0);
  });
}
