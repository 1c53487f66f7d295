// The gateway in a process of its own, for the soak: it counts the completions that reach its
// server (the ground truth the test checks the metrics against) and, asked over IPC, reports its
// heap after a full garbage collection. Run with --expose-gc.
import { startGateway } from '../../examples/gateway/gateway.mjs';

const [upstream] = process.argv.slice(2);
const gateway = await startGateway({ upstreams: [upstream], port: 0, host: '127.0.0.1', logIntervalMs: 0, bridgeIntervalMs: 0, gpu: false, maxConcurrency: 1024, maxQueue: 1024 });
let arrived = 0;
gateway.server.on('request', (req) => {
  if (req.method === 'POST' && req.url?.includes('completions')) arrived++;
});
process.on('message', async (message) => {
  if (message === 'heap') {
    globalThis.gc();
    globalThis.gc();
    process.send({ heapUsed: process.memoryUsage().heapUsed, arrived });
  } else if (message === 'stop') {
    await gateway.close(1000);
    process.exit(0);
  }
});
process.send({ url: gateway.url });
