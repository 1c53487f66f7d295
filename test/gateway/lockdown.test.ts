// Labels belong to real models, keys lock the API, a token locks the metrics, and upstream
// credentials never show: what a client or an attacker sees, checked from the outside.
import { afterEach, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain JavaScript example
import { startGateway } from '../../examples/gateway/gateway.mjs';
import { freePort, serve } from '../helpers/net.js';
import { MODEL, rawSocket, readGateway, scriptedUpstream, settled } from '../faults/harness.js';
import { sleep } from '../helpers/wait.js';

type Gateway = { url: string; close: (drainMs?: number) => Promise<void> };
const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function gatewayWith(options: Record<string, unknown>): Promise<Gateway> {
  const gateway: Gateway = await startGateway({ port: await freePort(), logIntervalMs: 0, bridgeIntervalMs: 0, gpu: false, ...options });
  cleanup.push(() => gateway.close(200));
  return gateway;
}

async function upstream() {
  const u = await scriptedUpstream({ tokens: 3, gapMs: 0 });
  cleanup.push(u.close);
  return u;
}

const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });

const modelLabels = (text: string) => new Set([...text.matchAll(/gen_ai_request_model="([^"]*)"/g)].map((m) => m[1]));

describe('labels belong to real models', () => {
  it('answers an unknown model with OpenAI’s 404 under a fixed label; junk cannot evict the real model', async () => {
    const u = await upstream();
    const gateway = await gatewayWith({ upstreams: [u.url] });
    const junk = await post(gateway.url, { model: 'junk-0', prompt: 'a' });
    expect(junk.status).toBe(404);
    expect(await junk.json()).toEqual({ error: { message: expect.stringContaining('junk-0'), type: 'invalid_request_error', param: 'model', code: 'model_not_found' } });
    // 150 distinct junk names (more than the SDK's 100 label slots), valid and rejected bodies alike.
    for (let i = 1; i < 150; i++) {
      const res = i % 2 ? await post(gateway.url, { model: `junk-${i}`, prompt: 'a' }) : await post(gateway.url, { model: `junk-${i}`, prompt: 7 });
      expect(res.status).toBe(i % 2 ? 404 : 400);
      await res.text();
    }
    const ok = await post(gateway.url, { model: MODEL, prompt: 'a' });
    expect(ok.status).toBe(200);
    await ok.text();
    const state = await settled(gateway.url, 151);
    expect(state.errorTypes).toEqual({ '404': 76, '400': 74, ok: 1 });
    const text = await (await fetch(`${gateway.url}/metrics`)).text();
    expect(modelLabels(text)).toEqual(new Set([MODEL, '_OTHER', 'unknown']));
    expect(text).not.toContain('junk');
  });

  it('learns models an upstream starts serving later (refreshing on an unknown name), and its routes', async () => {
    let models = ['first'];
    const u = await serve((req, res) => {
      if (req.url === '/v1/models') return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ data: models.map((id) => ({ id })) }));
      req.resume();
      req.once('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"choices":[{"index":0,"text":"x","finish_reason":"stop"}]}'));
    });
    cleanup.push(u.close);
    const gateway = await gatewayWith({ upstreams: [u.url], routes: { routed: [u.url] } });
    expect((await post(gateway.url, { model: 'first', prompt: 'a' })).status).toBe(200);
    expect((await post(gateway.url, { model: 'routed', prompt: 'a' })).status).toBe(200);
    expect((await post(gateway.url, { model: 'second', prompt: 'a' })).status).toBe(404);
    models = ['first', 'second'];
    // The catalog refreshes on an unknown name at most once a second: this is time that must pass, not a wait.
    await sleep(1100);
    expect((await post(gateway.url, { model: 'second', prompt: 'a' })).status).toBe(200);
    const listed = ((await (await fetch(`${gateway.url}/v1/models`)).json()) as { data: { id: string }[] }).data.map((m) => m.id);
    expect(listed.sort()).toEqual(['first', 'routed', 'second']);
  });
});

