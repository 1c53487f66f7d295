// node:cluster: a worker per core serves the app on PORT, and any of them answers /metrics for the whole
// group. startMetrics() in the primary gathers the workers' recorders; in each worker, instrument as usual.
import cluster from 'node:cluster';
import { createServer } from 'node:http';
import { availableParallelism } from 'node:os';
import { createLlmMetrics, startMetrics } from '@inferwatch/sdk';
import { instrumentNodeHttp } from '@inferwatch/http';
import { port, streamCompletion } from './fake-llm.mjs';

if (cluster.isPrimary) {
  // Holds the group's counts: a worker that dies and is forked again takes none of them with it.
  const telemetry = startMetrics({ serviceName: 'cluster-example' });
  let stopping = false;
  const workers = Number(process.env.WORKERS ?? availableParallelism());
  for (let i = 0; i < workers; i++) cluster.fork();
  cluster.on('exit', () => stopping || cluster.fork());
  console.log(`primary ${process.pid}: ${workers} workers on http://127.0.0.1:${port}`);
  process.once('SIGTERM', async () => {
    stopping = true;
    for (const worker of Object.values(cluster.workers ?? {})) worker?.kill();
    await telemetry.shutdown();
    process.exit(0);
  });
} else {
  const llm = createLlmMetrics();
  const { metricsHandler } = startMetrics({ serviceName: 'cluster-example', llm });

  /**
   * @param {import('node:http').IncomingMessage} req
   * @param {import('node:http').ServerResponse} res
   */
  async function handler(req, res) {
    if (req.url === '/metrics') return metricsHandler(req, res);
    await streamCompletion(req, res);
  }

  createServer(instrumentNodeHttp(llm, handler)).listen(port, () => console.log(`worker ${process.pid} listening on http://127.0.0.1:${port}`));
}
