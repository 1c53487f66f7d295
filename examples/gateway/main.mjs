#!/usr/bin/env node
// The gateway's command line. Upstreams from --upstream (repeatable) or INFERWATCH_UPSTREAMS
// (comma-separated); per-model routes from --route MODEL=URL or INFERWATCH_ROUTES. With none, it
// starts an engine (--engine sim, the default, or llama) and fronts it. SIGTERM or Ctrl-C: stop accepting, drain, flush, exit 0.
// A start-up failure stops everything this command started and says why (which port, for a busy one).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { headerAttributes, parseAttributeFlag } from './attributes.mjs';
import { startGateway } from './gateway.mjs';
import { parseCommandLine } from '../command-line.mjs';

const USAGE = `Usage: inferwatch-gateway [options]

An OpenAI-compatible gateway that records every request with @inferwatch/sdk.
With no --upstream and no --route it starts an engine (--engine) and fronts it.

  --port N                 listen port (default 8000, or $PORT)
  --host ADDR              listen address (default 0.0.0.0, or $HOST; 127.0.0.1 for this machine only)
  --upstream URL           an upstream, repeatable (or INFERWATCH_UPSTREAMS, comma-separated);
                           user:password@ in a URL is sent as Basic auth and never printed
  --route MODEL=URL        send MODEL to URL, repeatable (or INFERWATCH_ROUTES)
  --api-key KEY            require Authorization: Bearer KEY on /v1/*, repeatable
                           (or INFERWATCH_API_KEYS, comma-separated)
  --metrics-token TOKEN    require Authorization: Bearer TOKEN on /metrics (or INFERWATCH_METRICS_TOKEN)
  --attribute NAME=header:HEADER[:max=N]
                           record the HEADER of each request as attribute NAME on its metrics and span,
                           repeatable; at most N distinct values (default 16), later ones become \`_OTHER\`;
                           a request without the header has no NAME; credential headers are refused
  --max-concurrency N      requests forwarded at once (default 64)
  --max-queue N            requests waiting for a slot; more get 429 (default 256)
  --timeout-ms N           a request's deadline from its arrival (default 300000)
  --body-timeout-ms N      time for a request body to arrive; later gets 408 (default 30000)
  --headers-timeout-ms N   time for request headers to arrive (default 20000)
  --max-body-bytes N       largest request body; more gets 413 (default 10485760)
  --bridge-interval-ms N   engine /metrics scrape interval, 0 for none (default 5000)
  --log-interval-ms N      summary log line interval, 0 for none (default 10000)
  --engine sim|llama       the engine it starts: the simulator, or node-llama-cpp on a tiny generated model (default sim)
  --engine-port N          port of the engine this command starts (default 8001)
  --engine-host ADDR       listen address of the engine this command starts. Default: the --host, so the
                           default 0.0.0.0 lets a Prometheus in a container scrape the engine too; but
                           127.0.0.1 when --api-key or --metrics-token is given, since the engine checks
                           neither and would let anyone who reaches it bypass them
  --metrics on|off         off: the same proxy with no instrumentation (default on)
  --gpu                    poll this host's GPUs too (off: GPUs are the host's, usually the engine reports them)
  --help                   this text
`;

const args = parseCommandLine('gateway', USAGE, {
  port: { type: 'string', default: process.env.PORT ?? '8000' },
  host: { type: 'string', default: process.env.HOST ?? '0.0.0.0' },
  upstream: { type: 'string', multiple: true, default: [] },
  route: { type: 'string', multiple: true, default: [] },
  'api-key': { type: 'string', multiple: true, default: [] },
  'metrics-token': { type: 'string', default: process.env.INFERWATCH_METRICS_TOKEN ?? '' },
  attribute: { type: 'string', multiple: true, default: [] },
  'max-concurrency': { type: 'string', default: '64' },
  'max-queue': { type: 'string', default: '256' },
  'timeout-ms': { type: 'string', default: '300000' },
  'body-timeout-ms': { type: 'string', default: '30000' },
  'headers-timeout-ms': { type: 'string', default: '20000' },
  'max-body-bytes': { type: 'string', default: String(10 * 1024 * 1024) },
  'bridge-interval-ms': { type: 'string', default: '5000' },
  'log-interval-ms': { type: 'string', default: '10000' },
  'engine-port': { type: 'string', default: '8001' },
  'engine-host': { type: 'string' },
  // The engine started when no upstream is given: sim (the simulator) or llama (node-llama-cpp, tiny model).
  engine: { type: 'string', default: 'sim' },
  // off: the same proxy with no instrumentation at all, the benchmark's baseline.
  metrics: { type: 'string', default: 'on' },
  // GPUs are the host's: poll them from the one process meant to report them (usually the engine).
  gpu: { type: 'boolean', default: false },
});

