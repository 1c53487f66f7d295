import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: plain JavaScript
import { DASHBOARDS } from '../../dashboards/generate.mjs';
// @ts-expect-error: plain JavaScript
import { allPanels, resolveVariables, startLab } from '../../dashboards/lab.mjs';
import { systemBinary } from '../helpers/binaries.js';
import { sleep } from '../helpers/wait.js';

interface Lab {
  query: (expr: string, time?: number) => Promise<{ value: [number, string] }[]>;
  queryRange: (expr: string, start: number, end: number, step: number) => Promise<{ values: [number, string][] }[]>;
  load: (rate: number, seconds: number) => Promise<void>;
  abort: (rate: number, count: number, afterMs: number) => Promise<number>;
  hold: (count: number, maxTokens: number) => () => void;
  stop: () => Promise<void>;
}

const prometheus = systemBinary('prometheus', 'the dashboards on real llama.cpp inference');
const panels: { title: string; expr: string }[] = Object.values(DASHBOARDS as Record<string, unknown>).flatMap((d) =>
  (allPanels(d) as { title: string; targets?: { expr: string }[] }[]).flatMap((p) => (p.targets ?? []).map((t) => ({ title: p.title, expr: t.expr }))),
);
// What a llama.cpp engine on the CPU cannot move: it never swaps a sequence out, keeps no KV cache on a
// CPU swap tier, and holds no GPU memory. Nor does a run without failed requests burn availability budget.
const STILL = /swapped|kv_cache_cpu|gpu_process_memory|ratio_rate1h\{[^}]*slo="availability"\}/;

describe.skipIf(prometheus === undefined)('the dashboards, unchanged, on the node-llama-cpp engine behind two gateways', () => {
  let lab: Lab;
  let start: number;
  let at: number;
  beforeAll(async () => {
    lab = await startLab({ prometheusBinary: prometheus, engine: 'llama' });
    start = Date.now() / 1000;
    await lab.load(1.5, 6);
    // More long requests than the engine's one sequence, held across a few scrapes: requests surely wait.
    const release = lab.hold(4, 1500);
    await sleep(3000);
    release();
    // Some clients leave mid-stream, so the failures-and-aborts panel has something to show: in two
    // batches a few scrapes apart, since rate() sees no increase in a series' first sample.
    expect(await lab.abort(2, 3, 100)).toBeGreaterThan(0);
    await sleep(2500);
    expect(await lab.abort(2, 3, 100)).toBeGreaterThan(0);
    await sleep(2500);
    at = Date.now() / 1000;
  }, 120_000);
  afterAll(async () => lab?.stop());

  it.each(['inferwatch-gateway', 'inferwatch-engine'])('every panel of job %s has series, and every one that can moves', async (job) => {
    const still: string[] = [];
    for (const { title, expr } of panels) {
      const values = (await lab.query(resolveVariables(expr, { job, rateInterval: '30s' }), at)).map((s) => Number(s.value[1])).filter(Number.isFinite);
      expect(values.length, `${title}: ${expr}`).toBeGreaterThan(0);
      // Moving: off zero at some moment of the run, as a dashboard over that range would show (an error
      // budget a slow CPU engine overspends stays below it).
      const series = await lab.queryRange(resolveVariables(expr, { job, rateInterval: '30s' }), start, at, 1);
      if (!series.some((s) => s.values.some(([, v]) => Number(v) !== 0))) still.push(expr);
    }
    expect(still.filter((expr) => !STILL.test(expr))).toEqual([]);
  });
});
