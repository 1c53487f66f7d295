#!/usr/bin/env node
// `npm run demo`: an engine (--engine sim, the simulator, by default; --engine llama for node-llama-cpp
// on a tiny generated model), the gateway in front of it, and load at --rate requests/s until Ctrl-C,
// which stops everything this started. Installs and builds first only when something changed since
// the last build (scripts/ensure-built.mjs), so a built checkout shows its banner in seconds.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ensureBuilt } from './ensure-built.mjs';
import { logLine, pipeStamped } from './log-line.mjs';

// One entry per flag: parseArgs reads `type`/`default`/`short`, --help prints `value` and `help`.
const OPTIONS = {
  rate: { type: 'string', default: '3', value: 'R', help: 'synthetic load in requests/s, Poisson arrivals (0: none, to try it by hand)', check: (v) => Number.isFinite(v) && v >= 0 },
  port: { type: 'string', default: '8000', value: 'PORT', help: "the gateway's port (OpenAI API and /metrics)", check: isPort },
  'engine-port': { type: 'string', default: '8001', value: 'PORT', help: "the engine's port (its own /metrics)", check: isPort },
  engine: { type: 'string', default: 'sim', value: 'sim|llama', help: 'the engine behind the gateway: the simulator, or node-llama-cpp on a tiny generated model (CPU)', check: (_, raw) => ['sim', 'llama'].includes(raw) },
  help: { type: 'boolean', short: 'h', help: 'print this and exit' },
};

function isPort(v) {
  return Number.isInteger(v) && v > 0 && v < 65536;
}

function usage() {
  const rows = Object.entries(OPTIONS).map(([name, o]) => [
    `${o.short ? `-${o.short}, ` : '    '}--${name}${o.value ? ` ${o.value}` : ''}`,
    `${o.help}${o.default === undefined ? '' : ` (default ${o.default})`}`,
  ]);
  const width = Math.max(...rows.map(([flag]) => flag.length)) + 2;
  return `usage: npm run demo -- [flags]   (or: node scripts/demo.mjs [flags])

Starts an engine, the inferwatch gateway in front of it and synthetic load, after installing
and building only what changed. Ctrl-C stops everything it started.

${rows.map(([flag, text]) => `  ${flag.padEnd(width)}${text}`).join('\n')}
`;
}

let args;
try {
  // Only parseArgs's own keys: it rejects the rest.
  const options = Object.fromEntries(Object.entries(OPTIONS).map(([name, { value, help, check, ...parse }]) => [name, parse]));
  args = parseArgs({ options }).values;
  for (const [name, { check }] of Object.entries(OPTIONS)) {
    if (check && !check(Number(args[name]), args[name])) throw new Error(`--${name} ${args[name]}: not a valid value`);
  }
} catch (error) {
  console.error(`${error.message}\n\n${usage()}`);
  process.exit(2);
}
if (args.help) {
  console.log(usage());
  process.exit(0);
}

const log = (message, level) => logLine('demo', message, level);
try {
  ensureBuilt({ types: false, log });
} catch (error) {
  log(error.message, 'ERROR');
  process.exit(1);
}
// Imported only now: on a fresh clone it exists once ensureBuilt has built it.
const { runBenchmark } = await import('@inferwatch/loadgen');

const llama = args.engine === 'llama';
const engineName = llama ? 'node-llama-cpp (tiny generated model, CPU)' : 'simulated engine';
const model = llama ? 'tiny-llama' : 'sim-llama-8b';
const rate = Number(args.rate);
const gatewayUrl = `http://localhost:${args.port}`;
const main = fileURLToPath(new URL('../examples/gateway/main.mjs', import.meta.url));
log(`starting the gateway on :${args.port} and the ${engineName} on :${args['engine-port']} ...`);
const gateway = spawn(process.execPath, [main, '--port', args.port, '--engine-port', args['engine-port'], '--engine', args.engine], { stdio: ['ignore', 'pipe', 'pipe'] });
// Their custom log sinks print `INFO gateway] …` without the time: the demo adds it.
pipeStamped(gateway.stdout, process.stdout);
pipeStamped(gateway.stderr, process.stderr);
gateway.once('exit', (code) => {
  if (!stopping) {
    log(`the gateway exited (${code}); is port ${args.port} or ${args['engine-port']} taken? (--port and --engine-port choose others)`, 'ERROR');
    process.exit(1);
  }
});

/** Both answer: the banner's addresses work the moment it appears. */
async function ready() {
  const up = (url) => fetch(url).then((res) => res.ok, () => false);
  for (let i = 0; i < 150; i++) {
    // The engine too: node-llama-cpp takes a moment to load its model.
    if ((await up(`${gatewayUrl}/health`)) && (await up(`http://localhost:${args['engine-port']}/health`))) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('the gateway and the engine did not both come up within 15 s');
}

let stopping = false;
const load = new AbortController();
async function stop() {
  if (stopping) return;
  stopping = true;
  load.abort();
  const exited = new Promise((resolve) => gateway.once('exit', resolve));
  gateway.kill('SIGTERM');
  await exited;
  process.exit(0);
}
process.once('SIGINT', stop);
process.once('SIGTERM', stop);

try {
  await ready();
} catch (error) {
  log(error.message, 'ERROR');
  gateway.kill('SIGTERM');
  process.exit(1);
}
log(`ready
inferwatch demo
  gateway (OpenAI-compatible):  ${gatewayUrl}/v1   → ${engineName} on http://localhost:${args['engine-port']}
  live dashboard (no Docker):   ${gatewayUrl}/dashboard
  gateway metrics:              ${gatewayUrl}/metrics
  engine metrics:               http://localhost:${args['engine-port']}/metrics
  load:                         ${rate > 0 ? `${rate} requests/s (Poisson), synthetic ShareGPT-like prompts` : 'none (--rate 0): try curl or the openai client by hand'}
  dashboards:                   docker compose -f dashboards/docker-compose.yaml up, then http://localhost:3000
  the gateway's and the engine's vLLM-style lines follow every 10 s; Ctrl-C stops everything; --help lists the flags
`);
if (rate > 0) {
  await runBenchmark({ baseUrl: gatewayUrl, model, numPrompts: 10_000_000, requestRate: rate, seed: Date.now() % 1e9, signal: load.signal });
}
