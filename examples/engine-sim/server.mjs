#!/usr/bin/env node
// The simulated engine behind an OpenAI-compatible API, with its own /metrics and vLLM's log line.
import { createServer } from 'node:http';
import { createLlmMetrics, extractTraceContext, startMetrics } from '@inferwatch/sdk';
import { DEFAULTS, Engine } from './engine.mjs';
import { chunkOf, completionBody, errorBody, promptTokensOf, usageChunk, word } from './openai.mjs';
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
let nextId = 0;

function send(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' }).end(body);
}

async function completion(req, res, chat) {
  const arrival = llm.now();
  let body;
  try {
    let raw = '';
    let bytes = 0;
    for await (const chunk of req) {
      raw += chunk;
      bytes += chunk.length;
      if (bytes > maxBodyBytes) {
        res.setHeader('connection', 'close');
        return send(res, 413, errorBody(413, `the body is over ${maxBodyBytes} bytes`));
      }
    }
    body = JSON.parse(raw);
  } catch {
    return send(res, 400, errorBody(400, 'the body is not valid JSON'));
  }
  if (chat ? !Array.isArray(body?.messages) : typeof body?.prompt !== 'string' && !Array.isArray(body?.prompt)) {
    return send(res, 400, errorBody(400, chat ? '`messages` must be an array' : '`prompt` must be a string', chat ? 'messages' : 'prompt'));
  }
  const promptTokens = promptTokensOf(body, chat);
  const maxTokens = Number.isInteger(body.max_tokens) && body.max_tokens > 0 ? body.max_tokens : undefined;
  // With max_tokens the sequence runs to it (as benchmark_serving's ignore_eos); without, it stops on its own.
  const outputTokens = maxTokens ?? 16 + Math.floor(Math.random() * 240);
  if (promptTokens + outputTokens > maxContext) {
    return send(res, 400, errorBody(400, `prompt plus output (${promptTokens + outputTokens} tokens) exceed the context of ${maxContext}`, 'max_tokens'));
  }
  const ctx = { id: `cmpl-sim-${++nextId}`, model: body.model ?? args.model, created: Math.floor(Date.now() / 1000), chat };
  // As vLLM does: the engine's request span continues the caller's (the gateway's) trace.
  const handle = llm.startRequest({ model: ctx.model, operation: chat ? 'chat' : 'text_completion', promptTokens, at: arrival, context: extractTraceContext(req.headers) });
  const stream = body.stream === true;
  const usage = { prompt_tokens: promptTokens, completion_tokens: 0, total_tokens: promptTokens };
  let text = '';
  if (stream) res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const seq = engine.submit({
    handle,
    promptTokens,
    outputTokens,
    maxTokens,
    onToken: (i) => {
      usage.completion_tokens = i + 1;
      if (stream) res.write(chunkOf(ctx, word(i), null, i === 0));
      else text += word(i);
    },
    onEnd: (finishReason) => {
      usage.total_tokens = promptTokens + usage.completion_tokens;
      if (!stream) return send(res, 200, completionBody(ctx, text, finishReason, usage));
      res.write(chunkOf(ctx, null, finishReason, false));
      if (body.stream_options?.include_usage) res.write(usageChunk(ctx, usage));
      res.end('data: [DONE]\n\n');
    },
  });
  res.once('close', () => {
    if (!res.writableFinished) engine.cancel(seq);
  });
}

const server = createServer((req, res) => {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method === 'GET' && path === '/metrics') return telemetry.metricsHandler(req, res);
  if (req.method === 'GET' && (path === '/dashboard' || path.startsWith('/dashboard/'))) return telemetry.dashboardHandler(req, res);
  if (req.method === 'GET' && path === '/health') return send(res, 200, JSON.stringify({ status: 'ok', ...engine.state() }));
  if (req.method === 'GET' && path === '/v1/models') {
    return send(res, 200, JSON.stringify({ object: 'list', data: [{ id: args.model, object: 'model', created: 0, owned_by: 'inferwatch-engine-sim', max_model_len: maxContext }] }));
  }
  if (req.method === 'POST' && path === '/v1/chat/completions') return void completion(req, res, true);
  if (req.method === 'POST' && path === '/v1/completions') return void completion(req, res, false);
  send(res, 404, errorBody(404, `no route for ${req.method} ${path}`));
});

server.once('error', async (error) => {
  console.error(`ERROR engine] ${error.code === 'EADDRINUSE' ? `port ${args.port} is already in use (--port)` : `could not listen: ${error.message}`}`);
  await telemetry.shutdown();
  process.exit(1);
});
server.listen(Number(args.port), args.host, () => {
  console.log(`INFO engine] simulated engine serving ${args.model} on http://${args.host}:${server.address().port} (metrics: /metrics, live page: /dashboard)`);
  // A parent that started this engine (the gateway's command line) learns it is up.
  process.send?.({ listening: server.address().port });
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, async () => {
    server.close();
    await telemetry.shutdown();
    process.exit(0);
  });
}
