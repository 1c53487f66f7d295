// A node:cluster group's scrape against one process's: the same 50-model data in one process, and in
// each of 4 workers whose primary runs startMetrics() (so every scrape answers for the group, gathered
// over IPC and summed in the primary). Scrapes as Prometheus with native histograms asks (protobuf);
// the time to the last byte (median) and the longest event-loop block of any serving process over the
// scrapes: the median over scrapes of the answering process's longest block.
import { fileURLToPath } from 'node:url';
import { round } from './measure.mjs';
import { PROTOBUF, series, withServer } from './scrape.mjs';

const APP = fileURLToPath(new URL('./cluster-app.mjs', import.meta.url));
const WORKERS = 4;

/** The app with `workers` workers (0: one process), scraped as Prometheus asks, gzipped then plain. */
const measure = (workers) =>
  withServer(
    [String(workers)],
    async (server) => ({ gzip: await series(server, { ...PROTOBUF, 'accept-encoding': 'gzip' }), plain: await series(server, PROTOBUF) }),
    APP,
  );

export async function clusterBench() {
  // Prometheus asks for gzip: the primary then compresses the group's exposition before it crosses the IPC channel.
  const single = await measure(0);
  const group = await measure(WORKERS);
  return {
    cluster_scrape_ms_single: round(single.gzip.ms, 2),
    cluster_scrape_ms_4_workers: round(group.gzip.ms, 2),
    cluster_added_scrape_ms_4_workers: round(group.gzip.ms - single.gzip.ms, 2),
    cluster_added_scrape_ms_4_workers_plain: round(group.plain.ms - single.plain.ms, 2),
    cluster_eventloop_block_ms_single: round(single.gzip.block, 2),
    cluster_eventloop_block_ms_4_workers: round(group.gzip.block, 2),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) console.log(await clusterBench());
