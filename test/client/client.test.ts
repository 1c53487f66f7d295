import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { generateText, streamText, wrapLanguageModel } from 'ai';
import { createClientMetrics, type ClientMetrics } from '@inferwatch/sdk';
import { instrumentAiSdk, instrumentOpenAI } from '@inferwatch/client';
import { collect } from '../helpers/collect.js';
import { FIRST_DELAY_MS, GAP_MS, PROMPT_TOKENS, TOKENS, scriptedUpstream } from '../helpers/upstream.js';

// Upper bounds are this test's own view of the same call (the instrumentation sees each chunk before
// the caller does), never a fixed slack a busy machine could exceed; lower bounds are the scripted delays.
const since = (start: number) => (performance.now() - start) / 1000;
let upstream: Awaited<ReturnType<typeof scriptedUpstream>>;
beforeAll(async () => {
  upstream = await scriptedUpstream();
});
afterAll(() => upstream.close());

const attrs = (model: string, operation: string, provider: string) => ({
  'gen_ai.request.model': model,
  'gen_ai.operation.name': operation,
  'gen_ai.provider.name': provider,
});

async function metricsOf(metrics: ClientMetrics, model: string, operation: string, provider: string) {
  const m = await collect(metrics.producer);
  const a = attrs(model, operation, provider);
  return {
    duration: m.histogram('gen_ai.client.operation.duration', a)?.value,
    errors: (type: string) => m.histogram('gen_ai.client.operation.duration', { ...a, 'error.type': type })?.value.count ?? 0,
    input: m.histogram('gen_ai.client.token.usage', { ...a, 'gen_ai.token.type': 'input' })?.value,
    output: m.histogram('gen_ai.client.token.usage', { ...a, 'gen_ai.token.type': 'output' })?.value,
    firstChunk: m.histogram('gen_ai.client.operation.time_to_first_chunk', a)?.value,
    perChunk: m.histogram('gen_ai.client.operation.time_per_output_chunk', a)?.value,
  };
}

describe('instrumentOpenAI', () => {
  const metrics = createClientMetrics();
  let client: OpenAI;
  beforeAll(() => {
    client = instrumentOpenAI(metrics, new OpenAI({ baseURL: `${upstream.url}/v1`, apiKey: 'test', maxRetries: 0 }));
  });

  it('records a streamed chat completion: time to first chunk, per-chunk times, usage', async () => {
    const started = performance.now();
    const stream = await client.chat.completions.create({ model: 'm-chat-stream', messages: [{ role: 'user', content: 'hi' }], stream: true, stream_options: { include_usage: true } });
    let text = '';
    let firstSeen: number | undefined;
    for await (const chunk of stream) {
      firstSeen ??= since(started);
      text += chunk.choices[0]?.delta?.content ?? '';
    }
    const elapsed = since(started);
    expect(text).toBe(TOKENS.join(''));
    const m = await metricsOf(metrics, 'm-chat-stream', 'chat', 'openai');
    // Chunks: the role chunk at once, then the tokens after FIRST_DELAY_MS and GAP_MS apart, the finish and the usage chunk.
    expect(m.firstChunk!.count).toBe(1);
    expect(m.perChunk!.count).toBe(TOKENS.length + 2);
    // The role chunk, which comes FIRST_DELAY_MS before the first token: no later than this loop saw it.
    expect(m.firstChunk!.sum).toBeLessThanOrEqual(firstSeen!);
    // First chunk plus every gap after it is the time of the last chunk: within the call's duration,
    // which cannot be shorter than the upstream's scripted sleeps.
    expect(m.firstChunk!.sum! + m.perChunk!.sum!).toBeLessThanOrEqual(m.duration!.sum!);
    expect(m.duration!.sum).toBeGreaterThanOrEqual((FIRST_DELAY_MS + GAP_MS * (TOKENS.length - 1)) / 1000 - 0.005);
    expect(m.duration!.sum).toBeLessThanOrEqual(elapsed);
    expect(m.duration!.count).toBe(1);
    expect(m.input!.sum).toBe(PROMPT_TOKENS);
    expect(m.output!.sum).toBe(TOKENS.length);
  });

  it('records a non-streamed completion with its usage', async () => {
    const result = await client.completions.create({ model: 'm-text', prompt: 'hi' });
    expect(result.choices[0].text).toBe(TOKENS.join(''));
    const m = await metricsOf(metrics, 'm-text', 'text_completion', 'openai');
    expect(m.duration!.count).toBe(1);
    expect(m.duration!.sum).toBeGreaterThanOrEqual((FIRST_DELAY_MS + GAP_MS * (TOKENS.length - 1)) / 1000 - 0.005);
    expect(m.output!.sum).toBe(TOKENS.length);
    expect(m.firstChunk!.count).toBe(0);
  });

  it('records an API error by its code (the GenAI rule: the provider’s error code first) and leaves the SDK’s error to the caller', async () => {
    await expect(client.chat.completions.create({ model: 'fail-500', messages: [{ role: 'user', content: 'hi' }] })).rejects.toThrow(/engine exploded/);
    const m = await metricsOf(metrics, 'fail-500', 'chat', 'openai');
    // The upstream sent { type: 'server_error', code: 'engine_error' }.
    expect(m.errors('engine_error')).toBe(1);
    expect(m.duration!.count).toBe(0);
  });

  it('records a stream cut mid-way as a failure', async () => {
    const stream = await client.chat.completions.create({ model: 'cut', messages: [{ role: 'user', content: 'hi' }], stream: true });
    await expect((async () => {
      for await (const _ of stream) void _;
    })()).rejects.toThrow();
    const m = await metricsOf(metrics, 'cut', 'chat', 'openai');
    expect(m.duration!.count).toBe(0);
    // fetch reports a connection closed mid-body as a TypeError ('terminated').
    expect(m.errors('TypeError')).toBe(1);
  });
});

