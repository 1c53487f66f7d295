import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { diag, DiagLogLevel, trace, type Attributes } from '@opentelemetry/api';
import type { DataPoint, Histogram, MetricData } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { createLlmMetrics, startMetrics, type LlmMetrics, type RunningMetrics } from '@inferwatch/sdk';
import { collect } from '../helpers/collect.js';
import { parseSamples } from '../helpers/exposition.js';
import { serve } from '../helpers/net.js';

/**
 * Per-request attributes (createLlmMetrics({ attributes }) + startRequest({ attributes })): declared
 * up front with a value limit each, carried by every metric and the span of their request.
 * Every count below is what the test itself sent.
 */

const warnings: string[] = [];
diag.setLogger({ error: () => {}, warn: (m: string) => warnings.push(m), info: () => {}, debug: () => {}, verbose: () => {} }, DiagLogLevel.WARN);
afterAll(() => diag.disable());
afterEach(() => trace.disable());

let running: RunningMetrics | undefined;
afterAll(() => running?.shutdown());

/** Every family the recorder builds from its request series (not the misuse counter, not engine-reported gauges). */
const REQUEST_FAMILIES = [
  'gen_ai.server.request.duration',
  'gen_ai.server.time_to_first_token',
  'gen_ai.server.time_per_output_token',
  'inferwatch.request.inter_token_latency',
  'inferwatch.request.queue.duration',
  'inferwatch.request.inference.duration',
  'inferwatch.request.prefill.duration',
  'inferwatch.request.decode.duration',
  'inferwatch.request.token.usage',
  'inferwatch.tokens',
  'inferwatch.requests.finished',
  'inferwatch.request.preemptions',
  'inferwatch.scheduler.running',
  'inferwatch.scheduler.waiting',
  'inferwatch.scheduler.swapped',
];

type Point = DataPoint<number> | DataPoint<Histogram>;
const points = (m: MetricData | undefined) => (m?.dataPoints ?? []) as Point[];
const valueOf = (p: Point) => (typeof p.value === 'number' ? p.value : p.value.count);
/** Sum of a family's values (histogram counts) over the points whose attributes pass `filter`. */
function total(m: MetricData | undefined, filter: (a: Attributes) => boolean): number {
  return points(m).filter((p) => filter(p.attributes)).reduce((sum, p) => sum + valueOf(p), 0);
}

/** A scripted workload: per tenant, `done` completed requests, one failed, one left running and one left waiting. */
interface Script {
  tenant: string | undefined;
  done: number;
  prompt: number;
  output: number;
}

function play(llm: LlmMetrics, scripts: Script[]): void {
  let t = 0;
  for (const s of scripts) {
    const attributes = s.tenant === undefined ? undefined : { tenant: s.tenant, route: '/v1/chat/completions' };
    for (let i = 0; i < s.done; i++) {
      const r = llm.startRequest({ model: 'm', promptTokens: s.prompt, at: t, attributes });
      r.scheduled(t + 10);
      r.firstToken(t + 30);
      r.tokens(s.output - 1, t + 60);
      r.preempted(t + 70);
      r.resumed(t + 80);
      r.end({ at: t + 100 });
      t += 100;
    }
    llm.startRequest({ model: 'm', at: t, attributes }).fail(new TypeError('boom'), { at: t + 5 });
    llm.startRequest({ model: 'm', at: t, attributes }).scheduled(t + 1);
    llm.startRequest({ model: 'm', at: t, attributes });
  }
}

