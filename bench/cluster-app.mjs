// The scraped side of the cluster benchmark: `node bench/cluster-app.mjs <workers>`. With 0 workers, one
// process serves the 50-model data on a metrics port; with N, a node:cluster primary runs startMetrics()
// and forks N workers, each holding the same 50-model data and sharing the metrics port, so any scrape
// answers for the group. Every serving process watches its event loop (1 ms resolution); on 'blocks' from
// the parent, it reports the longest block since the last ask (the primary gathers its workers').
import cluster from 'node:cluster';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { startMetrics } from '@inferwatch/sdk';
import { freePort } from '../scripts/lib/processes.mjs';
import { fiftyModels } from './scrape-data.mjs';

const workers = Number(process.argv[2]);

function watchLoop() {
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  return () => {
    const max = delay.max / 1e6;
    delay.reset();
    return max;
  };
}

if (cluster.isPrimary && workers > 0) {
  const port = await freePort();
  startMetrics({ meterProvider: 'private', otlp: false, prometheus: false, runtime: false });
  const pending = new Map();
  let ready = 0;
  for (let i = 0; i < workers; i++) {
    const worker = cluster.fork({ BENCH_PORT: String(port) });
    worker.on('message', (m) => {
      if (m?.bench === 'ready' && ++ready === workers) process.send({ port });
      if (m?.bench === 'blocks') pending.get(worker.id)?.(m.max);
    });
  }
  process.on('message', async (m) => {
    if (m !== 'blocks') return;
    const maxes = await Promise.all(
      Object.values(cluster.workers).map((w) => new Promise((resolve) => (pending.set(w.id, resolve), w.send('blocks')))),
    );
    process.send({ max: Math.max(...maxes) });
  });
} else {
  const port = workers > 0 ? Number(process.env.BENCH_PORT) : await freePort();
  const telemetry = startMetrics({ llm: fiftyModels(), meterProvider: 'private', otlp: false, prometheus: { port, host: '127.0.0.1' } });
  await telemetry.ready;
  const loop = watchLoop();
  const send = workers > 0 ? (m) => process.send({ bench: 'blocks', ...m }) : (m) => process.send(m);
  process.on('message', (m) => {
    if (m === 'blocks') send({ max: loop() });
  });
  process.send(workers > 0 ? { bench: 'ready' } : { port });
}
