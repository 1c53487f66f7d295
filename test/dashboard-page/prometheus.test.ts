import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLlmMetrics, startMetrics, type LlmMetrics, type RunningMetrics, type Snapshot } from '@inferwatch/sdk';
import { indexSnapshot, quantiles, rateBy, sumRate, windowOf, type Indexed, type Match } from '../../packages/sdk/page/derive.js';
import { systemBinary } from '../helpers/binaries.js';
import { freePort, serve } from '../helpers/net.js';
import { waitUntil } from '../helpers/wait.js';

// The page's numbers against PromQL's: Prometheus scrapes /metrics every second; at each scrape the
// test takes the page's snapshot of the same data first, and records the next batch of requests only
// once the scrape has been answered, so each snapshot holds exactly the values of one Prometheus
// sample. The page's functions, given those snapshots at Prometheus' sample times, must then agree
// with Prometheus' own rate() and histogram_quantile() at the same instant.
const prometheus = systemBinary('prometheus', "the page's numbers against a real Prometheus");
const RANGE = 15;
const RANGE_MS = RANGE * 1000;
const SCRAPES = 22;

/** A small deterministic generator, so a failure can be replayed. */
function random(seed: number): () => number {
  let s = seed;
  return () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
}

function recordBatch(llm: LlmMetrics, seq: number, next: () => number): void {
  // Model `a` finishes at least one request per scrape with `stop`: its counter names the scrape.
  const count = 2 + (seq % 4);
  for (let i = 0; i < count; i++) {
    const model = i === 0 ? 'a' : next() < 0.6 ? 'a' : 'b';
    const handle = llm.startRequest({ model, promptTokens: 20 + Math.floor(next() * 200), at: 0 });
    const queued = next() * 0.05 * 1000;
    const ttft = queued + (0.02 + next() * next() * 2) * 1000;
    handle.scheduled(queued);
    handle.firstToken(ttft);
    const tokens = 1 + Math.floor(next() * 60);
    let at = ttft;
    for (let t = 1; t < tokens; t++) handle.tokens(1, (at += (0.005 + next() * 0.05) * 1000));
    if (i > 0 && next() < 0.15) handle.abort(at + 1);
    else handle.end({ finishReason: i > 0 && next() < 0.3 ? 'length' : 'stop', at: at + 1 });
  }
}

interface Vector {
  metric: Record<string, string>;
  value: [number, string];
}

