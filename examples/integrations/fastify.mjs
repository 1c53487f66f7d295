// Fastify: register the plugin; it applies to every route.
import { Readable } from 'node:stream';
import Fastify from 'fastify';
import { createLlmMetrics, startMetrics } from '@inferwatch/sdk';
import { instrumentFastify } from '@inferwatch/http';
import { completionEvents, port } from './fake-llm.mjs';

const llm = createLlmMetrics();
const { metricsHandler } = startMetrics({ serviceName: 'fastify-example', llm });

const app = Fastify();
await app.register(instrumentFastify(llm));
app.get('/metrics', (request, reply) => {
  reply.hijack();
  metricsHandler(request.raw, reply.raw);
});
app.post('/v1/chat/completions', (request, reply) => {
  reply.header('content-type', 'text/event-stream');
  // The JSON body, as Fastify parsed it.
  const { model } = /** @type {{ model?: unknown }} */ (request.body);
  return reply.send(Readable.from(completionEvents(model)));
});
await app.listen({ port, host: '127.0.0.1' });
console.log(`listening on http://127.0.0.1:${port}`);
