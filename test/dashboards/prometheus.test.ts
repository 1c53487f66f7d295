import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: plain JavaScript
import { DASHBOARDS } from '../../dashboards/generate.mjs';
// @ts-expect-error: plain JavaScript
import { allPanels, resolveVariables, startLab } from '../../dashboards/lab.mjs';
import type { BenchmarkResult } from '../../packages/loadgen/src/run.js';
import { quantile } from '../../packages/loadgen/src/compare.js';
import { systemBinary } from '../helpers/binaries.js';
import { parseSamples, sumOf } from '../helpers/exposition.js';
import { sample } from '../helpers/processes.js';
import { sleep, waitUntil } from '../helpers/wait.js';

interface Target {
  expr: string;
}
interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}
type Query = (expr: string, time?: number) => Promise<Sample[]>;
interface Lab {
  engine: string;
  gateways: string[];
  query: Query;
  classicQuery: Query;
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
// Every query runs against both Prometheus servers: the one with native histograms on and the one without.
const MODES = ['native', 'classic'] as const;
type Mode = (typeof MODES)[number];
const targets = MODES.flatMap((mode) => JOBS.flatMap((job) => panelTargets.map((t) => ({ ...t, job, mode }))));
/** A histogram panel's native query: all of it but its last `or` term, the classic fallback. */
const nativePart = (expr: string) => (/_(bucket|count)\{/.test(expr) ? expr.slice(0, expr.lastIndexOf(' or ')) : undefined);
const engineTargets = JOBS.flatMap((job) => panelTargets.filter((t) => /inferwatch_(scheduler|kv_cache_gpu)_/.test(t.expr)).map((t) => ({ ...t, job })));
const tokenTargets = panelTargets.filter((t) => t.expr.includes('inferwatch_tokens_total'));
const SCRAPE_S = 1;
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
  const dense: { engine: { running: number; kv: number }; replicas: { running: number; kv: number }[] }[] = [];

  beforeAll(async () => {
    lab = await startLab({ prometheusBinary: prometheus, scrapeIntervalS: SCRAPE_S });
    await lab.load(1, 1); // every counter series exists before phase A, so rate() sees all of A
    await sleep(3000);

    const stopPolling = pollEngineState();
    phase.a.start = now();
    phase.a.results = await lab.load(3, 10);
    phase.a.end = now();
    await sleep(3000);

    phase.b.start = now();
    [phase.b.results, phase.b.cancelled] = await Promise.all([lab.load(2, 10), lab.abort(2, 20, 250)]);
    phase.b.end = now();
    await sleep(2000);
    await stopPolling();
    evaluatedAt = now();
    for (const target of [...lab.gateways, lab.engine]) {
      const text = await (await fetch(`http://${target}/metrics`)).text();
      exposition += text;
      if (target !== lab.engine) gatewayExposition += text;
    }

    const release = lab.hold(28, 500);
    try {
      await waitUntil(async () => {
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
        return steadySince < readings.length && reading.at - readings[steadySince].at >= 3 * SCRAPE_S + 1;
      }, { what: () => `24 running and 4 waiting for ${3 * SCRAPE_S + 1} s (last: ${JSON.stringify(readings.at(-1))})`, timeoutMs: 20_000, intervalMs: 200 });
      phase.c.at = now();
    } finally {
      release();
    }

  }, 180_000);
  afterAll(async () => lab?.stop());

  /**
   * Through phases A and B, every 100 ms: the engine's own running count and KV usage, and what each gateway
   * replica's bridge holds of them (its series labelled `upstream`). Dense enough that a time average is the
   * state's, not a handful of samples'.
   */
  function pollEngineState(): () => Promise<void> {
    let on = true;
    const read = async (target: string) => parseSamples(await (await fetch(`http://${target}/metrics`)).text());
    const loop = (async () => {
      while (on) {
        const [engine, ...replicas] = await Promise.all([lab.engine, ...lab.gateways].map(read));
        const bridged = (samples: ReturnType<typeof parseSamples>, name: string) => sumOf(samples, name, (l) => l.upstream !== undefined);
        dense.push({
          engine: { running: sumOf(engine, 'inferwatch_scheduler_running'), kv: sumOf(engine, 'inferwatch_kv_cache_gpu_usage') },
          replicas: replicas.map((r) => ({ running: bridged(r, 'inferwatch_scheduler_running'), kv: bridged(r, 'inferwatch_kv_cache_gpu_usage') })),
        });
        await sleep(100);
      }
    })();
    return async () => {
      on = false;
      await loop;
    };
  }

  /** The largest finite bucket bound of a histogram in the exposition, for quantile checks. */
  const largestBucket = (metric: string) =>
    Math.max(...[...exposition.matchAll(new RegExp(`^${metric}_bucket\\{.*le="([^"+]+)"\\}`, 'gm'))].map((m) => Number(m[1])));

  const queryIn = (mode: Mode): Query => (mode === 'native' ? lab.query : lab.classicQuery);

  it.each(targets)('$mode › $job › $dashboard › $title › $expr', async ({ expr, job, mode }) => {
    const result = await queryIn(mode)(resolveVariables(expr, { job }), evaluatedAt);
    const values = result.map((s) => Number(s.value[1])).filter(Number.isFinite);
    expect(values.length, 'no series with a finite value').toBeGreaterThan(0);
    const quantileOf = /histogram_quantile\([\d.]+, sum by \(le\) \(rate\((\w+)_bucket/.exec(expr)?.[1];
    const ratio = /kv_cache|hw_gpu_utilization|hw_gpu_memory_usage|eventloop_utilization|^max by \(gen_ai_request_model\) \(1 - job_model:inferwatch_slo_errors:ratio_rate\w+\{[^}]*\}\)$/.test(expr);
    // An error budget spent beyond its end is left negative.
    const budget = expr.includes('(1 - job_model:inferwatch_slo_errors:') && expr.includes('} / ');
    for (const v of values) {
      if (!budget) expect(v).toBeGreaterThanOrEqual(0);
      if (ratio) expect(v).toBeLessThanOrEqual(1);
      // Classic buckets end at a last finite bound, which histogram_quantile never passes; native ones have none.
      if (quantileOf && mode === 'classic') expect(v).toBeLessThanOrEqual(largestBucket(quantileOf));
    }
    // The native query answers where Prometheus keeps native histograms, and only there: the fallback is a fallback.
    const native = nativePart(expr);
    if (native !== undefined) expect((await queryIn(mode)(resolveVariables(native, { job }), evaluatedAt)).length > 0, `native query in ${mode}`).toBe(mode === 'native');
  });

  it('references only metrics the gateway and the engine expose', () => {
    const names = new Set(panelTargets.flatMap((t) => [...t.expr.matchAll(/\b((?:gen_ai|inferwatch|hw|nodejs)_[a-z_0-9]+)\{/g)].map((m) => m[1])));
    expect(names.size).toBeGreaterThan(10);
    // A native histogram's bare name stands for the histogram, which a text scrape shows as its _count, _sum and _bucket.
    for (const name of names) expect(exposition, name).toMatch(new RegExp(`^${name}(_count|_sum|_bucket)?[{ ]`, 'm'));
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

  // Each replica's bridge samples the engine at its own moments, so while the state moves the replicas
  // disagree: their max reads high, their average (the panels' combination) does not.
  it.each(['running', 'kv'] as const)('the replicas’ %s, combined as the engine-state panels combine them, is the engine’s own over the loaded phases', (field) => {
    expect(dense.length).toBeGreaterThan(100);
    const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
    const engine = mean(dense.map((d) => d.engine[field]));
    const average = mean(dense.map((d) => mean(d.replicas.map((r) => r[field]))));
    const max = mean(dense.map((d) => Math.max(...d.replicas.map((r) => r[field]))));
    expect(engine).toBeGreaterThan(0);
    console.log(`engine-state ${field}: replicas' average ÷ engine ${(average / engine).toFixed(3)}, their max ÷ engine ${(max / engine).toFixed(3)}`);
    expect(average / engine).toBeGreaterThanOrEqual(0.97);
    expect(average / engine).toBeLessThanOrEqual(1.03);
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
    // Two scrape intervals past the phase's end: the last request's end must be in a scrape inside the window.
    const window = () => `${Math.ceil(phase.b.end + 2 * SCRAPE_S - (phase.b.start - SCRAPE_S))}s`;
    const at = () => phase.b.end + 2 * SCRAPE_S;

    // The gateway is what the clients talked to; the engine behind it sees each request a little shorter.
    it.each(MODES)('%s › E2E request latency p50 is the median of the requests clients saw complete', async (mode) => {
      const panel = panelTargets.find((t) => t.title === 'E2E request latency' && t.legend === 'p50')!;
      const [s] = await queryIn(mode)(resolveVariables(panel.expr, { job: GATEWAY, rateInterval: window() }), at());
      const completed = phase.b.results.flatMap((r) => r.requests.filter((q) => q.ok).map((q) => q.e2e));
      expect(completed.length).toBe(40);
      expect(phase.b.cancelled).toBe(40);
      const panelMedian = Number(s.value[1]);
      const seconds = completed.map((ms) => ms / 1000).sort((a, b) => a - b);
      if (mode === 'native') {
        // histogram_quantile(0.5) of 40 requests lands in the bucket of the 20th, interpolated towards its
        // neighbours when they share it: at the scale three decades allow, a bucket is 2.2 % wide at most, so
        // between the client's own 19th and 21st times, within 3 %.
        expect(panelMedian).toBeGreaterThanOrEqual(seconds[18] / 1.03);
        expect(panelMedian).toBeLessThanOrEqual(seconds[20] * 1.03);
        return;
      }
      // The clients' own times counted in the gateway's text buckets (powers of two) and read as
      // histogram_quantile reads them: what the panel shows if the gateway measured what the clients saw.
      // The gateway sees each request a little shorter than its client (at most 5 % + 20 ms, the client's
      // side of the loopback and its event loop), and a request that falls below a bound moves a median
      // interpolated in a bucket of 15 by a fifteenth of its width: the panel lies between the quantile of the
      // clients' times so shortened and that of their own times, which is monotone in every request's time.
      // rate() extrapolates each bucket's series towards the window's start by up to a scrape interval, and a
      // series that starts from zero not at all: the buckets' shares, and the median between them, move apart
      // by up to the window's length over the window less one interval (a 2 % allowance failed at 5.2 %).
      const metric = /rate\((\w+)_bucket/.exec(panel.expr)![1];
      const bounds = [...new Set([...gatewayExposition.matchAll(new RegExp(`^${metric}_bucket\\{.*le="([^"]+)"\\}`, 'gm'))].map((m) => (m[1] === '+Inf' ? Infinity : Number(m[1]))))];
      expect(bounds.length).toBeGreaterThan(10);
      const bucketed = (times: number[]) => quantile({ buckets: new Map(bounds.map((b) => [b, times.filter((v) => v <= b).length])), sum: 0, count: times.length }, 0.5);
      const shortest = bucketed(seconds.map((v) => v * 0.95 - 0.02));
      const longest = bucketed(seconds);
      const windowS = Number.parseInt(window(), 10);
      const extrapolation = windowS / (windowS - SCRAPE_S);
      console.log(`classic E2E p50: panel ${panelMedian.toFixed(3)} s, clients' band ${shortest.toFixed(3)}–${longest.toFixed(3)} s, extrapolation up to ×${extrapolation.toFixed(3)}`);
      expect(panelMedian).toBeGreaterThanOrEqual(shortest / extrapolation);
      expect(panelMedian).toBeLessThanOrEqual(longest * extrapolation);
    });

    it.each(MODES.flatMap((mode) => JOBS.map((job) => ({ mode, job }))))('$mode › $job › Failed and aborted requests by error.type counts the cancellations', async ({ mode, job }) => {
      const panel = panelTargets.find((t) => t.title === 'Failed and aborted requests by error.type')!;
      const result = await queryIn(mode)(resolveVariables(panel.expr, { job, rateInterval: window() }), at());
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
