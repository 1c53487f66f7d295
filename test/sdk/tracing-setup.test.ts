import { afterEach, describe, expect, it } from 'vitest';
import { SpanKind, trace } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { createLlmMetrics, startMetrics, type RunningMetrics } from '@inferwatch/sdk';
import { collect } from '../helpers/collect.js';
import { spanReceiver } from '../helpers/otlp-spans.js';

const savedEnv = { ...process.env };
const cleanups: (() => Promise<void>)[] = [];
let running: RunningMetrics | undefined;

afterEach(async () => {
  await running?.shutdown();
  running = undefined;
  for (const close of cleanups.splice(0)) await close();
  process.env = { ...savedEnv };
  trace.disable();
});

describe('startMetrics tracing', () => {
  it('exports request spans over OTLP http/json from OTEL_* variables, equal to the metrics', async () => {
    const receiver = await spanReceiver();
    cleanups.push(receiver.close);
    process.env.OTEL_TRACES_EXPORTER = 'otlp';
    process.env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL = 'http/json';
    process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = receiver.tracesUrl;
    const llm = createLlmMetrics({ log: false, provider: 'vllm' });
    running = startMetrics({ serviceName: 'traced', llm, prometheus: false });
    expect(running.tracerProvider).toBeDefined();

    const wallBefore = Date.now();
    const t0 = llm.now();
    const wallAfter = Date.now();
    const h = llm.startRequest({ model: 'm', promptTokens: 4, at: t0 });
    h.scheduled(t0 + 10);
    h.tokens(5, t0 + 40);
    h.end({ at: t0 + 90 });
    await running.forceFlush();

    expect(receiver.spans).toHaveLength(1);
    const [span] = receiver.spans;
    expect(span.service).toBe('traced');
    expect(span.kind).toBe(SpanKind.SERVER + 1); // OTLP numbers kinds from 1 (INTERNAL); the API from 0
    expect(span.name).toBe('chat m');
    const m = await collect(llm.producer);
    const attrs = { 'gen_ai.request.model': 'm', 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'vllm' };
    expect(span.attributes['gen_ai.latency.time_to_first_token']).toBe(m.histogram('gen_ai.server.time_to_first_token', attrs)?.value.sum);
    expect(span.attributes['gen_ai.latency.e2e']).toBe(m.histogram('gen_ai.server.request.duration', attrs)?.value.sum);
    expect(span.attributes['gen_ai.usage.output_tokens']).toBe(5);
    expect(span.attributes['gen_ai.usage.input_tokens']).toBe(4);
    expect(span.endMs - span.startMs).toBeCloseTo(90, 3);
    // Between the wall clock read just before and just after t0 (Date.now() has 1 ms steps).
    expect(span.startMs).toBeGreaterThanOrEqual(wallBefore - 2);
    expect(span.startMs).toBeLessThanOrEqual(wallAfter + 2);
  });

  it('leaves a TracerProvider the user registered in charge', async () => {
    const exporter = new InMemorySpanExporter();
    trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
    process.env.OTEL_TRACES_EXPORTER = 'console';
    const llm = createLlmMetrics({ log: false });
    running = startMetrics({ llm, prometheus: false });
    expect(running.tracerProvider).toBeUndefined();
    llm.startRequest({ model: 'm' }).end();
    expect(exporter.getFinishedSpans().map((s) => s.name)).toEqual(['chat m']);
  });

  it('creates nothing when OTEL_TRACES_EXPORTER is unset or none', () => {
    delete process.env.OTEL_TRACES_EXPORTER;
    delete process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
    running = startMetrics({ prometheus: false });
    expect(running.tracerProvider).toBeUndefined();
    process.env.OTEL_TRACES_EXPORTER = 'none';
    const other = startMetrics({ prometheus: false, meterProvider: 'private' });
    expect(other.tracerProvider).toBeUndefined();
    return other.shutdown();
  });

  it('starts without spans, instead of throwing, when the exporter settings are wrong', () => {
    const llm = createLlmMetrics({ log: false });
    running = startMetrics({ llm, prometheus: false, tracing: { exporter: 'otlp', url: 'not a url' } });
    expect(running.tracerProvider).toBeUndefined();
    const h = llm.startRequest({ model: 'm' });
    h.end();
    expect(h.spanContext()).toBeUndefined();
  });

  it('gives its provider to its recorders even when nothing is registered globally', async () => {
    const receiver = await spanReceiver();
    cleanups.push(receiver.close);
    const llm = createLlmMetrics({ log: false });
    running = startMetrics({ llm, prometheus: false, meterProvider: 'private', tracing: { exporter: 'otlp', protocol: 'http/json', url: receiver.tracesUrl } });
    expect(trace.getTracerProvider().getTracer('x').startSpan('probe').isRecording()).toBe(false);
    llm.startRequest({ model: 'm' }).end();
    await running.forceFlush();
    expect(receiver.spans.map((s) => s.name)).toEqual(['chat m']);
  });
});