describe('declared request attributes', () => {
  const scripts: Script[] = [
    { tenant: 'acme', done: 3, prompt: 11, output: 5 },
    { tenant: 'beta', done: 2, prompt: 7, output: 4 },
    { tenant: undefined, done: 1, prompt: 3, output: 2 },
  ];

  it('reach every metric family of their requests, with the counts each tenant sent', async () => {
    const llm = createLlmMetrics({ log: false, clock: () => 0, attributes: { tenant: { maxValues: 50 }, route: { maxValues: 20 }, priority: {} } });
    play(llm, scripts);
    const c = await collect(llm.producer);
    for (const name of REQUEST_FAMILIES) {
      const m = c.metric(name);
      expect(m, name).toBeDefined();
      const tenants = new Set(points(m).map((p) => p.attributes.tenant));
      // Each tenant has its own series, the requests without attributes theirs (no tenant label at all).
      expect(tenants, name).toEqual(new Set(['acme', 'beta', undefined]));
      for (const p of points(m)) {
        if (p.attributes.tenant !== undefined) expect(p.attributes.route, name).toBe('/v1/chat/completions');
        else expect(Object.keys(p.attributes).some((k) => k === 'tenant' || k === 'route' || k === 'priority'), name).toBe(false);
        // A declared attribute no request gave stays off the series.
        expect(p.attributes.priority).toBeUndefined();
      }
    }
    for (const s of scripts) {
      const mine = (a: Attributes) => a.tenant === s.tenant;
      const finished = c.metric('inferwatch.requests.finished');
      expect(total(finished, (a) => mine(a) && a.finish_reason === 'stop')).toBe(s.done);
      expect(total(finished, (a) => mine(a) && a.finish_reason === 'error')).toBe(1);
      expect(total(c.metric('gen_ai.server.request.duration'), mine)).toBe(s.done + 1);
      expect(total(c.metric('gen_ai.server.time_to_first_token'), mine)).toBe(s.done);
      expect(total(c.metric('inferwatch.request.preemptions'), mine)).toBe(s.done);
      expect(total(c.metric('inferwatch.tokens'), (a) => mine(a) && a['gen_ai.token.type'] === 'input')).toBe(s.done * s.prompt);
      expect(total(c.metric('inferwatch.tokens'), (a) => mine(a) && a['gen_ai.token.type'] === 'output')).toBe(s.done * s.output);
      expect(total(c.metric('inferwatch.scheduler.running'), mine)).toBe(1);
      expect(total(c.metric('inferwatch.scheduler.waiting'), mine)).toBe(1);
      expect(total(c.metric('inferwatch.scheduler.swapped'), mine)).toBe(0);
      expect(total(c.metric('inferwatch.request.token.usage'), (a) => mine(a) && a['gen_ai.token.type'] === 'output')).toBe(s.done);
    }
  });

  it('are labels of every family in the Prometheus exposition', async () => {
    const llm = createLlmMetrics({ log: false, clock: () => 0, attributes: { tenant: { maxValues: 50 }, route: {} } });
    play(llm, scripts);
    running = startMetrics({ llm, meterProvider: 'private', runtime: false });
    const app = await serve((req, res) => running!.metricsHandler(req, res));
    let text: string;
    try {
      text = await (await fetch(app.url)).text();
    } finally {
      await app.close();
    }
    const samples = parseSamples(text);
    for (const family of REQUEST_FAMILIES) {
      const prefix = family.replace(/\./g, '_');
      const tenants = new Set(samples.filter((s) => s.name.startsWith(prefix)).map((s) => s.labels.tenant));
      expect(tenants, family).toEqual(new Set(['acme', 'beta', undefined]));
    }
    for (const s of scripts) {
      const finished = samples.filter((x) => /^inferwatch_requests_finished(_total)?$/.test(x.name) && x.labels.tenant === s.tenant);
      expect(finished.reduce((sum, x) => sum + x.value, 0)).toBe(s.done + 1);
    }
  });

  it('keep at most maxValues distinct values each; later values become `other`', async () => {
    const llm = createLlmMetrics({ log: false, maxAttributeLength: 8, attributes: { tenant: { maxValues: 2 }, priority: { maxValues: 1 } } });
    const sent = { a: 3, b: 1, c: 2, d: 4 };
    for (const [tenant, n] of Object.entries(sent)) for (let i = 0; i < n; i++) llm.startRequest({ model: 'm', attributes: { tenant, priority: tenant === 'a' ? 'high' : 'low' } }).end();
    // Truncated like every attribute value; a truncated value takes a slot like any other.
    llm.startRequest({ model: 'm', attributes: { tenant: 'a'.repeat(50) } }).end();
    const finished = (await collect(llm.producer)).metric('inferwatch.requests.finished');
    const stop = (a: Attributes) => a.finish_reason === 'stop';
    expect(total(finished, (a) => stop(a) && a.tenant === 'a')).toBe(sent.a);
    expect(total(finished, (a) => stop(a) && a.tenant === 'b')).toBe(sent.b);
    expect(total(finished, (a) => stop(a) && a.tenant === OTHER)).toBe(sent.c + sent.d + 1);
    expect(total(finished, (a) => stop(a) && a.priority === 'high')).toBe(sent.a);
    expect(total(finished, (a) => stop(a) && a.priority === OTHER)).toBe(sent.b + sent.c + sent.d);
    expect(new Set(points(finished).map((p) => p.attributes.tenant))).toEqual(new Set(['a', 'b', OTHER]));
  });

  it('ignore undeclared keys and values that are not strings, counting each such request once as misuse', async () => {
    const llm = createLlmMetrics({ log: false, attributes: { tenant: {} } });
    llm.startRequest({ model: 'm', attributes: { tenant: 'acme', team: 'x', cost: 'y' } }).end();
    llm.startRequest({ model: 'm', attributes: { tenant: 'acme', team: 'z' } }).end();
    llm.startRequest({ model: 'm', attributes: { tenant: 42 } as never }).end();
    llm.startRequest({ model: 'm', attributes: { tenant: undefined } }).end();
    llm.startRequest({ model: 'm', attributes: { tenant: '' } }).end();
    llm.startRequest({ model: 'm', attributes: 'acme' as never }).end();
    const revoked = Proxy.revocable({}, {});
    revoked.revoke();
    llm.startRequest({ model: 'm', attributes: revoked.proxy }).end();
    const c = await collect(llm.producer);
    const misuse = c.point('inferwatch.sdk.misuse', { reason: 'invalid_argument' })!.value;
    // Two requests with undeclared keys, one with a number, one with a string for the whole object, one unreadable.
    expect(misuse).toBe(5);
    const finished = c.metric('inferwatch.requests.finished');
    expect(total(finished, (a) => a.finish_reason === 'stop' && a.tenant === 'acme')).toBe(2);
    expect(total(finished, (a) => a.finish_reason === 'stop' && a.tenant === undefined)).toBe(5);
    for (const p of points(finished)) expect(Object.keys(p.attributes).filter((k) => k === 'team' || k === 'cost')).toEqual([]);
    expect(warnings.filter((w) => w.includes('not declared'))).toHaveLength(1);
  });

  it("refuse the SDK's own keys at creation, with a warning, and make other keys valid label names", async () => {
    warnings.length = 0;
    const llm = createLlmMetrics({
      log: false,
      attributes: { 'gen_ai.request.model': {}, 'gen_ai.tenant': {}, error_type: {}, 'finish_reason': {}, job: {}, 'user.tier': { maxValues: 3 }, user_tier: {} },
    });
    llm.startRequest({ model: 'm', attributes: { 'gen_ai.request.model': 'evil', error_type: 'x', 'finish_reason': 'y', job: 'z', 'user.tier': 'gold' } }).end();
    const c = await collect(llm.producer);
    const [point] = points(c.metric('inferwatch.requests.finished')).filter((p) => p.attributes.finish_reason === 'stop');
    expect(point.attributes).toEqual({
      'gen_ai.request.model': 'm',
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'unknown',
      finish_reason: 'stop',
      user_tier: 'gold',
    });
    expect(point.value).toBe(1);
    expect(warnings.filter((w) => w.includes('which the SDK or Prometheus uses itself'))).toHaveLength(1);
    expect(warnings.filter((w) => w.includes('which an earlier attribute already is'))).toHaveLength(1);
    // Values given for refused keys are undeclared keys: counted.
    expect(c.point('inferwatch.sdk.misuse', { reason: 'invalid_argument' })!.value).toBe(1);
  });

  it('are attributes of the request span', async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const llm = createLlmMetrics({ log: false, tracerProvider: provider, attributes: { tenant: { maxValues: 1 } } });
    llm.startRequest({ model: 'm', attributes: { tenant: 'acme' } }).end();
    llm.startRequest({ model: 'm', attributes: { tenant: 'beta' } }).fail(new Error('x'));
    llm.startRequest({ model: 'm' }).abort();
    const spans = exporter.getFinishedSpans();
    expect(spans.map((s) => s.attributes.tenant)).toEqual(['acme', OTHER, undefined]);
    expect(spans[0].attributes['gen_ai.request.model']).toBe('m');
  });

  it('give a request with none, or with none declared, the series it had before', async () => {
    const llm = createLlmMetrics({ log: false, attributes: { tenant: {} } });
    llm.startRequest({ model: 'm' }).end();
    llm.startRequest({ model: 'm', attributes: {} }).end();
    llm.startRequest({ model: 'm', operation: 'chat', attributes: { tenant: undefined } }).end();
    const finished = (await collect(llm.producer)).metric('inferwatch.requests.finished');
    expect(points(finished).filter((p) => p.attributes.finish_reason === 'stop').map((p) => p.value)).toEqual([3]);
  });
});

const OTHER = '_OTHER';
