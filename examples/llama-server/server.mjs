#!/usr/bin/env node
// node-llama-cpp behind an OpenAI-compatible API: the real-engine twin of the simulated engine. One
// context with --sequences sequences decodes the running requests together (continuous batching: a
// request joins as soon as a sequence is free); up to --max-waiting more wait, the rest get 429.
// Serves --model PATH, or the project's tiny generated model. Metrics on /metrics, vLLM's log line.
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { getLlama, LlamaChat, LlamaCompletion, LlamaLogLevel } from 'node-llama-cpp';
import { createLlmMetrics, extractTraceContext, startMetrics } from '@inferwatch/sdk';
import { instrumentContext, QueueFullError } from '@inferwatch/llama-cpp';
import { createOpenAIServer, stopScanner } from '@inferwatch/openai-server';
import { ensureTinyModel } from './make-tiny-model.mjs';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.PORT ?? '8002' },
    host: { type: 'string', default: '127.0.0.1' },
    model: { type: 'string' },
    'served-model-name': { type: 'string' },
    sequences: { type: 'string', default: '4' },
    'context-size': { type: 'string', default: '2048' },
    threads: { type: 'string', default: '1' },
    'max-waiting': { type: 'string', default: '64' },
    'log-interval-ms': { type: 'string', default: '10000' },
    // off: the same server with no instrumentation at all, the benchmark's baseline.
    metrics: { type: 'string', default: 'on' },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  console.log(`usage: server.mjs [--model PATH.gguf] [--served-model-name NAME] [--port 8002] [--host 127.0.0.1]
  [--sequences 4] [--context-size 2048 (per sequence)] [--threads 1] [--max-waiting 64] [--log-interval-ms 10000] [--metrics on|off]
Without --model it serves a tiny llama model with random weights that it generates once (gibberish, fast).`);
  process.exit(0);
}

const modelPath = args.model ?? ensureTinyModel();
const modelName = args['served-model-name'] ?? (args.model ? basename(args.model, '.gguf') : 'tiny-llama');
const contextSize = Number(args['context-size']);
const instrument = args.metrics !== 'off';

const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
const model = await llama.loadModel({ modelPath });
const context = await model.createContext({ sequences: Number(args.sequences), contextSize, threads: Number(args.threads) });

// --metrics off keeps the pool (it is the scheduler) but gives it a recorder that records nothing.
const ignored = { scheduled() {}, firstToken() {}, tokens() {}, preempted() {}, resumed() {}, end() {}, fail() {}, abort() {} };
/** @type {import('@inferwatch/llama-cpp').PoolRecorder} */
const unrecorded = { startRequest: () => ignored, observeEngineState: () => () => {}, now: () => performance.now() };
const recorder = instrument
  ? createLlmMetrics({ provider: 'llama.cpp', log: { intervalMs: Number(args['log-interval-ms']), sink: (line) => console.log(`INFO llama] ${line}`) } })
  : undefined;
const llm = recorder ?? unrecorded;
// GPU metrics as the simulator has them: present where nvidia-smi is (for a GPU build of llama.cpp).
const telemetry = recorder ? startMetrics({ serviceName: 'inferwatch-llama-server', llm: recorder, gpu: true }) : undefined;
const pool = instrumentContext(llm, context, { model: modelName, maxWaiting: Number(args['max-waiting']) });
/**
 * @param {import('node:http').IncomingMessage} _req
 * @param {import('node:http').ServerResponse} res
 */
const quiet = (_req, res) => res.writeHead(404).end();

/** @type {Map<string, 'system' | 'user'>} */
const ROLES = new Map([['system', 'system'], ['developer', 'system'], ['user', 'user']]);
/** @param {unknown} content  a string, or an array of parts whose `text` counts */
const textOf = (content) => (typeof content === 'string' ? content : Array.isArray(content) ? content.map((p) => (typeof p?.text === 'string' ? p.text : '')).join('') : '');
/**
 * OpenAI messages as node-llama-cpp's chat history; the model's answer is generated after the last one.
 * @param {import('@inferwatch/openai-server').ChatMessage[]} messages
 * @returns {import('node-llama-cpp').ChatHistoryItem[]}
 */
const historyOf = (messages) =>
  messages.map((m) => {
    // Any other role (assistant, tool...) is the model's; a Map, so that no role names a prototype's property.
    const type = typeof m?.role === 'string' ? ROLES.get(m.role) : undefined;
    return type ? { type, text: textOf(m?.content) } : { type: 'model', response: [textOf(m?.content)] };
  });

