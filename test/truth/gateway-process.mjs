// The example gateway in a process of its own, for tests that time it from outside. With --busy-ms,
// this wrapper (not the gateway) holds the process's event loop for that long every --busy-every-ms,
// as a CPU-heavy neighbour in the same process would. It holds the loop with Atomics.wait, a synchronous
// sleep: the loop is blocked all the same, but no core is taken from the test's other processes.
import { parseArgs } from 'node:util';
import { startGateway } from '../../examples/gateway/gateway.mjs';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    upstream: { type: 'string' },
    'busy-ms': { type: 'string', default: '0' },
    'busy-every-ms': { type: 'string', default: '1000' },
  },
});
const gateway = await startGateway({ upstreams: [args.upstream], port: Number(args.port), logIntervalMs: 0, bridgeIntervalMs: 0 });
const busyMs = Number(args['busy-ms']);
if (busyMs > 0) {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  setInterval(() => Atomics.wait(cell, 0, 0, busyMs), Number(args['busy-every-ms'])).unref();
}
console.log(`test gateway on ${gateway.url}`);
process.once('SIGTERM', async () => {
  await gateway.close(1000);
  process.exit(0);
});
