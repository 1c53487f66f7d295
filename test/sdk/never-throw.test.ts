import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLlmMetrics, trackStream, type LlmMetrics, type RequestHandle } from '@inferwatch/sdk';
import { tapResponse } from '@inferwatch/sdk/internal';
import { instrumentNodeHttp } from '@inferwatch/http';
import { collect } from '../helpers/collect.js';

/**
 * One regression test per way the SDK used to throw into its host (issue 10, "Why"): each call
 * must return normally, and what it records must follow docs/metrics.md.
 */

const hostile = () => ({
  toString() {
    throw new Error('toString');
  },
});

async function counts(llm: LlmMetrics, metric: string, label: string) {
  const m = await collect(llm.producer);
  const out: Record<string, number> = {};
  for (const p of m.metric(metric)?.dataPoints ?? []) {
    const key = String(p.attributes[label]);
    const value = typeof p.value === 'number' ? p.value : (p.value as { count: number }).count;
    if (value > 0) out[key] = (out[key] ?? 0) + value;
  }
  return out;
}

const recorder = () => createLlmMetrics({ log: false });
const hugeFinish = `data: {"choices":[{"index":0,"delta":{},"finish_reason":"${'x'.repeat(150_000)}"}]}\n\n`;

describe('no SDK call throws into the host', () => {
  it('tap.write() with a 150 k-character finish_reason: no RangeError, the request ends as `other`', async () => {
    const llm = recorder();
    const tap = tapResponse(llm.startRequest({ model: 'm' }), { format: 'sse' });
    expect(() => tap.write('data: {"choices":[{"delta":{"content":"hi"}}]}\n\n')).not.toThrow();
    expect(() => tap.write(hugeFinish)).not.toThrow();
    expect(() => tap.write(Buffer.from(hugeFinish))).not.toThrow();
    tap.finish();
    expect(await counts(llm, 'inferwatch.requests.finished', 'finish_reason')).toEqual({ other: 1 });
  });

  it('the same body through the node:http wrapper: the host’s own res.write() succeeds and the client gets it all', async () => {
    const llm = recorder();
    const server = createServer(
      instrumentNodeHttp(llm, (req, res) => {
        req.resume();
        req.on('end', () => {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          try {
            res.write(hugeFinish);
            res.end('data: [DONE]\n\n');
          } catch (error) {
            res.destroy(error as Error);
          }
        });
      }),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const response = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, { method: 'POST', body: JSON.stringify({ model: 'm', stream: true }) });
      const text = await response.text();
      expect(text.length).toBe(hugeFinish.length + 'data: [DONE]\n\n'.length);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('a model or operation whose toString throws: counted as invalid_argument, recorded as `unknown`', async () => {
    const llm = recorder();
    const r = llm.startRequest({ model: hostile() as never });
    expect(() => llm.startRequest({ model: 'm', operation: hostile() as never, provider: hostile() as never }).end()).not.toThrow();
    r.end();
    expect(await counts(llm, 'inferwatch.sdk.misuse', 'reason')).toEqual({ invalid_argument: 1 });
    expect(await counts(llm, 'inferwatch.requests.finished', 'gen_ai.request.model')).toEqual({ unknown: 1, m: 1 });
    // Operation and provider fall back to the defaults, as for any non-string.
    expect(await counts(llm, 'inferwatch.requests.finished', 'gen_ai.operation.name')).toEqual({ chat: 2 });
  });

  it('fail() with an error whose `code` getter throws: the request fails as _OTHER', async () => {
    const llm = recorder();
    const error = Object.defineProperty(new Error('x'), 'code', {
      get() {
        throw new Error('getter');
      },
    });
    expect(() => llm.startRequest({ model: 'm' }).fail(error)).not.toThrow();
    expect(await counts(llm, 'inferwatch.requests.finished', 'finish_reason')).toEqual({ error: 1 });
    expect(await counts(llm, 'gen_ai.server.request.duration', 'error.type')).toEqual({ _OTHER: 1 });
  });

  it('tap.write(123): ignored and counted as invalid_argument', async () => {
    const llm = recorder();
    const tap = tapResponse(llm.startRequest({ model: 'm' }), { format: 'sse' });
    expect(() => tap.write(123 as never)).not.toThrow();
    expect(() => tap.write({} as never)).not.toThrow();
    expect(() => tap.write(null as never)).not.toThrow();
    tap.write('data: {"choices":[{"delta":{"content":"a"},"finish_reason":"stop"}]}\n\n');
    tap.finish();
    expect(await counts(llm, 'inferwatch.sdk.misuse', 'reason')).toEqual({ invalid_argument: 3 });
    expect(await counts(llm, 'inferwatch.tokens', 'gen_ai.token.type')).toEqual({ output: 1 });
    expect(await counts(llm, 'inferwatch.requests.finished', 'finish_reason')).toEqual({ stop: 1 });
  });

  it('tapResponse(null) and other non-handles: every method returns normally', () => {
    for (const handle of [null, undefined, 42, {}, { end: 1 }, hostile()]) {
      const tap = tapResponse(handle as never, { format: 'sse' });
      expect(() => {
        tap.write('data: {"choices":[{"delta":{"content":"a"}}]}\n\n');
        tap.finish();
        tap.fail(new Error('x'));
        tap.abort();
      }).not.toThrow();
    }
    expect(() => tapResponse(null as never, null as never).finish()).not.toThrow();
  });

  it('trackStream() of objects with { format }: the objects pass through, nothing throws, each is counted as misuse', async () => {
    const objects = [{ a: 1 }, { b: 2 }, 3];
    const llm = recorder();
    const seen: unknown[] = [];
    const handle: RequestHandle = llm.startRequest({ model: 'm' });
    for await (const chunk of trackStream(handle, (async function* () {
      yield* objects;
    })(), { format: 'sse' })) {
      seen.push(chunk);
    }
    expect(seen).toEqual(objects);

    const fromNode: unknown[] = [];
    for await (const chunk of trackStream(llm.startRequest({ model: 'm' }), Readable.from(objects), { format: 'json' })) fromNode.push(chunk);
    expect(fromNode).toEqual(objects);

    const web = trackStream(llm.startRequest({ model: 'm' }), ReadableStream.from(objects), { format: 'sse' });
    const fromWeb: unknown[] = [];
    for await (const chunk of web) fromWeb.push(chunk);
    expect(fromWeb).toEqual(objects);
    expect(await counts(llm, 'inferwatch.sdk.misuse', 'reason')).toEqual({ invalid_argument: 9 });
  });

  it('trackStream() of something that is not a stream returns it untouched', () => {
    const llm = recorder();
    for (const value of [null, 42, {}]) expect(trackStream(llm.startRequest({ model: 'm' }), value as never)).toBe(value);
  });
});
