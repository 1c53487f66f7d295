// examples/llama-server on real llama.cpp inference (the tiny generated model, CPU), checked by this
// test's own client: its timings, its requests' max_tokens, and the model's KV cache run in-process.
import { getLlama, LlamaChat, LlamaCompletion, type Llama, type LlamaModel } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain JavaScript example
import { ensureTinyModel } from '../../examples/llama-server/make-tiny-model.mjs';
import { delta, histogramTotals, quantile } from '../../packages/loadgen/src/compare.js';
import { sample, startProcess, type Started } from '../helpers/processes.js';
import { waitUntil } from '../helpers/wait.js';

const MODEL = 'tiny-llama';
const SEQUENCES = 2;
const MAX_WAITING = 2;
let server: Started;

interface Timed {
  status: number;
  sentAt: number;
  /** Arrival times of the chunks that carried text. */
  chunkAt: number[];
  doneAt: number;
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
  finishReason?: string;
  body?: { error?: { type: string } };
  retryAfter: string | null;
}

/** One request, streamed (timing every text chunk) or not. `onFirst` runs when the first text chunk arrives. */
async function request(path: '/v1/completions' | '/v1/chat/completions', payload: Record<string, unknown>, onFirst?: () => void, signal?: AbortSignal): Promise<Timed> {
  const chat = path === '/v1/chat/completions';
  const body = { model: MODEL, temperature: 0, ...payload, ...(payload.stream ? { stream_options: { include_usage: true } } : {}) };
  const sentAt = performance.now();
  const res = await fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal });
  const out: Timed = { status: res.status, sentAt, chunkAt: [], doneAt: NaN, retryAfter: res.headers.get('retry-after') };
  if (!payload.stream || res.status !== 200) {
    const json = (await res.json()) as { usage?: Timed['usage']; choices?: { finish_reason?: string }[]; error?: { type: string } };
    out.doneAt = performance.now();
    out.body = json;
    out.usage = json.usage;
    out.finishReason = json.choices?.[0]?.finish_reason;
    return out;
  }
  const decoder = new TextDecoder();
  let buffered = '';
  for await (const bytes of res.body!) {
    const now = performance.now();
    buffered += decoder.decode(bytes as Uint8Array, { stream: true });
    let end: number;
    while ((end = buffered.indexOf('\n\n')) !== -1) {
      const event = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      const data = event.replace(/^data: /, '');
      if (data === '[DONE]') {
        out.doneAt = now;
        continue;
      }
      const chunk = JSON.parse(data);
      if (chunk.usage) out.usage = chunk.usage;
      const choice = chunk.choices?.[0];
      const text = chat ? choice?.delta?.content : choice?.text;
      if (typeof text === 'string' && text.length > 0) {
        out.chunkAt.push(now);
        if (out.chunkAt.length === 1) onFirst?.();
      }
      if (choice?.finish_reason) out.finishReason = choice.finish_reason;
    }
  }
  return out;
}

const metrics = async () => (await fetch(`${server.url}/metrics`)).text();
const labels = (operation: string) => `gen_ai_request_model="${MODEL}",gen_ai_operation_name="${operation}",gen_ai_provider_name="llama.cpp"`;
const tokens = (text: string, operation: string, type: string) => sample(text, `inferwatch_tokens_total{${labels(operation)},gen_ai_token_type="${type}"}`) ?? 0;
const health = async () => (await (await fetch(`${server.url}/health`)).json()) as { running: number; waiting: number; gpuKvCacheUsage: number };
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};

beforeAll(async () => {
  ensureTinyModel();
  server = await startProcess('examples/llama-server/server.mjs', ['--sequences', String(SEQUENCES), '--max-waiting', String(MAX_WAITING), '--log-interval-ms', '600000'], 'node-llama-cpp serving');
});
afterAll(async () => {
  await server?.stop();
});

