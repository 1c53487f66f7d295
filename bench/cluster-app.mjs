// The scraped side of the cluster benchmark: `node bench/cluster-app.mjs <workers>`. With 0 workers, one
// process serves the 50-model data; with N, a node:cluster primary runs startMetrics() and forks N workers,
// each holding the same 50-model data and serving metricsHandler on one shared port, so any scrape answers
// for the group. Each serving process records, per scrape it answers, the longest event-loop block from the
// request to 20 ms after the response (bench/measured-server.mjs); on 'blocks' from
// the parent, every process's list since the last ask comes back (the primary gathers its workers').
import cluster from 'node:cluster';
import { startMetrics } from '@inferwatch/sdk';
import { freePort } from '../scripts/lib/processes.mjs';
import { measuredServer } from './measured-server.mjs';
import { fiftyModels } from './scrape-data.mjs';

const workers = Number(process.argv[2]);

if (cluster.isPrimary && workers > 0) {
  const port = await freePort();
  startMetrics({ meterProvider: 'private', otlp: false, prometheus: false, runtime: false });
  const pending = new Map();
  let ready = 0;
  for (let i = 0; i < workers; i++) {
    const worker = cluster.fork({ BENCH_PORT: String(port) });
    worker.on('message', (m) => {
      if (m?.bench === 'ready' && ++ready === workers) process.send({ port });
      if (m?.bench === 'blocks') pending.get(worker.id)?.(m.blocks);
    });
  }
  process.on('message', async (m) => {
    if (m !== 'blocks') return;
    const lists = await Promise.all(Object.values(cluster.workers ?? {}).map((w) => new Promise((resolve) => (pending.set(w.id, resolve), w.send('blocks')))));
    process.send({ blocks: lists.flat() });
  });
} else {
  const port = workers > 0 ? Number(process.env.BENCH_PORT) : await freePort();
  const telemetry = startMetrics({ llm: fiftyModels(), meterProvider: 'private', otlp: false, prometheus: {} });
  const { server, takeBlocks } = measuredServer(telemetry.metricsHandler);
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  const send = workers > 0 ? (m) => process.send({ bench: 'blocks', ...m }) : (m) => process.send(m);
  process.on('message', (m) => {
    if (m === 'blocks') send({ blocks: takeBlocks() });
  });
  process.send(workers > 0 ? { bench: 'ready' } : { port });
}
