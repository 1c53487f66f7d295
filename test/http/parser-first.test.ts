// instrumentExpress mounted after express.json(): the body is gone by the time the middleware runs.
// The model must still be the one the client sent (from req.body), and the host hears about it once.
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { diag, DiagLogLevel } from '@opentelemetry/api';
import { createLlmMetrics, type LlmMetrics } from '@inferwatch/sdk';
import { instrumentExpress } from '@inferwatch/http';
import { collect } from '../helpers/collect.js';

let warnings: string[];
beforeEach(() => {
  warnings = [];
  diag.setLogger({ error: () => {}, warn: (m: string) => void warnings.push(m), info: () => {}, debug: () => {}, verbose: () => {} }, DiagLogLevel.WARN);
});
afterEach(() => diag.disable());

async function listen(app: express.Express): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

function appWith(llm: LlmMetrics, parser: express.RequestHandler) {
  const app = express();
  app.use(parser);
  app.use(instrumentExpress(llm));
  app.post('/v1/chat/completions', (_req, res) => {
    res.json({ choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }], usage: { prompt_tokens: 3, completion_tokens: 1 } });
  });
  return app;
}

async function requestsByModel(llm: LlmMetrics): Promise<Record<string, number>> {
  const m = await collect(llm.producer);
  const points = m.metric('gen_ai.server.request.duration')!.dataPoints as Array<{ attributes: Record<string, unknown>; value: { count: number } }>;
  return Object.fromEntries(points.filter((p) => p.value.count > 0).map((p) => [p.attributes['gen_ai.request.model'], p.value.count]));
}

describe('a body parser mounted before instrumentExpress', () => {
  it.each([
    ['express.json()', express.json()],
    ['express.text({ type: "*/*" })', express.text({ type: '*/*' })],
  ])('%s first: the model comes from the parsed body, and one warning says to mount the middleware first', async (_, parser) => {
    const llm = createLlmMetrics({ log: false });
    const server = await listen(appWith(llm, parser));
    try {
      const models = ['llama-a', 'llama-b', 'llama-a'];
      for (const model of models) {
        const res = await fetch(`${server.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model, messages: [{ role: 'user', content: 'x' }] }),
        });
        expect(res.status).toBe(200);
        await res.text();
      }
      expect(await requestsByModel(llm)).toEqual({ 'llama-a': 2, 'llama-b': 1 });
      expect(warnings.filter((w) => w.includes('before the inferwatch middleware'))).toHaveLength(1);
    } finally {
      await server.close();
    }
  });

  it('mounted first (the documented order): the model from the raw body, and no warning', async () => {
    const llm = createLlmMetrics({ log: false });
    const app = express();
    app.use(instrumentExpress(llm));
    app.use(express.json());
    app.post('/v1/chat/completions', (_req, res) => void res.json({ choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }] }));
    const server = await listen(app);
    try {
      const res = await fetch(`${server.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'llama-a' }) });
      await res.text();
      expect(await requestsByModel(llm)).toEqual({ 'llama-a': 1 });
      expect(warnings.filter((w) => w.includes('before the inferwatch middleware'))).toHaveLength(0);
    } finally {
      await server.close();
    }
  });
});