describe('the llama server, counted', () => {
  let llama: Llama;
  let model: LlamaModel;
  beforeAll(async () => {
    llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' as never });
    model = await llama.loadModel({ modelPath: ensureTinyModel() });
  });
  afterAll(async () => {
    await model?.dispose();
    await llama?.dispose();
  });

  /** Prompt tokens as the KV cache holds them after sampling one token (which is not evaluated): the prompt alone. */
  async function promptTokens(chat: boolean, input: string): Promise<number> {
    const context = await model.createContext({ sequences: 1, threads: 1, contextSize: 512 });
    try {
      const contextSequence = context.getSequence();
      if (chat) await new LlamaChat({ contextSequence }).generateResponse([{ type: 'user', text: input }], { maxTokens: 1, temperature: 0 });
      else await new LlamaCompletion({ contextSequence }).generateCompletionWithMeta(input, { maxTokens: 1, temperature: 0 });
      return contextSequence.nextTokenIndex;
    } finally {
      await context.dispose();
    }
  }

  it('counts exactly the tokens of the responses’ usage, which are the prompt in the KV cache and the max_tokens asked for', async () => {
    const before = await metrics();
    const prompts = ['the model says', 'hello world of tokens', 'what time is it now', 'a b c'];
    const wave = (from: number) =>
      Promise.all(
        prompts.slice(from, from + 2).flatMap((prompt, j) => {
          const i = from + j;
          return [
            request('/v1/completions', { prompt, max_tokens: 10 + 7 * i, stream: i % 2 === 0 }),
            request('/v1/chat/completions', { messages: [{ role: 'user', content: prompt }], max_tokens: 5 + 3 * i, stream: i % 2 === 1 }),
          ];
        }),
      );
    // Four at a time: two run and two wait, within the queue's bound.
    const results = [...(await wave(0)), ...(await wave(2))];
    const after = await metrics();
    for (const r of results) expect(r.status).toBe(200);
    // Greedy decoding on the tiny model never picks its end token: every request runs to max_tokens.
    expect(results.map((r) => r.usage!.completion_tokens)).toEqual(prompts.flatMap((_, i) => [10 + 7 * i, 5 + 3 * i]));
    expect(results.every((r) => r.finishReason === 'length')).toBe(true);
    for (const [i, prompt] of prompts.entries()) {
      expect(results[2 * i]!.usage!.prompt_tokens).toBe(await promptTokens(false, prompt));
      expect(results[2 * i + 1]!.usage!.prompt_tokens).toBe(await promptTokens(true, prompt));
    }
    const sum = (chat: boolean, key: 'prompt_tokens' | 'completion_tokens') => results.filter((_, i) => i % 2 === (chat ? 1 : 0)).reduce((n, r) => n + r.usage![key], 0);
    for (const [operation, chat] of [['text_completion', false], ['chat', true]] as const) {
      expect(tokens(after, operation, 'input') - tokens(before, operation, 'input')).toBe(sum(chat, 'prompt_tokens'));
      expect(tokens(after, operation, 'output') - tokens(before, operation, 'output')).toBe(sum(chat, 'completion_tokens'));
      const finished = `inferwatch_requests_finished_total{${labels(operation)},finish_reason="length"}`;
      expect((sample(after, finished) ?? 0) - (sample(before, finished) ?? 0)).toBe(4);
    }
  });
});

