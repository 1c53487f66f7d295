import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LlmMetrics } from '@inferwatch/sdk';
import { observeExchange, type HttpInstrumentationOptions } from './exchange.js';

/** Express middleware (mount it before the body parser) recording every LLM request on `llm`. */
export function instrumentExpress(llm: LlmMetrics, options?: HttpInstrumentationOptions) {
  return function inferwatch(req: IncomingMessage, res: ServerResponse, next: () => void): void {
    observeExchange(llm, req, res, options);
    next();
  };
}
