import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { AlwaysOnSampler, BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { createClientMetrics } from '@inferwatch/sdk';
import { instrumentOpenAI } from '@inferwatch/client';
import type { ReceivedSpan } from '../helpers/otlp-spans.js';
import { sample } from '../helpers/processes.js';
import { startTracedGateway } from '../helpers/traced-gateway.js';
import { PROMPT_TOKENS, TOKENS } from '../helpers/upstream.js';
import { waitUntil } from '../helpers/wait.js';

const OTLP_SERVER = SpanKind.SERVER + 1; // OTLP numbers span kinds from 1 (INTERNAL), the API from 0

/** Gateway spans over OTLP, checked against its metrics; the caller is an instrumented openai client with its own provider. */
describe('gateway request spans', () => {
  let lab: Awaited<ReturnType<typeof startTracedGateway>>;
  let receiver: typeof lab.receiver;
  let upstream: typeof lab.upstream;
  let gateway: typeof lab.gateway;
  const clientSpans = new InMemorySpanExporter();
  const clientProvider = new BasicTracerProvider({ sampler: new AlwaysOnSampler(), spanProcessors: [new SimpleSpanProcessor(clientSpans)] });
  let client: OpenAI;

  beforeAll(async () => {
    lab = await startTracedGateway(['streamed', 'whole', 'cut', 'propagated']);
    ({ receiver, upstream, gateway } = lab);
    const metrics = createClientMetrics({ provider: 'inferwatch-gateway', tracerProvider: clientProvider });
    client = instrumentOpenAI(metrics, new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'none', maxRetries: 0 }));
  });
  afterAll(() => lab?.stop());

  /** Waits (bounded) until the receiver holds a span for each model. */
  async function spansFor(models: string[]): Promise<Map<string, ReceivedSpan>> {
    const found = () => new Map(receiver.spans.map((s) => [String(s.attributes['gen_ai.request.model']), s]));
    return waitUntil(() => models.every((m) => found().has(m)) && found(), { what: () => `spans for ${models.filter((m) => !found().has(m)).join(', ')}`, intervalMs: 50 });
  }

  it('sends one SERVER span per request whose attributes equal the gateway metrics of that request', async () => {
    // One request per model, so each metric series holds exactly one request.
    const stream = await client.chat.completions.create({ model: 'streamed', messages: [{ role: 'user', content: 'hi' }], stream: true, stream_options: { include_usage: true } });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    expect(text).toBe(TOKENS.join(''));
    await client.chat.completions.create({ model: 'whole', messages: [{ role: 'user', content: 'hi' }] });
    const cut = await client.chat.completions.create({ model: 'cut', messages: [{ role: 'user', content: 'hi' }], stream: true });
    await expect(
      (async () => {
        for await (const _ of cut);
      })(),
    ).rejects.toThrow();

    const spans = await spansFor(['streamed', 'whole', 'cut']);
    const exposition = await (await fetch(`${gateway.url}/metrics`)).text();
    const labels = (model: string) => `gen_ai_request_model="${model}",gen_ai_operation_name="chat",gen_ai_provider_name="inferwatch-gateway"`;
    const metric = (name: string, model: string, extra = '') => sample(exposition, `${name}{${labels(model)}${extra}}`);

    const streamed = spans.get('streamed')!;
    expect(streamed.service).toBe('gateway-under-test');
    expect(streamed.kind).toBe(OTLP_SERVER);
    expect(streamed.name).toBe('chat streamed');
    expect(streamed.status.code ?? SpanStatusCode.UNSET).toBe(SpanStatusCode.UNSET);
    expect(streamed.attributes['gen_ai.latency.time_to_first_token']).toBe(metric('gen_ai_server_time_to_first_token_sum', 'streamed'));
    expect(streamed.attributes['gen_ai.latency.e2e']).toBe(metric('gen_ai_server_request_duration_sum', 'streamed'));
    expect(streamed.attributes['gen_ai.latency.time_in_queue']).toBe(metric('inferwatch_request_queue_duration_sum', 'streamed'));
    expect(streamed.attributes['gen_ai.latency.time_in_model_decode']).toBe(metric('inferwatch_request_decode_duration_sum', 'streamed'));
    // Token counts: the upstream's own usage numbers, and what the gateway's counters say.
    expect(streamed.attributes['gen_ai.usage.output_tokens']).toBe(TOKENS.length);
    expect(streamed.attributes['gen_ai.usage.input_tokens']).toBe(PROMPT_TOKENS);
    expect(metric('inferwatch_tokens_total', 'streamed', ',gen_ai_token_type="output"')).toBe(TOKENS.length);
    expect(streamed.attributes['gen_ai.response.finish_reasons']).toEqual(['stop']);
    expect(metric('inferwatch_requests_finished_total', 'streamed', ',finish_reason="stop"')).toBe(1);
    expect(streamed.events).toEqual(['gen_ai.request.scheduled', 'gen_ai.response.first_token']);
    // The span lasts what the metrics say the request lasted: to 5 µs, since epoch milliseconds held in a
    // double (as the span's ends are read back here) resolve only about a quarter of a microsecond each.
    expect(streamed.endMs - streamed.startMs).toBeCloseTo((streamed.attributes['gen_ai.latency.e2e'] as number) * 1000, 2);

    const whole = spans.get('whole')!;
    expect(whole.attributes['gen_ai.latency.e2e']).toBe(metric('gen_ai_server_request_duration_sum', 'whole'));
    expect(whole.attributes['gen_ai.usage.output_tokens']).toBe(TOKENS.length);

    const broken = spans.get('cut')!;
    expect(broken.status.code).toBe(SpanStatusCode.ERROR);
    expect(broken.attributes['error.type']).toBe('upstream_stream_error');
    expect(broken.attributes['gen_ai.latency.e2e']).toBe(metric('gen_ai_server_request_duration_sum', 'cut', ',error_type="upstream_stream_error"'));
  });

  it('continues the client trace and hands its own span to the upstream in traceparent', async () => {
    clientSpans.reset();
    const before = upstream.traceparents.length;
    await client.chat.completions.create({ model: 'propagated', messages: [{ role: 'user', content: 'hi' }] });
    const [clientSpan] = clientSpans.getFinishedSpans();
    expect(clientSpan.kind).toBe(SpanKind.CLIENT);
    const gatewaySpan = (await spansFor(['propagated'])).get('propagated')!;
    // client → gateway: one trace, the gateway span is the client span's child.
    expect(gatewaySpan.traceId).toBe(clientSpan.spanContext().traceId);
    expect(gatewaySpan.parentSpanId).toBe(clientSpan.spanContext().spanId);
    // gateway → upstream: the header the upstream got names the gateway span as the parent.
    expect(upstream.traceparents.length).toBe(before + 1);
    expect(upstream.traceparents.at(-1)).toBe(`00-${gatewaySpan.traceId}-${gatewaySpan.spanId}-01`);
  });
});
