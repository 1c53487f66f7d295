// `pnpm bench`: every benchmark in one run; figures to docs/benchmarks.json and a table to docs/benchmarks.md.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { clusterBench } from './cluster.mjs';
import { lifecycleBench } from './lifecycle.mjs';
import { round } from './measure.mjs';
import { render } from './report.mjs';
import { gatewayBench } from './gateway.mjs';
import { gpuBench } from './gpu.mjs';
import { llamaBench } from './llama.mjs';
import { scrapeBench } from './scrape.mjs';
import { sseBench } from './sse.mjs';
import { traceBench } from './trace.mjs';

const here = (path) => fileURLToPath(new URL(path, import.meta.url));

function heapBench() {
  const out = execFileSync(process.execPath, ['--expose-gc', here('./heap.mjs')], { encoding: 'utf8' });
  const { heap_after_10k_bytes, heap_after_1m_bytes } = JSON.parse(out);
  return { heap_ratio_1m_vs_10k: round(heap_after_1m_bytes / heap_after_10k_bytes, 3), heap_after_10k_bytes, heap_after_1m_bytes };
}

const load = os.loadavg()[0];
const results = {};
Object.assign(results, await lifecycleBench());
Object.assign(results, await scrapeBench());
Object.assign(results, await clusterBench());
Object.assign(results, await sseBench());
Object.assign(results, await traceBench());
Object.assign(results, heapBench());
Object.assign(results, await gpuBench());
Object.assign(results, await gatewayBench());
Object.assign(results, await llamaBench());
results.load_average_at_start = round(load, 2);

results.machine = `${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} cores, Node ${process.version}`;
results.date = new Date().toISOString().slice(0, 10);
const md = render(results);
writeFileSync(here('../docs/benchmarks.json'), `${JSON.stringify(results, null, 2)}\n`);
writeFileSync(here('../docs/benchmarks.md'), md);
console.log(md);
