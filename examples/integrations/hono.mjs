// Hono on Node: the middleware records each request from @hono/node-server's node:http objects.
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { createLlmMetrics, startMetrics } from '@inferwatch/sdk';
import { instrumentHono } from '@inferwatch/http';
import { completionEvents, port } from './fake-llm.mjs';

const llm = createLlmMetrics();
// Prometheus on a port of its own here (METRICS_PORT, default 9464).
startMetrics({ serviceName: 'hono-example', llm, prometheus: { port: Number(process.env.METRICS_PORT ?? 9464) } });

const app = new Hono();
app.use(instrumentHono(llm));
app.post('/v1/chat/completions', async (c) => {
  const { model } = await c.req.json();
  const body = ReadableStream.from(completionEvents(model)).pipeThrough(new TextEncoderStream());
  return new Response(body, { headers: { 'content-type': 'text/event-stream' } });
});

serve({ fetch: app.fetch, port, hostname: '127.0.0.1' }, () => console.log(`listening on http://127.0.0.1:${port}`));
