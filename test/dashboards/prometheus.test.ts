import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: plain JavaScript
import { DASHBOARDS } from '../../dashboards/generate.mjs';
// @ts-expect-error: plain JavaScript
import { allPanels, resolveVariables, startLab } from '../../dashboards/lab.mjs';
import type { BenchmarkResult } from '../../packages/loadgen/src/run.js';
import { quantile } from '../../packages/loadgen/src/compare.js';
import { percentile } from '../../packages/loadgen/src/stats.js';
import { systemBinary } from '../helpers/binaries.js';
import { sample } from '../helpers/processes.js';

interface Target {
  expr: string;
}
interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}
interface Lab {
  engine: string;
  gateways: string[];
  query: (expr: string, time?: number) => Promise<Sample[]>;
  load: (rate: number, seconds: number) => Promise<BenchmarkResult[]>;
  abort: (rate: number, count: number, afterMs: number) => Promise<number>;
  hold: (count: number, maxTokens: number) => () => void;
  stop: () => Promise<void>;
}
/** What the engine said about itself on its own /metrics, and when. */
interface EngineReading {
  at: number;
  running: number;
  waiting: number;
  swapped: number;
  kv: number;
}

const prometheus = systemBinary('prometheus', 'every dashboard query against a real Prometheus');
const JOBS = ['inferwatch-gateway', 'inferwatch-engine'];
const GATEWAY = 'inferwatch-gateway';
const panelTargets: { dashboard: string; title: string; expr: string; legend: string }[] = Object.entries(DASHBOARDS as Record<string, unknown>).flatMap(([file, d]) =>
  (allPanels(d) as { title: string; targets?: (Target & { legendFormat: string })[] }[]).flatMap((p) =>
    (p.targets ?? []).map((t) => ({ dashboard: file, title: p.title, expr: t.expr, legend: t.legendFormat })),
  ),
);
const targets = JOBS.flatMap((job) => panelTargets.map((t) => ({ ...t, job })));
const engineTargets = JOBS.flatMap((job) => panelTargets.filter((t) => /inferwatch_(scheduler|kv_cache_gpu)_/.test(t.expr)).map((t) => ({ ...t, job })));
const tokenTargets = panelTargets.filter((t) => t.expr.includes('inferwatch_tokens_total'));
const SCRAPE_S = 1;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const now = () => Date.now() / 1000;

