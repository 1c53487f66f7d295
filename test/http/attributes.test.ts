import type { IncomingMessage, ServerResponse } from 'node:http';
import { Hono } from 'hono';
import { afterAll, describe, expect, it } from 'vitest';
import { createLlmMetrics } from '@inferwatch/sdk';
import { instrumentHono, instrumentNodeHttp, openExchange } from '@inferwatch/http';
import { collect } from '../helpers/collect.js';
import { serve } from '../helpers/net.js';

/** The `attributes` option of the http wrappers and of openExchange: a request's values, read from the request itself. */

const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const close of closers) await close();
});

const answer = (_req: IncomingMessage, res: ServerResponse) => {
  _req.resume();
  _req.once('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"choices":[]}'));
};

async function finishedByTenant(llm: ReturnType<typeof createLlmMetrics>): Promise<Record<string, number>> {
  const finished = (await collect(llm.producer)).metric('inferwatch.requests.finished')!;
  const out: Record<string, number> = {};
  for (const p of finished.dataPoints) {
    const key = String(p.attributes.tenant ?? '(none)');
    out[key] = (out[key] ?? 0) + (p.value as number);
  }
  return out;
}

const post = (url: string, tenant?: string) =>
  fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...(tenant ? { 'x-tenant': tenant } : {}) }, body: '{"model":"m"}' }).then((r) => r.arrayBuffer());

describe('the attributes option', () => {
  it('instrumentNodeHttp: each request counted under the tenant its header named', async () => {
    const llm = createLlmMetrics({ log: false, attributes: { tenant: {} } });
    const app = await serve(instrumentNodeHttp(llm, answer, { attributes: (req) => ({ tenant: req.headers['x-tenant'] }) }));
    closers.push(app.close);
    for (const tenant of ['acme', 'acme', 'beta', undefined]) await post(app.url, tenant);
    expect(await finishedByTenant(llm)).toEqual({ acme: 2, beta: 1, '(none)': 1 });
  });

  it('openExchange: a reader that throws loses the attributes, never the request', async () => {
    const llm = createLlmMetrics({ log: false, attributes: { tenant: {} } });
    let calls = 0;
    const app = await serve((req, res) => {
      const exchange = openExchange(llm, req, res, {
        attributes: (r) => {
          calls++;
          if (r.headers['x-tenant'] === 'boom') throw new Error('host bug');
          return { tenant: r.headers['x-tenant'] };
        },
      });
      exchange.setModel('m');
      answer(req, res);
    });
    closers.push(app.close);
    await post(app.url, 'acme');
    await post(app.url, 'boom');
    expect(await finishedByTenant(llm)).toEqual({ acme: 1, '(none)': 1 });
    // Read once per request, when it is first recorded.
    expect(calls).toBe(2);
  });

  it('instrumentHono: from the fetch Request', async () => {
    const llm = createLlmMetrics({ log: false, attributes: { tenant: {} } });
    const hono = new Hono();
    hono.use(instrumentHono(llm, { attributes: (req) => ({ tenant: req.headers.get('x-tenant') ?? undefined }) }));
    hono.post('/v1/chat/completions', (c) => c.json({ choices: [] }));
    for (const tenant of ['acme', 'beta', 'beta']) {
      // The request ends when its (tracked) body has been read.
      await (await hono.request('/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json', 'x-tenant': tenant }, body: '{"model":"m"}' })).text();
    }
    expect(await finishedByTenant(llm)).toEqual({ acme: 1, beta: 2 });
  });
});

