// startMetrics({ meterProvider: false }) inside an app's own NodeSDK: startMetrics builds the readers,
// the app's NodeSDK holds them, and the app's own instruments are exported next to the recorders'.
import { spawnSync } from 'node:child_process';
import { diag, DiagLogLevel, metrics } from '@opentelemetry/api';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLlmMetrics, startMetrics, type RunningMetrics } from '@inferwatch/sdk';
import { requireBinary } from '../helpers/binaries.js';
import { parseSamples, sumOf } from '../helpers/exposition.js';
import { freePort, recordingServer, serve } from '../helpers/net.js';
import { decodeMetricsRequest } from '../helpers/otlp-protobuf.js';

const savedEnv = { ...process.env };
let errors: string[];
let warnings: string[];
const cleanups: (() => Promise<unknown>)[] = [];

beforeEach(() => {
  // The NodeSDK reads these: no trace or log exporter of its own, nothing from the environment it runs in.
  for (const key of Object.keys(process.env)) if (key.startsWith('OTEL_')) delete process.env[key];
  process.env.OTEL_TRACES_EXPORTER = 'none';
  process.env.OTEL_LOGS_EXPORTER = 'none';
  errors = [];
  warnings = [];
  diag.setLogger({ error: (m: string) => void errors.push(m), warn: (m: string) => void warnings.push(m), info: () => {}, debug: () => {}, verbose: () => {} }, DiagLogLevel.WARN);
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  metrics.disable();
  diag.disable();
  for (const key of Object.keys(process.env)) if (!(key in savedEnv)) delete process.env[key];
  Object.assign(process.env, savedEnv);
});

/** `count` requests of model `m` that end normally, each with one output token. */
function recorderWith(count: number) {
  const llm = createLlmMetrics({ log: false });
  for (let i = 0; i < count; i++) {
    const r = llm.startRequest({ model: 'm' });
    r.firstToken();
    r.end({ finishReason: 'stop' });
  }
  return llm;
}

/** The exposition through `metricsHandler`, mounted on a loopback server of the test's own. */
async function scrape(running: RunningMetrics): Promise<string> {
  const app = await serve((req, res) => running.metricsHandler(req, res));
  try {
    const response = await fetch(`${app.url}/metrics`);
    expect(response.status).toBe(200);
    return await response.text();
  } finally {
    await app.close();
  }
}

const within = <T>(work: Promise<T>, ms: number) =>
  Promise.race([work.then(() => 'done' as const), new Promise<'late'>((resolve) => setTimeout(resolve, ms, 'late'))]);

