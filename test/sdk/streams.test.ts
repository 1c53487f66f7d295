import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLlmMetrics, trackStream, type LlmMetrics } from '@inferwatch/sdk';
import { tapResponse } from '@inferwatch/sdk/internal';
import { collect, requestSummary } from '../helpers/collect.js';

const ATTRS = { 'gen_ai.request.model': 'm', 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'unknown' };

const summary = async (llm: LlmMetrics) => requestSummary(await collect(llm.producer), ATTRS);

function setup() {
  let now = 0;
  const llm = createLlmMetrics({ log: false, clock: () => now++ });
  return { llm, handle: llm.startRequest({ model: 'm' }) };
}

/** A pull-counting source, to see that tracking reads nothing ahead of the consumer. */
function countingSource(chunks: string[]) {
  const state = { pulled: 0 };
  const stream = new ReadableStream<string>({
    pull(controller) {
      if (state.pulled === chunks.length) return controller.close();
      controller.enqueue(chunks[state.pulled++]);
    },
  }, { highWaterMark: 0 });
  return { stream, state };
}

describe('trackStream', () => {
  it('async iterable: same chunks, a token each, end on completion', async () => {
    const { llm, handle } = setup();
    const objects = [{ a: 1 }, { b: 2 }, { c: 3 }];
    const seen: unknown[] = [];
    for await (const chunk of trackStream(handle, (async function* () { yield* objects; })())) seen.push(chunk);
    expect(seen).toEqual(objects);
    expect(seen[0]).toBe(objects[0]);
    expect(await summary(llm)).toMatchObject({ finished: { stop: 1 }, output: 3, ttftCount: 1 });
  });

  it('async iterable: an early break aborts, a throwing source fails', async () => {
    const { llm, handle } = setup();
    for await (const _ of trackStream(handle, (async function* () { yield 1; yield 2; })())) break;
    const failing = llm.startRequest({ model: 'm' });
    await expect((async () => {
      for await (const _ of trackStream(failing, (async function* () { yield 1; throw new Error('x'); })())) void _;
    })()).rejects.toThrow('x');
    expect((await summary(llm)).finished).toEqual({ abort: 1, error: 1 });
  });

  it('web ReadableStream: counts with a tokens function, keeps backpressure, aborts on cancel', async () => {
    const { llm, handle } = setup();
    const { stream, state } = countingSource(['ab', 'cde', 'f']);
    const reader = trackStream(handle, stream, { tokens: (s) => s.length }).getReader();
    expect(state.pulled).toBe(0);
    expect(await reader.read()).toEqual({ done: false, value: 'ab' });
    expect(state.pulled).toBe(1);
    await reader.cancel();
    expect(await summary(llm)).toMatchObject({ finished: { abort: 1 }, output: 2 });
  });

  it('Node Readable: same buffers, end on finish, failure on a source error', async () => {
    const { llm, handle } = setup();
    const buffers = [Buffer.from('x'), Buffer.from('yz')];
    const out: Buffer[] = [];
    for await (const chunk of trackStream(handle, Readable.from(buffers, { objectMode: false }))) out.push(chunk);
    expect(Buffer.concat(out).toString()).toBe('xyz');
    const broken = new Readable({ read() { this.destroy(new Error('upstream gone')); } });
    const tracked = trackStream(llm.startRequest({ model: 'm' }), broken);
    await new Promise((resolve) => tracked.on('error', resolve).resume());
    expect((await summary(llm)).finished).toEqual({ stop: 1, error: 1 });
  });
});

describe('tapResponse', () => {
  const enc = new TextEncoder();
  const chatChunk = (content: string | null, finish: string | null = null) =>
    `data: ${JSON.stringify({ object: 'chat.completion.chunk', choices: [{ index: 0, delta: content === null ? {} : { content }, finish_reason: finish }] })}\n\n`;

  it('reads events split anywhere, multi-byte characters included, and usage from the last chunk', async () => {
    const { llm, handle } = setup();
    const body = enc.encode(
      chatChunk('') + chatChunk('héllo') + chatChunk('😀') + chatChunk(' x') + chatChunk(null, 'length') +
        `data: ${JSON.stringify({ choices: [], usage: { prompt_tokens: 7, completion_tokens: 4 } })}\n\ndata: [DONE]\n\n`,
    );
    const tap = tapResponse(handle, { format: 'sse' });
    for (let i = 0; i < body.length; i += 3) tap.write(body.subarray(i, i + 3));
    tap.finish();
    expect(await summary(llm)).toEqual({ finished: { length: 1 }, output: 4, input: 7, ttftCount: 1 });
  });

  it('counts text_completion chunks, and fails a stream that stops before [DONE] and any finish_reason', async () => {
    const { llm, handle } = setup();
    const tap = tapResponse(handle, { format: 'sse' });
    tap.write('data: {"object":"text_completion","choices":[{"text":"a","finish_reason":null}]}\r\n\r\n');
    tap.write('data: {"object":"text_completion","choices":[{"text":"b","finish_reason":null}]}\n\n');
    tap.finish();
    const s = await summary(llm);
    expect(s.output).toBe(2);
    expect(s.finished).toEqual({ error: 1 });
  });

  it('reads usage and the finish reason from a JSON body, and an error body as a failure', async () => {
    const { llm, handle } = setup();
    const ok = tapResponse(handle, { format: 'json' });
    ok.write('{"choices":[{"message":{"content":"hi"},"finish_reason":"tool_calls"}],');
    ok.write('"usage":{"prompt_tokens":3,"completion_tokens":9}}');
    ok.finish();
    const bad = tapResponse(llm.startRequest({ model: 'm' }), { format: 'json' });
    bad.write('{"error":{"type":"invalid_request_error","message":"no"}}');
    bad.finish();
    expect(await summary(llm)).toMatchObject({ finished: { tool_calls: 1, error: 1 }, output: 9, input: 3 });
  });
});
