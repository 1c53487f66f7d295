import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { generateText, streamText, wrapLanguageModel } from 'ai';
import { SpanKind } from '@opentelemetry/api';
import { AlwaysOnSampler, BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { createClientMetrics } from '@inferwatch/sdk';
import { instrumentAiSdk, instrumentOpenAI } from '@inferwatch/client';
import { scriptedUpstream } from '../helpers/upstream.js';

let upstream: Awaited<ReturnType<typeof scriptedUpstream>>;
beforeAll(async () => {
  upstream = await scriptedUpstream();
});
afterAll(() => upstream.close());

function traced() {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ sampler: new AlwaysOnSampler(), spanProcessors: [new SimpleSpanProcessor(exporter)] });
  return { exporter, metrics: createClientMetrics({ tracerProvider: provider }) };
}

/** The traceparent the upstream got for the last request, split into its trace id and parent span id. */
function lastTraceparent() {
  const header = upstream.traceparents.at(-1);
  const [, traceId, spanId, flags] = header?.split('-') ?? [];
  return { header, traceId, spanId, flags };
}

describe('client wrappers and trace context', () => {
  it('openai: each call is a CLIENT span whose context the upstream receives in traceparent', async () => {
    const { exporter, metrics } = traced();
    const client = instrumentOpenAI(metrics, new OpenAI({ baseURL: `${upstream.url}/v1`, apiKey: 'test', maxRetries: 0 }));
    await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });
    const [span] = exporter.getFinishedSpans();
    expect(span.kind).toBe(SpanKind.CLIENT);
    expect(lastTraceparent()).toMatchObject({ traceId: span.spanContext().traceId, spanId: span.spanContext().spanId, flags: '01' });

    // Headers the caller passes are kept, in each form the client accepts.
    await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }, { headers: { 'x-mine': '1' } });
    expect(lastTraceparent().spanId).toBe(exporter.getFinishedSpans()[1].spanContext().spanId);
    await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }, { headers: new Headers({ traceparent: 'caller-set' }) });
    expect(lastTraceparent().header).toBe('caller-set');
  });

  it('openai: streamed calls send their span context too, and mark the first chunk', async () => {
    const { exporter, metrics } = traced();
    const client = instrumentOpenAI(metrics, new OpenAI({ baseURL: `${upstream.url}/v1`, apiKey: 'test', maxRetries: 0 }));
    const stream = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: true });
    for await (const _ of stream);
    const [span] = exporter.getFinishedSpans();
    expect(span.events.map((e) => e.name)).toEqual(['gen_ai.response.first_chunk']);
    expect(lastTraceparent().spanId).toBe(span.spanContext().spanId);
  });

  it('AI SDK middleware: generate and stream calls send their CLIENT span context upstream', async () => {
    const { exporter, metrics } = traced();
    const provider = createOpenAICompatible({ name: 'local', baseURL: `${upstream.url}/v1`, apiKey: 'test' });
    const model = wrapLanguageModel({ model: provider.chatModel('m'), middleware: instrumentAiSdk(metrics) });
    await generateText({ model, prompt: 'hi', maxRetries: 0 });
    const generated = exporter.getFinishedSpans()[0];
    expect(generated.kind).toBe(SpanKind.CLIENT);
    expect(lastTraceparent()).toMatchObject({ traceId: generated.spanContext().traceId, spanId: generated.spanContext().spanId });

    const result = streamText({ model, prompt: 'hi', maxRetries: 0, headers: { 'x-mine': '1' } });
    for await (const _ of result.textStream);
    const streamed = exporter.getFinishedSpans()[1];
    expect(lastTraceparent().spanId).toBe(streamed.spanContext().spanId);
  });

  it('without a span and without a caller trace, adds no header', async () => {
    const metrics = createClientMetrics({ tracerProvider: false });
    const client = instrumentOpenAI(metrics, new OpenAI({ baseURL: `${upstream.url}/v1`, apiKey: 'test', maxRetries: 0 }));
    const before = upstream.traceparents.length;
    await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });
    expect(upstream.traceparents.length).toBe(before + 1);
    expect(lastTraceparent().header).toBeUndefined();
  });
});
