// The same lifecycle metrics recorded the usual ways, for side-by-side comparison with inferwatch.
import { metrics } from '@opentelemetry/api';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import client from 'prom-client';

const now = performance.now.bind(performance);

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
    start(model) {
      const attrs = { 'gen_ai.request.model': model, 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'vllm' };
      waiting.add(1, attrs);
      return { attrs, arrival: now(), scheduled: 0, first: 0, last: 0, out: 0 };
    },
    scheduled(r) {
      r.scheduled = now();
      waiting.add(-1, r.attrs);
      running.add(1, r.attrs);
      queue.record((r.scheduled - r.arrival) / 1000, r.attrs);
    },
    firstToken(r) {
      r.first = r.last = now();
      r.out = 1;
      ttft.record((r.first - r.arrival) / 1000, r.attrs);
      prefill.record((r.first - r.scheduled) / 1000, r.attrs);
      tokens.add(1, { ...r.attrs, 'gen_ai.token.type': 'output' });
    },
    token(r) {
      const t = now();
      itl.record((t - r.last) / 1000, r.attrs);
      r.last = t;
      r.out++;
      tokens.add(1, { ...r.attrs, 'gen_ai.token.type': 'output' });
    },
    end(r) {
      const t = now();
      running.add(-1, r.attrs);
      e2e.record((t - r.arrival) / 1000, r.attrs);
      inference.record((t - r.scheduled) / 1000, r.attrs);
      decode.record((t - r.first) / 1000, r.attrs);
      if (r.out > 1) tpot.record((t - r.first) / 1000 / (r.out - 1), r.attrs);
      usage.record(r.out, { ...r.attrs, 'gen_ai.token.type': 'output' });
      usage.record(16, { ...r.attrs, 'gen_ai.token.type': 'input' });
      tokens.add(16, { ...r.attrs, 'gen_ai.token.type': 'input' });
      finished.add(1, { ...r.attrs, finish_reason: 'stop' });
    },
    provider,
  };
}

/** prom-client with label objects on every call, as its README shows. */
export function promClientLifecycle() {
  const registry = new client.Registry();
  const labelNames = ['model', 'operation', 'provider'];
  const h = (name) => new client.Histogram({ name, help: name, labelNames, registers: [registry] });
  const e2e = h('e2e'), ttft = h('ttft'), tpot = h('tpot'), itl = h('itl'), queue = h('queue');
  const inference = h('inference'), prefill = h('prefill'), decode = h('decode');
  const usage = new client.Histogram({ name: 'usage', help: 'u', labelNames: [...labelNames, 'type'], registers: [registry] });
  const tokens = new client.Counter({ name: 'tokens', help: 't', labelNames: [...labelNames, 'type'], registers: [registry] });
  const finished = new client.Counter({ name: 'finished', help: 'f', labelNames: [...labelNames, 'reason'], registers: [registry] });
  const waiting = new client.Gauge({ name: 'waiting', help: 'w', labelNames, registers: [registry] });
  const running = new client.Gauge({ name: 'running', help: 'r', labelNames, registers: [registry] });
  return {
    start(model) {
      const labels = { model, operation: 'chat', provider: 'vllm' };
      waiting.inc(labels);
      return { labels, arrival: now(), scheduled: 0, first: 0, last: 0, out: 0 };
    },
    scheduled(r) {
      r.scheduled = now();
      waiting.dec(r.labels);
      running.inc(r.labels);
      queue.observe(r.labels, (r.scheduled - r.arrival) / 1000);
    },
    firstToken(r) {
      r.first = r.last = now();
      r.out = 1;
      ttft.observe(r.labels, (r.first - r.arrival) / 1000);
      prefill.observe(r.labels, (r.first - r.scheduled) / 1000);
      tokens.inc({ ...r.labels, type: 'output' });
    },
    token(r) {
      const t = now();
      itl.observe(r.labels, (t - r.last) / 1000);
      r.last = t;
      r.out++;
      tokens.inc({ ...r.labels, type: 'output' });
    },
    end(r) {
      const t = now();
      running.dec(r.labels);
      e2e.observe(r.labels, (t - r.arrival) / 1000);
      inference.observe(r.labels, (t - r.scheduled) / 1000);
      decode.observe(r.labels, (t - r.first) / 1000);
      if (r.out > 1) tpot.observe(r.labels, (t - r.first) / 1000 / (r.out - 1));
      usage.observe({ ...r.labels, type: 'output' }, r.out);
      usage.observe({ ...r.labels, type: 'input' }, 16);
      tokens.inc({ ...r.labels, type: 'input' }, 16);
      finished.inc({ ...r.labels, reason: 'stop' });
    },
    registry,
  };
}
