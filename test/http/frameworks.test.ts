import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLlmMetrics, type LlmMetrics } from '@inferwatch/sdk';
import { collect } from '../helpers/collect.js';
import { FIRST_DELAY_MS, GAP_MS, PROMPT_TOKENS, TOKENS, scriptedUpstream } from '../helpers/upstream.js';
import { waitUntil } from '../helpers/wait.js';
import { APPS, type App } from './apps.js';

let upstream: Awaited<ReturnType<typeof scriptedUpstream>>;
beforeAll(async () => {
  upstream = await scriptedUpstream();
});
afterAll(() => upstream.close());

const attrs = (model: string) => ({ 'gen_ai.request.model': model, 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'unknown' });

async function request(app: App, model: string, stream: boolean, signal?: AbortSignal) {
  return fetch(`${app.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, stream, messages: [{ role: 'user', content: 'hi' }], ...(stream ? { stream_options: { include_usage: true } } : {}) }),
    signal,
  });
}

/** Finished-request counts by reason, once `total` requests have finished (the server side settles a moment after the client). */
async function finished(llm: LlmMetrics, model: string, total = 1): Promise<Record<string, number>> {
  return waitUntil(async () => {
    const m = await collect(llm.producer);
    const points = (m.metric('inferwatch.requests.finished')?.dataPoints ?? []).filter((p) => p.attributes['gen_ai.request.model'] === model);
    const counts: Record<string, number> = {};
    for (const p of points) if ((p.value as number) > 0) counts[String(p.attributes.finish_reason)] = p.value as number;
    return Object.values(counts).reduce((a, b) => a + b, 0) >= total && counts;
  }, { what: `${total} finished ${model} request(s) on the server side` });
}

describe.each(Object.keys(APPS))('%s wrapper', (name) => {
  let llm: LlmMetrics;
  let app: App;
  let plain: App;
  beforeAll(async () => {
    llm = createLlmMetrics({ log: false });
    app = await APPS[name](llm, upstream.url);
    plain = await APPS[name](undefined, upstream.url);
  });
  afterAll(async () => {
    await app.close();
    await plain.close();
  });

  it('records only the OpenAI-style inference routes by default: an admin route or a webhook is no LLM request', async () => {
    const post = (path: string, model: string) =>
      fetch(`${app.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }) }).then((r) => r.arrayBuffer());
    for (const path of ['/v1/admin/reload', '/v1/webhook', '/v1/chat/completions/extra']) await post(path, 'not-llm');
    // The query string is no part of the route.
    await post('/v1/chat/completions?api-version=2024-10-21', 'routed');
    expect(await finished(llm, 'routed')).toEqual({ stop: 1 });
    const m = await collect(llm.producer);
    const models = new Set(m.metric('inferwatch.requests.finished')!.dataPoints.map((p) => p.attributes['gen_ai.request.model']));
    expect(models.has('not-llm')).toBe(false);
  });

  it('records a streamed success: time to first token, exact tokens, usage, and leaves the bytes alone', async () => {
    const started = performance.now();
    const body = await (await request(app, 'm-stream', true)).text();
    const elapsed = (performance.now() - started) / 1000;
    expect(await finished(llm, 'm-stream')).toEqual({ stop: 1 });
    const m = await collect(llm.producer);
    const ttft = m.histogram('gen_ai.server.time_to_first_token', attrs('m-stream'))!.value;
    expect(ttft.count).toBe(1);
    expect(ttft.sum).toBeGreaterThanOrEqual(FIRST_DELAY_MS / 1000);
    // The scripted delay itself below; above, what this client waited for the whole body less the scripted
    // gaps that follow the first token (a fixed slack would be missed on a busy machine).
    expect(ttft.sum).toBeLessThanOrEqual(elapsed - (GAP_MS * (TOKENS.length - 1)) / 1000);
    expect(m.point('inferwatch.tokens', { ...attrs('m-stream'), 'gen_ai.token.type': 'output' })!.value).toBe(TOKENS.length);
    expect(m.point('inferwatch.tokens', { ...attrs('m-stream'), 'gen_ai.token.type': 'input' })!.value).toBe(PROMPT_TOKENS);
    expect(m.histogram('inferwatch.request.inter_token_latency', attrs('m-stream'))!.value.count).toBe(TOKENS.length - 1);
    expect(body).toBe(await (await request(plain, 'm-stream', true)).text());
  });

  it('records a plain JSON response with its usage', async () => {
    const res = await request(app, 'm-json', false);
    expect(((await res.json()) as { usage: { completion_tokens: number } }).usage.completion_tokens).toBe(TOKENS.length);
    expect(await finished(llm, 'm-json')).toEqual({ stop: 1 });
    const m = await collect(llm.producer);
    expect(m.point('inferwatch.tokens', { ...attrs('m-json'), 'gen_ai.token.type': 'output' })!.value).toBe(TOKENS.length);
    expect(m.histogram('inferwatch.request.token.usage', { ...attrs('m-json'), 'gen_ai.token.type': 'input' })!.value.sum).toBe(PROMPT_TOKENS);
  });

  it('records an upstream error status as a failure with its status as error.type', async () => {
    expect((await request(app, 'fail-500', false)).status).toBe(500);
    expect(await finished(llm, 'fail-500')).toEqual({ error: 1 });
    const m = await collect(llm.producer);
    expect(m.histogram('gen_ai.server.request.duration', { ...attrs('fail-500'), 'error.type': '500' })!.value.count).toBe(1);
  });

  it('records a stream cut mid-way as a failure, not a success or an abort', async () => {
    await (await request(app, 'cut', true)).text().catch(() => '');
    expect(await finished(llm, 'cut')).toEqual({ error: 1 });
  });

  it('records an error event in the stream as a failure of its error.type (the code first)', async () => {
    await (await request(app, 'error-event', true)).text();
    expect(await finished(llm, 'error-event')).toEqual({ error: 1 });
    const m = await collect(llm.producer);
    // The event is { type: 'server_error', code: 'oom' }.
    expect(m.histogram('gen_ai.server.request.duration', { ...attrs('error-event'), 'error.type': 'oom' })!.value.count).toBe(1);
    expect(m.point('inferwatch.tokens', { ...attrs('error-event'), 'gen_ai.token.type': 'output' })!.value).toBe(2);
  });

  it('records a client that leaves mid-stream as an abort', async () => {
    const controller = new AbortController();
    const res = await request(app, 'leaver', true, controller.signal);
    const reader = res.body!.getReader();
    await reader.read();
    controller.abort();
    expect(await finished(llm, 'leaver')).toEqual({ abort: 1 });
  });
});
