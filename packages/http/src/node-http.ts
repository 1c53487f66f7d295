import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LlmMetrics } from '@inferwatch/sdk';
import { observeExchange, type HttpInstrumentationOptions } from './exchange.js';

/** Wraps a node:http request handler so every LLM request it serves is recorded on `llm`. */
export function instrumentNodeHttp<Req extends IncomingMessage, Res extends ServerResponse>(
  llm: LlmMetrics,
  handler: (req: Req, res: Res) => unknown,
  options?: HttpInstrumentationOptions,
): (req: Req, res: Res) => unknown {
  return (req, res) => {
    observeExchange(llm, req, res, options);
    return handler(req, res);
  };
}