describe('locked down when asked', () => {
  it('requires a Bearer key on /v1/*: a wrong or missing key gets 401 invalid_api_key, counted once without a body-derived label', async () => {
    const u = await upstream();
    const gateway = await gatewayWith({ upstreams: [u.url], apiKeys: ['key-one', 'key-two'] });
    for (const headers of [{} as Record<string, string>, { authorization: 'Bearer nope' }, { authorization: 'Basic a2V5LW9uZQ==' }, { authorization: 'Bearer key-one-and-more' }]) {
      const res = await post(gateway.url, { model: MODEL, prompt: 'a' }, headers);
      expect(res.status).toBe(401);
      expect(((await res.json()) as { error: { code: string; type: string } }).error).toMatchObject({ code: 'invalid_api_key', type: 'invalid_request_error' });
    }
    expect((await fetch(`${gateway.url}/v1/models`)).status).toBe(401);
    for (const key of ['key-one', 'key-two']) {
      const res = await post(gateway.url, { model: MODEL, prompt: 'a' }, { authorization: `Bearer ${key}` });
      expect(res.status).toBe(200);
      await res.text();
    }
    expect((await fetch(`${gateway.url}/v1/models`, { headers: { authorization: 'Bearer key-two' } })).status).toBe(200);
    const state = await settled(gateway.url, 6);
    expect(state.errorTypes).toEqual({ '401': 4, ok: 2 });
    const text = await (await fetch(`${gateway.url}/metrics`)).text();
    const rejected = text.split('\n').filter((l) => l.startsWith('gen_ai_server_request_duration_count{') && l.includes('error_type="401"'));
    expect(rejected).toHaveLength(1);
    expect(rejected[0]).toContain('gen_ai_request_model="unknown"');
    expect(rejected[0].endsWith(' 4')).toBe(true);
    // The rejected requests never reached the upstream.
    expect(u.stats.requests).toBe(2);
  });

  it('answers a request without a key before its body, and reads no more of it', async () => {
    const u = await upstream();
    const gateway = await gatewayWith({ upstreams: [u.url], apiKeys: ['key-one'] });
    const port = Number(new URL(gateway.url).port);
    const socket = await rawSocket(port);
    const declared = 200 * 1024 * 1024;
    socket.write(`POST /v1/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${declared}\r\n\r\n`);
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString()));
    const chunk = Buffer.alloc(64 * 1024, 32);
    let written = 0;
    while (written < declared && !socket.destroyed) {
      const ok = await new Promise<boolean>((resolve) => socket.write(chunk, (error) => resolve(!error)));
      if (!ok) break;
      written += chunk.length;
    }
    socket.destroy();
    expect(text.split('\r\n')[0]).toBe('HTTP/1.1 401 Unauthorized');
    // Cut once the answer was out: what got through is what the socket buffers held, not the body.
    expect(written).toBeLessThan(declared / 4);
    expect(await settled(gateway.url, 1)).toMatchObject({ finished: 1, errorTypes: { '401': 1 } });
  });

  it('protects /metrics with a Bearer token, as Prometheus’ authorization option sends it', async () => {
    const u = await upstream();
    const gateway = await gatewayWith({ upstreams: [u.url], metricsToken: 's3cret' });
    expect((await fetch(`${gateway.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${gateway.url}/metrics`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    const ok = await fetch(`${gateway.url}/metrics`, { headers: { authorization: 'Bearer s3cret' } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('inferwatch_gateway_active');
    // Open without keys: completions need none.
    expect((await post(gateway.url, { model: MODEL, prompt: 'a' })).status).toBe(200);
  });

  it('moves upstream credentials to a Basic header and never shows them', async () => {
    const seen: (string | undefined)[] = [];
    const u = await serve((req, res) => {
      seen.push(req.headers.authorization);
      if (req.url === '/v1/models') return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ data: [{ id: MODEL }] }));
      req.resume();
      req.once('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"choices":[{"index":0,"text":"x","finish_reason":"stop"}]}'));
    });
    cleanup.push(u.close);
    const withCredentials = u.url.replace('http://', 'http://user%40corp:p%3Ass@');
    const dead = `http://admin:hunter2@127.0.0.1:${await freePort()}`;
    const gateway = await gatewayWith({ upstreams: [withCredentials] });
    expect((await post(gateway.url, { model: MODEL, prompt: 'a' })).status).toBe(200);
    const basic = `Basic ${Buffer.from('user@corp:p:ss').toString('base64')}`;
    expect(seen.length).toBeGreaterThanOrEqual(2);
    expect(new Set(seen)).toEqual(new Set([basic]));
    const health = await (await fetch(`${gateway.url}/health`)).text();
    expect(health).toContain(u.url);
    expect(health).not.toMatch(/user|p%3Ass|p:ss/);
    const deadGateway = await gatewayWith({ upstreams: [], routes: { [MODEL]: [dead] } });
    const bad = await post(deadGateway.url, { model: MODEL, prompt: 'a' });
    expect(bad.status).toBe(502);
    const body = await bad.text();
    expect(body).toContain('127.0.0.1');
    expect(body).not.toMatch(/admin|hunter2/);
    expect(await (await fetch(`${deadGateway.url}/health`)).text()).not.toMatch(/admin|hunter2/);
    expect((await readGateway(deadGateway.url)).finished).toBe(1);
  });
});
