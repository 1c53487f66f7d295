import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain JavaScript example
import { startGateway } from '../../examples/gateway/gateway.mjs';
// @ts-expect-error: a plain JavaScript example
import { parseAttributeFlag } from '../../examples/gateway/attributes.mjs';
import { parseSamples, sumOf } from '../helpers/exposition.js';
import { freePort } from '../helpers/net.js';
import { startEngine, startProcess, type Started } from '../helpers/processes.js';

/**
 * The gateway's --attribute: a request header becomes an attribute of that request's metrics,
 * bounded by its limit, never from a credential header and never from a request that failed the key check.
 */

type Gateway = { url: string; close: (drainMs?: number) => Promise<void> };
const MODEL = 'sim-llama-8b';
const KEY = 'test-key';
const FINISHED = 'inferwatch_requests_finished_total';
const DURATION_COUNT = 'gen_ai_server_request_duration_count';

describe('gateway request attributes from headers', () => {
  let engine: Started;
  let gateway: Gateway;
  beforeAll(async () => {
    engine = await startEngine(['--decode-base-ms', '2', '--decode-ms-per-seq', '0.1']);
    gateway = await startGateway({
      upstreams: [engine.url],
      port: await freePort(),
      logIntervalMs: 0,
      bridgeIntervalMs: 0,
      gpu: false,
      apiKeys: [KEY],
      attributes: [
        { name: 'tenant', header: 'X-Tenant', maxValues: 2 },
        { name: 'route', header: 'x-route' },
      ],
    });
  });
  afterAll(async () => {
    await gateway?.close(1000);
    await engine?.stop();
  });

  const send = (headers: Record<string, string>, key: string | null = KEY) =>
    fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key === null ? {} : { authorization: `Bearer ${key}` }), ...headers },
      body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'a b c' }], max_tokens: 3 }),
    }).then(async (res) => (await res.arrayBuffer(), res.status));

  it('counts each tenant’s requests under its own value, overflow as `other`, and none for unauthenticated ones', async () => {
    // First, clients without a valid key: had their headers been read, they would have taken both tenant slots.
    const rejected = [await send({ 'x-tenant': 'intruder-1' }, 'wrong'), await send({ 'x-tenant': 'intruder-2' }, null)];
    expect(rejected).toEqual([401, 401]);
    const sent = { acme: 3, beta: 2, gamma: 1, delta: 2 };
    const statuses: number[] = [];
    for (const [tenant, n] of Object.entries(sent)) for (let i = 0; i < n; i++) statuses.push(await send({ 'x-tenant': tenant, 'x-route': 'batch' }));
    statuses.push(await send({}), await send({}));
    expect(statuses.every((s) => s === 200)).toBe(true);

    const samples = parseSamples(await (await fetch(`${gateway.url}/metrics`)).text());
    const tenantOf = (tenant: string | undefined) => (l: Record<string, string>) => l.tenant === tenant;
    expect(sumOf(samples, FINISHED, tenantOf('acme'))).toBe(sent.acme);
    expect(sumOf(samples, FINISHED, tenantOf('beta'))).toBe(sent.beta);
    // The limit is 2: gamma and delta came after acme and beta took the slots.
    expect(sumOf(samples, FINISHED, tenantOf('_OTHER'))).toBe(sent.gamma + sent.delta);
    // Without the header (or the key), the attribute is absent: 2 successes and the 2 rejections.
    expect(sumOf(samples, FINISHED, (l) => l.tenant === undefined && l.finish_reason === 'length')).toBe(2);
    expect(sumOf(samples, FINISHED, (l) => l.tenant === undefined && l.finish_reason === 'error')).toBe(2);
    expect(sumOf(samples, DURATION_COUNT, tenantOf('acme'))).toBe(sent.acme);
    expect(sumOf(samples, FINISHED, (l) => l.route === 'batch')).toBe(sent.acme + sent.beta + sent.gamma + sent.delta);
    expect(samples.some((s) => Object.values(s.labels).some((v) => v.startsWith('intruder')))).toBe(false);
    expect(samples.some((s) => Object.values(s.labels).includes(KEY))).toBe(false);
  });

  it('the command line maps --attribute NAME=header:HEADER:max=N', async () => {
    const cli = await startProcess(
      'examples/gateway/main.mjs',
      ['--host', '127.0.0.1', '--upstream', engine.url, '--attribute', 'team=header:x-team:max=1', '--bridge-interval-ms', '0', '--log-interval-ms', '0'],
      'OpenAI-compatible gateway on',
    );
    try {
      const sent = { red: 2, blue: 1 };
      for (const [team, n] of Object.entries(sent)) {
        for (let i = 0; i < n; i++) {
          const res = await fetch(`${cli.url}/v1/completions`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-team': team },
            body: JSON.stringify({ model: MODEL, prompt: 'a b', max_tokens: 2 }),
          });
          expect(res.status).toBe(200);
          await res.arrayBuffer();
        }
      }
      const samples = parseSamples(await (await fetch(`${cli.url}/metrics`)).text());
      // max=1: red came first and keeps its value; blue is past the limit.
      expect(sumOf(samples, FINISHED, (l) => l.team === 'red')).toBe(sent.red);
      expect(sumOf(samples, FINISHED, (l) => l.team === '_OTHER')).toBe(sent.blue);
    } finally {
      await cli.stop();
    }
  });
});

describe('gateway --attribute refusals', () => {
  it('refuses credential headers and malformed flags in startGateway', async () => {
    for (const header of ['authorization', 'Authorization', 'cookie', 'x-api-key', 'proxy-authorization']) {
      await expect(startGateway({ upstreams: ['http://127.0.0.1:9'], port: 0, logIntervalMs: 0, attributes: [{ name: 'who', header }] })).rejects.toThrow(/credentials/);
    }
    expect(parseAttributeFlag('tenant=header:x-tenant:max=50')).toEqual({ name: 'tenant', header: 'x-tenant', maxValues: 50 });
    expect(parseAttributeFlag('tier=header:x-tier')).toEqual({ name: 'tier', header: 'x-tier', maxValues: undefined });
    for (const bad of ['tenant', 'tenant=x-tenant', 'tenant=header:', 'tenant=header:x-tenant:max=0', 'tenant=header:bad header']) expect(() => parseAttributeFlag(bad)).toThrow(/--attribute/);
  });

  it('the command line refuses --attribute NAME=header:authorization before starting anything', async () => {
    const port = await freePort();
    const main = fileURLToPath(new URL('../../examples/gateway/main.mjs', import.meta.url));
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [main, '--port', String(port), '--engine-port', String(port), '--attribute', 'key=header:authorization'], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      child.once('exit', (code) => {
        clearTimeout(timer);
        resolve({ code, stderr });
      });
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('the authorization header carries credentials');
    // Nothing was started on either port.
    const listening = await fetch(`http://127.0.0.1:${port}/health`).then(() => true, () => false);
    expect(listening).toBe(false);
  });
});
