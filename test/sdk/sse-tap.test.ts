import { describe, expect, it } from 'vitest';
import { createLlmMetrics } from '@inferwatch/sdk';
import { tapResponse } from '@inferwatch/sdk/internal';
import { Shape } from '../../packages/sdk/src/streams/sse-tap.js';
import { collect, requestSummary } from '../helpers/collect.js';

const ATTRS = { 'gen_ai.request.model': 'm', 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'unknown' };
const enc = new TextEncoder();

/** A seeded PRNG (mulberry32), so a failure names a reproducible seed. */
function random(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Deltas chosen to trip a prefix/suffix match: quotes, escapes, the suffix's own bytes, multi-byte characters.
const DELTAS = ['', ' the', 'é', '😀 ok', '"', '\\', '\\"', 'a\\', '"},"logprobs":null,"finish_reason":null}]}', '","finish_reason":"stop', '\n', 'data: [DONE]', 'x'.repeat(300)];

interface Truth {
  body: string;
  tokens: number;
  finish: string;
  prompt: number | undefined;
  completion: number | undefined;
}

/** A random OpenAI-style stream and what it truly contains, from the generator's own bookkeeping. */
function stream(rand: () => number): Truth {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)];
  const nl = rand() < 0.2 ? '\r\n' : '\n';
  const event = (payload: unknown) => `data: ${JSON.stringify(payload)}${nl}${nl}`;
  let id = `chatcmpl-${Math.floor(rand() * 3)}`;
  let model = 'meta-llama/Llama-3.1-8B-Instruct';
  let body = event({ id, object: 'chat.completion.chunk', created: 1, model, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] });
  let tokens = 0;
  const n = Math.floor(rand() * 40);
  for (let i = 0; i < n; i++) {
    // Shape changes mid-stream: another id or model, tool-call arguments, reasoning, two deltas at once.
    if (rand() < 0.1) id = `chatcmpl-${Math.floor(rand() * 3)}`;
    if (rand() < 0.05) model = pick(['m2', 'meta-llama/Llama-3.1-8B-Instruct']);
    const kind = rand();
    const text = pick(DELTAS);
    let delta: Record<string, unknown>;
    if (kind < 0.6) delta = { content: text };
    else if (kind < 0.7) delta = { tool_calls: [{ index: 0, function: { arguments: text } }] };
    else if (kind < 0.8) delta = { reasoning_content: text, content: null };
    else if (kind < 0.9) delta = { content: text, reasoning_content: pick(['', 'r']) };
    else delta = { content: null };
    const values = [delta.content, delta.reasoning_content, (delta.tool_calls as { function: { arguments: string } }[] | undefined)?.[0].function.arguments];
    if (values.some((v) => typeof v === 'string' && v !== '')) tokens++;
    body += event({ id, object: 'chat.completion.chunk', created: 1, model, choices: [{ index: 0, delta, logprobs: null, finish_reason: null }] });
  }
  const finish = pick(['stop', 'length', 'tool_calls', 'r'.repeat(150_000)]);
  body += event({ id, object: 'chat.completion.chunk', created: 1, model, choices: [{ index: 0, delta: {}, finish_reason: finish }] });
  const withUsage = rand() < 0.5;
  const prompt = withUsage ? Math.floor(rand() * 100) : undefined;
  if (withUsage) body += event({ id, choices: [], usage: { prompt_tokens: prompt, completion_tokens: tokens } });
  body += `data: [DONE]${nl}${nl}`;
  return { body, tokens, finish: finish.length > 20 ? 'other' : finish, prompt, completion: withUsage ? tokens : undefined };
}

async function outcome(bytes: Uint8Array, cuts: number[]) {
  let now = 0;
  const llm = createLlmMetrics({ log: false, clock: () => (now += 1) });
  const tap = tapResponse(llm.startRequest({ model: 'm' }), { format: 'sse' });
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    tap.write(bytes.subarray(from, cut));
    from = cut;
  }
  tap.finish();
  const m = await collect(llm.producer);
  return { ...requestSummary(m, ATTRS), itlCount: m.histogram('inferwatch.request.inter_token_latency', ATTRS)!.value.count };
}

describe('the SSE tap fast path', () => {
  it('gives the generator\'s own counts over random streams cut at random places', async () => {
    for (let seed = 1; seed <= 60; seed++) {
      const rand = random(seed);
      const truth = stream(rand);
      const bytes = enc.encode(truth.body);
      const expected = {
        finished: { [truth.finish]: 1 },
        output: truth.tokens,
        input: truth.prompt ?? 0,
        itlCount: Math.max(truth.tokens - 1, 0),
        ttftCount: truth.tokens > 0 ? 1 : 0,
      };
      // Whole, one event per write, and cut anywhere (inside multi-byte characters too).
      const events = [...truth.body.matchAll(/\n\n|\r\n\r\n/g)].map((m) => enc.encode(truth.body.slice(0, m.index! + m[0].length)).length);
      const cuts = [[], events.slice(0, -1)];
      for (let k = 0; k < 4; k++) {
        const some = Array.from({ length: Math.floor(rand() * 30) }, () => Math.floor(rand() * bytes.length));
        cuts.push([...new Set(some)].sort((a, b) => a - b));
      }
      for (const c of cuts) expect(await outcome(bytes, c), `seed ${seed}, cuts ${c.length}`).toEqual(expected);
    }
  });

  it('matches only events of the same shape whose delta is one whole string', () => {
    const line = (id: string, delta: string) => enc.encode(`data: {"id":"${id}","choices":[{"delta":{"content":${JSON.stringify(delta)}},"finish_reason":null}]}`);
    const first = line('a', 'hi');
    const open = new TextDecoder().decode(first).indexOf(':"hi"') + 1;
    const shape = Shape.of(first, 0, first.length, open)!;
    const match = (bytes: Uint8Array) => (shape.matchAt(bytes, 0, bytes.length) === bytes.length ? shape.content : -1);
    expect(match(line('a', ' there'))).toBe(1);
    expect(match(line('a', ''))).toBe(0);
    expect(match(line('a', '😀'))).toBe(1);
    // The delta holds the suffix's bytes, or escapes: still one string, still a match.
    expect(match(line('a', '"},"finish_reason":null}]}'))).toBe(1);
    expect(match(line('a', '\\'))).toBe(1);
    expect(match(line('a', '\\"'))).toBe(1);
    // Another id, or a line that only looks alike around an unescaped quote: not this shape.
    expect(match(line('b', 'hi'))).toBe(-1);
    expect(match(enc.encode('data: {"id":"a","choices":[{"delta":{"content":"x","content":"y"},"finish_reason":null}]}'))).toBe(-1);
    expect(match(enc.encode('data: {"id":"a","choices":[{"delta":{"content":"x\\"},"finish_reason":null}]}'))).toBe(-1);
    expect(match(enc.encode('data: [DONE]'))).toBe(-1);
  });

  it('never throws on a 150 000-character finish_reason, split or whole', async () => {
    const huge = 'x'.repeat(150_000);
    const body = enc.encode(
      `data: {"choices":[{"delta":{"content":"a"},"finish_reason":null}]}\n\ndata: {"choices":[{"delta":{"content":"b"},"finish_reason":null}]}\n\ndata: {"choices":[{"delta":{},"finish_reason":"${huge}"}]}\n\ndata: [DONE]\n\n`,
    );
    for (const cuts of [[], [100, 150, 70_000]]) {
      expect(await outcome(body, cuts)).toMatchObject({ finished: { other: 1 }, output: 2 });
    }
  });
});
