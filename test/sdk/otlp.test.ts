import { afterEach, describe, expect, it } from 'vitest';
import { createLlmMetrics, startMetrics, type RunningMetrics } from '@inferwatch/sdk';
import { recordingServer, serve } from '../helpers/net.js';
import { decodeMetricsRequest } from '../helpers/otlp-protobuf.js';

/** A local OTLP/HTTP receiver that keeps every request it gets, closed after each test. */
async function receiver() {
  const app = await recordingServer();
  opened.push(app);
  return app;
}
const opened: { close: () => Promise<void> }[] = [];

function recordOne(histograms: 'native' | 'classic' = 'native') {
  const llm = createLlmMetrics({ log: false, clock: () => 0, histograms });
  const r = llm.startRequest({ model: 'gpt-x', provider: 'openai', promptTokens: 9, at: 0 });
  r.scheduled(5);
  r.firstToken(45);
  r.tokens(3, 105);
  r.end({ at: 125 });
  return llm;
}

type JsonAttr = { key: string; value: { stringValue?: string } };
type JsonMetric = {
  name: string;
  unit: string;
  histogram?: { dataPoints: { attributes: JsonAttr[]; count: number | string; sum: number; bucketCounts: (number | string)[]; explicitBounds: number[] }[] };
  sum?: { isMonotonic: boolean; dataPoints: { attributes: JsonAttr[]; asInt?: number | string; asDouble?: number }[] };
};

function metricsOf(body: Buffer): { service: string | undefined; metrics: JsonMetric[] } {
  const payload = JSON.parse(body.toString('utf8'));
  const rm = payload.resourceMetrics[0];
  const service = rm.resource.attributes.find((a: JsonAttr) => a.key === 'service.name')?.value.stringValue;
  return { service, metrics: rm.scopeMetrics.flatMap((s: { metrics: JsonMetric[] }) => s.metrics) };
}

const attr = (attrs: JsonAttr[], key: string) => attrs.find((a) => a.key === key)?.value.stringValue;

let running: RunningMetrics | undefined;
const savedEnv = { ...process.env };
afterEach(async () => {
  await running?.shutdown();
  running = undefined;
  for (const app of opened.splice(0)) await app.close();
  process.env = { ...savedEnv };
});