/**
 * @param {import('@inferwatch/openai-server').GenerateRequest} request
 * @param {import('@inferwatch/openai-server').Reply} reply
 */
async function generate({ body, chat, arrival, headers, signal, stop }, reply) {
  // The prompt as text: a completion's own, or a chat's messages (the chat template adds a few tokens).
  const promptText = chat ? body.messages.map((m) => textOf(m?.content)).join('\n') : Array.isArray(body.prompt) ? body.prompt.join('') : body.prompt;
  // At least the prompt's tokens: refused before it queues, as vLLM refuses what exceeds
  // max_model_len, rather than silently cut by node-llama-cpp's context shift.
  const promptLength = model.tokenize(promptText).length + 1;
  const maxTokens = body.max_tokens ?? contextSize - promptLength;
  if (promptLength + maxTokens > contextSize || maxTokens <= 0) {
    return reply.error(400, `prompt plus max_tokens (at least ${promptLength + maxTokens} tokens) exceed the context of ${contextSize}`, 'max_tokens');
  }
  let req;
  try {
    req = await pool.acquire({ operation: chat ? 'chat' : 'text_completion', signal, at: arrival, context: extractTraceContext(headers) });
  } catch (error) {
    if (error instanceof QueueFullError) return reply.error(429, error.message, null, { 'retry-after': '1' });
    return; // the client left while waiting
  }
  reply.open();
  // Stop sequences are matched on the text as it streams, not with node-llama-cpp's customStopTriggers:
  // those re-tokenize the text before a trigger that begins inside a token, which can drop its leading
  // space. A match stops the generation after the token that completed it.
  const scanner = stopScanner(stop);
  const generation = new AbortController();
  const onLeave = () => generation.abort(signal.reason);
  if (signal.aborted) onLeave();
  else signal.addEventListener('abort', onLeave, { once: true });
  const options = {
    maxTokens,
    signal: generation.signal,
    stopOnAbortSignal: true,
    temperature: typeof body.temperature === 'number' ? body.temperature : 1,
    topP: typeof body.top_p === 'number' ? body.top_p : undefined,
    seed: typeof body.seed === 'number' && Number.isInteger(body.seed) ? body.seed : undefined,
    /** @param {string} text */
    onTextChunk: (text) => {
      const sendable = scanner.push(text);
      if (sendable) reply.token(sendable);
      if (scanner.stopped) generation.abort();
    },
    onToken: req.onToken,
  };
  const generator = chat ? new LlamaChat({ contextSequence: req.sequence }) : new LlamaCompletion({ contextSequence: req.sequence });
  try {
    const { metadata } = chat
      ? await /** @type {LlamaChat} */ (generator).generateResponse(historyOf(body.messages), options)
      : await /** @type {LlamaCompletion} */ (generator).generateCompletionWithMeta(promptText, options);
    // Stopped by a stop sequence: node-llama-cpp's name for that, which the pool records as finish_reason stop.
    const usage = req.end(signal.aborted ? 'abort' : scanner.stopped ? 'customStopTrigger' : metadata.stopReason);
    const rest = scanner.flush();
    if (rest) reply.token(rest);
    reply.end(usage.finishReason, { prompt_tokens: usage.promptTokens, completion_tokens: usage.outputTokens, total_tokens: usage.promptTokens + usage.outputTokens });
  } catch (error) {
    req.fail(error);
    if (!signal.aborted) throw error;
  } finally {
    signal.removeEventListener('abort', onLeave);
    generator.dispose({ disposeSequence: false });
  }
}

const server = createOpenAIServer({
  model: modelName,
  ownedBy: 'inferwatch-llama-server',
  maxModelLen: contextSize,
  idPrefix: 'llama',
  now: () => llm.now(),
  metricsHandler: telemetry?.metricsHandler ?? quiet,
  dashboardHandler: telemetry?.dashboardHandler,
  health: () => ({ model: modelName, sequences: context.totalSequences, ...pool.state() }),
  supports: { stop: true },
  generate,
});

server.listen(Number(args.port), args.host, () => {
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  console.log(`INFO llama] node-llama-cpp serving ${modelName} on http://${args.host}:${port} (${args.sequences} sequences × ${contextSize} tokens, ${args.threads} thread(s); metrics: /metrics, live page: /dashboard)`);
  // A parent that started this engine (the gateway's command line) learns it is up.
  process.send?.({ listening: port });
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, async () => {
    server.close();
    pool.close();
    await telemetry?.shutdown();
    await context.dispose();
    await model.dispose();
    await llama.dispose();
    process.exit(0);
  });
}
