// OpenAI's `n` and `stop` on both example engines, which share their HTTP layer: each answers them the
// same way. `stop` ends the output where the first stop sequence begins (the sequence itself is not
// sent) with finish_reason stop; `n` other than 1 is refused by name, as vLLM refuses what it lacks.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain JavaScript example
import { ensureTinyModel } from '../../examples/llama-server/make-tiny-model.mjs';
import { parseSamples, sumOf } from '../helpers/exposition.js';
import { startEngine, startProcess, type Started } from '../helpers/processes.js';

type Path = '/v1/completions' | '/v1/chat/completions';

interface Answer {
  status: number;
  /** The text as the client received it: one piece per chunk that carried text (one for a JSON body). */
  pieces: string[];
  finishReason?: string;
  choices?: number;
  usage?: { completion_tokens: number };
  error?: unknown;
}

/** One request as an OpenAI client reads it, streamed or not. */
async function ask(url: string, path: Path, payload: Record<string, unknown>): Promise<Answer> {
  const chat = path === '/v1/chat/completions';
  const input = chat ? { messages: [{ role: 'user', content: 'what comes next' }] } : { prompt: 'what comes next' };
  const body = { temperature: 0, ...input, ...payload, ...(payload.stream ? { stream_options: { include_usage: true } } : {}) };
  const res = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!payload.stream || res.status !== 200) {
    const json = (await res.json()) as { error?: unknown; usage?: Answer['usage']; choices?: { text?: string; message?: { content: string }; finish_reason: string }[] };
    const choice = json.choices?.[0];
    return { status: res.status, pieces: choice ? [(chat ? choice.message?.content : choice.text) ?? ''] : [], finishReason: choice?.finish_reason, choices: json.choices?.length, usage: json.usage, error: json.error };
  }
  const out: Answer = { status: res.status, pieces: [] };
  for (const event of (await res.text()).split('\n\n')) {
    const data = event.replace(/^data: /, '');
    if (data === '' || data === '[DONE]') continue;
    const chunk = JSON.parse(data) as { usage?: Answer['usage']; choices: { text?: string; delta?: { content?: string }; finish_reason: string | null }[] };
    if (chunk.usage) out.usage = chunk.usage;
    const choice = chunk.choices[0];
    const text = chat ? choice?.delta?.content : choice?.text;
    if (text) out.pieces.push(text);
    if (choice?.finish_reason) out.finishReason = choice.finish_reason;
  }
  return out;
}

const MAX_TOKENS = 24;
const engines: Record<'sim' | 'llama', Started> = {} as never;
const finished = async (engine: Started, reason: string) =>
  sumOf(parseSamples(await (await fetch(`${engine.url}/metrics`)).text()), 'inferwatch_requests_finished_total', (l) => l.finish_reason === reason);

beforeAll(async () => {
  ensureTinyModel();
  [engines.sim, engines.llama] = await Promise.all([
    startEngine(['--decode-base-ms', '1']),
    startProcess('examples/llama-server/server.mjs', ['--sequences', '1', '--log-interval-ms', '600000'], 'node-llama-cpp serving'),
  ]);
});
afterAll(async () => {
  await Promise.all(Object.values(engines).map((e) => e?.stop()));
});

describe.each(['sim', 'llama'] as const)('the %s engine', (name) => {
  describe.each(['/v1/completions', '/v1/chat/completions'] as const)('%s', (path) => {
    it('refuses n other than 1 with a 400 naming `n`, and answers n: 1 with one choice', async () => {
      const engine = engines[name];
      for (const n of [3, 0, 1.5]) {
        const refused = await ask(engine.url, path, { n, max_tokens: 2 });
        expect(refused.status, `n: ${n}`).toBe(400);
        expect(refused.error).toEqual({
          message: n === 3 ? '`n` must be 1: this engine generates one choice per request (got 3)' : '`n` must be a positive integer',
          type: 'invalid_request_error',
          param: 'n',
          code: null,
        });
      }
      const one = await ask(engine.url, path, { n: 1, max_tokens: 2 });
      expect(one.status).toBe(200);
      expect(one.choices).toBe(1);
    });

    it('ends the output where a stop sequence begins, without sending it, with finish_reason stop', async () => {
      const engine = engines[name];
      // Greedy decoding gives the same output every time, one text chunk per token.
      const full = await ask(engine.url, path, { max_tokens: MAX_TOKENS, stream: true });
      expect(full.finishReason).toBe('length');
      expect(full.pieces).toHaveLength(MAX_TOKENS);
      const text = full.pieces.join('');
      // A stop sequence that begins inside a token (after its leading space, where there is one) and
      // ends in the next: the text before it is part of a token, and must come out intact.
      const t = [...full.pieces.keys()].find((i) => i > 0 && i < MAX_TOKENS - 1 && full.pieces[i]!.length >= 3 && full.pieces[i]!.startsWith(' ')) ?? full.pieces.findIndex((p, i) => i > 0 && p.length >= 3);
      expect(t, `a token of three characters or more in ${JSON.stringify(full.pieces)}`).toBeGreaterThan(0);
      const stop = full.pieces[t]!.slice(2) + full.pieces[t + 1]!.slice(0, 1);
      const expected = text.slice(0, text.indexOf(stop));
      // The token that completes it is the last one generated.
      const tokens = full.pieces.findIndex((_, i) => full.pieces.slice(0, i + 1).join('').includes(stop)) + 1;

      const before = await finished(engine, 'stop');
      // A string, and a list whose other sequence never appears.
      for (const [stream, stopField] of [[false, stop], [true, ['\u0000never', stop]]] as const) {
        const answer = await ask(engine.url, path, { max_tokens: MAX_TOKENS, stream, stop: stopField });
        expect(answer.status).toBe(200);
        expect(answer.pieces.join(''), `stop ${JSON.stringify(stop)}, stream: ${stream}`).toBe(expected);
        expect(answer.finishReason).toBe('stop');
        expect(answer.usage!.completion_tokens).toBe(tokens);
      }
      expect((await finished(engine, 'stop')) - before).toBe(2);

      // Text held back because it might begin a stop sequence is sent when the output ends without one.
      const held = await ask(engine.url, path, { max_tokens: MAX_TOKENS, stream: true, stop: `${full.pieces.at(-1)}\u0000` });
      expect(held.pieces.join('')).toBe(text);
      expect(held.finishReason).toBe('length');
    });

    it('refuses a malformed stop with a 400 naming `stop`', async () => {
      for (const stop of [7, [''], ['a', 'b', 'c', 'd', 'e'], [1]]) {
        const refused = await ask(engines[name].url, path, { stop, max_tokens: 2 });
        expect(refused.status, JSON.stringify(stop)).toBe(400);
        expect(refused.error).toMatchObject({ type: 'invalid_request_error', param: 'stop', code: null });
      }
    });
  });
});
