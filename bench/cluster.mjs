// A node:cluster group's scrape against one process's: the same 50-model data in one process, and in
// each of 4 workers whose primary runs startMetrics() (so every scrape answers for the group, gathered
// over IPC and summed in the primary). Scrapes as Prometheus with native histograms asks (protobuf);
// the time to the last byte (median) and the longest event-loop block of any serving process over the
// scrapes: the median over scrapes of the answering process's longest block.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SCRAPES, WARM_UP } from './constants.mjs';
import { median, round } from './measure.mjs';
import { PROTOBUF, scrape } from './scrape.mjs';

const APP = fileURLToPath(new URL('./cluster-app.mjs', import.meta.url));
const WORKERS = 4;

/** `scrapes` scrapes with `headers`, the first WARM_UP dropped: the median time and the median of the answering processes' blocks. */
async function measure(workers, headers) {
  const child = fork(APP, [String(workers)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    const { port } = await new Promise((resolve, reject) => {
      child.once('message', resolve);
      child.once('exit', (code) => reject(new Error(`cluster-app ${workers} exited (${code})`)));
    });
    const blocks = () => new Promise((resolve) => (child.once('message', (m) => resolve(m.blocks)), child.send('blocks')));
    const url = `http://127.0.0.1:${port}/metrics`;
    const times = [];
    for (let i = 0; i < SCRAPES; i++) {
      if (i === WARM_UP) await blocks();
      const { ms, type } = await scrape(url, headers);
      if (!type?.startsWith('application/vnd.google.protobuf')) throw new Error(`asked for protobuf, got ${type}`);
      if (i >= WARM_UP) times.push(ms);
      await new Promise((resolve) => setTimeout(resolve, 30)); // let the answering process record this scrape's block
    }
    return { ms: median(times), block: median(await blocks()) };
  } finally {
    child.kill('SIGKILL');
  }
}

export async function clusterBench() {
  // Prometheus asks for gzip: the primary then compresses the group's exposition before it crosses the IPC channel.
  const gzip = { ...PROTOBUF, 'accept-encoding': 'gzip' };
  const [single, group] = [await measure(0, gzip), await measure(WORKERS, gzip)];
  const [singlePlain, groupPlain] = [await measure(0, PROTOBUF), await measure(WORKERS, PROTOBUF)];
  return {
    cluster_scrape_ms_single: round(single.ms, 2),
    cluster_scrape_ms_4_workers: round(group.ms, 2),
    cluster_added_scrape_ms_4_workers: round(group.ms - single.ms, 2),
    cluster_added_scrape_ms_4_workers_plain: round(groupPlain.ms - singlePlain.ms, 2),
    cluster_eventloop_block_ms_single: round(single.block, 2),
    cluster_eventloop_block_ms_4_workers: round(group.block, 2),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) console.log(await clusterBench());
