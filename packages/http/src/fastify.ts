import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LlmMetrics } from '@inferwatch/sdk';
import { observeExchange, type HttpInstrumentationOptions } from './exchange.js';

interface FastifyLike {
  addHook(name: 'onRequest', hook: (request: { raw: IncomingMessage }, reply: { raw: ServerResponse }, done: () => void) => void): unknown;
}

/** A Fastify plugin (`app.register(instrumentFastify(llm))`) recording every LLM request on `llm`. */
export function instrumentFastify(llm: LlmMetrics, options?: HttpInstrumentationOptions) {
  const plugin = (fastify: FastifyLike, _options: unknown, done: () => void) => {
    fastify.addHook('onRequest', (request, reply, next) => {
      observeExchange(llm, request.raw, reply.raw, options);
      next();
    });
    done();
  };
  // Fastify's own flags (what fastify-plugin sets): apply to the whole app, not just this plugin's scope.
  return Object.assign(plugin, { [Symbol.for('skip-override')]: true, [Symbol.for('fastify.display-name')]: 'inferwatch' });
}
