export { instrumentNodeHttp, instrumentHandler } from './node-http.js';
export { instrumentExpress, expressMiddleware } from './express.js';
export { instrumentFastify, fastifyPlugin } from './fastify.js';
export { instrumentHono, honoMiddleware } from './hono.js';
export type { HonoInstrumentationOptions } from './hono.js';
export { observeExchange, openExchange, requestHandle } from './exchange.js';
export type { Exchange, ExchangeOptions, HttpInstrumentationOptions, RequestAttributesOf } from './exchange.js';
export { HttpError } from './json-body.js';
