export { instrumentNodeHttp } from './node-http.js';
export { instrumentExpress } from './express.js';
export { instrumentFastify } from './fastify.js';
export { instrumentHono } from './hono.js';
export type { HonoInstrumentationOptions } from './hono.js';
export { isInferenceRoute, observeExchange, openExchange, requestHandle } from './exchange.js';
export type { Exchange, ExchangeOptions, HttpInstrumentationOptions, RequestAttributesOf } from './exchange.js';
export { HttpError } from './json-body.js';
