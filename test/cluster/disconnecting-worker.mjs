// A node:cluster app whose one worker records a request, then closes its IPC channel and takes 4 s to exit:
// until the exit retires it, the primary still counts it a member, so a scrape on the primary's port asks a
// worker it cannot reach. `node disconnecting-worker.mjs --port <port>`; the primary prints `ready` once the
// channel is closed.
import cluster from 'node:cluster';
import { createLlmMetrics, startMetrics } from '@inferwatch/sdk';

if (cluster.isPrimary) {
  startMetrics({ serviceName: 'disconnecting', prometheus: { port: Number(process.argv[process.argv.indexOf('--port') + 1]), host: '127.0.0.1' }, otlp: false, runtime: false });
  const worker = cluster.fork();
  worker.on('disconnect', () => console.log('ready'));
  // The SDK's port keeps no process alive: this one lives until told to stop.
  const alive = setInterval(() => undefined, 60_000);
  process.once('SIGTERM', () => {
    clearInterval(alive);
    worker.process.kill('SIGKILL');
  });
} else {
  const llm = createLlmMetrics();
  const { ready } = startMetrics({ serviceName: 'disconnecting', llm, prometheus: false, otlp: false, runtime: false });
  await ready;
  llm.startRequest({ model: 'm', operation: 'chat' }).end({ finishReason: 'stop' });
  // A cluster worker exits once its channel closes; this hold keeps it between the two, as a killed process is
  // until the system reaps it.
  process.on('exit', () => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 4000));
  // The primary holds the request once the worker's state has reached it (pushed at once after joining).
  setTimeout(() => process.disconnect(), 1500);
}
