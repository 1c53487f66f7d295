// Every request that reaches the gateway is counted exactly once (finished counter and E2E
// histogram), and every slot and gauge returns to 0, whatever the client or the upstream does.
// The ground truth is the gateway server's own 'request' events, counted by the test.
import { afterEach, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain JavaScript example
import { startGateway } from '../../examples/gateway/gateway.mjs';
import { freePort } from '../helpers/net.js';
import { sleep, waitUntil } from '../helpers/wait.js';
import { IDLE, MODEL, rawRequest, rawSocket, resetMidBody, scriptedUpstream, settled, total } from './harness.js';

type Gateway = { url: string; server: import('node:http').Server; close: (drainMs?: number) => Promise<void> };
const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function setup(upstreamOptions: Parameters<typeof scriptedUpstream>[0] = {}, gatewayOptions: Record<string, unknown> = {}) {
  const upstream = await scriptedUpstream(upstreamOptions);
  cleanup.push(upstream.close);
  const gateway: Gateway = await startGateway({ upstreams: [upstream.url], port: await freePort(), logIntervalMs: 0, bridgeIntervalMs: 0, gpu: false, ...gatewayOptions });
  cleanup.push(() => gateway.close(200));
  // Ground truth: the completions the gateway's server saw arrive.
  let seen = 0;
  gateway.server.on('request', (req) => {
    if (req.method === 'POST' && req.url?.includes('completions')) seen++;
  });
  const port = Number(new URL(gateway.url).port);
  return { upstream, gateway, port, seen: () => seen };
}

const post = (url: string, body: object, signal?: AbortSignal) =>
  fetch(`${url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal });

describe('exactly once, whatever the client does', () => {
  it('clients that reset 0–20 ms after sending a full request', async () => {
    const { gateway, port, seen } = await setup({ tokens: 30, gapMs: 1, tokenBytes: 200 });
    const N = 120;
    await Promise.all(
      Array.from({ length: N }, async (_, i) => {
        const socket = await rawSocket(port);
        const { head, body } = rawRequest(port, { model: MODEL, prompt: 'a'.repeat(i % 2 === 0 ? 10 : 300_000), stream: true, max_tokens: 30 });
        socket.write(head);
        await new Promise((resolve) => socket.write(body, resolve));
        await sleep(i % 21);
        if (i % 3 === 0) socket.resetAndDestroy();
        else if (i % 3 === 1) socket.destroy();
        else socket.end();
      }),
    );
    await waitUntil(() => seen() === N, { what: `the gateway to see all ${N} requests`, timeoutMs: 15_000 });
    const state = await settled(gateway.url, N);
    expect(state).toMatchObject({ finished: N, e2e: N, ...IDLE });
  });

  it('clients that reset mid-body', async () => {
    const { gateway, port, seen } = await setup();
    const N = 30;
    await resetMidBody(port, MODEL, N, seen);
    expect(seen()).toBe(N);
    const state = await settled(gateway.url, N);
    expect(state).toMatchObject({ finished: N, e2e: N, reasons: { abort: N }, ...IDLE });
  });

  it('stamps arrival when the headers arrive: a slow body’s time counts in its E2E', async () => {
    const { gateway, port } = await setup({ tokens: 3, gapMs: 0 });
    const socket = await rawSocket(port);
    const { head, body } = rawRequest(port, { model: MODEL, prompt: 'a' });
    const t0 = performance.now();
    socket.write(head);
    socket.write(body.subarray(0, 5));
    // The body waits 500 ms, and at least 400 of them must count: a loaded gateway may read the headers late.
    await sleep(500);
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString()));
    socket.write(body.subarray(5));
    await waitUntil(() => text.includes('"finish_reason"'), { what: 'the answer', timeoutMs: 15_000 });
    const clientSeconds = (performance.now() - t0) / 1000;
    socket.destroy();
    await settled(gateway.url, 1);
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    const serverSeconds = total(metrics, 'gen_ai_server_request_duration_sum');
    expect(serverSeconds).toBeGreaterThanOrEqual(0.4);
    expect(serverSeconds).toBeLessThanOrEqual(clientSeconds);
  });

  it('slow headers are cut by the headers timeout, and counted nowhere (no request arrived)', async () => {
    const { gateway, port, seen } = await setup({}, { headersTimeoutMs: 300 });
    // Before the connection: the server's 300 ms start after this, however late this process gets to run.
    const t0 = performance.now();
    const socket = await rawSocket(port);
    socket.write('POST /v1/completions HTTP/1.1\r\nhost: x\r\n');
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString()));
    await waitUntil(() => socket.readableEnded || socket.destroyed, { what: 'the server to close the connection', timeoutMs: 15_000 });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(300);
    expect(text.split('\r\n')[0]).toBe('HTTP/1.1 408 Request Timeout');
    expect(seen()).toBe(0);
    expect(await settled(gateway.url, 0)).toMatchObject({ finished: 0, e2e: 0, ...IDLE });
  });

  it('slow bodies are cut by the body timeout: a counted 408', async () => {
    const { gateway, port, seen } = await setup({}, { bodyTimeoutMs: 300 });
    const N = 10;
    const answers = await Promise.all(
      Array.from({ length: N }, async () => {
        const socket = await rawSocket(port);
        const { head, body } = rawRequest(port, { model: MODEL, prompt: 'a'.repeat(2000) });
        socket.write(head);
        socket.write(body.subarray(0, 100));
        let text = '';
        socket.on('data', (d: Buffer) => (text += d.toString()));
        await waitUntil(() => text.includes('\r\n\r\n') || socket.destroyed, { what: 'an answer or a closed connection', timeoutMs: 15_000 });
        socket.destroy();
        return text.split('\r\n')[0];
      }),
    );
    expect(answers).toEqual(Array.from({ length: N }, () => 'HTTP/1.1 408 Request Timeout'));
    expect(seen()).toBe(N);
    const state = await settled(gateway.url, N);
    expect(state).toMatchObject({ finished: N, e2e: N, reasons: { error: N }, errorTypes: { '408': N }, ...IDLE });
  });

  it('slow readers that stop reading a long stream, then leave (or stay past the deadline)', async () => {
    // Big tokens: a few MB in flight fill the socket buffers, so the gateway's writes back up.
    const { gateway, port, upstream, seen } = await setup({ tokens: 2000, gapMs: 0, tokenBytes: 16 * 1024 }, { timeoutMs: 8000 });
    const sockets = await Promise.all(
      Array.from({ length: 6 }, async () => {
        const socket = await rawSocket(port);
        const { head, body } = rawRequest(port, { model: MODEL, prompt: 'a', stream: true });
        socket.write(head);
        socket.write(body);
        await new Promise((resolve) => socket.once('data', resolve));
        socket.pause();
        return socket;
      }),
    );
    // Backed up when the upstream stops getting its bytes out.
    let last = -1;
    await waitUntil(async () => {
      const now = upstream.stats.bytesSent;
      const still = now === last;
      last = now;
      await sleep(200);
      return still;
    }, { what: 'the upstream to stop getting bytes out', timeoutMs: 20_000 });
    expect(upstream.stats.open).toBe(6);
    // Four leave while their writes are backed up; two stay until the deadline ends them.
    for (const socket of sockets.slice(0, 4)) socket.resetAndDestroy();
    expect(seen()).toBe(6);
    const state = await settled(gateway.url, 6, 15_000);
    for (const socket of sockets) socket.destroy();
    expect(state).toMatchObject({ finished: 6, e2e: 6, reasons: { abort: 4, error: 2 }, errorTypes: { timeout: 2 }, ...IDLE });
    await waitUntil(() => upstream.stats.open === 0, { what: 'the upstream streams to close', timeoutMs: 15_000 });
  });

  it('a burst of cancels at random points of their streams', async () => {
    const { gateway, seen } = await setup({ tokens: 40, gapMs: 3 });
    const N = 40;
    await Promise.all(
      Array.from({ length: N }, async (_, i) => {
        const controller = new AbortController();
        try {
          const res = await post(gateway.url, { model: MODEL, prompt: 'a', stream: true }, controller.signal);
          // Somewhere between the headers and a little past the end of the ~120 ms stream.
          setTimeout(() => controller.abort(), (i * 7) % 150);
          for await (const _chunk of res.body!);
        } catch {
          // Aborted, as intended.
        }
      }),
    );
    expect(seen()).toBe(N);
    const state = await settled(gateway.url, N);
    expect(state).toMatchObject({ finished: N, e2e: N, ...IDLE });
    expect((state.reasons.abort ?? 0) + (state.reasons.length ?? 0)).toBe(N);
    expect(state.reasons.abort).toBeGreaterThan(0);
  });
});

describe('exactly once, whatever the upstream does', () => {
  it('a stream cut mid-way, a 500, an upstream that never answers, a dead one', async () => {
    const { gateway, upstream, seen } = await setup({ tokens: 10, gapMs: 2 });
    // Only the request that never gets an answer meets a deadline: on a gateway of its own, so the others
    // end as their scripts say, however long a busy machine takes over them.
    const strict: Gateway = await startGateway({ upstreams: [upstream.url], port: await freePort(), logIntervalMs: 0, bridgeIntervalMs: 0, gpu: false, timeoutMs: 500 });
    cleanup.push(() => strict.close(200));
    const dead = `http://127.0.0.1:${await freePort()}`;
    const deadOnly: Gateway = await startGateway({ upstreams: [], routes: { [MODEL]: [dead] }, port: await freePort(), logIntervalMs: 0, bridgeIntervalMs: 0, gpu: false });
    cleanup.push(() => deadOnly.close(200));
    const statuses = await Promise.all(
      ['cut', 'fail', 'ok'].map(async (prompt) => {
        const res = await post(gateway.url, { model: MODEL, prompt, stream: true });
        const text = await res.text().catch(() => 'broken');
        return `${res.status}${text === 'broken' ? ' broken' : ''}`;
      }),
    );
    expect(statuses).toEqual(['200 broken', '502', '200']);
    expect((await post(strict.url, { model: MODEL, prompt: 'hang', stream: true })).status).toBe(504);
    expect((await post(deadOnly.url, { model: MODEL, prompt: 'a' })).status).toBe(502);
    expect(seen()).toBe(3);
    const state = await settled(gateway.url, 3);
    expect(state).toMatchObject({ finished: 3, e2e: 3, reasons: { error: 2, length: 1 }, errorTypes: { upstream_stream_error: 1, '502': 1, ok: 1 }, ...IDLE });
    expect(await settled(strict.url, 1)).toMatchObject({ finished: 1, reasons: { error: 1 }, errorTypes: { '504': 1 }, ...IDLE });
    expect(await settled(deadOnly.url, 1)).toMatchObject({ finished: 1, errorTypes: { '502': 1 }, ...IDLE });
  });

  it('queue overflow: 429s counted, and clients that give up while queued leave nothing behind', async () => {
    const { gateway, upstream, seen } = await setup({ tokens: 20, gapMs: 2 }, { maxConcurrency: 2, maxQueue: 3 });
    const request = async (signal?: AbortSignal) => {
      try {
        // Held by the upstream after its first token until the test releases it: the slots stay taken
        // until then, however long a busy machine takes over the rest.
        const res = await post(gateway.url, { model: MODEL, prompt: 'held', stream: true }, signal);
        await res.text();
        return res.status;
      } catch {
        return 'aborted';
      }
    };
    const metrics = async () => (await fetch(`${gateway.url}/metrics`)).text();
    // Two hold the slots, three wait (two of them give up), seven more find the queue full.
    const holding = [request(), request()];
    await waitUntil(async () => total(await metrics(), 'inferwatch_gateway_active') === 2, { what: 'both slots taken' });
    const quitters = [new AbortController(), new AbortController()];
    const queued = [request(quitters[0].signal), request(quitters[1].signal), request()];
    await waitUntil(async () => total(await metrics(), 'inferwatch_gateway_queue_size') === 3, { what: 'three queued' });
    const rejected = await Promise.all(Array.from({ length: 7 }, () => request()));
    for (const q of quitters) q.abort();
    await waitUntil(async () => total(await metrics(), 'inferwatch_gateway_queue_size') === 1, { what: 'the two who gave up to leave the queue' });
    upstream.release();
    const statuses = [...(await Promise.all(holding)), ...(await Promise.all(queued)), ...rejected];
    expect(statuses).toEqual([200, 200, 'aborted', 'aborted', 200, ...Array.from({ length: 7 }, () => 429)]);
    expect(seen()).toBe(12);
    const state = await settled(gateway.url, 12);
    expect(state).toMatchObject({ finished: 12, e2e: 12, reasons: { error: 7, abort: 2, length: 3 }, errorTypes: { '429': 7, cancelled: 2, ok: 3 }, ...IDLE });
  });
});
