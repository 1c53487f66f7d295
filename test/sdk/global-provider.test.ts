// startMetrics next to an app's own MeterProvider: the app's instruments reach /metrics only when
// startMetrics' provider is the global one; when another is there first, startMetrics says so once.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { diag, DiagLogLevel, metrics } from '@opentelemetry/api';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { createLlmMetrics, startMetrics, type RunningMetrics } from '@inferwatch/sdk';
import { serve } from '../helpers/net.js';

let warnings: string[];
let running: RunningMetrics | undefined;
beforeEach(() => {
  warnings = [];
  diag.setLogger({ error: () => {}, warn: (m: string) => void warnings.push(m), info: () => {}, debug: () => {}, verbose: () => {} }, DiagLogLevel.WARN);
});
afterEach(async () => {
  await running?.shutdown();
  running = undefined;
  metrics.disable();
  diag.disable();
});

/** The exposition startMetrics serves, through its handler on a real server. */
async function exposition(telemetry: RunningMetrics): Promise<string> {
  const server = await serve((req, res) => void telemetry.metricsHandler(req, res));
  try {
    return await (await fetch(`${server.url}/metrics`)).text();
  } finally {
    await server.close();
  }
}

const notice = () => warnings.filter((w) => w.includes('a global MeterProvider is already registered'));

describe('startMetrics and the app’s own MeterProvider', () => {
  it('registered first (a NodeSDK started before): the app’s counter is not on /metrics, and startMetrics says so once', async () => {
    const theirs = new MeterProvider();
    expect(metrics.setGlobalMeterProvider(theirs)).toBe(true);
    running = startMetrics({ llm: createLlmMetrics({ log: false }), otlp: false, runtime: false });
    metrics.getMeter('app').createCounter('app_jobs').add(3);
    const text = await exposition(running);
    expect(text).toContain('gen_ai_server_request_duration');
    expect(text).not.toContain('app_jobs');
    expect(notice()).toHaveLength(1);
    // It names the way out: startMetrics' readers handed to the app's provider.
    expect(notice()[0]).toContain('meterProvider: false');
    expect(notice()[0]).toContain('metricReaders');
    await theirs.shutdown();
  });

  it('startMetrics first: the app’s counter, made through the OTel API, is on /metrics, and nothing is said', async () => {
    running = startMetrics({ llm: createLlmMetrics({ log: false }), otlp: false, runtime: false });
    metrics.getMeter('app').createCounter('app_jobs').add(3);
    expect(await exposition(running)).toMatch(/^app_jobs_total(\{[^}]*\})? 3$/m);
    expect(notice()).toHaveLength(0);
  });

  it('a second startMetrics: the notice names the first startMetrics as the holder, not a NodeSDK', async () => {
    running = startMetrics({ llm: createLlmMetrics({ log: false }), otlp: false, runtime: false });
    const second = startMetrics({ llm: createLlmMetrics({ log: false }), otlp: false, runtime: false });
    await second.shutdown();
    expect(notice()).toHaveLength(1);
    expect(notice()[0]).toContain('already registered by an earlier startMetrics() in this process');
    expect(notice()[0]).not.toContain('NodeSDK started first');
    expect(notice()[0]).toContain("meterProvider: 'private'");
  });

  it("meterProvider: 'private' asks for no global provider: nothing is said", async () => {
    metrics.setGlobalMeterProvider(new MeterProvider());
    running = startMetrics({ llm: createLlmMetrics({ log: false }), otlp: false, runtime: false, meterProvider: 'private' });
    expect(notice()).toHaveLength(0);
  });
});
