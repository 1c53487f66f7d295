#!/usr/bin/env node
// The gateway's command line. Upstreams from --upstream (repeatable) or INFERWATCH_UPSTREAMS
// (comma-separated); per-model routes from --route MODEL=URL or INFERWATCH_ROUTES. With none, it
// starts the simulated engine and fronts it. SIGTERM or Ctrl-C: stop accepting, drain, flush, exit 0.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startGateway } from './gateway.mjs';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.PORT ?? '8000' },
    host: { type: 'string', default: process.env.HOST ?? '0.0.0.0' },
    upstream: { type: 'string', multiple: true, default: [] },
    route: { type: 'string', multiple: true, default: [] },
    'max-concurrency': { type: 'string', default: '64' },
    'max-queue': { type: 'string', default: '256' },
    'timeout-ms': { type: 'string', default: '300000' },
    'bridge-interval-ms': { type: 'string', default: '5000' },
    'log-interval-ms': { type: 'string', default: '10000' },
    'engine-port': { type: 'string', default: '8001' },
    // off: the same proxy with no instrumentation at all, the benchmark's baseline.
    metrics: { type: 'string', default: 'on' },
    // off: no GPU poller even when nvidia-smi is on PATH (benchmarks compare like with like).
    gpu: { type: 'string', default: 'on' },
  },
});

const split = (value) => (value ?? '').split(',').map((s) => s.trim()).filter(Boolean);
let upstreams = [...args.upstream, ...split(process.env.INFERWATCH_UPSTREAMS)];
const routes = {};
for (const route of [...args.route, ...split(process.env.INFERWATCH_ROUTES)]) {
  const [model, url] = route.split(/=(.*)/s);
  (routes[model] ??= []).push(url);
}

let engine;
if (upstreams.length === 0 && Object.keys(routes).length === 0) {
  const server = fileURLToPath(new URL('../engine-sim/server.mjs', import.meta.url));
  // On all interfaces, like the gateway, so a Prometheus in a container can scrape it too.
  engine = spawn(process.execPath, [server, '--port', args['engine-port'], '--host', '0.0.0.0', '--log-interval-ms', args['log-interval-ms']], { stdio: 'inherit' });
  upstreams = [`http://127.0.0.1:${args['engine-port']}`];
  // Give the engine a moment to listen; the gateway fails over and the bridge retries anyway.
  await new Promise((resolve) => setTimeout(resolve, 500));
}

const gateway = await startGateway({
  upstreams,
  routes,
  port: Number(args.port),
  host: args.host,
  maxConcurrency: Number(args['max-concurrency']),
  maxQueue: Number(args['max-queue']),
  timeoutMs: Number(args['timeout-ms']),
  bridgeIntervalMs: Number(args['bridge-interval-ms']),
  logIntervalMs: Number(args['log-interval-ms']),
  instrument: args.metrics !== 'off',
  gpu: args.gpu !== 'off',
});
const shown = gateway.url.replace('0.0.0.0', 'localhost');
console.log(`INFO gateway] OpenAI-compatible gateway on ${shown} → ${[...upstreams, ...Object.values(routes).flat()].join(', ')}; metrics on ${shown}/metrics`);

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    console.log(`INFO gateway] ${signal}: draining ${gateway.inFlight()} in-flight requests`);
    await gateway.close();
    engine?.kill('SIGTERM');
    process.exit(0);
  });
}
