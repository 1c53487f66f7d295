// The HTTP layer both example engines share, with a scripted engine: every request ends exactly once.
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain JavaScript example
import { createOpenAIServer, stopScanner } from '../../examples/openai-server/server.mjs';

interface Reply {
  open(): void;
  token(text: string): void;
  end(finishReason: string, usage: Record<string, number>): void;
  error(status: number, message: string, param?: string | null): void;
}
type Generate = (request: { body: { prompt?: string; max_tokens?: number }; signal: AbortSignal }, reply: Reply) => Promise<void> | void;

let generate: Generate = () => {};
let url: string;
let server: { listen: (...a: unknown[]) => void; close: (cb: () => void) => void; address: () => AddressInfo };

beforeAll(async () => {
  server = createOpenAIServer({ model: 'm', ownedBy: 'test', maxModelLen: 64, maxBodyBytes: 1024, metricsHandler: (_req: unknown, res: { end: (s: string) => void }) => res.end('# EOF\n'), generate: (r: never, reply: Reply) => generate(r, reply) });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${server.address().port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const post = (path: string, body: string) => fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

describe('the shared OpenAI-compatible server', () => {
  it('refuses bad bodies with OpenAI errors before the engine sees them', async () => {
    let called = 0;
    generate = () => void called++;
    const cases: [string, string, number, string | null][] = [
      ['/v1/completions', '{"prompt": "x", "max_tokens": 0}', 400, 'max_tokens'],
      ['/v1/completions', '{"prompt": "x", "stream": "yes"}', 400, 'stream'],
      ['/v1/completions', '{"prompt": [1, 2]}', 400, 'prompt'],
      ['/v1/completions', '{"prompt": "x", "n": 2}', 400, 'n'],
      ['/v1/chat/completions', '{"messages": [], "n": "1"}', 400, 'n'],
      // This engine does not declare that it honours stop sequences: refused, not ignored.
      ['/v1/completions', '{"prompt": "x", "stop": "y"}', 400, 'stop'],
      ['/v1/chat/completions', '{"messages": [], "stop": {"a": 1}}', 400, 'stop'],
      ['/v1/chat/completions', '[]', 400, null],
      ['/v1/chat/completions', `{"messages": [{"role": "user", "content": "${'a'.repeat(2000)}"}]}`, 413, null],
    ];
    for (const [path, body, status, param] of cases) {
      const res = await post(path, body);
      expect(res.status, body.slice(0, 40)).toBe(status);
      const { error } = (await res.json()) as { error: { type: string; param: string | null } };
      expect(error.type).toBe('invalid_request_error');
      expect(error.param).toBe(param);
    }
    expect(called).toBe(0);
  });

  it('streams tokens, the finish chunk, usage when asked, and [DONE]', async () => {
    generate = (_r, reply) => {
      reply.token('a');
      reply.token('b');
      reply.end('length', { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 });
      reply.token('late');
    };
    const text = await (await post('/v1/completions', '{"prompt": "x", "stream": true, "stream_options": {"include_usage": true}}')).text();
    const events = text.split('\n\n').filter(Boolean).map((e) => e.replace(/^data: /, ''));
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
    expect(chunks.map((c) => c.choices[0]?.text ?? null)).toEqual(['a', 'b', '', null]);
    expect(chunks[2].choices[0].finish_reason).toBe('length');
    expect(chunks[3].usage).toEqual({ prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 });
  });

  it('answers 500 when the engine throws or returns without answering, and its own error when it refuses', async () => {
    generate = () => {
      throw new Error('boom');
    };
    expect((await post('/v1/completions', '{"prompt": "x"}')).status).toBe(500);
    generate = () => {};
    expect((await post('/v1/completions', '{"prompt": "x"}')).status).toBe(500);
    generate = (_r, reply) => reply.error(429, 'busy');
    const res = await post('/v1/chat/completions', '{"messages": []}');
    expect(res.status).toBe(429);
    expect(((await res.json()) as { error: { type: string } }).error.type).toBe('rate_limit_error');
  });

  it('tells the engine when the client leaves', async () => {
    let aborted!: () => void;
    const sawAbort = new Promise<void>((resolve) => (aborted = resolve));
    generate = ({ signal }, reply) =>
      new Promise<void>((resolve) => {
        reply.token('first');
        signal.addEventListener('abort', () => {
          aborted();
          resolve();
        });
      });
    const client = new AbortController();
    const res = await fetch(`${url}/v1/completions`, { method: 'POST', body: '{"prompt": "x", "stream": true}', signal: client.signal });
    await res.body!.getReader().read();
    client.abort();
    await sawAbort;
  });

  it('serves /v1/models, /health and 404', async () => {
    expect(((await (await fetch(`${url}/v1/models`)).json()) as { data: { id: string; max_model_len: number }[] }).data[0]).toMatchObject({ id: 'm', max_model_len: 64 });
    expect(await (await fetch(`${url}/health`)).json()).toEqual({ status: 'ok' });
    expect((await fetch(`${url}/v1/nothing`)).status).toBe(404);
  });

  it('stop sequences: exactly the text before the first one to complete is sent, however the text arrives in pieces', () => {
    const piece = fc.string({ unit: fc.constantFrom('a', 'b', ' '), maxLength: 4 });
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 12 }), fc.array(fc.string({ unit: fc.constantFrom('a', 'b', ' '), minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 4 }), (pieces, stops) => {
        const text = pieces.join('');
        // The first to complete ends soonest; of two ending together, the longer began first.
        const found = stops.map((s) => ({ s, end: text.indexOf(s) === -1 ? Infinity : text.indexOf(s) + s.length })).sort((x, y) => x.end - y.end || y.s.length - x.s.length)[0]!;
        const expected = found.end === Infinity ? text : text.slice(0, found.end - found.s.length);
        const scanner = stopScanner(stops);
        let sent = '';
        for (const p of pieces) sent += scanner.push(p);
        sent += scanner.flush();
        expect(sent).toBe(expected);
        expect(scanner.stopped).toBe(found.end !== Infinity);
      }),
      { numRuns: 2000 },
    );
  });
});