describe('the llama server, timed', () => {
  it('agrees with the client on TTFT and inter-token latency (medians within 10 % + 5 ms, means closer)', async () => {
    // A first request opens the client's connection, outside the measurement.
    await request('/v1/completions', { prompt: 'warm up', max_tokens: 2, stream: true });
    const before = await metrics();
    const results: Timed[] = [];
    // One at a time, so the client's timings are the engine's and nothing waits in the queue.
    for (let i = 0; i < 16; i++) results.push(await request(i % 2 ? '/v1/chat/completions' : '/v1/completions', i % 2 ? { messages: [{ role: 'user', content: `question ${i}` }], max_tokens: 40, stream: true } : { prompt: `prompt number ${i}`, max_tokens: 40, stream: true }));
    const after = await metrics();
    // One text chunk per token (greedy decoding writes whole characters), so gaps between chunks are inter-token latencies.
    for (const r of results) expect(r.chunkAt.length).toBe(40);
    const ttfts = results.map((r) => r.chunkAt[0]! - r.sentAt);
    const itls = results.flatMap((r) => r.chunkAt.slice(1).map((t, i) => t - r.chunkAt[i]!));

    const ttft = delta(histogramTotals(after, 'gen_ai_server_time_to_first_token'), histogramTotals(before, 'gen_ai_server_time_to_first_token'));
    const itl = delta(histogramTotals(after, 'inferwatch_request_inter_token_latency'), histogramTotals(before, 'inferwatch_request_inter_token_latency'));
    expect(ttft.count).toBe(16);
    expect(itl.count).toBe(16 * 39);
    for (const [name, server, client] of [['ttft', ttft, ttfts], ['itl', itl, itls]] as const) {
      const serverMedian = quantile(server, 0.5) * 1000;
      expect(Math.abs(serverMedian - median(client)), `${name} p50: client ${median(client)} ms, server ${serverMedian} ms`).toBeLessThanOrEqual(0.1 * median(client) + 5);
    }
    // Means need no interpolation. A gap's mean is the span from first to last token over the gaps, the
    // same on both sides but for delivery jitter; the server's TTFT lies inside the client's (it starts
    // when the request arrives and ends when the token is written).
    const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
    expect(Math.abs((itl.sum / itl.count) * 1000 - mean(itls))).toBeLessThanOrEqual(0.1 * mean(itls) + 0.5);
    const serverTtft = (ttft.sum / ttft.count) * 1000;
    expect(serverTtft).toBeLessThanOrEqual(mean(ttfts));
  });

  it('queues requests beyond the sequences for exactly as long as it takes a sequence to be freed, and KV usage rises and returns to 0', async () => {
    const before = await metrics();
    let started = 0;
    let bothRunning!: () => void;
    const running = new Promise<void>((resolve) => (bothRunning = resolve));
    const first = () => ++started === SEQUENCES && bothRunning();
    const a = request('/v1/completions', { prompt: 'the model says', max_tokens: 60, stream: true }, first);
    const b = request('/v1/chat/completions', { messages: [{ role: 'user', content: 'hello' }], max_tokens: 120, stream: true }, first);
    await running;
    const during = await metrics();
    const state = await health();
    // Both sequences are busy: these two wait for them.
    const c = request('/v1/completions', { prompt: 'then me', max_tokens: 20, stream: true });
    const d = request('/v1/chat/completions', { messages: [{ role: 'user', content: 'and me' }], max_tokens: 20, stream: true });
    const [ra, rb, rc, rd] = await Promise.all([a, b, c, d]);
    const after = await metrics();

    expect(state).toMatchObject({ running: 2, waiting: 0 });
    const kvDuring = sample(during, 'inferwatch_kv_cache_gpu_usage')!;
    expect(kvDuring).toBeGreaterThan(0);
    // At most what both requests hold at their end, over the context's 2 × 2048 cells.
    expect(kvDuring).toBeLessThanOrEqual((ra!.usage!.total_tokens + rb!.usage!.total_tokens) / (SEQUENCES * 2048));
    expect(sample(during, 'inferwatch_scheduler_running')).toBe(2);

    // The client's own view: the two waiters got the first two sequences freed after they were sent
    // (c's own, if it ends before b); whichever got which, the sum of their waits is the same.
    const queued = Math.max(rc!.sentAt, rd!.sentAt);
    const freed = [ra!, rb!, rc!, rd!].map((r) => r.doneAt).filter((t) => t > queued).sort((x, y) => x - y);
    const clientQueue = freed[0]! - rc!.sentAt + (freed[1]! - rd!.sentAt);
    expect(freed[0]! - queued).toBeGreaterThan(10);
    const queue = delta(histogramTotals(after, 'inferwatch_request_queue_duration'), histogramTotals(before, 'inferwatch_request_queue_duration'));
    expect(queue.count).toBe(4);
    expect(Math.abs(queue.sum * 1000 - clientQueue), `queue: client ${clientQueue} ms, server ${queue.sum * 1000} ms`).toBeLessThanOrEqual(0.1 * clientQueue + 5);
    // No waiting request got its first token before a sequence was freed.
    expect(Math.min(rc!.chunkAt[0]!, rd!.chunkAt[0]!)).toBeGreaterThan(freed[0]!);

    // The server frees a sequence a moment after its last bytes: idle once it says so, then checked on /metrics.
    await waitUntil(async () => (await health()).running === 0, { what: 'the server to free every sequence' });
    const idle = await metrics();
    expect(sample(idle, 'inferwatch_kv_cache_gpu_usage')).toBe(0);
    expect(sample(idle, 'inferwatch_scheduler_running')).toBe(0);
    expect(await health()).toMatchObject({ running: 0, waiting: 0, gpuKvCacheUsage: 0 });
  });
});

