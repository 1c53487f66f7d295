import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: plain JavaScript
import { loadSlo, renderRules } from '../../dashboards/generate-rules.mjs';
// @ts-expect-error: plain JavaScript
import { startPrometheus } from '../../dashboards/lab.mjs';
import { systemBinary } from '../helpers/binaries.js';
import { serve } from '../helpers/net.js';
import { startProcess, type Started } from '../helpers/processes.js';
import { sleep, waitUntil } from '../helpers/wait.js';

// The shipped rules, with every window, `for` and interval 30 times shorter (test-only: docs/alerts.md), in
// two real Prometheus 2.42 at once, one storing native histograms and one classic ones, both scraping two
// gateway replicas and the engines behind them. Faults go in through public interfaces only: a route to
// an upstream that answers 500 (errors for one model), then requests to an engine started with
// --max-num-seqs 0, which admits none (requests waiting, none running). Healthy traffic runs throughout.
const prometheusBinary = systemBinary('prometheus', 'the alert rules against a live gateway and engine');
const SCALE = 1 / 30;
const MODEL = 'sim-llama-8b';
const STALLED = 'sim-stalled';
const FLAKY = 'flaky-model';
const STALLED_REQUESTS = 6;
// 10 s of healthy traffic under rules 30 times faster: five minutes of the shipped rules' time.
const HEALTHY_MS = 10_000;
const TTFT_THRESHOLD_S = 1;
const FAKE_NVIDIA_SMI = fileURLToPath(new URL('../fixtures/nvidia-smi/bin', import.meta.url));

type Mode = 'classic' | 'native';
interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}
interface Prom {
  prometheus: string;
  query: (expr: string) => Promise<Sample[]>;
  child: { kill: () => void; once: (event: string, listener: () => void) => void; exitCode: number | null };
  remove: () => void;
}
interface ApiAlert {
  labels: Record<string, string>;
  state: 'pending' | 'firing';
  activeAt: string;
  value: string;
}
/** An alert as the watcher saw it: when each state was first seen (ms since the test's start). */
interface Seen {
  mode: Mode;
  labels: Record<string, string>;
  first: number;
  pending?: number;
  firing?: number;
  value: number;
}
interface Client {
  ok: boolean;
  status: number;
  ttftMs?: number;
}

// The event loop's alert watches the machine, which this file shares with the rest of the suite: under
// rules 30 times faster, a few seconds of CPU contention (every loop late by a scheduler slice) fill its
// 10 s window as five minutes would in production. It is left out of "nothing else" below and reported;
// alerts.test.yaml holds its own cases.
const MACHINE = 'InferwatchEventLoopDelayHigh';

const t0 = performance.now();
const since = () => performance.now() - t0;
const keyOf = (mode: Mode, labels: Record<string, string>) => `${mode} ${JSON.stringify(Object.entries(labels).sort())}`;