describe('startMetrics({ meterProvider: false }) with the app’s NodeSDK', () => {
  // The first test's exposition, linted by the second where promtool is installed.
  let exposition = '';
  it('puts the app’s counter and histogram and the recorders’ requests on /metrics and the OTLP push, each once, and stops cleanly', async () => {
    const rx = await recordingServer();
    cleanups.push(rx.close);
    const port = await freePort();
    const requests = 5;
    const running = startMetrics({
      meterProvider: false,
      serviceName: 'inferwatch-side',
      llm: recorderWith(requests),
      runtime: false,
      tracing: false,
      prometheus: { port, host: '127.0.0.1' },
      otlp: { url: `${rx.url}/v1/metrics`, intervalMs: 3_600_000 },
    });
    cleanups.push(() => running.shutdown());
    expect(await running.ready).toMatchObject({ ok: true, prometheus: { state: 'on' }, otlp: { state: 'on' } });
    expect(running.meterProvider).toBeUndefined();
    expect(running.metricReaders).toHaveLength(2);

    const sdk = new NodeSDK({ serviceName: 'their-app', resourceDetectors: [], instrumentations: [], metricReaders: [...running.metricReaders] });
    sdk.start();
    cleanups.push(() => sdk.shutdown());
    const meter = metrics.getMeter('their-app');
    const jobs = meter.createCounter('app.jobs');
    jobs.add(3);
    jobs.add(4);
    const duration = meter.createHistogram('app.job.duration', { unit: 's' });
    for (const seconds of [0.5, 1.5, 2]) duration.record(seconds);

    const text = await scrape(running);
    const samples = parseSamples(text);
    expect(sumOf(samples, 'app_jobs_total')).toBe(7);
    expect(sumOf(samples, 'app_job_duration_count')).toBe(3);
    expect(sumOf(samples, 'app_job_duration_sum')).toBe(4);
    expect(sumOf(samples, 'inferwatch_requests_finished_total', (l) => l.gen_ai_request_model === 'm')).toBe(requests);
    // The recorders are written from their own storage only, never again through the app's provider.
    expect(text.match(/^# TYPE inferwatch_requests_finished_total counter$/gm)).toHaveLength(1);
    expect(samples.filter((s) => s.name === 'inferwatch_requests_finished_total' && s.labels.finish_reason === 'stop')).toHaveLength(1);
    // One target_info, the app's resource: its provider collected this.
    const targets = samples.filter((s) => s.name === 'target_info');
    expect(targets).toHaveLength(1);
    expect(targets[0].labels.service_name).toBe('their-app');
    exposition = text;
    // The dedicated port serves the same.
    expect(sumOf(parseSamples(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()), 'app_jobs_total')).toBe(7);

    await running.forceFlush();
    expect(rx.received).toHaveLength(1);
    expect(rx.received[0].url).toBe('/v1/metrics');
    const pushed = decodeMetricsRequest(rx.received[0].body);
    expect(pushed.resource['service.name']).toBe('their-app');
    const named = (name: string) => pushed.metrics.filter((m) => m.name === name);
    expect(named('app.jobs')).toHaveLength(1);
    expect(named('app.jobs')[0].sum!.dataPoints.map((p) => p.asInt ?? p.asDouble)).toEqual([7]);
    const appHistogram = named('app.job.duration')[0].histogram!.dataPoints;
    expect(appHistogram.map((p) => [p.count, p.sum])).toEqual([[3, 4]]);
    expect(named('inferwatch.requests.finished')).toHaveLength(1);
    const finished = named('inferwatch.requests.finished')[0].sum!.dataPoints.filter((p) => p.attributes['gen_ai.request.model'] === 'm');
    expect(finished.reduce((sum, p) => sum + (p.asInt ?? p.asDouble ?? 0), 0)).toBe(requests);

    // inferwatch first, then the app's NodeSDK, which finds the readers stopped: no error, no hang.
    expect(await within(running.shutdown(), 5000)).toBe('done');
    await expect(fetch(`http://127.0.0.1:${port}/metrics`)).rejects.toThrow();
    expect(await within(sdk.shutdown(), 5000)).toBe('done');
    // sdk-metrics logs an error for a reader stopped twice; the readers startMetrics hands out stop once.
    expect(errors).toEqual([]);
  });

  it('serves an exposition promtool passes, target_info and the recorders beside the app’s instruments', (ctx) => {
    const promtool = requireBinary(ctx, 'promtool', 'promtool check metrics on an exposition with an external MeterProvider');
    expect(exposition).toContain('app_jobs_total');
    const lint = spawnSync(promtool, ['check', 'metrics'], { input: exposition, encoding: 'utf8' });
    expect(lint.stdout + lint.stderr).toBe('');
  });

  it('with no provider ever holding the readers: says once that OTLP pushes nothing, logs no error, and still closes its port', async () => {
    const rx = await recordingServer();
    cleanups.push(rx.close);
    const port = await freePort();
    const running = startMetrics({
      meterProvider: false,
      llm: recorderWith(1),
      runtime: false,
      tracing: false,
      prometheus: { port, host: '127.0.0.1' },
      otlp: { url: `${rx.url}/v1/metrics`, intervalMs: 3_600_000 },
    });
    expect(await running.ready).toMatchObject({ ok: true, prometheus: { state: 'on' }, otlp: { state: 'on' } });
    await running.forceFlush();
    expect(await within(running.shutdown(), 5000)).toBe('done');
    await expect(fetch(`http://127.0.0.1:${port}/metrics`)).rejects.toThrow();
    expect(rx.received).toHaveLength(0);
    expect(warnings.filter((m) => m.includes('no MeterProvider holds its readers'))).toHaveLength(1);
    expect(errors).toEqual([]);
  });

  it('hands out no readers when its own provider holds them (a second provider could not take them)', async () => {
    const running = startMetrics({ llm: recorderWith(1), runtime: false, tracing: false, otlp: false, meterProvider: 'private' });
    cleanups.push(() => running.shutdown());
    expect(running.meterProvider).toBeDefined();
    expect(running.metricReaders).toEqual([]);
  });

  it('before the app builds its provider, /metrics still serves the recorders, under startMetrics’ own resource', async () => {
    const running = startMetrics({ meterProvider: false, serviceName: 'inferwatch-side', llm: recorderWith(2), runtime: false, tracing: false, otlp: false });
    cleanups.push(() => running.shutdown());
    const samples = parseSamples(await scrape(running));
    expect(sumOf(samples, 'inferwatch_requests_finished_total')).toBe(2);
    expect(samples.filter((s) => s.name === 'target_info').map((s) => s.labels.service_name)).toEqual(['inferwatch-side']);
    expect(metrics.getMeterProvider().constructor.name).not.toBe('MeterProvider');
  });

  it('a MeterProvider object given as `meterProvider` is said once, and startMetrics builds its own', async () => {
    const running = startMetrics({ meterProvider: {} as false, llm: recorderWith(1), runtime: false, tracing: false, otlp: false });
    cleanups.push(() => running.shutdown());
    expect(running.meterProvider).toBeDefined();
    expect(warnings.filter((m) => m.includes("meterProvider takes 'global', 'private' or false"))).toHaveLength(1);
  });
});
