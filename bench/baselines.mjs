// The same lifecycle metrics recorded the usual ways, for side-by-side comparison with inferwatch.
// Every contender gets the same timestamps (milliseconds), so each observes the same values.
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import prometheusIo from '@prometheus-io/client';
import promClient from 'prom-client';

class NullReader extends MetricReader {
  async onShutdown() {}
  async onForceFlush() {}
}

/** Plain OTel API instruments on the OTel SDK: attributes are passed (and hashed) on every call. */
export function otelLifecycle() {
  const provider = new MeterProvider({ readers: [new NullReader()] });
  const meter = provider.getMeter('baseline');
  const h = (name) => meter.createHistogram(name, { unit: 's' });
  const e2e = h('e2e'), ttft = h('ttft'), tpot = h('tpot'), itl = h('itl'), queue = h('queue');
  const inference = h('inference'), prefill = h('prefill'), decode = h('decode'), usage = meter.createHistogram('usage');
  const tokens = meter.createCounter('tokens'), finished = meter.createCounter('finished');
  const waiting = meter.createUpDownCounter('waiting'), running = meter.createUpDownCounter('running');
  return {
    start(model, at) {
      const attrs = { 'gen_ai.request.model': model, 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'vllm' };
      waiting.add(1, attrs);
      return { attrs, arrival: at, scheduled: 0, first: 0, last: 0, out: 0 };
    },
    scheduled(r, at) {
      r.scheduled = at;
      waiting.add(-1, r.attrs);
      running.add(1, r.attrs);
      queue.record((r.scheduled - r.arrival) / 1000, r.attrs);
    },
    firstToken(r, at) {
      r.first = r.last = at;
      r.out = 1;
      ttft.record((r.first - r.arrival) / 1000, r.attrs);
      prefill.record((r.first - r.scheduled) / 1000, r.attrs);
      tokens.add(1, { ...r.attrs, 'gen_ai.token.type': 'output' });
    },
    token(r, at) {
      itl.record((at - r.last) / 1000, r.attrs);
      r.last = at;
      r.out++;
      tokens.add(1, { ...r.attrs, 'gen_ai.token.type': 'output' });
    },
    end(r, at, outputTokens) {
      running.add(-1, r.attrs);
      e2e.record((at - r.arrival) / 1000, r.attrs);
      inference.record((at - r.scheduled) / 1000, r.attrs);
      decode.record((at - r.first) / 1000, r.attrs);
      if (outputTokens > 1) tpot.record((at - r.first) / 1000 / (outputTokens - 1), r.attrs);
      usage.record(outputTokens, { ...r.attrs, 'gen_ai.token.type': 'output' });
      usage.record(16, { ...r.attrs, 'gen_ai.token.type': 'input' });
      tokens.add(16, { ...r.attrs, 'gen_ai.token.type': 'input' });
      finished.add(1, { ...r.attrs, finish_reason: 'stop' });
    },
    provider,
  };
}

// @prometheus-io/client (the Prometheus organisation's successor to prom-client) keeps prom-client's API, so
// both run the same code below; each with its default buckets, which are the same eleven.
function promMetrics(client) {
  const registry = new client.Registry();
  const labelNames = ['model', 'operation', 'provider'];
  const h = (name) => new client.Histogram({ name, help: name, labelNames, registers: [registry] });
  return {
    e2e: h('e2e'), ttft: h('ttft'), tpot: h('tpot'), itl: h('itl'), queue: h('queue'),
    inference: h('inference'), prefill: h('prefill'), decode: h('decode'),
    usage: new client.Histogram({ name: 'usage', help: 'u', labelNames: [...labelNames, 'type'], registers: [registry] }),
    tokens: new client.Counter({ name: 'tokens', help: 't', labelNames: [...labelNames, 'type'], registers: [registry] }),
    finished: new client.Counter({ name: 'finished', help: 'f', labelNames: [...labelNames, 'reason'], registers: [registry] }),
    waiting: new client.Gauge({ name: 'waiting', help: 'w', labelNames, registers: [registry] }),
    running: new client.Gauge({ name: 'running', help: 'r', labelNames, registers: [registry] }),
  };
}