describe.skipIf(prometheus === undefined)('every dashboard query against a real Prometheus scraping two gateway replicas and one engine', () => {
  let lab: Lab;
  let exposition = '';
  let gatewayExposition = '';
  // Phase A: plain load, for throughput. Phase B: load with half the requests cancelled by their clients.
  // Phase C: long requests held open, so the engine's running and waiting counts stand still.
  const phase = { a: { start: 0, end: 0, results: [] as BenchmarkResult[] }, b: { start: 0, end: 0, results: [] as BenchmarkResult[], cancelled: 0 }, c: { at: 0 } };
  let evaluatedAt: number;
  const readings: EngineReading[] = [];

  beforeAll(async () => {
    lab = await startLab({ prometheusBinary: prometheus, scrapeIntervalS: SCRAPE_S });
    await lab.load(1, 1); // every counter series exists before phase A, so rate() sees all of A
    await sleep(3000);

    phase.a.start = now();
    phase.a.results = await lab.load(3, 10);
    phase.a.end = now();
    await sleep(3000);

    phase.b.start = now();
    [phase.b.results, phase.b.cancelled] = await Promise.all([lab.load(2, 10), lab.abort(2, 20, 250)]);
    phase.b.end = now();
    await sleep(2000);
    evaluatedAt = now();
    for (const target of [...lab.gateways, lab.engine]) {
      const text = await (await fetch(`http://${target}/metrics`)).text();
      exposition += text;
      if (target !== lab.engine) gatewayExposition += text;
    }

    const release = lab.hold(28, 500);
    try {
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline) {
        const text = await (await fetch(`http://${lab.engine}/metrics`)).text();
        const reading = {
          at: now(),
          running: sample(text, 'inferwatch_scheduler_running')!,
          waiting: sample(text, 'inferwatch_scheduler_waiting')!,
          swapped: sample(text, 'inferwatch_scheduler_swapped')!,
          kv: sample(text, 'inferwatch_kv_cache_gpu_usage')!,
        };
        readings.push(reading);
        const steadySince = readings.findLastIndex((r) => r.running !== 24 || r.waiting !== 4) + 1;
        if (steadySince < readings.length && reading.at - readings[steadySince].at >= 3 * SCRAPE_S + 1) break;
        await sleep(200);
      }
      phase.c.at = now();
    } finally {
      release();
    }
  }, 180_000);
  afterAll(async () => lab?.stop());

  /** The largest finite bucket bound of a histogram in the exposition, for quantile checks. */
  const largestBucket = (metric: string) =>
    Math.max(...[...exposition.matchAll(new RegExp(`^${metric}_bucket\\{.*le="([^"+]+)"\\}`, 'gm'))].map((m) => Number(m[1])));

  it.each(targets)('$job › $dashboard › $title › $expr', async ({ expr, job }) => {
    const result = await lab.query(resolveVariables(expr, { job }), evaluatedAt);
    const values = result.map((s) => Number(s.value[1])).filter(Number.isFinite);
    expect(values.length, 'no series with a finite value').toBeGreaterThan(0);
    const quantileOf = /histogram_quantile\([\d.]+, sum by \(le\) \(rate\((\w+)_bucket/.exec(expr)?.[1];
    const ratio = /kv_cache|hw_gpu_utilization|hw_gpu_memory_usage|eventloop_utilization|^max by \(gen_ai_request_model\) \(1 - job_model:inferwatch_slo_errors:ratio_rate\w+\{[^}]*\}\)$/.test(expr);
    // An error budget spent beyond its end is left negative.
    const budget = expr.includes('(1 - job_model:inferwatch_slo_errors:') && expr.includes('} / ');
    for (const v of values) {
      if (!budget) expect(v).toBeGreaterThanOrEqual(0);
      if (ratio) expect(v).toBeLessThanOrEqual(1);
      if (quantileOf) expect(v).toBeLessThanOrEqual(largestBucket(quantileOf));
    }
  });

  it('references only metrics the gateway and the engine expose', () => {
    const names = new Set(panelTargets.flatMap((t) => [...t.expr.matchAll(/\b((?:gen_ai|inferwatch|hw|nodejs)_[a-z_0-9]+)\{/g)].map((m) => m[1])));
    expect(names.size).toBeGreaterThan(10);
    for (const name of names) expect(exposition, name).toMatch(new RegExp(`^${name}[{ ]`, 'm'));
  });

  it.each(engineTargets)('$job › $dashboard › $title › $legend: the engine’s own number, not one per replica', async ({ expr, job, legend }) => {
    const [s] = await lab.query(resolveVariables(expr, { job }), phase.c.at);
    const value = Number(s.value[1]);
    const field = expr.includes('kv_cache') ? 'kv' : (legend as 'running' | 'waiting' | 'swapped');
    // What the engine said in the last few scrape intervals: the bridge and Prometheus each lag by one.
    const recent = readings.filter((r) => r.at >= phase.c.at - (3 * SCRAPE_S + 1)).map((r) => r[field]);
    expect(recent.length).toBeGreaterThan(3);
    if (field === 'running') expect(value).toBe(24);
    if (field === 'waiting') expect(value).toBe(4);
    expect(value).toBeGreaterThanOrEqual(Math.min(...recent) - 1e-9);
    expect(value).toBeLessThanOrEqual(Math.max(...recent) + 1e-9);
  });

  it.each(tokenTargets)('$dashboard › $title › $legend: the sum of the replicas’ own traffic, as their clients counted it', async ({ expr }) => {
    // The window covers phase A and no other traffic; Grafana's window is a parameter, not the panel's number.
    const at = phase.a.end + 2 * SCRAPE_S;
    const window = Math.floor(at - (phase.a.start - 1.5 * SCRAPE_S));
    const [s] = await lab.query(resolveVariables(expr.replace('[1m]', '[$__rate_interval]'), { job: GATEWAY, rateInterval: `${window}s` }), at);
    const input = expr.includes('"input"');
    const clientTokens = phase.a.results.reduce((n, r) => n + (input ? r.totalInputTokens : r.totalOutputTokens), 0);
    expect(clientTokens).toBeGreaterThan(1000);
    const ratio = (Number(s.value[1]) * window) / clientTokens;
    // rate() extrapolates the samples it has to the window's edges: at most a scrape interval at each.
    expect(ratio).toBeGreaterThanOrEqual(0.98);
    expect(ratio).toBeLessThanOrEqual(window / (window - 2 * SCRAPE_S) + 0.02);
  });

  describe('a run where half the requests are cancelled by their clients', () => {
    const window = () => `${Math.ceil(phase.b.end + SCRAPE_S - (phase.b.start - SCRAPE_S))}s`;
    const at = () => phase.b.end + SCRAPE_S;

    // The gateway is what the clients talked to; the engine behind it sees each request a little shorter.
    it('E2E request latency p50 is the median of the requests clients saw complete', async () => {
      const panel = panelTargets.find((t) => t.title === 'E2E request latency' && t.legend === 'p50')!;
      const [s] = await lab.query(resolveVariables(panel.expr, { job: GATEWAY, rateInterval: window() }), at());
      const completed = phase.b.results.flatMap((r) => r.requests.filter((q) => q.ok).map((q) => q.e2e));
      expect(completed.length).toBe(40);
      expect(phase.b.cancelled).toBe(40);
      const panelMedian = Number(s.value[1]);
      // The clients' own times counted in the gateway's buckets and read as histogram_quantile reads them:
      // what the panel shows if the gateway measured what the clients saw. Against the clients' exact
      // median the panel can only be as close as a bucket is wide (the gateway's are 1.2× apart).
      const metric = /rate\((\w+)_bucket/.exec(panel.expr)![1];
      const bounds = [...new Set([...gatewayExposition.matchAll(new RegExp(`^${metric}_bucket\\{.*le="([^"]+)"\\}`, 'gm'))].map((m) => (m[1] === '+Inf' ? Infinity : Number(m[1]))))];
      expect(bounds.length).toBeGreaterThan(10);
      const seconds = completed.map((ms) => ms / 1000);
      const clientHistogram = { buckets: new Map(bounds.map((b) => [b, seconds.filter((v) => v <= b).length])), sum: 0, count: seconds.length };
      expect(Math.abs(panelMedian / quantile(clientHistogram, 0.5) - 1)).toBeLessThanOrEqual(0.1);
      expect(Math.abs(panelMedian / (percentile(completed, 50) / 1000) - 1)).toBeLessThanOrEqual(0.2);
    });

    it.each(JOBS)('%s › Failed and aborted requests by error.type counts the cancellations', async (job) => {
      const panel = panelTargets.find((t) => t.title === 'Failed and aborted requests by error.type')!;
      const result = await lab.query(resolveVariables(panel.expr, { job, rateInterval: window() }), at());
      expect(result.map((s) => s.metric.error_type)).toEqual(['cancelled']);
      const counted = Number(result[0].value[1]) * Number.parseInt(window(), 10);
      expect(counted / phase.b.cancelled).toBeGreaterThanOrEqual(0.9);
      expect(counted / phase.b.cancelled).toBeLessThanOrEqual(1.2);
    });
  });

  it.each(JOBS)('%s › the SLO panels: availability counts no cancellation as a failure, TTFT as the clients saw it', async (job) => {
    const slo = (title: string) => panelTargets.filter((t) => t.title.startsWith(title));
    const read = async (title: string) => {
      const values = [];
      for (const t of slo(title)) values.push(...(await lab.query(resolveVariables(t.expr, { job }), evaluatedAt)).map((s) => Number(s.value[1])));
      return values;
    };
    const results = [...phase.a.results, ...phase.b.results];
    const completed = results.flatMap((r) => r.requests.filter((q) => q.ok));
    expect(completed.length).toBe(results.reduce((n, r) => n + r.requests.length, 0));
    expect(phase.b.cancelled).toBe(40);
    // Every request either succeeded or was cancelled by its client: nothing the server failed.
    expect(await read('Availability:')).toEqual([1]);
    // A server's first token is never later than its client's: when every client had one within the
    // threshold, so did every request the server timed (the cancelled ones left within 250 ms).
    if (completed.every((q) => q.ttft <= 1000)) {
      expect(await read('TTFT:')).toEqual([1]);
      expect(await read('Error budget left')).toEqual([1, 1]);
    }
  });

  it('draws each GPU once, though both replicas and the engine poll it', async () => {
    const panels = panelTargets.filter((t) => t.title === 'GPU utilization');
    for (const job of JOBS) {
      for (const panel of panels) {
        const result = await lab.query(resolveVariables(panel.expr, { job }), evaluatedAt);
        // test/fixtures/nvidia-smi/2gpu-busy-driver384.xml: two GPUs, at 100 % and 98 %.
        expect(result.map((s) => [s.metric.hw_id, Number(s.value[1])]).sort()).toEqual([
          ['GPU-28daffaf-8abe-aaf8-c298-4bd13aecb5e6', 0.98],
          ['GPU-e511a7b2-f9d5-ba47-9b98-853732ca6c1b', 1],
        ]);
      }
    }
    const reporters = await lab.query('count by (hw_id) (hw_gpu_utilization{job="inferwatch-gateway"})', evaluatedAt);
    expect(reporters.map((s) => Number(s.value[1]))).toEqual([2, 2]);
  });
});