describe('OTLP/HTTP export', () => {
  it('pushes decodable JSON with the recorded values', async () => {
    const rx = await receiver();
    running = startMetrics({
      serviceName: 'otlp-json',
      llm: recordOne('classic'),
      meterProvider: 'private',
      prometheus: false,
      otlp: { url: `${rx.url}/v1/metrics`, protocol: 'http/json', intervalMs: 60_000 },
    });
    await running.forceFlush();
    expect(rx.received).toHaveLength(1);
    expect(rx.received[0].contentType).toBe('application/json');
    const { service, metrics } = metricsOf(rx.received[0].body);
    expect(service).toBe('otlp-json');
    const ttft = metrics.find((m) => m.name === 'gen_ai.server.time_to_first_token')!;
    expect(ttft.unit).toBe('s');
    const point = ttft.histogram!.dataPoints[0];
    expect(attr(point.attributes, 'gen_ai.request.model')).toBe('gpt-x');
    expect(attr(point.attributes, 'gen_ai.provider.name')).toBe('openai');
    expect(Number(point.count)).toBe(1);
    expect(point.sum).toBeCloseTo(0.045, 12);
    const bucket = point.explicitBounds.indexOf(0.06);
    expect(point.bucketCounts.map(Number)[bucket]).toBe(1);
    expect(point.bucketCounts.map(Number).reduce((a, b) => a + b, 0)).toBe(1);
    const tokens = metrics.find((m) => m.name === 'inferwatch.tokens')!;
    expect(tokens.sum!.isMonotonic).toBe(true);
    const output = tokens.sum!.dataPoints.find((p) => attr(p.attributes, 'gen_ai.token.type') === 'output')!;
    expect(Number(output.asInt)).toBe(4);
    const tpot = metrics.find((m) => m.name === 'gen_ai.server.time_per_output_token')!.histogram!.dataPoints[0];
    expect(tpot.sum).toBeCloseTo(0.08 / 3, 12);
  });

  it('pushes protobuf by default, with native histograms as exponential histograms: the names, the exact double sums, the buckets', async () => {
    const rx = await receiver();
    running = startMetrics({ llm: recordOne(), meterProvider: 'private', prometheus: false, otlp: { url: `${rx.url}/v1/metrics` } });
    await running.forceFlush();
    expect(rx.received).toHaveLength(1);
    expect(rx.received[0].contentType).toBe('application/x-protobuf');
    const { resource, metrics } = decodeMetricsRequest(rx.received[0].body);
    expect(resource['service.name']).toBeTypeOf('string');
    const e2e = metrics.find((m) => m.name === 'gen_ai.server.request.duration')!;
    expect(e2e.unit).toBe('s');
    expect(e2e.histogram).toBeUndefined();
    const point = e2e.exponentialHistogram!.dataPoints[0];
    expect(point.attributes).toMatchObject({ 'gen_ai.request.model': 'gpt-x', 'gen_ai.provider.name': 'openai' });
    expect(point.count).toBe(1);
    // A protobuf double: the exact value, 125 ms, in the one bucket (base^i, base^(i+1)] that holds it at the sent scale.
    expect(point.sum).toBe(0.125);
    expect(point.scale).toBe(8);
    expect(point.positive.bucketCounts).toEqual([1]);
    const base = 2 ** (2 ** -point.scale);
    // 0.125 is 2^-3 exactly: the upper bound of bucket -3·2^8 - 1.
    expect(point.positive.offset).toBe(-3 * 256 - 1);
    expect(base ** point.positive.offset).toBeLessThan(0.125);
    expect(base ** (point.positive.offset + 1)).toBeCloseTo(0.125, 12);
    const ttft = metrics.find((m) => m.name === 'gen_ai.server.time_to_first_token')!.exponentialHistogram!.dataPoints[0];
    expect(ttft.sum).toBeCloseTo(0.045, 12);
    expect(base ** ttft.positive.offset).toBeLessThan(0.045);
    expect(base ** (ttft.positive.offset + 1)).toBeGreaterThanOrEqual(0.045);
    const tokens = metrics.find((m) => m.name === 'inferwatch.tokens')!;
    expect(tokens.sum!.isMonotonic).toBe(true);
    expect(tokens.sum!.dataPoints.find((p) => p.attributes['gen_ai.token.type'] === 'output')!.asInt).toBe(4);
  });

  it('pushes explicit-bucket histograms with classic buckets, as OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION asks', async () => {
    const rx = await receiver();
    process.env.OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION = 'explicit_bucket_histogram';
    const llm = createLlmMetrics({ log: false, clock: () => 0 });
    llm.startRequest({ model: 'gpt-x', at: 0 }).end({ at: 125 });
    running = startMetrics({ llm, meterProvider: 'private', prometheus: false, otlp: { url: `${rx.url}/v1/metrics` } });
    await running.forceFlush();
    const e2e = decodeMetricsRequest(rx.received[0].body).metrics.find((m) => m.name === 'gen_ai.server.request.duration')!;
    expect(e2e.exponentialHistogram).toBeUndefined();
    const point = e2e.histogram!.dataPoints[0];
    expect(point.sum).toBe(0.125);
    expect(point.bucketCounts[point.explicitBounds.findIndex((bound) => bound >= 0.125)]).toBe(1);
    expect(point.bucketCounts.reduce((a, b) => a + b, 0)).toBe(1);
  });

  it('honours OTEL_METRICS_EXPORTER, OTEL_EXPORTER_OTLP_* and OTEL_SERVICE_NAME', async () => {
    const rx = await receiver();
    process.env.OTEL_METRICS_EXPORTER = 'otlp';
    process.env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT = `${rx.url}/custom/path`;
    process.env.OTEL_EXPORTER_OTLP_METRICS_PROTOCOL = 'http/json';
    process.env.OTEL_EXPORTER_OTLP_HEADERS = 'x-tenant=acme';
    process.env.OTEL_SERVICE_NAME = 'from-env';
    running = startMetrics({ serviceName: 'from-code', llm: recordOne(), meterProvider: 'private' });
    await running.forceFlush();
    expect(rx.received).toHaveLength(1);
    expect(rx.received[0].url).toBe('/custom/path');
    expect(rx.received[0].headers['x-tenant']).toBe('acme');
    expect(metricsOf(rx.received[0].body).service).toBe('from-env');
    // OTEL_METRICS_EXPORTER=otlp leaves Prometheus out.
    const app = await serve((req, res) => running!.metricsHandler(req, res));
    expect((await fetch(app.url)).status).toBe(404);
    await app.close();
  });
});
