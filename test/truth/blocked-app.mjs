// An app whose event loop is blocked on purpose, for tests that read its runtime metrics from outside: every
// --every-ms it holds its loop for --block-ms with Atomics.wait (a synchronous sleep: the loop is blocked,
// but no core is taken from the test's other processes), --blocks times, and prints each block's start and
// end (epoch ms, measured) as a JSON line. Serves /metrics and /dashboard on --port.
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { createLlmMetrics, startMetrics } from '@inferwatch/sdk';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    'block-ms': { type: 'string', default: '200' },
    'every-ms': { type: 'string', default: '2000' },
    blocks: { type: 'string', default: '5' },
  },
});
const telemetry = startMetrics({ llm: createLlmMetrics(), meterProvider: 'private' });
const server = createServer((req, res) => (req.url?.startsWith('/dashboard') ? telemetry.dashboardHandler(req, res) : telemetry.metricsHandler(req, res)));
server.listen(Number(args.port), '127.0.0.1', () => console.log(`blocked app on ${server.address().port}`));
const cell = new Int32Array(new SharedArrayBuffer(4));
let left = Number(args.blocks);
const timer = setInterval(() => {
  const start = Date.now();
  Atomics.wait(cell, 0, 0, Number(args['block-ms']));
  console.log(JSON.stringify({ start, end: Date.now() }));
  if (--left === 0) clearInterval(timer);
}, Number(args['every-ms']));
process.once('SIGTERM', async () => {
  server.close();
  await telemetry.shutdown();
  process.exit(0);
});