describe.skipIf(prometheusBinary === undefined)('the alert rules in a real Prometheus (native and classic) against two gateway replicas and their engines', () => {
  const started: Started[] = [];
  const proms = new Map<Mode, Prom>();
  const seen = new Map<string, Seen>();
  const clients: { healthy: Client[]; flaky: Client[] } = { healthy: [], flaky: [] };
  const phase = { up: 0, armed: 0, errors: 0, stall: 0, end: 0 };
  const after: Record<Mode, { ruleCount: number; native: number; classic: number; gpus: number; ratios: Sample[]; stalledWaiting: number }> = {} as never;
  let failing: Awaited<ReturnType<typeof serve>> | undefined;
  let engineB: Started;
  let watching = true;
  let watcher: Promise<void> | undefined;
  let loads: Promise<void>[] = [];
  const stopStalled = new AbortController();

  /** Streams one completion and reads it to the end; records how the client saw it. */
  async function complete(gateway: string, model: string, into: Client[], signal?: AbortSignal): Promise<void> {
    const startedAt = performance.now();
    const client: Client = { ok: false, status: 0 };
    try {
      const res = await fetch(`${gateway}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model, prompt: 'alert me', max_tokens: 8, stream: true }),
        signal: signal ?? AbortSignal.timeout(20_000),
      });
      client.status = res.status;
      let text = '';
      for await (const chunk of res.body!) {
        text += Buffer.from(chunk).toString('utf8');
        if (client.ttftMs === undefined && text.includes('"text":"')) client.ttftMs = performance.now() - startedAt;
      }
      client.ok = res.ok && text.includes('[DONE]');
    } catch {
      // A refused or cut request is recorded as not ok.
    }
    into.push(client);
  }

  /** Requests for `model` through both gateways in turn, every `everyMs`, until `until()` says stop. */
  async function load(model: string, into: Client[], everyMs: number, until: () => boolean): Promise<void> {
    const pending: Promise<void>[] = [];
    for (let i = 0; !until(); i++) {
      pending.push(complete(started[2 + (i % 2)].url, model, into));
      await sleep(everyMs);
    }
    await Promise.all(pending);
  }

  /** Every alert of both Prometheus, every 200 ms, until the scenario ends: each state's first sighting. */
  async function watch(): Promise<void> {
    while (watching) {
      for (const [mode, prom] of proms) {
        const body = (await (await fetch(`${prom.prometheus}/api/v1/alerts`, { signal: AbortSignal.timeout(5000) })).json()) as { data: { alerts: ApiAlert[] } };
        for (const alert of body.data.alerts) {
          const key = keyOf(mode, alert.labels);
          const entry = seen.get(key) ?? { mode, labels: alert.labels, first: since(), value: Number(alert.value) };
          entry[alert.state] ??= since();
          entry.value = Number(alert.value);
          seen.set(key, entry);
        }
      }
      await sleep(200);
    }
  }

  const firing = (mode: Mode, labels: Record<string, string>) =>
    [...seen.values()].find((s) => s.mode === mode && s.firing !== undefined && Object.entries(labels).every(([k, v]) => s.labels[k] === v));

  beforeAll(async () => {
    const env = { PATH: `${FAKE_NVIDIA_SMI}:${process.env.PATH}`, INFERWATCH_FAKE_NVIDIA_SMI: '2gpu-busy-driver384.xml' };
    failing = await serve((_req, res) => {
      res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'engine exploded', type: 'server_error', param: null, code: null } }));
    });
    const engines = await Promise.all([
      startProcess('examples/engine-sim/server.mjs', ['--log-interval-ms', '600000', '--model', MODEL, '--decode-base-ms', '6', '--num-gpu-blocks', '4096'], 'simulated engine serving', env),
      // Admits no sequence: what it is sent waits, and nothing runs.
      startProcess('examples/engine-sim/server.mjs', ['--log-interval-ms', '600000', '--model', STALLED, '--max-num-seqs', '0'], 'simulated engine serving', env),
    ]);
    started.push(...engines);
    engineB = engines[1];
    const routes = [`${MODEL}=${engines[0].url}`, `${STALLED}=${engines[1].url}`, `${FLAKY}=${failing.url}`].flatMap((r) => ['--route', r]);
    const gatewayArgs = ['--host', '127.0.0.1', ...routes, '--bridge-interval-ms', '1000', '--log-interval-ms', '0'];
    started.push(...(await Promise.all([startProcess('examples/gateway/main.mjs', gatewayArgs, 'gateway on'), startProcess('examples/gateway/main.mjs', gatewayArgs, 'gateway on')])));
    const host = (s: Started) => s.url.replace('http://', '');
    const jobs = { 'inferwatch-gateway': [host(started[2]), host(started[3])], 'inferwatch-engine': engines.map(host) };
    const rules = renderRules(loadSlo(), { timeScale: SCALE });
    const [classic, native] = await Promise.all(
      [false, true].map((nativeHistograms) => startPrometheus(jobs, { prometheusBinary, scrapeIntervalS: 1, nativeHistograms, rules }) as Promise<Prom>),
    );
    proms.set('classic', classic);
    proms.set('native', native);
    // Watched from the first rule evaluation after every target's first scrape: before it, `up` does not
    // exist yet and InferwatchTargetAbsent is pending in any Prometheus just started (its `for` keeps it from firing).
    await waitUntil(async () => (await Promise.all([...proms.values()].map(async (p) => (await p.query('up == 1')).length === 4))).every(Boolean), {
      what: 'every target scraped by both Prometheus',
      timeoutMs: 20_000,
      intervalMs: 100,
    });
    const scrapedAt = Date.now();
    const evaluatedSince = async (p: Prom) => {
      const body = (await (await fetch(`${p.prometheus}/api/v1/rules`)).json()) as { data: { groups: { lastEvaluation: string }[] } };
      return body.data.groups.every((g) => Date.parse(g.lastEvaluation) > scrapedAt);
    };
    await waitUntil(async () => (await Promise.all([...proms.values()].map(evaluatedSince))).every(Boolean), { what: 'every rule group evaluated since', timeoutMs: 20_000, intervalMs: 100 });
    phase.up = since();
    watcher = watch();

    let stopHealthy = false;
    loads.push(load(MODEL, clients.healthy, 100, () => stopHealthy));
    try {
      // Healthy traffic until every SLO alert is armed (its minimum of requests in the long window) in both.
      const armed = `job_model:inferwatch_slo_requests:rate1h{job="inferwatch-gateway", gen_ai_request_model="${MODEL}"} * ${3600 * SCALE} >= 20`;
      await waitUntil(async () => (await Promise.all([...proms.values()].map(async (p) => (await p.query(armed)).length === 2))).every(Boolean), {
        what: 'both SLOs armed in both Prometheus',
        timeoutMs: 30_000,
        intervalMs: 250,
      });
      phase.armed = since();
      await sleep(HEALTHY_MS);

      // Fault 1: every request for one model fails upstream.
      phase.errors = since();
      let stopFlaky = false;
      const flaky = load(FLAKY, clients.flaky, 100, () => stopFlaky);
      const burn = { alertname: 'InferwatchErrorBudgetBurn', gen_ai_request_model: FLAKY, job: 'inferwatch-gateway', long: '1h', short: '5m' };
      await waitUntil(() => firing('classic', burn) && firing('native', burn), { what: 'the error-budget page firing in both', timeoutMs: 40_000, intervalMs: 100 });
      stopFlaky = true;
      await flaky;

      // Fault 2: requests to an engine that admits none.
      phase.stall = since();
      const stalled = Array.from({ length: STALLED_REQUESTS }, (_, i) => complete(started[2 + (i % 2)].url, STALLED, [], stopStalled.signal));
      const bridged = { alertname: 'InferwatchEngineStalled', job: 'inferwatch-gateway', upstream: engineB.url };
      const direct = { alertname: 'InferwatchEngineStalled', job: 'inferwatch-engine', instance: host(engineB) };
      await waitUntil(() => (['classic', 'native'] as const).every((m) => firing(m, bridged) && firing(m, direct)), {
        what: 'the stalled-engine page firing, bridged and direct, in both',
        timeoutMs: 40_000,
        intervalMs: 100,
      });
      phase.end = since();
      const health = (await (await fetch(`${engineB.url}/health`)).json()) as { waiting: number; running: number };
      for (const [mode, prom] of proms) {
        const rulesBody = (await (await fetch(`${prom.prometheus}/api/v1/rules`)).json()) as { data: { groups: { rules: unknown[] }[] } };
        after[mode] = {
          ruleCount: rulesBody.data.groups.reduce((n, g) => n + g.rules.length, 0),
          native: (await prom.query('histogram_count(gen_ai_server_time_to_first_token{job="inferwatch-gateway"})')).length,
          classic: (await prom.query('gen_ai_server_time_to_first_token_count{job="inferwatch-gateway"}')).length,
          gpus: (await prom.query('hw_temperature{hw_type="gpu"}')).length,
          ratios: await prom.query('job_model:inferwatch_slo_errors:ratio_rate1h{job="inferwatch-gateway"}'),
          stalledWaiting: health.waiting,
        };
      }
      stopStalled.abort();
      await Promise.all(stalled);
    } finally {
      stopHealthy = true;
      stopStalled.abort();
      await Promise.all(loads);
      watching = false;
      await watcher;
    }
    const s = (ms: number) => (ms / 1000).toFixed(1);
    const at = (mode: Mode, labels: Record<string, string>, from: number) => {
      const a = firing(mode, labels)!;
      return `${mode} pending ${s(a.pending! - from)} s, firing ${s(a.firing! - from)} s`;
    };
    console.log(
      `live alerts: processes up in ${s(phase.up)} s; SLOs armed after ${s(phase.armed - phase.up)} s; healthy ${s(phase.errors - phase.armed)} s more; ` +
        `errors for ${FLAKY} → ${(['classic', 'native'] as const).map((m) => at(m, { alertname: 'InferwatchErrorBudgetBurn', long: '1h' }, phase.errors)).join(', ')}; ` +
        `stalled engine → ${(['classic', 'native'] as const).map((m) => at(m, { alertname: 'InferwatchEngineStalled', job: 'inferwatch-gateway' }, phase.stall)).join(', ')}; ` +
        `scenario ${s(phase.end)} s`,
    );
    const late = [...seen.values()].filter((a) => a.labels.alertname === MACHINE);
    if (late.length > 0) console.log(`the machine made event loops late: ${late.map((a) => `${a.mode} ${a.labels.instance} ${a.firing ? 'firing' : 'pending'} (p99 ${a.value.toFixed(3)} s)`).join(', ')}`);
  }, 150_000);

  afterAll(async () => {
    watching = false;
    stopStalled.abort();
    await watcher?.catch(() => {});
    await Promise.all(loads).catch(() => {});
    loads = [];
    for (const prom of proms.values()) {
      if (prom.child.exitCode === null) {
        const exited = new Promise<void>((resolve) => prom.child.once('exit', resolve));
        prom.child.kill();
        await exited;
      }
      prom.remove();
    }
    for (const s of started.reverse()) await s.stop();
    await failing?.close();
  });

  it('loads every rule into both, and each stores the histograms its own way', () => {
    const expected = (renderRules(loadSlo()) as Record<string, string>)['inferwatch-recording.yaml'].match(/- record:/g)!.length + (renderRules(loadSlo()) as Record<string, string>)['inferwatch-alerts.yaml'].match(/- alert:/g)!.length;
    for (const mode of ['classic', 'native'] as const) expect(after[mode].ruleCount, mode).toBe(expected);
    expect([after.native.native, after.native.classic]).toEqual([expect.any(Number), 0]);
    expect(after.native.native).toBeGreaterThan(0);
    expect([after.classic.native, after.classic.classic]).toEqual([0, expect.any(Number)]);
    expect(after.classic.classic).toBeGreaterThan(0);
    // The engines poll the fake nvidia-smi: the GPU alerts had series to judge.
    for (const mode of ['classic', 'native'] as const) expect(after[mode].gpus, mode).toBeGreaterThan(0);
  });

  it('healthy traffic fires nothing: no alert pending or firing before the first fault', () => {
    expect(clients.healthy.length).toBeGreaterThan(50);
    const early = [...seen.values()].filter((s) => s.first < phase.errors && s.labels.alertname !== MACHINE);
    expect(early.map((s) => `${s.mode} ${JSON.stringify(s.labels)}`)).toEqual([]);
  });

  it.each(['classic', 'native'] as const)('%s: errors for one model page as its error-budget burn, pending then firing, and nothing else starts', (mode) => {
    expect(clients.flaky.length).toBeGreaterThan(0);
    expect(clients.flaky.every((c) => c.status === 502)).toBe(true);
    const page = firing(mode, { alertname: 'InferwatchErrorBudgetBurn', gen_ai_request_model: FLAKY, job: 'inferwatch-gateway', long: '1h', short: '5m', severity: 'page' })!;
    expect(page.pending).toBeGreaterThanOrEqual(phase.errors);
    expect(page.pending).toBeLessThan(page.firing!);
    // Every request of that model failed: the error ratio is 1, 100 times the 1 % budget.
    expect(page.value).toBe(100);
    const others = [...seen.values()].filter((s) => s.mode === mode && s.first >= phase.errors && s.first < phase.stall && s.labels.alertname !== MACHINE);
    expect(others.filter((s) => s.labels.alertname !== 'InferwatchErrorBudgetBurn' || s.labels.gen_ai_request_model !== FLAKY).map((s) => s.labels)).toEqual([]);
  });

  it.each(['classic', 'native'] as const)('%s: the stalled engine pages once per job that sees it (not once per replica), with its own waiting count', (mode) => {
    expect(after[mode].stalledWaiting).toBe(STALLED_REQUESTS);
    const stalls = [...seen.values()].filter((s) => s.mode === mode && s.labels.alertname === 'InferwatchEngineStalled');
    expect(stalls.map((s) => s.labels.upstream ?? s.labels.instance).sort()).toEqual([engineB.url, engineB.url.replace('http://', '')].sort());
    for (const stall of stalls) {
      expect(stall.pending).toBeGreaterThanOrEqual(phase.stall);
      expect(stall.pending).toBeLessThan(stall.firing!);
      // Both replicas bridge the same engine: their mean is the engine's count, not twice it.
      expect(stall.value).toBe(STALLED_REQUESTS);
    }
    // The first fault's slower pairs may still be turning up for the failing model: that fault, not a new one.
    const firstFault = (s: Seen) => s.labels.alertname === 'InferwatchErrorBudgetBurn' && s.labels.gen_ai_request_model === FLAKY;
    const others = [...seen.values()].filter((s) => s.mode === mode && s.first >= phase.stall && s.labels.alertname !== 'InferwatchEngineStalled' && !firstFault(s) && s.labels.alertname !== MACHINE);
    expect(others.map((s) => s.labels)).toEqual([]);
  });

  it.each(['classic', 'native'] as const)('%s: the SLI ratios are what the clients saw', (mode) => {
    const ratio = (model: string, slo: string) => Number(after[mode].ratios.find((s) => s.metric.gen_ai_request_model === model && s.metric.slo === slo)?.value[1]);
    expect(ratio(FLAKY, 'availability')).toBe(1);
    const failed = clients.healthy.filter((c) => !c.ok).length;
    if (failed === 0) expect(ratio(MODEL, 'availability')).toBe(0);
    else expect(ratio(MODEL, 'availability')).toBeLessThanOrEqual(failed / clients.healthy.length + 0.05);
    // The server's TTFT starts no earlier and ends no later than the client's: it is never the slower.
    const slow = clients.healthy.filter((c) => c.ttftMs !== undefined && c.ttftMs > TTFT_THRESHOLD_S * 1000).length;
    if (slow === 0) expect(ratio(MODEL, 'ttft')).toBe(0);
    else expect(ratio(MODEL, 'ttft')).toBeLessThanOrEqual(slow / clients.healthy.length + 0.05);
  });
});