/** prom-client with label objects on every call, as its README shows. */
export function promClientLifecycle() {
  const m = promMetrics(promClient);
  return {
    start(model, at) {
      const labels = { model, operation: 'chat', provider: 'vllm' };
      m.waiting.inc(labels);
      return { labels, arrival: at, scheduled: 0, first: 0, last: 0, out: 0 };
    },
    scheduled(r, at) {
      r.scheduled = at;
      m.waiting.dec(r.labels);
      m.running.inc(r.labels);
      m.queue.observe(r.labels, (r.scheduled - r.arrival) / 1000);
    },
    firstToken(r, at) {
      r.first = r.last = at;
      r.out = 1;
      m.ttft.observe(r.labels, (r.first - r.arrival) / 1000);
      m.prefill.observe(r.labels, (r.first - r.scheduled) / 1000);
      m.tokens.inc({ ...r.labels, type: 'output' });
    },
    token(r, at) {
      m.itl.observe(r.labels, (at - r.last) / 1000);
      r.last = at;
      r.out++;
      m.tokens.inc({ ...r.labels, type: 'output' });
    },
    end(r, at, outputTokens) {
      m.running.dec(r.labels);
      m.e2e.observe(r.labels, (at - r.arrival) / 1000);
      m.inference.observe(r.labels, (at - r.scheduled) / 1000);
      m.decode.observe(r.labels, (at - r.first) / 1000);
      if (outputTokens > 1) m.tpot.observe(r.labels, (at - r.first) / 1000 / (outputTokens - 1));
      m.usage.observe({ ...r.labels, type: 'output' }, outputTokens);
      m.usage.observe({ ...r.labels, type: 'input' }, 16);
      m.tokens.inc({ ...r.labels, type: 'input' }, 16);
      m.finished.inc({ ...r.labels, reason: 'stop' });
    },
  };
}

/**
 * prom-client (or @prometheus-io/client, `client`) as its fastest users write it: `.labels()` children
 * resolved once per label set and cached (here per model, as inferwatch caches its series), so a request
 * only looks up its model.
 */
export function promClientBoundLifecycle(client = promClient) {
  const m = promMetrics(client);
  const byModel = new Map();
  const bind = (model) => {
    const l = [model, 'chat', 'vllm'];
    return {
      waiting: m.waiting.labels(...l), running: m.running.labels(...l), queue: m.queue.labels(...l), ttft: m.ttft.labels(...l),
      prefill: m.prefill.labels(...l), itl: m.itl.labels(...l), e2e: m.e2e.labels(...l), inference: m.inference.labels(...l),
      decode: m.decode.labels(...l), tpot: m.tpot.labels(...l), usageIn: m.usage.labels(...l, 'input'), usageOut: m.usage.labels(...l, 'output'),
      tokensIn: m.tokens.labels(...l, 'input'), tokensOut: m.tokens.labels(...l, 'output'), stop: m.finished.labels(...l, 'stop'),
    };
  };
  return {
    start(model, at) {
      let c = byModel.get(model);
      if (c === undefined) byModel.set(model, (c = bind(model)));
      c.waiting.inc();
      return { c, arrival: at, scheduled: 0, first: 0, last: 0, out: 0 };
    },
    scheduled(r, at) {
      r.scheduled = at;
      r.c.waiting.dec();
      r.c.running.inc();
      r.c.queue.observe((r.scheduled - r.arrival) / 1000);
    },
    firstToken(r, at) {
      r.first = r.last = at;
      r.out = 1;
      r.c.ttft.observe((r.first - r.arrival) / 1000);
      r.c.prefill.observe((r.first - r.scheduled) / 1000);
      r.c.tokensOut.inc();
    },
    token(r, at) {
      r.c.itl.observe((at - r.last) / 1000);
      r.last = at;
      r.out++;
      r.c.tokensOut.inc();
    },
    end(r, at, outputTokens) {
      const c = r.c;
      c.running.dec();
      c.e2e.observe((at - r.arrival) / 1000);
      c.inference.observe((at - r.scheduled) / 1000);
      c.decode.observe((at - r.first) / 1000);
      if (outputTokens > 1) c.tpot.observe((at - r.first) / 1000 / (outputTokens - 1));
      c.usageOut.observe(outputTokens);
      c.usageIn.observe(16);
      c.tokensIn.inc(16);
      c.stop.inc();
    },
  };
}

/** @prometheus-io/client with bound children, as `promClientBoundLifecycle`. */
export const prometheusIoBoundLifecycle = () => promClientBoundLifecycle(prometheusIo);
