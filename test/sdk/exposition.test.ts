import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, MetricReader, type MetricProducer } from '@opentelemetry/sdk-metrics';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createLlmMetrics, startMetrics, type LlmMetrics, type RunningMetrics } from '@inferwatch/sdk';
import { negotiateFormat } from '../../packages/sdk/src/export/exposition.js';
import { acceptsGzip } from '../../packages/sdk/src/export/prometheus.js';
import { SERVICE_INSTANCE_ID } from '../../packages/sdk/src/start/resource.js';
import type { LlmMetricProducer } from '../../packages/sdk/src/export/producer.js';
import { requireBinary, systemBinary } from '../helpers/binaries.js';
import { freePort, serve } from '../helpers/net.js';
import { waitUntil } from '../helpers/wait.js';

const PROMETHEUS_ACCEPT = 'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
const HOSTILE = ['quo"te', 'back\\slash', 'new\nline', 'both\\"\n', 'ünï😀', '{le="1"}', '', ' '];

/** Many models and operations, failures of several types, preemptions, engine state and misuse: every family populated. */
function populated(): LlmMetrics {
  let now = 0;
  const llm = createLlmMetrics({ log: false, provider: 'vllm', clock: () => (now += 7), histograms: 'classic' });
  const models = [...Array.from({ length: 12 }, (_, i) => `model-${i}`), ...HOSTILE];
  models.forEach((model, m) => {
    for (const operation of ['chat', 'text_completion']) {
      const ok = llm.startRequest({ model, operation, promptTokens: 10 + m });
      ok.scheduled();
      ok.firstToken();
      ok.tokens(m % 5);
      if (m % 3 === 0) {
        ok.preempted();
        ok.resumed();
      }
      ok.end({ finishReason: ['stop', 'length', 'tool_calls', 'weird'][m % 4] });
      llm.startRequest({ model, operation }).fail({ code: HOSTILE[m % HOSTILE.length] || 'x' });
      llm.startRequest({ model, operation }).fail(new RangeError('r'));
      llm.startRequest({ model, operation }).abort();
      llm.startRequest({ model, operation }).scheduled();
    }
  });
  llm.reportEngineState({ gpuKvCacheUsage: 0.5, attributes: { upstream: 'http://a"b\\c\n', rank: 3 } });
  llm.reportEngineState({ cpuKvCacheUsage: 0.125, running: 4 });
  llm.observeEngineState(() => ({ waiting: 2, attributes: { upstream: 'cb' } }));
  llm.startRequest({ model: 'x' }).tokens(-1);
  return llm;
}

/** The instruments a user adds on the MeterProvider, recorded the same way on any provider. */
function userInstruments(provider: Pick<MeterProvider, 'getMeter'>): void {
  const meter = provider.getMeter('user-app');
  meter.createCounter('app.jobs', { description: 'Jobs "done"\\ok', unit: '{job}' }).add(3, { queue: 'q"1\n' });
  meter.createUpDownCounter('app.inflight').add(-2);
  meter.createHistogram('app.latency', { unit: 'ms', advice: { explicitBucketBoundaries: [1, 10, 100] } }).record(42, { route: '/a' });
  meter.createObservableGauge('app.temperature').addCallback((r) => r.observe(21.5, { room: 'b\\' }));
}

interface Parsed {
  samples: Map<string, number>;
  meta: Set<string>;
  lines: string[];
}

/** A small exposition parser: unescapes label values and keys each sample by name and sorted labels. */
function parse(text: string): Parsed {
  const samples = new Map<string, number>();
  const meta = new Set<string>();
  const lines = text.split('\n');
  for (const line of lines) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      if (line !== '# EOF') meta.add(line);
      continue;
    }
    const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)![0];
    let i = name.length;
    const labels: string[] = [];
    if (line[i] === '{') {
      i++;
      while (line[i] !== '}') {
        const key = /^[a-zA-Z_][a-zA-Z0-9_]*="/.exec(line.slice(i))?.[0];
        if (key === undefined) throw new Error(`malformed labels: ${line}`);
        let value = '';
        let j = i + key.length;
        for (; line[j] !== '"'; j++) {
          if (j >= line.length) throw new Error(`unterminated label value: ${line}`);
          if (line[j] === '\\') {
            j++;
            if (!'\\"n'.includes(line[j])) throw new Error(`bad escape: ${line}`);
            value += line[j] === 'n' ? '\n' : line[j];
          } else value += line[j];
        }
        labels.push(`${key.slice(0, -2)}=${JSON.stringify(value)}`);
        if (line[j + 1] !== ',' && line[j + 1] !== '}') throw new Error(`malformed labels: ${line}`);
        i = line[j + 1] === ',' ? j + 2 : j + 1;
      }
      i++;
    }
    if (line[i] !== ' ') throw new Error(`no value: ${line}`);
    const rest = line.slice(i + 1).split(' ');
    const key = `${name}{${labels.sort().join(',')}}`;
    expect(samples.has(key), `duplicate sample ${key}`).toBe(false);
    samples.set(key, Number(rest[0]));
  }
  return { samples, meta, lines };
}

