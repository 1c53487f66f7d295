// Hono's middleware ends every request exactly once by the same rules as the other wrappers, on
// @hono/node-server's node objects and as a web-standard runtime runs it (a Request, no node objects).
// The ground truth is the server's own 'request' events and each scenario's script, counted by the test.
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { serve as serveHono } from '@hono/node-server';
import { Hono } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import { createLlmMetrics, type LlmMetrics } from '@inferwatch/sdk';
import { instrumentHono } from '@inferwatch/http';
import { collect } from '../helpers/collect.js';
import { sleep, waitUntil } from '../helpers/wait.js';
import { MODEL, rawRequest, rawSocket, resetMidBody, scriptedUpstream } from './harness.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

/** Tokens the handler's own stream sends before it fails. */
const BROKEN_TOKENS = 2;
const sse = (text: string) => `data: ${JSON.stringify({ id: 'c', object: 'text_completion', model: MODEL, choices: [{ index: 0, text, finish_reason: null }] })}\n\n`;

/** The routes: a proxy to the upstream, a stream of the handler's own that fails midway, a 429 of its own. */
function routes(app: Hono, upstream: string): void {
  app.post('/v1/completions', async (c) => {
    const response = await fetch(`${upstream}/v1/completions`, { method: 'POST', body: await c.req.text(), headers: { 'content-type': 'application/json' }, signal: c.req.raw.signal });
    return new Response(response.body, { status: response.status, headers: { 'content-type': response.headers.get('content-type') ?? '' } });
  });
  app.post('/v1/broken', async (c) => {
    await c.req.text();
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        await sleep(5);
        if (sent === BROKEN_TOKENS) return controller.error(new Error('the engine fell over'));
        controller.enqueue(new TextEncoder().encode(sse(` t${sent++}`)));
      },
    });
    return new Response(body, { headers: { 'content-type': 'text/event-stream' } });
  });
  app.post('/v1/limited', async (c) => {
    await c.req.text();
    return c.json({ error: { message: 'slow down', type: 'rate_limit_error', param: null, code: null } }, 429);
  });
}

const TRANSPORTS = {
  'node-server': (app: Hono) => app.fetch,
  'web-standard': (app: Hono) => (request: Request) => app.fetch(request),
};

async function setup(transport: keyof typeof TRANSPORTS, upstreamOptions: Parameters<typeof scriptedUpstream>[0] = {}, build?: (app: Hono, llm: LlmMetrics, upstream: string) => void) {
  const upstream = await scriptedUpstream(upstreamOptions);
  cleanup.push(() => {
    // Streams the clients left may still be running: end them with the test.
    upstream.server.closeAllConnections();
    return upstream.close();
  });
  const llm = createLlmMetrics({ log: false });
  const app = new Hono();
  if (build) build(app, llm, upstream.url);
  else {
    // Its test routes (/v1/broken, /v1/limited) are no OpenAI route: every POST is an LLM call here.
    app.use(instrumentHono(llm, { include: (method) => method === 'POST' }));
    routes(app, upstream.url);
  }
  const server = await new Promise<Server>((resolve) => {
    const s = serveHono({ fetch: TRANSPORTS[transport](app), port: 0, hostname: '127.0.0.1' }, () => resolve(s as Server));
  });
  cleanup.push(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  // Ground truth: the completion requests the server saw arrive.
  let seen = 0;
  let open = 0;
  server.on('request', (req, res) => {
    if (req.method === 'POST') seen++;
    open++;
    res.once('close', () => open--);
  });
  const port = (server.address() as AddressInfo).port;
  // Nothing left that could still record: every response of the server and of the upstream closed.
  const quiet = () => open === 0 && upstream.stats.open === 0;
  return { llm, port, url: `http://127.0.0.1:${port}`, upstream, seen: () => seen, quiet };
}

interface Recorded {
  finished: number;
  e2e: number;
  reasons: Record<string, number>;
  errorTypes: Record<string, number>;
  running: number;
  waiting: number;
  tokens: Record<string, number>;
}

/** What `llm` recorded, summed over every series. */
async function recorded(llm: LlmMetrics): Promise<Recorded> {
  const m = await collect(llm.producer);
  const points = (name: string) => (m.metric(name)?.dataPoints ?? []) as { attributes: Record<string, unknown>; value: unknown }[];
  const by = (name: string, label: string, value: (v: unknown) => number, absent = '(none)') => {
    const out: Record<string, number> = {};
    for (const p of points(name)) {
      const n = value(p.value);
      if (n !== 0) out[String(p.attributes[label] ?? absent)] = (out[String(p.attributes[label] ?? absent)] ?? 0) + n;
    }
    return out;
  };
  const sum = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);
  const count = (v: unknown) => (v as { count: number }).count;
  const reasons = by('inferwatch.requests.finished', 'finish_reason', Number);
  const errorTypes = by('gen_ai.server.request.duration', 'error.type', count, 'ok');
  return {
    finished: sum(reasons),
    e2e: sum(errorTypes),
    reasons,
    errorTypes,
    running: sum(by('inferwatch.scheduler.running', 'x', Number)),
    waiting: sum(by('inferwatch.scheduler.waiting', 'x', Number)),
    tokens: by('inferwatch.tokens', 'gen_ai.token.type', Number),
  };
}

