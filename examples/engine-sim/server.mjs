#!/usr/bin/env node
// The simulated engine behind an OpenAI-compatible API, with its own /metrics and vLLM's log line.
import { createLlmMetrics, extractTraceContext, startMetrics } from '@inferwatch/sdk';
import { createOpenAIServer, stopScanner } from '@inferwatch/openai-server';
import { DEFAULTS, Engine } from './engine.mjs';
import { promptTokensOf, word } from './tokens.mjs';
import { parseCommandLine } from '../command-line.mjs';

const USAGE = `Usage: engine-sim [options]

A simulated LLM engine (continuous batching, a paged KV cache, preemption) behind an
OpenAI-compatible API, with its own /metrics.

  --port N                  listen port (default 8001, or $PORT)
  --host ADDR               listen address (default 127.0.0.1)
  --model NAME              the model it serves (default sim-llama-8b)
  --max-body-bytes N        largest request body; more gets 413 (default 10485760)
  --max-num-seqs N          sequences decoded at once
  --num-gpu-blocks N        KV-cache blocks on the GPU
  --num-cpu-blocks N        swap space, in blocks
  --block-size N            tokens per block
  --prefill-ms-per-token N  prefill time per prompt token
  --decode-base-ms N        time per decode step
  --decode-ms-per-seq N     extra decode time per running sequence
  --log-interval-ms N       summary log line interval (default 10000)
  --help                    this text
`;

const args = parseCommandLine('engine', USAGE, {
  'max-body-bytes': { type: 'string', default: String(10 * 1024 * 1024) },
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
});
const maxBodyBytes = Number(args['max-body-bytes']);
/** @param {string | undefined} v */
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

/**
 * Where the first of `stops` ends an output of `outputTokens` words: the text each token up to the one
 * that completes it may send (the stop sequence left out), or undefined when none appears.
 * @param {string[]} stops
 * @param {number} outputTokens
 * @returns {string[] | undefined}
 */
function stopsAt(stops, outputTokens) {
  const scanner = stopScanner(stops);
  const pieces = [];
  for (let i = 0; i < outputTokens; i++) {
    pieces.push(scanner.push(word(i)));
    if (scanner.stopped) return pieces;
  }
  return undefined;
}

const server = createOpenAIServer({
  model: args.model,
  ownedBy: 'inferwatch-engine-sim',
  maxModelLen: maxContext,
  idPrefix: 'sim',
  now: () => llm.now(),
  maxBodyBytes,
  metricsHandler: telemetry.metricsHandler,
  dashboardHandler: telemetry.dashboardHandler,
  health: () => engine.state(),
  supports: { stop: true },
  generate: (request, reply) => {
    const { body, chat, ctx, arrival, headers, signal, stop } = request;
    const promptTokens = promptTokensOf(request);
    const maxTokens = body.max_tokens ?? undefined;
    // With max_tokens the sequence runs to it (as benchmark_serving's ignore_eos); without, it stops on its own.
    const outputTokens = maxTokens ?? 16 + Math.floor(Math.random() * 240);
    if (promptTokens + outputTokens > maxContext) {
      return reply.error(400, `prompt plus output (${promptTokens + outputTokens} tokens) exceed the context of ${maxContext}`, 'max_tokens');
    }
    // The output is known in advance, so is where a stop sequence ends it.
    const stopped = stop.length > 0 ? stopsAt(stop, outputTokens) : undefined;
    // As vLLM does: the engine's request span continues the caller's (the gateway's) trace.
    const handle = llm.startRequest({ model: ctx.model, operation: chat ? 'chat' : 'text_completion', promptTokens, at: arrival, context: extractTraceContext(headers) });
    const usage = { prompt_tokens: promptTokens, completion_tokens: 0, total_tokens: promptTokens };
    reply.open();
    return /** @type {Promise<void>} */ (new Promise((resolve) => {
      const seq = engine.submit({
        handle,
        promptTokens,
        outputTokens: stopped?.length ?? outputTokens,
        maxTokens,
        stopped: stopped !== undefined,
        onToken: (i) => {
          usage.completion_tokens = i + 1;
          const text = stopped ? stopped[i] : word(i);
          if (text) reply.token(text);
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
    }));
  },
});

server.once('error', /** @param {NodeJS.ErrnoException} error */ async (error) => {
  console.error(`ERROR engine] ${error.code === 'EADDRINUSE' ? `port ${args.port} is already in use (--port)` : `could not listen: ${error.message}`}`);
  await telemetry.shutdown();
  process.exit(1);
});
server.listen(Number(args.port), args.host, () => {
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  console.log(`INFO engine] simulated engine serving ${args.model} on http://${args.host}:${port} (metrics: /metrics, live page: /dashboard)`);
  // A parent that started this engine (the gateway's command line) learns it is up.
  process.send?.({ listening: port });
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, async () => {
    server.close();
    await telemetry.shutdown();
    process.exit(0);
  });
}
