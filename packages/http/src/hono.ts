import { extractTraceContext, responseFormat, trackStream, type LlmMetrics } from '@inferwatch/sdk';
import { includeByDefault, modelIn, operationFor } from './observe.js';

interface HonoContextLike {
  req: { raw: Request; method: string; path: string };
  res: Response;
  error?: unknown;
}

export interface HonoInstrumentationOptions {
  /** Which requests are LLM calls. Default: every POST. */
  include?: (method: string, path: string) => boolean;
  /** The model when the JSON body names none. */
  model?: (req: Request) => string | undefined;
}

/** Hono middleware (`app.use(honoMiddleware(llm))`) recording every LLM request on `llm`. */
export function honoMiddleware(llm: LlmMetrics, options: HonoInstrumentationOptions = {}) {
  return async function inferwatch(c: HonoContextLike, next: () => Promise<void>): Promise<void> {
    const { method, path, raw } = c.req;
    if (!(options.include ?? includeByDefault)(method, path)) return next();
    const arrival = llm.now();
    // A clone leaves the body for the handler.
    const model = (await raw.clone().text().then(modelIn, () => undefined)) ?? options.model?.(raw);
    const handle = llm.startRequest({ model: model ?? 'unknown', operation: operationFor(path), at: arrival, context: extractTraceContext(raw.headers) });
    try {
      await next();
    } catch (error) {
      handle.fail(error);
      throw error;
    }
    const res = c.res;
    if (c.error !== undefined || res.status >= 400) return handle.fail({ code: String(res.status) });
    if (res.body === null) return handle.end();
    c.res = new Response(trackStream(handle, res.body, { format: responseFormat(res.headers.get('content-type')) }), res);
  };
}