/**
 * Waits (bounded) until no response is open on either server (`quiet`) and at least `expected` requests
 * are recorded with nothing held; returns what was recorded then. A request counted twice would be
 * counted by then: nothing that could record is still running.
 */
async function settled(llm: LlmMetrics, expected: number, quiet: () => boolean): Promise<Recorded> {
  let last: Recorded | undefined;
  return waitUntil(async () => {
    if (!quiet()) return false;
    last = await recorded(llm);
    return last.finished >= expected && last.e2e >= expected && last.running === 0 && last.waiting === 0 && last;
  }, { what: () => `${expected} recorded requests and nothing open (last: ${JSON.stringify(last)})` });
}

const IDLE = { running: 0, waiting: 0 };

const post = (url: string, path: string, body: object, signal?: AbortSignal) =>
  fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal });

describe.each(Object.keys(TRANSPORTS) as (keyof typeof TRANSPORTS)[])('Hono on %s', (transport) => {
  it('clients that reset mid-stream: one abort each', async () => {
    const { llm, port, upstream, seen, quiet } = await setup(transport);
    const N = 12;
    const sockets = await Promise.all(
      Array.from({ length: N }, async () => {
        const socket = await rawSocket(port);
        // Held after its first token until the test releases it: under way for as long as the test needs.
        const { head, body } = rawRequest(port, { model: 'reset', prompt: 'held', stream: true });
        let text = '';
        socket.on('data', (d: Buffer) => (text += d.toString()));
        socket.write(head);
        socket.write(body);
        await waitUntil(() => text.includes('data: '), { what: 'the first token', timeoutMs: 15_000 });
        return socket;
      }),
    );
    // Every stream is under way: the gauges hold each of them.
    const during = await recorded(llm);
    expect(during.running + during.waiting).toBe(N);
    for (const socket of sockets) socket.resetAndDestroy();
    upstream.release();
    expect(seen()).toBe(N);
    expect(await settled(llm, N, quiet)).toMatchObject({ finished: N, e2e: N, reasons: { abort: N }, ...IDLE });
  });

  it('an upstream stream cut midway: one failure each', async () => {
    const { llm, url, seen, quiet } = await setup(transport, { tokens: 10, gapMs: 2 });
    const N = 6;
    const bodies = await Promise.all(Array.from({ length: N }, async () => (await post(url, '/v1/completions', { model: 'cut', prompt: 'cut', stream: true })).text().catch(() => 'broken')));
    expect(bodies).toEqual(Array.from({ length: N }, () => 'broken'));
    expect(seen()).toBe(N);
    const state = await settled(llm, N, quiet);
    expect(state).toMatchObject({ finished: N, e2e: N, reasons: { error: N }, ...IDLE });
    // The upstream sends two tokens before it cuts (harness script).
    expect(state.tokens.output).toBe(2 * N);
  });

  it("the handler's own stream failing midway: one failure each, with the tokens it sent", async () => {
    const { llm, url, seen, quiet } = await setup(transport);
    const N = 6;
    await Promise.all(Array.from({ length: N }, async () => (await post(url, '/v1/broken', { model: 'broken', stream: true })).text().catch(() => '')));
    expect(seen()).toBe(N);
    const state = await settled(llm, N, quiet);
    expect(state).toMatchObject({ finished: N, e2e: N, reasons: { error: N }, ...IDLE });
    expect(state.tokens.output).toBe(BROKEN_TOKENS * N);
  });

  it('a status of 400 or more: a failure whose error.type is the status', async () => {
    const { llm, url, seen, quiet } = await setup(transport);
    const statuses = await Promise.all([
      ...Array.from({ length: 3 }, async () => (await post(url, '/v1/completions', { model: 'm', prompt: 'fail' })).status),
      ...Array.from({ length: 2 }, async () => (await post(url, '/v1/limited', { model: 'm' })).status),
    ]);
    expect(statuses).toEqual([500, 500, 500, 429, 429]);
    expect(seen()).toBe(5);
    expect(await settled(llm, 5, quiet)).toMatchObject({ finished: 5, e2e: 5, reasons: { error: 5 }, errorTypes: { '500': 3, '429': 2 }, ...IDLE });
  });

  it('a 200 JSON response: one end each, with its usage', async () => {
    const tokens = 7;
    const { llm, url, seen, quiet } = await setup(transport, { tokens, gapMs: 1 });
    const N = 5;
    const usage = await Promise.all(
      Array.from({ length: N }, async () => ((await (await post(url, '/v1/completions', { model: 'json', prompt: 'a' })).json()) as { usage: { prompt_tokens: number; completion_tokens: number } }).usage),
    );
    expect(seen()).toBe(N);
    const state = await settled(llm, N, quiet);
    expect(state).toMatchObject({ finished: N, e2e: N, reasons: { length: N }, errorTypes: { ok: N }, ...IDLE });
    expect(state.tokens).toEqual({
      input: usage.reduce((a, u) => a + u.prompt_tokens, 0),
      output: usage.reduce((a, u) => a + u.completion_tokens, 0),
    });
    expect(state.tokens.output).toBe(tokens * N);
  });

  it('clients that leave before their body is read: one abort each', async () => {
    const { llm, port, seen, quiet } = await setup(transport);
    const N = 10;
    await resetMidBody(port, 'early', N, seen);
    expect(seen()).toBe(N);
    expect(await settled(llm, N, quiet)).toMatchObject({ finished: N, e2e: N, reasons: { abort: N }, ...IDLE });
  });

  it('clients that leave while a JSON answer is on its way: one abort each', async () => {
    // The upstream holds every answer until the test releases it: each client leaves while its answer is on its way.
    const { llm, url, upstream, seen, quiet } = await setup(transport);
    const N = 6;
    await Promise.all(
      Array.from({ length: N }, async () => {
        const controller = new AbortController();
        const answer = post(url, '/v1/completions', { model: 'leaver', prompt: 'held' }, controller.signal).catch(() => undefined);
        await waitUntil(() => upstream.stats.requests === N, { what: `the upstream to hold all ${N} requests`, timeoutMs: 15_000 });
        controller.abort();
        await answer;
      }),
    );
    upstream.release();
    expect(seen()).toBe(N);
    expect(await settled(llm, N, quiet)).toMatchObject({ finished: N, e2e: N, reasons: { abort: N }, ...IDLE });
  });

  it('clients that reset 0–20 ms after a full request: each counted once', async () => {
    const { llm, port, seen, quiet } = await setup(transport, { tokens: 30, gapMs: 1 });
    const N = 30;
    await Promise.all(
      Array.from({ length: N }, async (_, i) => {
        const socket = await rawSocket(port);
        const { head, body } = rawRequest(port, { model: 'burst', prompt: 'a', stream: i % 2 === 0 });
        socket.write(head);
        await new Promise((resolve) => socket.write(body, resolve));
        await sleep(i % 21);
        if (i % 2 === 0) socket.resetAndDestroy();
        else socket.destroy();
      }),
    );
    await waitUntil(() => seen() === N, { what: `the server to see all ${N} requests`, timeoutMs: 15_000 });
    const state = await settled(llm, N, quiet);
    expect(state).toMatchObject({ finished: N, e2e: N, ...IDLE });
  });

  it('a middleware mounted on an app and on its sub-app: each request counted once', async () => {
    const { llm, url, seen, quiet } = await setup(transport, { tokens: 3, gapMs: 1 }, (app, llm, upstream) => {
      const sub = new Hono();
      sub.use(instrumentHono(llm));
      routes(sub, upstream);
      app.use(instrumentHono(llm));
      app.route('/', sub);
    });
    const N = 4;
    await Promise.all(Array.from({ length: N }, async () => (await post(url, '/v1/completions', { model: 'twice', prompt: 'a', stream: true })).text()));
    expect(seen()).toBe(N);
    expect(await settled(llm, N, quiet)).toMatchObject({ finished: N, e2e: N, reasons: { length: N }, ...IDLE });
  });
});
