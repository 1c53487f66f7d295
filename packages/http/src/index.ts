export { instrumentHandler } from './node-http.js';
export { expressMiddleware } from './express.js';
export { fastifyPlugin } from './fastify.js';
export { honoMiddleware } from './hono.js';
export type { HonoInstrumentationOptions } from './hono.js';
export { observeExchange, requestHandle } from './observe.js';
export type { HttpInstrumentationOptions } from './observe.js';
