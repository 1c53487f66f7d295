import type { IncomingMessage, ServerResponse } from 'node:http';
import { serve } from './net.js';
import { sleep } from './wait.js';

/**
 * A scripted OpenAI-compatible upstream on 127.0.0.1. The model name picks the script:
 * - anything else: TOKENS streamed (or returned whole), the first after FIRST_DELAY_MS, then one every GAP_MS;
 * - `fail-500`: a 500 with an OpenAI-style error body;
 * - `cut`: two tokens, then the connection is destroyed mid-stream;
 * - `error-event`: two tokens, then an error event and the end of the stream.
 */
export const TOKENS = ['Hello', ',', ' wor', 'ld', '!'];
export const FIRST_DELAY_MS = 120;
export const GAP_MS = 15;
export const PROMPT_TOKENS = 11;

function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        resolve({});
      }
    });
  });
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = await readBody(req);
  const chat = (req.url ?? '').includes('/chat/');
  const model = String(body.model ?? 'm');
  const id = 'cmpl-1';
  const usage = { prompt_tokens: PROMPT_TOKENS, completion_tokens: TOKENS.length, total_tokens: PROMPT_TOKENS + TOKENS.length };
  if (model === 'fail-500') {
    res.writeHead(500, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { message: 'engine exploded', type: 'server_error', code: 'engine_error' } }));
    return;
  }
  const chunk = (token: string | null, finish: string | null, extra: object = {}) =>
    JSON.stringify(
      chat
        ? { id, object: 'chat.completion.chunk', created: 1, model, choices: [{ index: 0, delta: token === null ? {} : { content: token }, finish_reason: finish }], ...extra }
        : { id, object: 'text_completion', created: 1, model, choices: [{ index: 0, text: token ?? '', finish_reason: finish }], ...extra },
    );
  if (body.stream !== true) {
    await sleep(FIRST_DELAY_MS + GAP_MS * (TOKENS.length - 1));
    const text = TOKENS.join('');
    const choice = chat ? { index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' } : { index: 0, text, finish_reason: 'stop' };
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ id, object: chat ? 'chat.completion' : 'text_completion', created: 1, model, choices: [choice], usage }));
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  if (chat) res.write(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: 1, model, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] })}\n\n`);
  await sleep(FIRST_DELAY_MS);
  for (let i = 0; i < TOKENS.length; i++) {
    if (i > 0) await sleep(GAP_MS);
    if (i === 2 && model === 'cut') return void res.destroy();
    if (i === 2 && model === 'error-event') {
      res.write(`data: ${JSON.stringify({ error: { message: 'out of memory', type: 'server_error', code: 'oom' } })}\n\n`);
      return void res.end();
    }
    // Split one event across two writes, as networks do.
    const event = `data: ${chunk(TOKENS[i], null)}\n\n`;
    res.write(event.slice(0, 9));
    res.write(event.slice(9));
  }
  res.write(`data: ${chunk(null, 'stop')}\n\n`);
  const options = body.stream_options as { include_usage?: boolean } | undefined;
  if (options?.include_usage) res.write(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: 1, model, choices: [], usage })}\n\n`);
  res.end('data: [DONE]\n\n');
}

/** The scripted upstream; `traceparents` holds the `traceparent` header of each request it got (first 1000). */
export async function scriptedUpstream() {
  const traceparents: (string | undefined)[] = [];
  const app = await serve((req, res) => {
    if (traceparents.length < 1000) traceparents.push(req.headers.traceparent as string | undefined);
    handle(req, res).catch(() => res.destroy());
  });
  return { ...app, traceparents };
}
