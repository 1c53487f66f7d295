import { getLlama, LlamaCompletion, type Llama, type LlamaContext, type LlamaModel } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLlmMetrics } from '@inferwatch/sdk';
import { finishReasonOf, instrumentContext, QueueFullError } from '@inferwatch/llama-cpp';
// @ts-expect-error: a plain JavaScript example
import { ensureTinyModel } from '../../examples/llama-server/make-tiny-model.mjs';
import { collect } from '../helpers/collect.js';
import { waitUntil } from '../helpers/wait.js';

const attrs = { 'gen_ai.request.model': 'tiny', 'gen_ai.operation.name': 'text_completion', 'gen_ai.provider.name': 'llama.cpp' };

let llama: Llama;
let model: LlamaModel;
const contexts: LlamaContext[] = [];
const newContext = async () => {
  const context = await model.createContext({ sequences: 2, threads: 1, contextSize: 512 });
  contexts.push(context);
  return context;
};

beforeAll(async () => {
  llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' as never });
  model = await llama.loadModel({ modelPath: ensureTinyModel() });
});
afterAll(async () => {
  for (const context of contexts) await context.dispose();
  await model?.dispose();
  await llama?.dispose();
});

describe('instrumentContext on a real node-llama-cpp context (2 sequences)', () => {
  it('queues the third request until a sequence is free and counts exactly what the meter and the KV cache say', async () => {
    const llm = createLlmMetrics({ log: false });
    const pool = instrumentContext(llm, await newContext(), { model: 'tiny' });
    const kvWhileRunning: number[] = [];
    let firstFreedAt = Infinity;
    const truth = { prompt: 0, output: 0 };

    async function run(prompt: string, maxTokens: number) {
      const before = llm.now();
      const req = await pool.acquire({ operation: 'text_completion' });
      const after = llm.now();
      const { metadata } = await new LlamaCompletion({ contextSequence: req.sequence }).generateCompletionWithMeta(prompt, {
        maxTokens,
        temperature: 0,
        onToken: (tokens) => {
          req.onToken(tokens);
          kvWhileRunning.push(pool.state().gpuKvCacheUsage);
        },
      });
      // Ground truth from the KV cache, not the meter: it holds the prompt and every sampled token but the last.
      const cached = req.sequence.nextTokenIndex;
      const freedAt = llm.now();
      const usage = req.end(metadata.stopReason);
      firstFreedAt = Math.min(firstFreedAt, freedAt);
      truth.prompt += cached - usage.outputTokens + 1;
      truth.output += usage.outputTokens;
      return { before, after, usage, stopReason: metadata.stopReason };
    }

    const results = await Promise.all([run('the model says', 30), run('hello world of tokens', 50), run('the', 20)]);
    expect(results.map((r) => r.usage.outputTokens)).toEqual([30, 50, 20]);
    expect(results.map((r) => r.usage.finishReason)).toEqual(['length', 'length', 'length']);

    const m = await collect(llm.producer);
    expect(m.point('inferwatch.tokens', { ...attrs, 'gen_ai.token.type': 'output' })!.value).toBe(truth.output);
    expect(m.point('inferwatch.tokens', { ...attrs, 'gen_ai.token.type': 'input' })!.value).toBe(truth.prompt);
    expect(m.point('inferwatch.requests.finished', { ...attrs, finish_reason: 'length' })!.value).toBe(3);

    // The third waited from its arrival (between `before` and its first await) until the first request freed its sequence.
    const queue = m.histogram('inferwatch.request.queue.duration', attrs)!.value;
    const queueMs = queue.sum! * 1000;
    expect(queue.count).toBe(3);
    const third = results[2]!;
    expect(third.after).toBeGreaterThanOrEqual(firstFreedAt);
    expect(queueMs).toBeGreaterThanOrEqual(firstFreedAt - third.before - 0.001);
    // Each request's wait lies inside its own acquire() (the sequence is granted within the first one's
    // end(), which a busy machine can stretch past the reading taken just before it).
    expect(queueMs).toBeLessThanOrEqual(results.reduce((sum, r) => sum + (r.after - r.before), 0) + 1);
    expect(queueMs).toBeGreaterThan(0);

    expect(Math.max(...kvWhileRunning)).toBeGreaterThan(0);
    await waitUntil(() => pool.state().running === 0, { what: 'the pool to free every sequence' });
    expect(pool.state()).toEqual({ running: 0, waiting: 0, swapped: 0, gpuKvCacheUsage: 0, cpuKvCacheUsage: 0 });
    const kv = await collect(llm.producer);
    expect(kv.point('inferwatch.kv_cache.gpu.usage', {})!.value).toBe(0);
    pool.close();
  });

  it('refuses past maxWaiting, and a wait aborted by its signal ends as an abort and leaves no waiter', async () => {
    const llm = createLlmMetrics({ log: false });
    const pool = instrumentContext(llm, await newContext(), { model: 'tiny', maxWaiting: 1 });
    const a = await pool.acquire();
    const b = await pool.acquire();
    const controller = new AbortController();
    const waiting = pool.acquire({ signal: controller.signal });
    await expect(pool.acquire()).rejects.toBeInstanceOf(QueueFullError);
    expect(pool.state().waiting).toBe(1);
    controller.abort(new Error('client left'));
    await expect(waiting).rejects.toThrow('client left');
    expect(pool.state()).toMatchObject({ running: 2, waiting: 0 });
    a.fail(Object.assign(new Error('boom'), { name: 'AbortError' }));
    b.end('eogToken');
    await waitUntil(() => pool.state().running === 0, { what: 'the pool to free both sequences' });

    const m = await collect(llm.producer);
    const chat = { ...attrs, 'gen_ai.operation.name': 'chat' };
    expect(m.point('inferwatch.requests.finished', { ...chat, finish_reason: 'abort' })!.value).toBe(2);
    expect(m.point('inferwatch.requests.finished', { ...chat, finish_reason: 'error' })!.value).toBe(1);
    expect(m.point('inferwatch.requests.finished', { ...chat, finish_reason: 'stop' })!.value).toBe(1);
    pool.close();
  });

  it('fails the request, and keeps no gauge up, when the context refuses a sequence', async () => {
    const llm = createLlmMetrics({ log: false });
    const refusing = {
      totalSequences: 1,
      getAllocatedContextSize: () => 512,
      getSequence: (): never => {
        throw new Error('No sequences left');
      },
    };
    const pool = instrumentContext(llm, refusing, { model: 'tiny' });
    await expect(pool.acquire()).rejects.toThrow('No sequences left');
    expect(pool.state()).toMatchObject({ running: 0, waiting: 0 });
    const m = await collect(llm.producer);
    const chat = { ...attrs, 'gen_ai.operation.name': 'chat' };
    expect(m.point('inferwatch.requests.finished', { ...chat, finish_reason: 'error' })!.value).toBe(1);
    expect(m.point('inferwatch.scheduler.waiting', {})!.value).toBe(0);
    pool.close();
  });

  it('maps stop reasons to finish reasons', () => {
    expect(['eogToken', 'stopGenerationTrigger', 'customStopTrigger', 'maxTokens', 'functionCalls', 'abort', undefined].map(finishReasonOf)).toEqual([
      'stop',
      'stop',
      'stop',
      'length',
      'tool_calls',
      'abort',
      'stop',
    ]);
  });
});
