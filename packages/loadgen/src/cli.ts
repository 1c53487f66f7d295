#!/usr/bin/env node
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { formatReport } from './report.js';
import { runBenchmark } from './run.js';

const { values: args } = parseArgs({
  options: {
    'base-url': { type: 'string', default: 'http://localhost:8000' },
    endpoint: { type: 'string', default: '/v1/completions' },
    model: { type: 'string', default: 'sim-llama-8b' },
    'num-prompts': { type: 'string', default: '1000' },
    'request-rate': { type: 'string', default: 'inf' },
    burstiness: { type: 'string', default: '1.0' },
    'max-concurrency': { type: 'string' },
    dataset: { type: 'string' },
    seed: { type: 'string', default: '0' },
    'result-json': { type: 'string' },
    'compare-metrics': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});

if (args.help) {
  console.log(`inferwatch-bench: load for an OpenAI-compatible server, reported like vLLM's benchmark_serving.py
  --base-url URL          server (default http://localhost:8000)
  --endpoint PATH         /v1/completions (default) or /v1/chat/completions
  --model NAME            model to ask for (default sim-llama-8b)
  --num-prompts N         requests to send (default 1000)
  --request-rate R        requests per second, or inf for all at once (default inf)
  --burstiness B          gamma shape of arrival gaps: 1 Poisson, <1 burstier (default 1.0)
  --max-concurrency N     most requests in flight
  --dataset PATH          ShareGPT-format JSON (default: a built-in synthetic set)
  --seed N                seed for the dataset and arrivals (default 0)
  --result-json PATH      write the figures as JSON
  --compare-metrics URL   the server's /metrics: print its estimates beside the client's`);
  process.exit(0);
}

const rate = args['request-rate'] === 'inf' ? Infinity : Number(args['request-rate']);
const total = Number(args['num-prompts']);
const width = 40;
const tty = process.stderr.isTTY;
let lastShown = -1;
function progress(done: number, of: number): void {
  const filled = Math.round((done / of) * width);
  if (tty) process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${of}${done === of ? '\n' : ''}`);
  else if (Math.floor((done / of) * 10) > lastShown) {
    lastShown = Math.floor((done / of) * 10);
    process.stderr.write(`${done}/${of} requests done\n`);
  }
}

const controller = new AbortController();
process.once('SIGINT', () => controller.abort());
const result = await runBenchmark({
  baseUrl: args['base-url']!,
  endpoint: args.endpoint as '/v1/completions' | '/v1/chat/completions',
  model: args.model!,
  numPrompts: total,
  requestRate: rate,
  burstiness: Number(args.burstiness),
  maxConcurrency: args['max-concurrency'] ? Number(args['max-concurrency']) : undefined,
  dataset: args.dataset,
  seed: Number(args.seed),
  compareMetrics: args['compare-metrics'],
  onProgress: progress,
  signal: controller.signal,
});
console.log(formatReport(result));
if (result.errors.length > 0) console.log(`first error: ${result.errors[0]}`);
if (args['result-json']) {
  const { requests, ...figures } = result;
  writeFileSync(args['result-json'], `${JSON.stringify({ ...figures, requests: requests.length }, null, 2)}\n`);
}