describe.skipIf(prometheus === undefined)("the page's rates and quantiles equal PromQL's over the same samples", () => {
  let llm: LlmMetrics;
  let telemetry: RunningMetrics;
  let server: Awaited<ReturnType<typeof serve>>;
  let child: ChildProcess | undefined;
  let dir: string;
  let promUrl: string;
  const snapshots: Snapshot[] = [];
  let history: Indexed[] = [];
  let at = 0;

  const query = async (expr: string, time: number): Promise<Vector[]> => {
    const body = (await (await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}&time=${(time / 1000).toFixed(3)}`)).json()) as {
      status: string;
      error?: string;
      data: { result: Vector[] };
    };
    if (body.status !== 'success') throw new Error(`${expr}: ${body.error}`);
    return body.data.result;
  };

  beforeAll(async () => {
    llm = createLlmMetrics({ log: false });
    telemetry = startMetrics({ serviceName: 'page-vs-promql', llm, registerGlobal: false, otlp: false });
    const next = random(7);
    let seq = 0;
    server = await serve((req, res) => {
      if (req.url?.startsWith('/dashboard')) return telemetry.dashboardHandler(req, res);
      void (async () => {
        snapshots.push((await (await fetch(`${server.url}/dashboard/snapshot`)).json()) as Snapshot);
        res.once('finish', () => recordBatch(llm, seq++, next));
        telemetry.metricsHandler(req, res);
      })();
    });
    recordBatch(llm, seq++, next);

    dir = mkdtempSync(join(tmpdir(), 'inferwatch-page-prometheus-'));
    const config = join(dir, 'prometheus.yaml');
    writeFileSync(
      config,
      `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: page\n    static_configs:\n      - targets: ["${server.url.slice('http://'.length)}"]\n`,
    );
    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    child = spawn(prometheus!, [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr!.resume();
    await waitUntil(() => snapshots.length > SCRAPES, { what: `${SCRAPES + 1} scrapes`, timeoutMs: 60_000, intervalMs: 200 });

    // Prometheus' samples of model a's `stop` counter: their values say which snapshot each one is.
    const last = Date.now() / 1000;
    const [raw] = (
      (await (await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent('inferwatch_requests_finished_total{gen_ai_request_model="a",finish_reason="stop"}[60s]')}&time=${last}`)).json()) as {
        data: { result: { values: [number, string][] }[] };
      }
    ).data.result;
    const stopOfA = (s: Snapshot) =>
      s.metrics.find((m) => m.name === 'inferwatch.requests.finished')!.points.find((p) => p.attributes['gen_ai.request.model'] === 'a' && p.attributes.finish_reason === 'stop')?.value;
    history = raw.values.map(([t, v]) => {
      const snapshot = snapshots.find((s) => stopOfA(s) === Number(v));
      if (snapshot === undefined) throw new Error(`no snapshot holds the value Prometheus scraped at ${t} (${v})`);
      return indexSnapshot(snapshot, Math.round(t * 1000));
    });
    // Between two scrapes, on a whole millisecond: Prometheus evaluates at millisecond resolution.
    at = history[history.length - 1].t + 300;
  }, 90_000);

  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    await server?.close();
    await telemetry?.shutdown();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const model = (m?: string): Match => (m === undefined ? () => true : (a) => a['gen_ai.request.model'] === m);
  const selector = (m?: string) => `job="page"${m === undefined ? '' : `, gen_ai_request_model="${m}"`}`;

  it('has enough distinct samples in the window to mean something', () => {
    const window = windowOf(history, at, RANGE_MS);
    expect(window.length).toBeGreaterThanOrEqual(12);
    expect(new Set(window.map((s) => s.t)).size).toBe(window.length);
  });

  it.each([undefined, 'a', 'b'])('token throughput (model %s)', async (m) => {
    const window = windowOf(history, at, RANGE_MS);
    for (const type of ['input', 'output']) {
      const [promql] = await query(`sum(rate(inferwatch_tokens_total{${selector(m)}, gen_ai_token_type="${type}"}[${RANGE}s]))`, at);
      const page = sumRate(window, at, RANGE_MS, 'inferwatch.tokens', (a) => model(m)(a) && a['gen_ai.token.type'] === type);
      expect(Number(promql.value[1])).toBeGreaterThan(0);
      expect(page).toBeCloseTo(Number(promql.value[1]), 9);
    }
  });

  it.each([undefined, 'a'])('finished requests by outcome (model %s)', async (m) => {
    const window = windowOf(history, at, RANGE_MS);
    const promql = await query(`sum by (finish_reason) (rate(inferwatch_requests_finished_total{${selector(m)}}[${RANGE}s]))`, at);
    const page = rateBy(window, at, RANGE_MS, 'inferwatch.requests.finished', model(m), 'finish_reason');
    expect(promql.length).toBe(7);
    for (const { metric, value } of promql) expect(page.get(metric.finish_reason), metric.finish_reason).toBeCloseTo(Number(value[1]), 9);
    expect(page.get('stop')).toBeGreaterThan(0);
    expect(page.get('abort')).toBeGreaterThan(0);
  });

  const HISTOGRAMS: [string, string][] = [
    ['gen_ai.server.time_to_first_token', 'gen_ai_server_time_to_first_token'],
    ['inferwatch.request.inter_token_latency', 'inferwatch_request_inter_token_latency'],
    ['gen_ai.server.request.duration', 'gen_ai_server_request_duration'],
    ['inferwatch.request.queue.duration', 'inferwatch_request_queue_duration'],
  ];
  it.each(HISTOGRAMS.flatMap(([otel, prom]) => [undefined, 'a', 'b'].map((m) => ({ otel, prom, m }))))('$otel percentiles (model $m)', async ({ otel, prom, m }) => {
    const window = windowOf(history, at, RANGE_MS);
    const qs = [0.5, 0.9, 0.99];
    const page = quantiles(window, at, RANGE_MS, otel, model(m), qs);
    for (const [i, q] of qs.entries()) {
      const [promql] = await query(`histogram_quantile(${q}, sum by (le) (rate(${prom}_bucket{${selector(m)}}[${RANGE}s])))`, at);
      expect(Number(promql.value[1])).toBeGreaterThan(0);
      expect(page[i], `p${q * 100}`).toBeCloseTo(Number(promql.value[1]), 9);
    }
  });
});