class Reader extends MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

/** What the OTel exporter served before: every producer and the user's instruments through `PrometheusSerializer`. */
async function otelExposition(producers: MetricProducer[], serviceName: string): Promise<string> {
  const reader = new Reader({ metricProducers: producers });
  const resource = defaultResource().merge(resourceFromAttributes({ 'service.instance.id': SERVICE_INSTANCE_ID, 'service.name': serviceName })).merge(detectResources({ detectors: [envDetector] }));
  const provider = new MeterProvider({ resource, readers: [reader] });
  userInstruments(provider);
  const { resourceMetrics } = await reader.collect();
  await provider.shutdown();
  return new PrometheusSerializer(undefined, false, undefined, false, true).serialize(resourceMetrics);
}

async function scrape(url: string, headers: Record<string, string>): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    request(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    })
      .on('error', reject)
      .end();
  });
}

let running: RunningMetrics | undefined;
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await running?.shutdown();
  running = undefined;
  for (const close of closers.splice(0)) await close();
});

async function served(llm: LlmMetrics) {
  running = startMetrics({ serviceName: 'expo', llm, meterProvider: 'private', otlp: false, runtime: false }); // event-loop figures change between two scrapes
  userInstruments(running.meterProvider!);
  const app = await serve((req, res) => running!.metricsHandler(req, res));
  closers.push(app.close);
  return `${app.url}/metrics`;
}