describe('instrumentAiSdk', () => {
  const metrics = createClientMetrics();
  const provider = () => createOpenAICompatible({ name: 'scripted', baseURL: `${upstream.url}/v1`, includeUsage: true });
  const model = (id: string) => wrapLanguageModel({ model: provider()(id), middleware: instrumentAiSdk(metrics) });

  it('records streamText: time to first chunk, usage', async () => {
    const started = performance.now();
    const result = streamText({ model: model('ai-stream'), prompt: 'hi' });
    let text = '';
    let firstSeen: number | undefined;
    for await (const delta of result.textStream) {
      firstSeen ??= since(started);
      text += delta;
    }
    expect(text).toBe(TOKENS.join(''));
    const m = await metricsOf(metrics, 'ai-stream', 'chat', 'scripted');
    expect(m.firstChunk!.count).toBe(1);
    expect(m.firstChunk!.sum).toBeGreaterThanOrEqual(FIRST_DELAY_MS / 1000);
    expect(m.firstChunk!.sum).toBeLessThanOrEqual(firstSeen!);
    expect(m.perChunk!.count).toBe(TOKENS.length - 1);
    expect(m.input!.sum).toBe(PROMPT_TOKENS);
    expect(m.output!.sum).toBe(TOKENS.length);
    expect(m.duration!.count).toBe(1);
  });

  it('records generateText with its usage', async () => {
    const { text } = await generateText({ model: model('ai-generate'), prompt: 'hi' });
    expect(text).toBe(TOKENS.join(''));
    const m = await metricsOf(metrics, 'ai-generate', 'chat', 'scripted');
    expect(m.duration!.count).toBe(1);
    expect(m.output!.sum).toBe(TOKENS.length);
    expect(m.input!.sum).toBe(PROMPT_TOKENS);
  });

  it('records a failed call', async () => {
    await expect(generateText({ model: model('fail-500'), prompt: 'hi', maxRetries: 0 })).rejects.toThrow();
    const m = await metricsOf(metrics, 'fail-500', 'chat', 'scripted');
    expect(m.duration!.count).toBe(0);
    expect(m.errors('500')).toBe(1);
  });
});
