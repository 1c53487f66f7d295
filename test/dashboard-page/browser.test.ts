import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBenchmark } from '@inferwatch/loadgen';
import { createLlmMetrics, startMetrics } from '@inferwatch/sdk';
// @ts-expect-error: plain JavaScript
import { startGateway } from '../../examples/gateway/gateway.mjs';
import { systemBinary } from '../helpers/binaries.js';
import { freePort, serve } from '../helpers/net.js';
import { startEngine, type Started } from '../helpers/processes.js';

// The page in a real browser during a demo-like run: the simulated engine, the gateway in front of
// it (with the fake nvidia-smi on PATH, so the GPU panels have data), bounded load through the
// loadgen package. Set INFERWATCH_PAGE_SCREENSHOT=<path.png> to save the README's picture.
const chromiumPath = systemBinary('chromium', 'the live dashboard page in headless Chromium');
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const GPU_ENV = { PATH: `${join(ROOT, 'test/fixtures/nvidia-smi/bin')}:${process.env.PATH}`, INFERWATCH_FAKE_NVIDIA_SMI: '2gpu-busy-driver384.xml' };
const MODEL = 'sim-llama-8b';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

interface Gateway {
  child: ChildProcess;
  stop: () => Promise<void>;
}

/** The gateway as `npm run demo` runs it, on a port chosen here so a restart can take the same one. */
async function startGatewayProcess(port: number, upstream: string): Promise<Gateway> {
  const args = [join(ROOT, 'examples/gateway/main.mjs'), '--port', String(port), '--host', '127.0.0.1', '--upstream', upstream, '--bridge-interval-ms', '1000', '--log-interval-ms', '600000', '--gpu'];
  const child = spawn(process.execPath, args, { env: { ...process.env, ...GPU_ENV }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  await new Promise<void>((ready, fail) => {
    const onData = (d: Buffer) => {
      output += d.toString();
      if (output.includes('gateway on')) ready();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => fail(new Error(`the gateway exited (${code}):\n${output}`)));
    setTimeout(() => fail(new Error(`the gateway was not ready in time:\n${output}`)), 15_000);
  });
  return {
    child,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** The few DOM names the callbacks run in the page use: this is a node project, without the DOM's types. */
interface PageElement {
  id: string;
  textContent: string | null;
  dataset: Record<string, string | undefined>;
  classList: { contains(name: string): boolean };
  parentElement: PageElement | null;
  querySelector(selector: 'canvas'): PageCanvas | null;
  querySelector(selector: string): PageElement | null;
}
interface PageCanvas {
  width: number;
  height: number;
  getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } | null;
}
declare const document: { body: PageElement; getElementById(id: string): PageElement | null; querySelectorAll(selector: string): Iterable<PageElement> };

/** Per panel: its latest values only (no canvas read), quick enough to fit between two refreshes. */
const lastValues = (page: Page) => page.evaluate(() => [...document.querySelectorAll('.panel')].map((panel) => ({ id: panel.id, last: panel.dataset.last ?? '' })));

const refreshes = (page: Page) => page.evaluate(() => Number(document.body.dataset.refreshes ?? 0));

async function waitForRefreshes(page: Page, atLeast: number, timeoutMs = 30_000): Promise<void> {
  await page.waitForFunction((n) => Number(document.body.dataset.refreshes ?? 0) >= n, atLeast, { timeout: timeoutMs, polling: 200 });
}

/**
 * Until the page holds a full rate window (15 s of snapshots) and shows rates and quantiles instead
 * of "collecting…". The window is 15 s of the server's clock whatever the refresh, hence the bound.
 */
async function waitForFullWindow(page: Page): Promise<void> {
  await page.waitForFunction(() => Number(document.body.dataset.refreshes ?? 0) > 0 && document.getElementById('stat-rps')!.textContent !== 'collecting…', undefined, {
    timeout: 45_000,
    polling: 200,
  });
}

/** What the page says in words: per panel its note (empty while hidden), points and y-axis labels; the stats; the GPU section's note. */
const pageWords = (page: Page) =>
  page.evaluate(() => {
    const shown = (el: PageElement | null) => (el === null || el.classList.contains('hidden') ? '' : (el.textContent ?? ''));
    const panels = [...document.querySelectorAll('.panel')].map((p) => [p.id.replace('panel-', ''), { note: shown(p.querySelector('.note')), points: Number(p.dataset.points), ticks: JSON.parse(p.dataset.ticks ?? '[]') as string[] }] as const);
    return {
      panels: Object.fromEntries(panels),
      stats: Object.fromEntries([...document.querySelectorAll('.stat .value')].map((e) => [e.id.replace('stat-', ''), e.textContent])),
      gpus: shown(document.getElementById('gpus-note')),
    };
  });

/** Per panel: the points its data holds and the coloured (series or heatmap) pixels on its canvas. */
const panelState = (page: Page) =>
  page.evaluate(() =>
    [...document.querySelectorAll('.panel')].map((panel) => {
      const canvas = panel.querySelector('canvas');
      let coloured = 0;
      if (canvas) {
        const { data } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
        // Grid, axes and text are grey; series lines and heatmap cells are saturated colours.
        for (let i = 0; i < data.length; i += 4) if (data[i + 3] > 0 && Math.max(data[i], data[i + 1], data[i + 2]) - Math.min(data[i], data[i + 1], data[i + 2]) > 60) coloured++;
      }
      return { id: panel.id, points: Number(panel.dataset.points), last: panel.dataset.last ?? '', coloured, hidden: panel.parentElement!.classList.contains('hidden') };
    }),
  );

describe.skipIf(chromiumPath === undefined)('the live dashboard page in headless Chromium', () => {
  let engine: Started;
  let gateway: Gateway;
  let port: number;
  let context: BrowserContext;
  let profile: string;
  let idlePage: Page;
  const load = new AbortController();
  const runs: Promise<unknown>[] = [];

  const startLoad = (numPrompts: number, seed: number) =>
    runs.push(
      runBenchmark({ baseUrl: `http://127.0.0.1:${port}`, model: MODEL, numPrompts, requestRate: 4, seed, signal: load.signal }).catch(() => undefined),
    );

  beforeAll(async () => {
    engine = await startEngine(['--decode-base-ms', '6']);
    port = await freePort();
    gateway = await startGatewayProcess(port, engine.url);
    profile = mkdtempSync(join(tmpdir(), 'inferwatch-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: chromiumPath,
      headless: true,
      args: ARGS,
      viewport: { width: 1400, height: 1000 },
    });
    // Enough load to last until the CPU test: rates and quantiles keep moving in every test that reads them.
    startLoad(200, 1);
    // The CPU test's page, opened now: its 15 s rate window fills while the first test runs.
    idlePage = await context.newPage();
    await idlePage.goto(`http://127.0.0.1:${port}/dashboard`);
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    // The engine first: the gateway's streams then end at once instead of draining a queue of load.
    await engine?.stop();
    await gateway?.stop();
    load.abort();
    await Promise.allSettled(runs);
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  it('draws every panel, GPUs included, with values that move between refreshes', async () => {
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    // Polled every 500 ms (`?refresh=`, as Grafana's address takes it): the same page, sooner.
    await page.goto(`http://127.0.0.1:${port}/dashboard?refresh=500ms`);
    await waitForFullWindow(page);
    expect(await page.locator('#status').textContent()).toContain('every 0.5 s');

    const before = await panelState(page);
    expect(before.length).toBe(16);
    for (const panel of before) {
      expect(panel.hidden, panel.id).toBe(false);
      expect(panel.points, panel.id).toBeGreaterThan(0);
      expect(panel.coloured, `${panel.id}: coloured pixels`).toBeGreaterThan(20);
    }
    // Every panel has data, so none says what would feed it, and the GPU section has its panels.
    expect(await page.locator('.note:visible').allTextContents()).toEqual([]);
    const stats = () => page.evaluate(() => [...document.querySelectorAll('.stat .value')].map((e) => e.textContent));
    const statsBefore = await stats();
    for (const value of statsBefore) expect(value).not.toBe('–');
    expect(await page.locator('#model option').allTextContents()).toContain(MODEL);
    // The SLO tiles (the defaults: TTFT within 1 s and availability, 99 % each) over the requests so far.
    const slos = await page.evaluate(() =>
      ['ttft', 'availability'].map((id) => {
        const el = document.getElementById(`slo-${id}`)!;
        return { label: el.querySelector('.label')!.textContent, value: el.querySelector('.value')!.textContent, total: Number(el.dataset.total), compliance: Number(el.dataset.compliance) };
      }),
    );
    expect(slos.map((s) => s.label)).toEqual(['TTFT ≤ 1 s, objective 99%', 'Availability, objective 99%']);
    for (const s of slos) {
      expect(s.total).toBeGreaterThan(0);
      expect(s.compliance).toBeGreaterThanOrEqual(0);
      expect(s.compliance).toBeLessThanOrEqual(1);
      expect(s.value).toMatch(/^\d+\.\d\d%$/);
    }

    await waitForRefreshes(page, (await refreshes(page)) + 10);
    const after = await panelState(page);
    const moved = after.filter((p, i) => p.last !== '' && p.last !== before[i].last).map((p) => p.id);
    // Under load every rate and percentile panel moves; the GPU gauges come from a fixed capture.
    for (const id of ['panel-requests', 'panel-tokens', 'panel-ttft', 'panel-itl', 'panel-e2e']) expect(moved, id).toContain(id);
    for (const [i, p] of after.entries()) expect(p.points, p.id).toBeGreaterThanOrEqual(before[i].points);
    expect(await stats()).not.toEqual(statsBefore);

    // One model's view, redrawn from the history the page holds: the demo serves one model, so the
    // same lines as "All models". Both views from the same snapshots: read again if a refresh came between.
    for (let attempt = 1; ; attempt++) {
      const n = await refreshes(page);
      const all = await lastValues(page);
      await page.selectOption('#model', MODEL);
      const one = await lastValues(page);
      await page.selectOption('#model', '');
      if ((await refreshes(page)) !== n && attempt < 10) continue;
      for (const [i, p] of one.entries()) if (!p.id.startsWith('panel-gpu')) expect(p.last, p.id).toBe(all[i].last);
      break;
    }
    expect(errors).toEqual([]);
    await page.close();
  }, 120_000);

  it('stays under 5 % of a CPU at its default 2 s refresh', async () => {
    const page = idlePage;
    const cdp = await context.newCDPSession(page);
    await cdp.send('Performance.enable');
    // Measured once every panel draws its lines: while "collecting…" the rate panels draw none.
    await waitForFullWindow(page);
    expect(await page.locator('#status').textContent()).toContain('every 2 s');
    // The renderer process's CPU time (all its threads: script, layout, paint, raster) over wall time,
    // across five refreshes; CPU time, not task wall time, so a busy machine does not inflate it.
    const metric = async () => {
      const { metrics } = (await cdp.send('Performance.getMetrics')) as { metrics: { name: string; value: number }[] };
      return Object.fromEntries(metrics.map((m) => [m.name, m.value]));
    };
    const m0 = await metric();
    await waitForRefreshes(page, (await refreshes(page)) + 5);
    const m1 = await metric();
    const wall = m1.Timestamp - m0.Timestamp;
    const cpu = (m1.ProcessTime - m0.ProcessTime) / wall;
    const share = (name: string) => `${(((m1[name] - m0[name]) / wall) * 100).toFixed(2)} %`;
    console.log(`page CPU at 2 s refresh over ${wall.toFixed(1)} s: renderer process ${share('ProcessTime')}, main thread ${share('ThreadTime')}, tasks ${share('TaskDuration')}, script ${share('ScriptDuration')}`);
    expect(cpu).toBeLessThan(0.05);

    const screenshot = process.env.INFERWATCH_PAGE_SCREENSHOT;
    if (screenshot) {
      mkdirSync(dirname(resolve(ROOT, screenshot)), { recursive: true });
      await page.screenshot({ path: resolve(ROOT, screenshot), fullPage: true });
    }
    await page.close();
  }, 60_000);

  it('keeps going when the server restarts, with no negative rate from the counters starting over', async () => {
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`http://127.0.0.1:${port}/dashboard?refresh=500ms`);
    await waitForRefreshes(page, 3);

    await gateway.stop();
    await page.waitForFunction(() => document.getElementById('status')!.classList.contains('bad'), undefined, { timeout: 10_000 });
    expect(await page.locator('#status').textContent()).toContain('retrying');
    const during = await refreshes(page);

    gateway = await startGatewayProcess(port, engine.url);
    startLoad(40, 2);
    await waitForRefreshes(page, during + 4);
    expect(await page.locator('#status').getAttribute('class')).toBe('status');
    // The first full window, a few seconds after the restart: it holds counters from both sides of it.
    await waitForFullWindow(page);
    const rates = await page.evaluate(() =>
      ['panel-requests', 'panel-tokens'].flatMap((id) => Object.values(JSON.parse(document.getElementById(id)!.dataset.last ?? '{}') as Record<string, number | null>)),
    );
    expect(rates.length).toBeGreaterThan(0);
    for (const r of rates) {
      expect(r).not.toBeNull();
      expect(r).toBeGreaterThanOrEqual(0);
    }
    expect(errors).toEqual([]);
    await page.close();
  }, 90_000);

  it('is served by the simulated engine too, at the refresh its address asks for, within 250 ms to 1 minute', async () => {
    const page = await context.newPage();
    const response = await page.goto(`${engine.url}/dashboard`);
    expect(response!.status()).toBe(200);
    await waitForRefreshes(page, 1);
    expect(await page.locator('#service').textContent()).toBe('inferwatch-engine-sim');
    for (const [refresh, every] of [['10ms', '0.25 s'], ['1m', '60 s'], ['90s', '60 s'], ['soon', '2 s'], ['1.5s', '1.5 s']]) {
      await page.goto(`${engine.url}/dashboard?refresh=${refresh}`);
      await waitForRefreshes(page, 1);
      expect(await page.locator('#status').textContent(), refresh).toContain(`every ${every}`);
    }
    await page.close();
  });

  it('says "collecting…" until the rate window is full, what feeds each empty panel, and counts on whole ticks', async () => {
    // A server the test drives, with no engine state, no scheduled() and no GPUs. One request stays
    // running and one waiting: the scheduler's scale is 0 to 1, where fractional ticks would repeat
    // labels. Every other request has its first token 0.25 ms after it arrives, between two classic
    // TTFT bounds (0.2 and 0.3 ms), so the TTFT p50 is exactly 0.25 ms, interpolated mid-bucket.
    const llm = createLlmMetrics({ log: false, buckets: { 'gen_ai.server.time_to_first_token': [0.0002, 0.0003] } });
    const request = (at: number) => {
      const r = llm.startRequest({ model: MODEL, promptTokens: 20, at });
      r.tokens(1, at + 0.25);
      return r;
    };
    request(llm.now());
    llm.startRequest({ model: MODEL, promptTokens: 20 });
    const telemetry = startMetrics({ serviceName: 'page-states', llm, meterProvider: 'private', otlp: false });
    const app = await serve((req, res) => telemetry.dashboardHandler(req, res));
    const traffic = setInterval(() => {
      const at = llm.now();
      const r = request(at);
      r.tokens(1, at + 1.25);
      r.end({ at: at + 2 });
    }, 50);
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const noEngine = 'No data: reported through reportEngineState() / observeEngineState(), or bridged from an engine.';
    const noQueue = 'No data: recorded when the server calls scheduled().';
    const windowed = ['requests', 'tokens', 'ttft', 'itl', 'e2e', 'queue'];
    try {
      const opened = Date.now();
      await page.goto(`${app.url}/dashboard?refresh=250ms`);
      await waitForRefreshes(page, 2);
      const first = await pageWords(page);
      for (const id of windowed) {
        expect(first.panels[id].note, id).toMatch(/^collecting… \d+ s of the 15 s window$/);
        expect(first.panels[id].points, id).toBe(0);
      }
      for (const id of ['rps', 'prompt', 'gen', 'ttft', 'e2e']) expect(first.stats[id], id).toBe('collecting…');
      expect(first.panels.kv.note).toBe(noEngine);
      expect(first.panels['queue-heat'].note).toBe(noQueue);
      expect(first.gpus).toBe('No GPU metrics: reported with startMetrics({ gpu: true }) and @inferwatch/gpu installed.');
      expect([first.stats.running, first.stats.waiting]).toEqual(['1', '1']);
      expect(first.panels.scheduler.note).toBe('');
      // The axis of a panel whose lines sit at 0 and 1: whole ticks, each label once, both values labelled.
      const ticks = first.panels.scheduler.ticks;
      expect(ticks).toContain('0');
      expect(ticks).toContain('1');
      expect(new Set(ticks).size, ticks.join(', ')).toBe(ticks.length);
      for (const tick of ticks) expect(tick).toMatch(/^\d+$/);

      await waitForFullWindow(page);
      // The first snapshot was taken after `opened`: no page can hold 15 s of them any sooner.
      expect(Date.now() - opened).toBeGreaterThanOrEqual(15_000);
      const full = await pageWords(page);
      for (const id of ['requests', 'tokens', 'ttft', 'itl', 'e2e', 'ttft-heat', 'itl-heat', 'e2e-heat', 'scheduler']) {
        expect(full.panels[id].note, id).toBe('');
        expect(full.panels[id].points, id).toBeGreaterThan(0);
      }
      expect(full.panels.queue.note).toBe(noQueue);
      expect(full.panels['queue-heat'].note).toBe(noQueue);
      expect(full.panels.kv.note).toBe(noEngine);
      expect(full.stats.ttft).toBe('0.25 ms');
      expect(full.stats.rps).toMatch(/^\d/);
      expect(errors).toEqual([]);
    } finally {
      clearInterval(traffic);
      await page.close();
      // The browser keeps its connections alive past the page; close() alone would wait for them.
      app.server.closeAllConnections();
      await app.close();
      await telemetry.shutdown();
    }
  }, 90_000);

  it('is refused without the token on a server started with one, and works with it given once in the address', async () => {
    const protectedGateway = await startGateway({ upstreams: [engine.url], port: 0, host: '127.0.0.1', metricsToken: 'page-token-123', logIntervalMs: 0, bridgeIntervalMs: 0, gpu: false });
    try {
      const page = await context.newPage();
      const refused = await page.goto(`${protectedGateway.url}/dashboard`);
      expect(refused!.status()).toBe(401);
      expect(await page.content()).not.toContain('uplot');

      const ok = await page.goto(`${protectedGateway.url}/dashboard?token=page-token-123&refresh=500ms`);
      expect(ok!.status()).toBe(200);
      await waitForRefreshes(page, 2);
      expect(await page.locator('#status').getAttribute('class')).toBe('status');
      // The token leaves the address bar (history, screenshots) once the page has it.
      expect(page.url()).not.toContain('page-token-123');
      await page.close();
    } finally {
      await protectedGateway.close(0);
    }
  }, 60_000);
});