describe('the exposition writer against the OTel serializer', () => {
  it('serves the same samples, label sets and metadata in the text format, and the same samples in OpenMetrics', async () => {
    const llm = populated();
    const url = await served(llm);
    const reference = parse(await otelExposition([llm.producer], 'expo'));
    const text = await scrape(url, { accept: 'text/plain' });
    expect(text.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    const ours = parse(text.body.toString('utf8'));

    expect(reference.samples.size).toBeGreaterThan(3000);
    expect([...ours.samples.keys()].sort()).toEqual([...reference.samples.keys()].sort());
    for (const [key, value] of reference.samples) expect(ours.samples.get(key), key).toBe(value);
    expect([...ours.meta].sort()).toEqual([...reference.meta].sort());
    // The hostile values survive the round trip and user instruments are there.
    expect(ours.samples.get('app_jobs_total{queue="q\\"1\\n"}')).toBe(3);
    expect([...ours.samples.keys()].some((k) => k.includes('gen_ai_request_model="both\\\\\\"\\n"'))).toBe(true);

    const om = await scrape(url, { accept: PROMETHEUS_ACCEPT });
    expect(om.headers['content-type']).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
    const openMetrics = parse(om.body.toString('utf8'));
    expect(openMetrics.lines.at(-2)).toBe('# EOF');
    expect(openMetrics.samples).toEqual(ours.samples);
    expect(openMetrics.meta).toContain('# TYPE inferwatch_tokens counter');
    expect(openMetrics.meta).toContain('# TYPE app_jobs counter');
    expect(openMetrics.meta).toContain('# HELP app_jobs Jobs \\"done\\"\\\\ok');
    expect([...openMetrics.meta].filter((l) => l.startsWith('# UNIT'))).toEqual([]);
  });

  it('gzips when the scraper accepts it, and the body inflates to the identity body', async () => {
    const url = await served(populated());
    const plain = await scrape(url, { accept: 'text/plain' });
    const zipped = await scrape(url, { accept: 'text/plain', 'accept-encoding': 'gzip, deflate' });
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(zipped.body.length).toBeLessThan(plain.body.length / 5);
    expect(gunzipSync(zipped.body).equals(plain.body)).toBe(true);
    const refused = await scrape(url, { 'accept-encoding': 'gzip;q=0, br' });
    expect(refused.headers['content-encoding']).toBeUndefined();
  });

  it('negotiates the format and the encoding as Prometheus and curl ask', () => {
    expect(negotiateFormat(PROMETHEUS_ACCEPT)).toBe('openmetrics');
    expect(negotiateFormat('application/openmetrics-text; version=1.0.0; charset=utf-8')).toBe('openmetrics');
    expect(negotiateFormat(undefined)).toBe('prometheus');
    expect(negotiateFormat('*/*')).toBe('prometheus');
    expect(negotiateFormat('text/plain;version=0.0.4;q=1,application/openmetrics-text;q=0.5')).toBe('prometheus');
    expect(negotiateFormat('application/openmetrics-text;version=2.0.0')).toBe('prometheus');
    expect(negotiateFormat('application/openmetrics-text;q=0')).toBe('prometheus');
    expect(acceptsGzip('gzip')).toBe(true);
    expect(acceptsGzip('br, *;q=0.1')).toBe(true);
    expect(acceptsGzip('identity')).toBe(false);
    expect(acceptsGzip('gzip;q=0')).toBe(false);
    expect(acceptsGzip(undefined)).toBe(false);
  });

  it('passes promtool check metrics in the text format', async (ctx) => {
    const promtool = requireBinary(ctx, 'promtool', 'promtool check metrics on the exposition');
    const llm = createLlmMetrics({ log: false });
    for (let i = 0; i < 40; i++) {
      const r = llm.startRequest({ model: `model-${i % 8}`, operation: i % 2 ? 'chat' : 'text_completion', promptTokens: 5 });
      r.tokens(3);
      if (i % 5) r.end();
      else r.fail(new TypeError('t'));
    }
    llm.reportEngineState({ gpuKvCacheUsage: 0.3 });
    const text = (await scrape(await served(llm), { accept: 'text/plain' })).body.toString('utf8');
    const lint = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(lint.stdout + lint.stderr).toBe('');
    expect(lint.status).toBe(0);
  });
});

describe.skipIf(systemBinary('prometheus', 'a real Prometheus scraping OpenMetrics') === undefined)('OpenMetrics scraped by a real Prometheus', () => {
  const dir = mkdtempSync(join(tmpdir(), 'inferwatch-om-'));
  let prometheus: ReturnType<typeof spawn> | undefined;
  afterAll(async () => {
    if (prometheus && prometheus.exitCode === null) {
      const exited = new Promise((resolve) => prometheus!.once('exit', resolve));
      prometheus.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('ingests every sample, counters and an exemplar included', async () => {
    const llm = populated();
    const series = [...(llm.producer as LlmMetricProducer).source.series.values()][0];
    const ttft = series.timeToFirstToken;
    const bucket = ttft.viewCounts().findIndex((c) => c > 0);
    ttft.exemplars = [];
    ttft.exemplars[bucket] = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', value: 0.042, timeMs: Date.now() };
    const accepts: string[] = [];
    running = startMetrics({ serviceName: 'om', llm, meterProvider: 'private', otlp: false });
    userInstruments(running.meterProvider!);
    const app = await serve((req, res) => {
      accepts.push(String(req.headers.accept));
      running!.metricsHandler(req, res);
    });
    closers.push(app.close);
    const port = await freePort();
    const target = app.url.replace('http://', '');
    writeFileSync(join(dir, 'prometheus.yaml'), `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: om\n    static_configs:\n      - targets: ["${target}"]\n`);
    prometheus = spawn(
      'prometheus',
      [`--config.file=${join(dir, 'prometheus.yaml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--enable-feature=exemplar-storage'],
      { stdio: 'ignore' },
    );
    const api = `http://127.0.0.1:${port}/api/v1`;
    const query = async (expr: string) => {
      const body = (await (await fetch(`${api}/query?query=${encodeURIComponent(expr)}`)).json()) as { data: { result: unknown } };
      return body.data.result as { metric: Record<string, string>; value: [number, string] }[];
    };
    const up = await waitUntil(() => query('up{job="om"}').then((r) => r[0]?.value[1], () => undefined), { what: 'a first scrape', timeoutMs: 30_000, intervalMs: 500 });
    expect(up).toBe('1');
    expect(accepts[0]).toContain('application/openmetrics-text');
    const ours = parse((await scrape(`${app.url}/metrics`, { accept: 'text/plain' })).body.toString('utf8'));
    const stored = await query('{job="om"}');
    const scraped = stored.filter((s) => !['up', 'scrape_duration_seconds', 'scrape_samples_scraped', 'scrape_samples_post_metric_relabeling', 'scrape_series_added'].includes(s.metric.__name__));
    expect(scraped.length).toBe(ours.samples.size);
    const tokens = await query('inferwatch_tokens_total{gen_ai_request_model="quo\\"te",gen_ai_operation_name="chat",gen_ai_token_type="output"}');
    expect(tokens.map((s) => Number(s.value[1]))).toEqual([ours.samples.get('inferwatch_tokens_total{gen_ai_operation_name="chat",gen_ai_provider_name="vllm",gen_ai_request_model="quo\\"te",gen_ai_token_type="output"}')]);
    const now = Date.now() / 1000;
    const exemplars = (await (await fetch(`${api}/query_exemplars?query=gen_ai_server_time_to_first_token_bucket&start=${now - 120}&end=${now + 5}`)).json()) as { data: unknown };
    expect(JSON.stringify(exemplars.data)).toContain('4bf92f3577b34da6a3ce929d0e0e4736');
  }, 60_000);
});