describe('the llama server under overflow and departures', () => {
  it(`answers 429 past ${MAX_WAITING} waiting requests, and a client leaving the queue frees its place`, async () => {
    const before = await metrics();
    const long = { prompt: 'long', max_tokens: 400, stream: true };
    let started = 0;
    let bothRunning!: () => void;
    const running = new Promise<void>((resolve) => (bothRunning = resolve));
    const first = () => ++started === SEQUENCES && bothRunning();
    const runners = [request('/v1/completions', long, first), request('/v1/completions', long, first)];
    await running;
    const leaving = new AbortController();
    const waiters = [request('/v1/completions', { prompt: 'w', max_tokens: 5 }), request('/v1/completions', { prompt: 'w', max_tokens: 5 }, undefined, leaving.signal).catch((e: Error) => e)];
    await waitUntil(async () => (await health()).waiting === 2, { what: 'two requests waiting', intervalMs: 5 });
    const refused = await request('/v1/completions', { prompt: 'no room', max_tokens: 5 });
    expect(refused.status).toBe(429);
    expect(refused.body!.error!.type).toBe('rate_limit_error');
    expect(refused.retryAfter).toBe('1');

    leaving.abort();
    await waitUntil(async () => (await health()).waiting === 1, { what: 'the leaving request to leave the queue', intervalMs: 5 });
    const taken = await request('/v1/completions', { prompt: 'room again', max_tokens: 5 });
    const results = await Promise.all([...runners, waiters[0] as Promise<Timed>]);
    expect(results.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(taken.status).toBe(200);
    expect(await waiters[1]).toBeInstanceOf(Error);

    const after = await metrics();
    const count = (reason: string) => (sample(after, `inferwatch_requests_finished_total{${labels('text_completion')},finish_reason="${reason}"}`) ?? 0) - (sample(before, `inferwatch_requests_finished_total{${labels('text_completion')},finish_reason="${reason}"}`) ?? 0);
    expect(count('length')).toBe(4);
    expect(count('abort')).toBe(1);
    expect(count('error')).toBe(1);
  });

  it('ends a stream whose client leaves mid-generation as aborted, and frees its sequence', async () => {
    const before = await metrics();
    const leaving = new AbortController();
    const left = request('/v1/completions', { prompt: 'going', max_tokens: 1500, stream: true }, () => leaving.abort(), leaving.signal).catch((e: Error) => e);
    expect(await left).toBeInstanceOf(Error);
    await waitUntil(async () => (await health()).running === 0, { what: 'the server to free the sequence', intervalMs: 5 });
    expect(await health()).toMatchObject({ running: 0, waiting: 0, gpuKvCacheUsage: 0 });
    const after = await metrics();
    const aborted = `inferwatch_requests_finished_total{${labels('text_completion')},finish_reason="abort"}`;
    expect((sample(after, aborted) ?? 0) - (sample(before, aborted) ?? 0)).toBe(1);
    // It stopped early: far fewer than the 1500 tokens asked for were generated.
    expect(tokens(after, 'text_completion', 'output') - tokens(before, 'text_completion', 'output')).toBeLessThan(1500);
  });
});