/** @param {string | undefined} value */
const split = (value) => (value ?? '').split(',').map((s) => s.trim()).filter(Boolean);
const apiKeys = [...args['api-key'], ...split(process.env.INFERWATCH_API_KEYS)];
let upstreams = [...args.upstream, ...split(process.env.INFERWATCH_UPSTREAMS)];
/** @type {Record<string, string[]>} */
const routes = {};
for (const route of [...args.route, ...split(process.env.INFERWATCH_ROUTES)]) {
  const [model, url] = route.split(/=(.*)/s);
  (routes[model] ??= []).push(url);
}

/**
 * @param {string} message
 * @returns {never}
 */
function fail(message) {
  console.error(`ERROR gateway] ${message}`);
  engine?.kill('SIGTERM');
  process.exit(1);
}

/**
 * Starts the engine; resolves once it listens, rejects with its reason when it exits first.
 * @param {string} host
 * @param {string} port
 */
function startEngine(host, port) {
  const server = fileURLToPath(new URL(args.engine === 'llama' ? '../llama-server/server.mjs' : '../engine-sim/server.mjs', import.meta.url));
  const child = spawn(process.execPath, [server, '--port', port, '--host', host, '--log-interval-ms', args['log-interval-ms']], { stdio: ['inherit', 'inherit', 'inherit', 'ipc'] });
  const ready = new Promise((resolve, reject) => {
    child.once('message', (message) => {
      child.disconnect();
      resolve(message);
    });
    child.once('exit', (code) => reject(new Error(`the ${args.engine} engine exited (${code}) before it listened on port ${port}`)));
    child.once('error', reject);
  });
  return { child, ready };
}

/**
 * Where this machine reaches a server listening on `host`: loopback for the wildcards, brackets for IPv6.
 * @param {string} host
 */
function reachableAt(host) {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/** @type {import('node:child_process').ChildProcess | undefined} */
let engine;
/** @type {import('./attributes.mjs').AttributeSpec[]} */
let attributes;
try {
  attributes = args.attribute.map(parseAttributeFlag);
  // Refused before any engine starts: a header that carries credentials, a name given twice.
  headerAttributes(attributes);
} catch (error) {
  fail(/** @type {Error} */ (error).message);
}
// Whatever ends this process ends the engine it started.
process.once('exit', () => engine?.kill('SIGTERM'));
if (upstreams.length === 0 && Object.keys(routes).length === 0) {
  // The engine answers anyone who reaches it: where the gateway guards its API or metrics, only this machine may.
  const guarded = apiKeys.length > 0 || Boolean(args['metrics-token']);
  const engineHost = args['engine-host'] ?? (guarded ? '127.0.0.1' : args.host);
  const started = startEngine(engineHost, args['engine-port']);
  engine = started.child;
  try {
    await started.ready;
  } catch (error) {
    fail(/** @type {Error} */ (error).message);
  }
  upstreams = [`http://${reachableAt(engineHost)}:${args['engine-port']}`];
}

/** @type {Awaited<ReturnType<typeof startGateway>>} */
let gateway;
try {
  gateway = await startGateway({
    upstreams,
    routes,
    port: Number(args.port),
    host: args.host,
    maxConcurrency: Number(args['max-concurrency']),
    maxQueue: Number(args['max-queue']),
    timeoutMs: Number(args['timeout-ms']),
    bodyTimeoutMs: Number(args['body-timeout-ms']),
    headersTimeoutMs: Number(args['headers-timeout-ms']),
    maxBodyBytes: Number(args['max-body-bytes']),
    apiKeys,
    metricsToken: args['metrics-token'] || undefined,
    bridgeIntervalMs: Number(args['bridge-interval-ms']),
    logIntervalMs: Number(args['log-interval-ms']),
    instrument: args.metrics !== 'off',
    gpu: args.gpu,
    attributes,
  });
} catch (error) {
  const { code, message } = /** @type {NodeJS.ErrnoException} */ (error);
  fail(code === 'EADDRINUSE' ? `port ${args.port} is already in use (--port)` : `could not start: ${message}`);
}
const shown = gateway.url.replace('0.0.0.0', 'localhost');
const upstreamList = gateway.upstreams.join(', ');
console.log(`INFO gateway] OpenAI-compatible gateway on ${shown} → ${upstreamList}; metrics on ${shown}/metrics`);

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
