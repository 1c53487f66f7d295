#!/usr/bin/env node
// `npm run demo`: an engine (--engine sim, the simulator, by default; --engine llama for node-llama-cpp
// on a tiny generated model), the gateway in front of it, and load at --rate requests/s (default 3;
// 0 for none) until Ctrl-C, which stops everything this started.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runBenchmark } from '@inferwatch/loadgen';

const { values: args } = parseArgs({
  options: {
    rate: { type: 'string', default: '3' },
    port: { type: 'string', default: '8000' },
    'engine-port': { type: 'string', default: '8001' },
    engine: { type: 'string', default: 'sim' },
  },
});
if (!['sim', 'llama'].includes(args.engine)) {
  console.error(`--engine is sim or llama, not ${args.engine}`);
  process.exit(2);
}
const llama = args.engine === 'llama';
const engineName = llama ? 'node-llama-cpp (tiny generated model, CPU)' : 'simulated engine';
const model = llama ? 'tiny-llama' : 'sim-llama-8b';
const rate = Number(args.rate);
const gatewayUrl = `http://localhost:${args.port}`;
const main = fileURLToPath(new URL('../examples/gateway/main.mjs', import.meta.url));
const gateway = spawn(process.execPath, [main, '--port', args.port, '--engine-port', args['engine-port'], '--engine', args.engine], { stdio: 'inherit' });
gateway.once('exit', (code) => {
  if (!stopping) {
    console.error(`the gateway exited (${code}); is port ${args.port} or ${args['engine-port']} taken?`);
    process.exit(1);
  }
});

async function ready() {
  for (let i = 0; i < 100; i++) {
    try {
      // The engine too: node-llama-cpp takes a moment to load its model.
      if ((await fetch(`${gatewayUrl}/health`)).ok && (await fetch(`http://localhost:${args['engine-port']}/health`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('the gateway did not come up');
}

let stopping = false;
const load = new AbortController();
async function stop() {
  if (stopping) return;
  stopping = true;
  load.abort();
  gateway.kill('SIGTERM');
  await new Promise((resolve) => gateway.once('exit', resolve));
  process.exit(0);
}
process.once('SIGINT', stop);
process.once('SIGTERM', stop);

await ready();
console.log(`
inferwatch demo
  gateway (OpenAI-compatible):  ${gatewayUrl}/v1   → ${engineName} on http://localhost:${args['engine-port']}
  gateway metrics:              ${gatewayUrl}/metrics
  engine metrics:               http://localhost:${args['engine-port']}/metrics
  load:                         ${rate > 0 ? `${rate} requests/s (Poisson), synthetic ShareGPT-like prompts` : 'none (--rate 0): try curl or the openai client by hand'}
  dashboards:                   docker compose -f dashboards/docker-compose.yaml up, then http://localhost:3000
  the gateway's and the engine's vLLM-style lines follow every 10 s; Ctrl-C stops everything
`);
if (rate > 0) {
  await runBenchmark({ baseUrl: gatewayUrl, model, numPrompts: 10_000_000, requestRate: rate, seed: Date.now() % 1e9, signal: load.signal });
}
