export { instrumentHandler } from './node-http.js';
export { expressMiddleware } from './express.js';
export { fastifyPlugin } from './fastify.js';
export { honoMiddleware } from './hono.js';
export type { HonoInstrumentationOptions } from './hono.js';
export { observeExchange, openExchange, requestHandle } from './exchange.js';
export type { Exchange, ExchangeOptions, HttpInstrumentationOptions, RequestAttributesOf } from './exchange.js';
export { HttpError } from './json-body.js';
